//===- Q4Tiles.cpp - what the int4 tile families share --------------------===//

#include "lib/Runtime/Cpu/Q4Tiles.h"

namespace ane::runtime::q4tiles {

int64_t tokenBytes(int vectorBytes, int64_t cols) {
  int64_t chunk = 2 * vectorBytes, chunks = (cols + chunk - 1) / chunk;
  // Per chunk: its codes, then an int32 sum and a float scale per lane of
  // 8 columns.
  return chunks * (chunk + 2 * 4 * (chunk / 8));
}

bool covers(int vectorBytes, int64_t cols, int64_t group) {
  int64_t chunk = 2 * vectorBytes;
  return group > 0 && group % 32 == 0 && cols % group == 0 &&
         (group % chunk == 0 || chunk % group == 0);
}

} // namespace ane::runtime::q4tiles
