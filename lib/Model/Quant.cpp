//===- Quant.cpp - GGUF block formats -------------------------------------===//
//
// Layouts (little-endian), per block:
//   Q8_0 (32):  fp16 d, int8 q[32]               x = d * q
//   Q4_0 (32):  fp16 d, u8 q[16]                 x[j] = d * (lo(q[j]) - 8),
//                                                x[j+16] = d * (hi(q[j]) - 8)
//   Q4_1 (32):  fp16 d, fp16 m, u8 q[16]         x = d * nibble + m
//   Q4_K (256): fp16 d, fp16 dmin, u8 scales[12] (8 packed 6-bit scale/min
//               pairs), u8 q[128]; 4 groups of 64: low nibbles then high
//               nibbles of 32 bytes, x = d*sc*q - dmin*m
//   Q6_K (256): u8 ql[128], u8 qh[64], int8 scales[16], fp16 d;
//               6-bit q = low 4 bits from ql, high 2 from qh, minus 32;
//               x = d * scale[16-element group] * q
//
//===----------------------------------------------------------------------===//

#include "lib/Model/Quant.h"

#include "lib/Support/Float16.h"

#include <cstring>

namespace ane::model {
namespace {

float half(const uint8_t *p) {
  return ane::halfBitsToFloat(static_cast<uint16_t>(p[0] | p[1] << 8));
}

void q8_0(const uint8_t *b, float *y) {
  float d = half(b);
  for (int j = 0; j < 32; ++j)
    y[j] = d * static_cast<int8_t>(b[2 + j]);
}

void q4_0(const uint8_t *b, float *y) {
  float d = half(b);
  const uint8_t *q = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * ((q[j] & 0xF) - 8);
    y[j + 16] = d * ((q[j] >> 4) - 8);
  }
}

void q4_1(const uint8_t *b, float *y) {
  float d = half(b), m = half(b + 2);
  const uint8_t *q = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * (q[j] & 0xF) + m;
    y[j + 16] = d * (q[j] >> 4) + m;
  }
}

/// The j-th 6-bit (scale, min) pair of a Q4_K block.
void q4kScaleMin(int j, const uint8_t *s, uint8_t &sc, uint8_t &m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void q4_k(const uint8_t *b, float *y) {
  float d = half(b), dmin = half(b + 2);
  const uint8_t *scales = b + 4, *q = b + 16;
  for (int g = 0; g < 4; ++g) {
    uint8_t sc1, m1, sc2, m2;
    q4kScaleMin(2 * g, scales, sc1, m1);
    q4kScaleMin(2 * g + 1, scales, sc2, m2);
    float d1 = d * sc1, o1 = dmin * m1, d2 = d * sc2, o2 = dmin * m2;
    for (int l = 0; l < 32; ++l) {
      y[64 * g + l] = d1 * (q[32 * g + l] & 0xF) - o1;
      y[64 * g + 32 + l] = d2 * (q[32 * g + l] >> 4) - o2;
    }
  }
}

void q6_k(const uint8_t *b, float *y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
  float d = half(b + 208);
  for (int n = 0; n < 2; ++n) {
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

} // namespace

float bf16ToFloat(uint16_t bits) {
  uint32_t f = static_cast<uint32_t>(bits) << 16;
  float out;
  std::memcpy(&out, &f, sizeof(out));
  return out;
}

void dequantize(TensorType type, const uint8_t *src, float *dst,
                int64_t count) {
  switch (type) {
  case TensorType::F32:
    std::memcpy(dst, src, count * sizeof(float));
    return;
  case TensorType::F16:
    for (int64_t i = 0; i < count; ++i)
      dst[i] = half(src + 2 * i);
    return;
  case TensorType::BF16:
    for (int64_t i = 0; i < count; ++i)
      dst[i] =
          bf16ToFloat(static_cast<uint16_t>(src[2 * i] | src[2 * i + 1] << 8));
    return;
  default:
    break;
  }
  int64_t be = blockElements(type), bb = blockBytes(type);
  void (*block)(const uint8_t *, float *) = nullptr;
  switch (type) {
  case TensorType::Q8_0:
    block = q8_0;
    break;
  case TensorType::Q4_0:
    block = q4_0;
    break;
  case TensorType::Q4_1:
    block = q4_1;
    break;
  case TensorType::Q4_K:
    block = q4_k;
    break;
  case TensorType::Q6_K:
    block = q6_k;
    break;
  default:
    return;
  }
  for (int64_t i = 0; i < count / be; ++i)
    block(src + i * bb, dst + i * be);
}

} // namespace ane::model
