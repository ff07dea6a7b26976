//===- CpuIsa.cpp - which vector kernel family runs -----------------------===//

#include "lib/Runtime/Cpu/CpuIsa.h"
#include "lib/Runtime/Avx2.h"

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace ane::runtime {
namespace {

constexpr const char *kNames[] = {"scalar",      "avx2", "avx-vnni", "avx512",
                                  "avx512-vnni", "neon", "neon-dot"};

bool hostHas(KernelIsa isa) {
#if defined(__x86_64__)
  // __builtin_cpu_supports checks that the OS saves the wide registers
  // (XGETBV), not only the CPUID bits.
  bool avx512 = hostHasAvx2() && __builtin_cpu_supports("avx512f") &&
                __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl");
  switch (isa) {
  case KernelIsa::Scalar:
    return true;
  case KernelIsa::Avx2:
    return hostHasAvx2();
  case KernelIsa::AvxVnni:
    return hostHasAvx2() && __builtin_cpu_supports("avxvnni");
  case KernelIsa::Avx512:
    return avx512;
  case KernelIsa::Avx512Vnni:
    return avx512 && __builtin_cpu_supports("avx512vnni");
  default:
    return false;
  }
#elif defined(__aarch64__)
  // Advanced SIMD is part of every ARM64 CPU; sdot is optional (ARMv8.2)
  // and the kernel says whether the CPU has it.
  switch (isa) {
  case KernelIsa::Scalar:
  case KernelIsa::Neon:
    return true;
  case KernelIsa::NeonDot:
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
    return true; // macOS: every Apple M chip has it
#endif
  default:
    return false;
  }
#else
  return isa == KernelIsa::Scalar;
#endif
}

KernelIsa initialIsa() {
  std::vector<KernelIsa> host = hostKernelIsas();
  if (const char *env = std::getenv("ANE_CPU_KERNELS")) {
    std::optional<KernelIsa> wanted = parseKernelIsa(env);
    if (wanted && std::count(host.begin(), host.end(), *wanted))
      return *wanted;
    std::string have;
    for (KernelIsa isa : host)
      have += std::string(" ") + kernelIsaName(isa);
    std::fprintf(stderr,
                 "ane: ANE_CPU_KERNELS=%s is not a kernel family this CPU "
                 "runs (it runs:%s); using %s\n",
                 env, have.c_str(), kernelIsaName(host.back()));
  }
  return host.back();
}

std::atomic<KernelIsa> &selected() {
  static std::atomic<KernelIsa> isa{initialIsa()};
  return isa;
}

} // namespace

const char *kernelIsaName(KernelIsa isa) { return kNames[int(isa)]; }

std::optional<KernelIsa> parseKernelIsa(const std::string &name) {
  for (int i = 0; i < int(std::size(kNames)); ++i)
    if (name == kNames[i])
      return KernelIsa(i);
  return std::nullopt;
}

std::vector<KernelIsa> allKernelIsas() {
  std::vector<KernelIsa> out;
  for (int i = 0; i < int(std::size(kNames)); ++i)
    out.push_back(KernelIsa(i));
  return out;
}

std::vector<KernelIsa> hostKernelIsas() {
  std::vector<KernelIsa> out;
  for (KernelIsa isa : allKernelIsas())
    if (hostHas(isa))
      out.push_back(isa);
  return out;
}

KernelIsa kernelIsa() { return selected().load(std::memory_order_relaxed); }

bool setKernelIsa(KernelIsa isa) {
  if (!hostHas(isa))
    return false;
  selected().store(isa, std::memory_order_relaxed);
  return true;
}

} // namespace ane::runtime
