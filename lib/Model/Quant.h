//===- Quant.h - GGUF block formats -----------------------------*- C++ -*-===//
//
// Dequantizers for the ggml block formats we read. Each works on whole
// blocks; `count` must be a multiple of the type's block size.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_QUANT_H
#define ANE_LIB_MODEL_QUANT_H

#include "lib/Model/Model.h"

#include <cstdint>

namespace ane::model {

/// Decodes `count` elements stored as `type` at `src` into `dst`.
void dequantize(TensorType type, const uint8_t *src, float *dst, int64_t count);

/// bfloat16 bits to float (exact).
float bf16ToFloat(uint16_t bits);

} // namespace ane::model

#endif // ANE_LIB_MODEL_QUANT_H
