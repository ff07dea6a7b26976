//===- InterleavedTilesAvx512Vnni.cpp - cpu-layout int4 tiles, Avx512Vnni -===//
//
// Compiled with this instruction set's flags (lib/Runtime/CMakeLists.txt);
// see Q4Tiles.h for why it shares no inline code with other files.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/InterleavedTiles.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace ane::runtime::itiles {
#define ANE_ITILES_VNNI 1
#define ANE_ITILES_FAMILY kAvx512Vnni
// The vector operations first: the kernels are written over them.
#include "lib/Runtime/Cpu/InterleavedTilesAvx512.inc"

#include "lib/Runtime/Cpu/InterleavedTiles.inc"

} // namespace ane::runtime::itiles
#endif // __x86_64__
