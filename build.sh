#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds, then runs the main job or
# every test. Usage: ./build.sh run | ./build.sh test
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ llvm-19-dev llvm-19-tools libmlir-19-dev
          mlir-19-tools libfmt-dev libgtest-dev libgmock-dev)
BUILD_DIR=${ANE_BUILD_DIR:-build}

install_missing() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  echo "== installing: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
}

configure() {
  [ -f "$BUILD_DIR/build.ninja" ] || cmake -S . -B "$BUILD_DIR" -G Ninja
}

case "${1:-}" in
run)
  install_missing
  configure
  cmake --build "$BUILD_DIR" --target ane-opt
  echo "== ane-opt docs/examples/llama-layer.mlir" >&2
  "$BUILD_DIR/bin/ane-opt" docs/examples/llama-layer.mlir
  ;;
test)
  install_missing
  configure
  cmake --build "$BUILD_DIR" --target check-ane
  ;;
*)
  echo "usage: $0 run|test" >&2
  exit 2
  ;;
esac
