#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds, then runs the main job or
# every test. Usage: ./build.sh run | ./build.sh test
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ llvm-19-dev llvm-19-tools libmlir-19-dev
          mlir-19-tools libfmt-dev libgtest-dev libgmock-dev libcli11-dev libxxhash-dev
          libbenchmark-dev libcpp-httplib-dev nlohmann-json3-dev pkgconf gobjc++ libgnustep-base-dev clang-19 libclang-rt-19-dev
          python3-numpy python3-pytest libpcre2-dev)
# The tests also cross-build the MLIR-free code for ARM64 and run it under
# qemu-user, against Debian's multiarch :arm64 libraries.
TEST_PACKAGES=(g++-aarch64-linux-gnu qemu-user libc6:arm64 libstdc++6:arm64 libfmt-dev:arm64
               libgtest-dev:arm64 libgmock-dev:arm64 libpcre2-dev:arm64
               libxxhash-dev:arm64)
BUILD_DIR=${ANE_BUILD_DIR:-build}

# install_missing PACKAGE...: apt-get installs those not installed yet
# (adding the arm64 architecture first when one of them is :arm64).
install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  echo "== installing: ${missing[*]}" >&2
  if [[ " ${missing[*]}" == *":arm64"* ]] &&
    ! dpkg --print-foreign-architectures | grep -qx arm64; then
    "${sudo[@]}" dpkg --add-architecture arm64
  fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
}

# The clients the serve tests drive the server with (test/npm), pinned by
# its package-lock, into the build tree; the build itself downloads nothing.
install_test_clients() {
  command -v npm >/dev/null || { echo "error: npm not found: the serve tests need Node 20 and npm" >&2; return 1; }
  mkdir -p "$BUILD_DIR/npm"
  cp test/npm/package.json test/npm/package-lock.json "$BUILD_DIR/npm/"
  (cd "$BUILD_DIR/npm" && npm ci --no-audit --no-fund --loglevel=error)
}

configure() {
  [ -f "$BUILD_DIR/build.ninja" ] || cmake -S . -B "$BUILD_DIR" -G Ninja
}

# The MLIR-free code (MIL parser, weight.bin, executor) again under ASan and
# UBSan, built once with Debian's clang 19 (installed above; its absence is
# an error, not a skip) for both the unit tests, including the damaged-input
# robustness tests, and the libFuzzer targets.
sanitizer_build() {
  command -v clang++-19 >/dev/null || { echo "error: clang++-19 not found: the sanitizer build needs it" >&2; return 1; }
  local dir="$BUILD_DIR-asan"
  [ -f "$dir/build.ninja" ] || cmake -S . -B "$dir" -G Ninja -DANE_CORE_ONLY=ON \
    -DANE_BUILD_FUZZERS=ON -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  cmake --build "$dir" --target AneCoreTests mil-parse-fuzzer weight-file-fuzzer \
    gguf-fuzzer anepak-fuzzer tokenizer-fuzzer llama2c-fuzzer mlir-entry-fuzzer
}

sanitizer_tests() {
  echo "== AneCoreTests under ASan + UBSan" >&2
  ANE_NPM_DIR="$BUILD_DIR/npm" "$BUILD_DIR-asan/test/unittests/AneCoreTests" --gtest_brief=1
}

# The MLIR-free code and its tests again for ARM64, the CPU of every Mac
# this targets: cross-compiled (cmake/aarch64-linux-gnu.cmake, -O1: the
# run checks correctness, not speed) and run under qemu-aarch64, where
# the NEON kernel families meet the scalar oracle. Two tests need what
# qemu-user does not emulate and are left out, saying so.
arm64_tests() {
  local dir="$BUILD_DIR-arm64"
  [ -f "$dir/build.ninja" ] || cmake -S . -B "$dir" -G Ninja -DANE_CORE_ONLY=ON \
    -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_CXX_FLAGS=-O1
  cmake --build "$dir" --target AneCoreTests
  echo "== AneCoreTests for ARM64 under qemu-aarch64; not run there:" \
    "TextInputTest.StackOverflowOnTheLargeStackIsACleanExit (qemu-user does" \
    "not deliver a guard-page SIGSEGV to the alternate signal stack)," \
    "AnepakTest.PopulateMapsARangeAndReleaseUnmapsIt (page residency reads" \
    "qemu's own mappings)" >&2
  ANE_NPM_DIR="$BUILD_DIR/npm" qemu-aarch64 -L / "$dir/test/unittests/AneCoreTests" \
    --gtest_brief=1 --gtest_filter='-TextInputTest.StackOverflowOnTheLargeStackIsACleanExit:AnepakTest.PopulateMapsARangeAndReleaseUnmapsIt'
}

