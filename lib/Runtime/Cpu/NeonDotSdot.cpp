//===- NeonDotSdot.cpp - int4/int8 products with ARMv8.2 sdot -------------===//
//
// Compiled with +dotprod (lib/Runtime/CMakeLists.txt); called only on a CPU
// that has it (Cpu/CpuIsa.cpp).
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/NeonDot.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace ane::runtime::neon {
#define ANE_NEON_SDOT 1
#define ANE_NEON_ROWS rowsSdot
#include "lib/Runtime/Cpu/NeonDot.inc"
#define ANE_NEON_INTERLEAVED interleavedSdot
#include "lib/Runtime/Cpu/InterleavedNeon.inc"

const RowsFn kRowsSdot = rowsSdot;
const itiles::RowsFn kInterleavedSdot = interleavedSdot;
} // namespace ane::runtime::neon
#endif // __aarch64__
