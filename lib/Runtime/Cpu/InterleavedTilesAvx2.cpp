//===- InterleavedTilesAvx2.cpp - cpu-layout int4 tiles, Avx2 -===//
//
// Compiled with -mavx2 -mfma -mf16c (lib/Runtime/CMakeLists.txt) and called
// only on CPUs that have them; see Q4Tiles.h for why it shares no inline code
// with other files.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/InterleavedTiles.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace ane::runtime::itiles {
#define ANE_ITILES_VNNI 0
#define ANE_ITILES_FAMILY kAvx2
// The vector operations first: the kernels are written over them.
#include "lib/Runtime/Cpu/InterleavedTilesAvx2.inc"

#include "lib/Runtime/Cpu/InterleavedTiles.inc"

} // namespace ane::runtime::itiles
#endif // __x86_64__
