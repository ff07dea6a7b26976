//===- Strided.h - index walks of the op kernels ----------------*- C++ -*-===//
//
// Strides of row-major shapes, NumPy broadcasting, and the merged-dimension
// walk the elementwise, reduction and data-movement ops share.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_OPS_STRIDED_H
#define ANE_LIB_RUNTIME_CPU_OPS_STRIDED_H

#include "lib/MIL/ShapeRules.h"

#include <array>
#include <cstdint>
#include <vector>

namespace ane::runtime {

using mil::Shape;

inline std::vector<int64_t> stridesOf(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int64_t k = static_cast<int64_t>(s.size()) - 2; k >= 0; --k)
    st[k] = st[k + 1] * s[k + 1];
  return st;
}

/// Strides of `in` viewed in the broadcast shape `out` (0 on broadcast dims).
inline std::vector<int64_t> broadcastStrides(const Shape &in,
                                             const Shape &out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> inSt = stridesOf(in);
  size_t lead = out.size() - in.size();
  for (size_t k = 0; k < in.size(); ++k)
    st[lead + k] = in[k] == 1 ? 0 : inSt[k];
  return st;
}

/// Calls fn(outIndex, offsets) for every element of `out` in row-major
/// order; operand k starts at off[k] and moves by st[k][d] along dim d.
/// Size-1 dims are dropped and dims every operand walks contiguously are
/// merged, so the inner loop runs long: per-element index bookkeeping cost
/// more than the arithmetic in decode's small ops.
template <size_t N, typename Fn>
void forEachStrided(const Shape &out,
                    const std::array<std::vector<int64_t>, N> &st,
                    std::array<int64_t, N> off, Fn fn) {
  std::vector<int64_t> dims;
  std::array<std::vector<int64_t>, N> steps;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 0)
      return;
    if (out[d] == 1)
      continue;
    bool merge = !dims.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = steps[k].back() == st[k][d] * out[d];
    if (merge) {
      dims.back() *= out[d];
      for (size_t k = 0; k < N; ++k)
        steps[k].back() = st[k][d];
      continue;
    }
    dims.push_back(out[d]);
    for (size_t k = 0; k < N; ++k)
      steps[k].push_back(st[k][d]);
  }
  if (dims.empty()) {
    fn(int64_t(0), off);
    return;
  }
  const int64_t inner = dims.back(), last = int64_t(dims.size()) - 1;
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t n = 0;;) {
    std::array<int64_t, N> o = off;
    for (int64_t i = 0; i < inner; ++i, ++n) {
      fn(n, o);
      for (size_t k = 0; k < N; ++k)
        o[k] += steps[k][last];
    }
    int64_t d = last - 1;
    for (; d >= 0; --d) {
      if (++idx[d] < dims[d]) {
        for (size_t k = 0; k < N; ++k)
          off[k] += steps[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k)
        off[k] -= steps[k][d] * (dims[d] - 1);
      idx[d] = 0;
    }
    if (d < 0)
      return;
  }
}

/// Calls fn(outIndex, offsets...) for every element of `out`.
template <size_t N, typename Fn>
void forEachBroadcast(const Shape &out, const std::array<Shape, N> &ins,
                      Fn fn) {
  std::array<std::vector<int64_t>, N> st;
  for (size_t k = 0; k < N; ++k)
    st[k] = broadcastStrides(ins[k], out);
  forEachStrided<N>(out, st, std::array<int64_t, N>{}, fn);
}

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_OPS_STRIDED_H
