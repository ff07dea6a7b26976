//===- Packing.cpp - weight slots to weight.bin segments ------------------===//

#include "lib/Runtime/Packing.h"

#include "lib/MIL/WeightFile.h"
#include "lib/Support/Float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace ane::runtime {
namespace {

float roundTo(mil::DType t, float v) {
  return t == mil::DType::FP16 ? ane::roundToHalf(v) : v;
}

/// Appends float values as a blob of `dtype` (fp16 or fp32).
uint64_t appendFloats(mil::WeightWriter &w, mil::DType dtype,
                      const std::vector<float> &v) {
  if (dtype == mil::DType::FP16) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      h[i] = ane::floatToHalfBits(v[i]);
    return w.append(mil::BlobDType::Float16, h.data(), h.size() * 2);
  }
  return w.append(mil::BlobDType::Float32, v.data(), v.size() * 4);
}

/// Reorders each head's rows from interleaved pairs (2p, 2p+1) to halves
/// (p, p + hd/2) in the first `slot.ropeRows` rows.
Status toRotateHalfOrder(std::vector<float> &w, const abi::SlotSpec &slot) {
  int64_t hd = slot.headDim, rows = slot.ropeRows;
  int64_t cols = slot.shape.size() == 2 ? slot.shape[1] : 0;
  if (hd <= 0 || hd % 2 != 0 || rows < 0 || rows % hd != 0 || cols <= 0 ||
      rows > slot.shape[0] || static_cast<int64_t>(w.size()) < rows * cols)
    return Status::error(
        fmt::format("slot {}: cannot reorder {} rows of heads of {} in [{}]",
                    slot.role, rows, hd, fmt::join(slot.shape, ", ")));
  std::vector<float> head(hd * cols);
  for (int64_t h0 = 0; h0 < rows; h0 += hd) {
    float *base = w.data() + h0 * cols;
    for (int64_t r = 0; r < hd; ++r) {
      int64_t to = r % 2 == 0 ? r / 2 : hd / 2 + r / 2;
      std::copy(base + r * cols, base + (r + 1) * cols,
                head.begin() + to * cols);
    }
    std::copy(head.begin(), head.end(), base);
  }
  return Status::success();
}

} // namespace

Result<std::vector<float>> assembleSlotTensor(
    const abi::SlotSpec &slot,
    const std::function<Result<std::vector<float>>(const std::string &)>
        &roleTensor) {
  std::vector<float> out;
  if (slot.fusedFrom.empty()) {
    auto t = roleTensor(slot.role);
    if (!t.ok())
      return t.status();
    out = std::move(*t);
  } else {
    for (const std::string &role : slot.fusedFrom) {
      auto t = roleTensor(role);
      if (!t.ok())
        return t.status();
      out.insert(out.end(), t->begin(), t->end());
    }
  }
  if (slot.ropeRows) {
    Status s = toRotateHalfOrder(out, slot);
    if (!s.ok())
      return s;
  }
  if (!slot.foldNorm.empty()) {
    auto g = roleTensor(slot.foldNorm);
    if (!g.ok())
      return g.status();
    int64_t cols = slot.shape.size() == 2 ? slot.shape[1] : 0;
    if (cols == 0 || static_cast<int64_t>(g->size()) != cols ||
        out.size() % cols != 0)
      return Result<std::vector<float>>::error(
          fmt::format("slot {}: cannot fold a {}-element norm into [{}]",
                      slot.role, g->size(), fmt::join(slot.shape, ", ")));
    for (size_t i = 0; i < out.size(); ++i)
      out[i] *= (*g)[i % cols];
  }
  return out;
}

namespace {

/// Squared error of `p` quantized with `scale` into [-qmax-1, qmax]; the
/// codes go to `codes` when it is given.
double groupError(const float *p, int64_t n, float scale, int64_t qmax,
                  int64_t *codes) {
  // This loop runs about fifteen times per weight while a 4-bit scale is
  // searched, so it rounds with the 1.5 * 2^23 trick (nearest even, exact
  // for |x| < 2^22; clamping first keeps x small) and sums in eight float
  // lanes, which the compiler vectorises.
  const float inv = 1.0f / scale, lo = float(-qmax - 1), hi = float(qmax);
  const float magic = 12582912.0f;
  auto code = [&](float v) {
    float x = std::clamp(v * inv, lo - 1.0f, hi + 1.0f);
    return std::clamp((x + magic) - magic, lo, hi);
  };
  float lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      float d = p[i + k] - code(p[i + k]) * scale;
      lanes[k] += d * d;
    }
  double err = 0;
  for (float l : lanes)
    err += l;
  for (; i < n; ++i) {
    float d = p[i] - code(p[i]) * scale;
    err += d * d;
  }
  if (codes)
    for (int64_t j = 0; j < n; ++j)
      codes[j] = int64_t(code(p[j]));
  return err;
}