# Runs each libFuzzer target briefly from its corpus.
fuzz_smoke() {
  local dir="$BUILD_DIR-asan"
  # libFuzzer adds inputs to its corpus folder, so work on a copy.
  local corpus="$dir/corpus-mil"
  mkdir -p "$corpus" "$dir/corpus-weights"
  cp ../shared/mil/corpus/*.mil "$corpus/"
  echo "== fuzzing the MIL parser, weight.bin, GGUF, .anepak, tokenizer, llama2.c and" \
    "MLIR entry for 7 x 10 s" >&2
  "$dir/test/fuzz/mil-parse-fuzzer" -max_total_time=10 -seed=1 \
    -artifact_prefix="$dir/" -dict=test/fuzz/mil.dict "$corpus" 2>&1 | tail -1
  "$dir/test/fuzz/weight-file-fuzzer" -max_total_time=10 -seed=1 \
    -artifact_prefix="$dir/" "$dir/corpus-weights" 2>&1 | tail -1
  mkdir -p "$dir/corpus-gguf"
  cp ../shared/models/stories260K-f16.gguf "$dir/corpus-gguf/"
  "$dir/test/fuzz/gguf-fuzzer" -max_total_time=10 -seed=1 -max_len=4096 \
    -artifact_prefix="$dir/" "$dir/corpus-gguf" 2>&1 | tail -1
  # A one-layer model written by the main build's ane-exec seeds the corpus.
  mkdir -p "$dir/corpus-anepak"
  "$BUILD_DIR/bin/ane-exec" compile -m 'synthetic:tiny?layers=1' --ctx 64 \
    --prefill 1 -o "$dir/corpus-anepak/tiny.anepak" 2>/dev/null
  "$dir/test/fuzz/anepak-fuzzer" -max_total_time=10 -seed=1 \
    -artifact_prefix="$dir/" "$dir/corpus-anepak" 2>&1 | tail -1
  # Tokenizer: a text (first byte even) and tok512.bin itself (odd).
  mkdir -p "$dir/corpus-tokenizer"
  printf '\000Once upon a time, \360\237\231\202 there was a girl.' \
    >"$dir/corpus-tokenizer/text"
  { printf '\001'; cat ../shared/models/tok512.bin; } >"$dir/corpus-tokenizer/file"
  printf '\002Hello world, it'"'"'s 2024!\n\t<|eot_id|> \303\251\360\237\231\202 \377' \
    >"$dir/corpus-tokenizer/bpe"
  "$dir/test/fuzz/tokenizer-fuzzer" -max_total_time=10 -seed=1 -max_len=8192 \
    -artifact_prefix="$dir/" "$dir/corpus-tokenizer" 2>&1 | tail -1
  # llama2.c: a header (dim 8, hidden 16, 1 layer, 2 heads, 1 KV head, an
  # unshared 16-token classifier, context 4) that the fuzzer pads to size.
  mkdir -p "$dir/corpus-llama2c"
  python3 -c "import struct, sys; sys.stdout.buffer.write(struct.pack('<7i', 8, 16, 1, 2, 1, -16, 4) + b'\x01')" \
    >"$dir/corpus-llama2c/header"
  "$dir/test/fuzz/llama2c-fuzzer" -max_total_time=10 -seed=1 -max_len=4096 \
    -artifact_prefix="$dir/" "$dir/corpus-llama2c" 2>&1 | tail -1
  mkdir -p "$dir/corpus-mlir"
  local f
  for f in test/Dialect/*/*.mlir test/Conversion/*/*.mlir; do
    cp "$f" "$dir/corpus-mlir/$(echo "$f" | tr / _)"
  done
  "$dir/test/fuzz/mlir-entry-fuzzer" -max_total_time=10 -seed=1 -max_len=65536 \
    -dict=test/fuzz/mlir.dict -artifact_prefix="$dir/" "$dir/corpus-mlir" 2>&1 | tail -1
}

case "${1:-}" in
run)
  install_missing "${PACKAGES[@]}"
  configure
  cmake --build "$BUILD_DIR" --target ane-exec
  # stories260K from ../shared when it is there, else synthetic:tiny.
  echo "== ane-exec run -p \"Once upon a time\" -n 128" >&2
  "$BUILD_DIR/bin/ane-exec" run -p "Once upon a time" -n 128
  ;;
test)
  install_missing "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  configure
  install_test_clients
  cmake --build "$BUILD_DIR" --target check-ane
  sanitizer_build
  sanitizer_tests
  arm64_tests
  fuzz_smoke
  ;;
*)
  echo "usage: $0 run|test" >&2
  exit 2
  ;;
esac
