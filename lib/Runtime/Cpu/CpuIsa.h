//===- CpuIsa.h - which vector kernel family runs -------------*- C++ -*-===//
//
// The int4 products come in one family per instruction set, compiled
// file by file with that set's flags and chosen at run time: the build
// stays baseline x86-64 and a CPU only ever runs code it has. Tests and
// benchmarks can pick any family the host has (setKernelIsa) so that each
// one is checked against the scalar oracle on the machine that has it.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_CPUISA_H
#define ANE_LIB_RUNTIME_CPU_CPUISA_H

#include <optional>
#include <string>
#include <vector>

namespace ane::runtime {

/// Kernel families, weakest first within an architecture.
enum class KernelIsa {
  Scalar,     // plain C++: the oracle
  Avx2,       // AVX2 + FMA + F16C, 8-bit products by maddubs
  AvxVnni,    // AVX2 with AVX-VNNI's 256-bit vpdpbusd (Alder Lake, Zen 5):
              // the interleaved kernels use it; row-major weights take the
              // AVX2 kernels (see Q4Tiles.inc)
  Avx512,     // AVX-512 F/BW/VL without VNNI (Skylake-X)
  Avx512Vnni, // AVX-512 with vpdpbusd (Ice Lake, Zen 4/5)
  Neon,       // ARM64 Advanced SIMD, 8-bit products by smull + sadalp
  NeonDot,    // ARM64 with sdot (ARMv8.2 dotprod: every Apple M chip)
};

/// Whether `isa` is one of the x86 families (AVX2 and up).
inline bool isX86Isa(KernelIsa isa) {
  return isa == KernelIsa::Avx2 || isa == KernelIsa::AvxVnni ||
         isa == KernelIsa::Avx512 || isa == KernelIsa::Avx512Vnni;
}
inline bool isNeonIsa(KernelIsa isa) {
  return isa == KernelIsa::Neon || isa == KernelIsa::NeonDot;
}

/// Every family, in the order above: what tests list as run or skipped.
std::vector<KernelIsa> allKernelIsas();

const char *kernelIsaName(KernelIsa isa);
std::optional<KernelIsa> parseKernelIsa(const std::string &name);

/// Every family this CPU (and its OS) can run, weakest first.
std::vector<KernelIsa> hostKernelIsas();

/// The family the int4 products use: the best the host has, or the one
/// named by ANE_CPU_KERNELS when the host has it.
KernelIsa kernelIsa();

/// Makes the int4 products use `isa` from now on; false (and no change)
/// when the host cannot run it.
bool setKernelIsa(KernelIsa isa);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_CPUISA_H