/// The fp16 scale of one group. 8-bit codes are fine at amax / qmax; with 4
/// or 3 bits that wastes levels on a lone outlier, so the scale is the
/// least-squares best of a small grid of divisors around qmax (the negative
/// side reaches -qmax-1), then refitted to its own codes.
float groupScale(const float *p, int64_t n, int64_t qmax, int bits) {
  float amax = 0, signedMax = 0;
  for (int64_t i = 0; i < n; ++i)
    if (std::fabs(p[i]) > amax) {
      amax = std::fabs(p[i]);
      signedMax = p[i];
    }
  if (amax == 0)
    return 1.0f;
  // Blocks that are already fp16 scale x code come through unchanged: a
  // GGUF Q8_0 block's largest value is scale x +-127 (the first candidate
  // below), a Q4_0 block's is scale x -8, where the scale may be negative.
  float best = ane::roundToHalf(amax / qmax);
  if (bits > 4 || best == 0)
    return best;
  float exact = ane::roundToHalf(signedMax / float(-qmax - 1));
  if (exact != 0 && groupError(p, n, exact, qmax, nullptr) == 0.0)
    return exact;
  double bestErr = groupError(p, n, best, qmax, nullptr);
  for (double d = qmax - 2.0; d <= qmax + 1.0; d += 0.25) {
    float s = ane::roundToHalf(float(amax / d));
    if (s == 0)
      continue;
    double e = groupError(p, n, s, qmax, nullptr);
    if (e < bestErr) {
      bestErr = e;
      best = s;
    }
  }
  std::vector<int64_t> codes(n);
  groupError(p, n, best, qmax, codes.data());
  double wq = 0, qq = 0;
  for (int64_t i = 0; i < n; ++i) {
    wq += double(p[i]) * codes[i];
    qq += double(codes[i]) * codes[i];
  }
  if (qq > 0) {
    float refit = ane::roundToHalf(float(wq / qq));
    if (refit > 0 && groupError(p, n, refit, qmax, nullptr) < bestErr)
      best = refit;
  }
  return best;
}

} // namespace

QuantizedMatrix quantizeSymmetric(const float *w, int64_t rows, int64_t cols,
                                  int64_t group, int bits, int threads) {
  QuantizedMatrix q;
  q.values.resize(rows * cols);
  int64_t groups = cols / group;
  q.scales.resize(rows * groups);
  int64_t qmax = (int64_t(1) << (bits - 1)) - 1;
  auto quantizeRows = [&](int64_t from, int64_t to) {
    for (int64_t r = from; r < to; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const float *p = w + r * cols + g * group;
        // Scales are stored as fp16; quantize against the stored scale.
        float scale = groupScale(p, group, qmax, bits);
        q.scales[r * groups + g] = scale;
        groupError(p, group, scale, qmax,
                   q.values.data() + r * cols + g * group);
      }
  };
  int64_t n = std::clamp<int64_t>(threads, 1, std::max<int64_t>(rows, 1));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < n; ++t)
    pool.emplace_back(quantizeRows, rows * t / n, rows * (t + 1) / n);
  quantizeRows(0, rows / n);
  for (std::thread &t : pool)
    t.join();
  return q;
}

PalettizedMatrix palettize(const float *w, int64_t rows, int64_t cols,
                           int64_t group) {
  PalettizedMatrix p;
  p.indices.resize(rows * cols);
  int64_t groups = cols / group;
  p.palettes.resize(rows * groups * 16);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float *v = w + r * cols + g * group;
      float lo = *std::min_element(v, v + group);
      float hi = *std::max_element(v, v + group);
      float *pal = &p.palettes[(r * groups + g) * 16];
      for (int k = 0; k < 16; ++k)
        pal[k] = ane::roundToHalf(lo + (hi - lo) * k / 15.0f);
      for (int64_t i = 0; i < group; ++i) {
        int best = 0;
        for (int k = 1; k < 16; ++k)
          if (std::fabs(v[i] - pal[k]) < std::fabs(v[i] - pal[best]))
            best = k;
        p.indices[r * cols + g * group + i] = best;
      }
    }
  return p;
}

