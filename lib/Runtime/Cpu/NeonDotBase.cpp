//===- NeonDotBase.cpp - int4/int8 products on baseline ARM64 -------------===//

#include "lib/Runtime/Cpu/NeonDot.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace ane::runtime::neon {
#define ANE_NEON_SDOT 0
#define ANE_NEON_ROWS rowsBase
#include "lib/Runtime/Cpu/NeonDot.inc"
#define ANE_NEON_INTERLEAVED interleavedBase
#include "lib/Runtime/Cpu/InterleavedNeon.inc"

const RowsFn kRowsBase = rowsBase;
const itiles::RowsFn kInterleavedBase = interleavedBase;
} // namespace ane::runtime::neon
#endif // __aarch64__
