//===- HalfFloat.h - fp16 conversions over arrays ---------------*- C++ -*-===//
//
// What fp16 tensors and caches need in bulk, vectorized where the CPU has
// F16C. lib/Support/Float16.h converts one value.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_HALFFLOAT_H
#define ANE_LIB_RUNTIME_HALFFLOAT_H

#include <cstdint>

namespace ane::runtime {

/// Rounds every value to the nearest fp16 (what an fp16 tensor stores).
void roundToHalfs(float *values, int64_t n);
/// fp16 bits to floats, and floats to fp16 bits (round to nearest even).
void halfsToFloats(const uint16_t *halfs, float *out, int64_t n);
void floatsToHalfs(const float *values, uint16_t *out, int64_t n);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_HALFFLOAT_H