std::vector<float> effectiveWeights(const abi::SlotSpec &s,
                                    const std::vector<float> &w) {
  std::vector<float> out(w.size());
  if (s.scheme == abi::Scheme::F16) {
    for (size_t i = 0; i < w.size(); ++i)
      out[i] = roundTo(s.blobs.at(0).dtype, w[i]);
    return out;
  }
  int64_t rows = s.shape[0], cols = s.shape[1], group = s.effectiveGroup();
  mil::DType scaleType = s.blobs.at(1).dtype;
  if (s.scheme == abi::Scheme::Lut4) {
    PalettizedMatrix p = palettize(w.data(), rows, cols, group);
    for (int64_t i = 0; i < rows * cols; ++i) {
      int64_t r = i / cols, g = (i % cols) / group;
      out[i] = roundTo(
          scaleType, p.palettes[(r * (cols / group) + g) * 16 + p.indices[i]]);
    }
    return out;
  }
  QuantizedMatrix q =
      quantizeSymmetric(w.data(), rows, cols, group, abi::schemeBits(s.scheme));
  for (int64_t i = 0; i < rows * cols; ++i) {
    int64_t r = i / cols, g = (i % cols) / group;
    out[i] = roundTo(scaleType, q.scales[r * (cols / group) + g] *
                                    static_cast<float>(q.values[i]));
  }
  return out;
}

Result<std::vector<uint8_t>> packSegment(
    const std::vector<abi::SlotSpec> &slots,
    const std::function<Result<std::vector<float>>(const abi::SlotSpec &)>
        &tensor,
    int threads) {
  mil::WeightWriter writer;
  for (const abi::SlotSpec &s : slots) {
    auto w = tensor(s);
    if (!w.ok())
      return w.status();
    int64_t count = 1;
    for (int64_t d : s.shape)
      count *= d;
    if (static_cast<int64_t>(w->size()) != count)
      return Result<std::vector<uint8_t>>::error(
          fmt::format("slot {}: {} values for a [{}] weight", s.role, w->size(),
                      fmt::join(s.shape, ", ")));
    std::vector<uint64_t> offsets;
    if (s.scheme == abi::Scheme::F16) {
      std::vector<float> v(w->begin(), w->end());
      offsets.push_back(appendFloats(writer, s.blobs.at(0).dtype, v));
    } else if (s.scheme == abi::Scheme::Lut4) {
      PalettizedMatrix p =
          palettize(w->data(), s.shape[0], s.shape[1], s.effectiveGroup());
      offsets.push_back(writer.appendValues(mil::BlobDType::UInt4, p.indices));
      offsets.push_back(appendFloats(writer, s.blobs.at(1).dtype, p.palettes));
    } else {
      QuantizedMatrix q = quantizeSymmetric(w->data(), s.shape[0], s.shape[1],
                                            s.effectiveGroup(),
                                            abi::schemeBits(s.scheme), threads);
      auto dataType = s.scheme == abi::Scheme::Q8 ? mil::BlobDType::Int8
                                                  : mil::BlobDType::Int4;
      offsets.push_back(writer.appendValues(dataType, q.values));
      offsets.push_back(appendFloats(writer, s.blobs.at(1).dtype, q.scales));
      if (s.scheme == abi::Scheme::Q8 &&
          s.blobs.size() == 3) // per-channel zero points
        offsets.push_back(writer.appendValues(
            mil::BlobDType::Int8, std::vector<int64_t>(s.shape[0], 0)));
    }
    if (offsets.size() != s.blobs.size())
      return Result<std::vector<uint8_t>>::error(
          fmt::format("slot {}: {} blobs written, {} expected", s.role,
                      offsets.size(), s.blobs.size()));
    for (size_t i = 0; i < offsets.size(); ++i)
      if (offsets[i] != s.blobs[i].offset)
        return Result<std::vector<uint8_t>>::error(fmt::format(
            "slot {}: blob {} landed at offset {}, the manifest says {}",
            s.role, i, offsets[i], s.blobs[i].offset));
  }
  return writer.bytes();
}

Result<Tensor> packInputs(const std::vector<abi::PackedPart> &parts,
                          int64_t channels,
                          const std::vector<const Tensor *> &inputs) {
  if (parts.size() != inputs.size() || parts.empty() || channels <= 0)
    return Result<Tensor>::error("packInputs: one input per part is needed");
  int64_t total = 0;
  for (const abi::PackedPart &p : parts)
    total = std::max(total, p.offset + p.columns);
  mil::DType dtype = inputs[0]->dtype;
  Tensor packed = Tensor::zeros(dtype, {1, channels, 1, total});
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor &in = *inputs[i];
    const abi::PackedPart &p = parts[i];
    if (in.dtype != dtype || in.numElements() != channels * p.columns)
      return Result<Tensor>::error(
          fmt::format("packInputs: input '{}' does not fit {} x {}", p.name,
                      channels, p.columns));
    for (int64_t f = 0; f < in.numElements(); ++f) {
      int64_t at = (f / p.columns) * total + p.offset + f % p.columns;
      if (packed.isFloat())
        packed.f[at] = in.f[f];
      else
        packed.i[at] = in.i[f];
    }
  }
  return packed;
}

} // namespace ane::runtime
