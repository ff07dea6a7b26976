//===- Q4TilesAvx512Vnni.cpp - int4 tiles on AVX-512 VNNI
//------------------===//
//
// Compiled with this instruction set's flags (lib/Runtime/CMakeLists.txt);
// see Q4Tiles.h for why it shares no inline code with other files.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/Q4Tiles.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace ane::runtime::q4tiles {
#define ANE_Q4TILES_VNNI 1
#define ANE_Q4TILES_FAMILY kAvx512Vnni
#include "lib/Runtime/Cpu/Q4Tiles.inc"

} // namespace ane::runtime::q4tiles
#endif // __x86_64__
