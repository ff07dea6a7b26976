# Cross-compiles the MLIR-free build (-DANE_CORE_ONLY=ON) for ARM64 Linux
# with Debian's g++-aarch64-linux-gnu against its multiarch :arm64 -dev
# packages; tests run under qemu-user. Apple silicon is ARM64 too, which is
# why the CPU kernels are checked here (build.sh arm64_tests).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Debian's multiarch layout: libraries and their CMake/pkg-config files
# under /usr/lib/aarch64-linux-gnu, headers shared in /usr/include.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR}
  "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
# The multiarch libc6:arm64 (/lib/ld-linux-aarch64.so.1): the cross
# toolchain's own copy under /usr/aarch64-linux-gnu is another build, and
# mixing its loader with the multiarch libraries hangs new threads.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
