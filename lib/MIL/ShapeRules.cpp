//===- ShapeRules.cpp - MIL output-shape rules ----------------------------===//

#include "lib/MIL/ShapeRules.h"

#include <algorithm>

#include <fmt/format.h>

namespace ane::mil {
namespace {

bool isDyn(int64_t d) { return d == kDynamic; }

bool dimsCompatible(int64_t a, int64_t b) {
  return isDyn(a) || isDyn(b) || a == b;
}

std::string formatDim(int64_t d) { return isDyn(d) ? "?" : std::to_string(d); }

int64_t rankOf(const Shape &s) { return static_cast<int64_t>(s.size()); }

/// Normalizes a list of axes and checks they are distinct.
bool normalizeAxes(const std::vector<int64_t> &axes, int64_t rank,
                   std::vector<int64_t> &out, std::string &error) {
  out.clear();
  for (int64_t a : axes) {
    auto n = normalizeAxis(a, rank);
    if (!n) {
      error = fmt::format("axis {} is out of range for rank {}", a, rank);
      return false;
    }
    if (std::find(out.begin(), out.end(), *n) != out.end()) {
      error = fmt::format("axis {} is repeated", a);
      return false;
    }
    out.push_back(*n);
  }
  return true;
}

// Ceiling division for a non-negative numerator and positive divisor.
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

} // namespace

std::string formatShape(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += formatDim(shape[i]);
  }
  return s + "]";
}

bool shapesCompatible(const Shape &a, const Shape &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!dimsCompatible(a[i], b[i]))
      return false;
  return true;
}

std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

ShapeOrError broadcastShapes(const Shape &a, const Shape &b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1)
      out[i] = db;
    else if (db == 1)
      out[i] = da;
    else if (isDyn(da))
      out[i] = db;
    else if (isDyn(db) || da == db)
      out[i] = da;
    else
      return ShapeOrError::fail(fmt::format("shapes {} and {} do not broadcast",
                                            formatShape(a), formatShape(b)));
  }
  return {out, {}};
}

ShapeOrError convShape(const Shape &x, const Shape &w, const ConvParams &p) {
  int64_t rank = rankOf(x);
  if (rank < 3 || rank > 5)
    return ShapeOrError::fail(
        fmt::format("x must have 1 to 3 spatial dims, got rank {}", rank));
  if (rankOf(w) != rank)
    return ShapeOrError::fail(fmt::format(
        "weight rank {} does not match x rank {}", rankOf(w), rank));
  size_t spatial = static_cast<size_t>(rank - 2);
  if (p.groups < 1)
    return ShapeOrError::fail(
        fmt::format("groups must be >= 1, got {}", p.groups));
  auto checkLen = [&](const std::vector<int64_t> &v, size_t n,
                      const char *name) -> std::string {
    if (!v.empty() && v.size() != n)
      return fmt::format("{} has {} entries, expected {}", name, v.size(), n);
    for (int64_t e : v)
      if (e < (std::string(name) == "pad" ? 0 : 1))
        return fmt::format("{} entry {} is out of range", name, e);
    return {};
  };
  for (auto [v, n, name] : {std::tuple{&p.strides, spatial, "strides"},
                            std::tuple{&p.dilations, spatial, "dilations"},
                            std::tuple{&p.pad, 2 * spatial, "pad"}}) {
    std::string err = checkLen(*v, n, name);
    if (!err.empty())
      return ShapeOrError::fail(err);
  }
  if (p.padType == PadType::Custom && p.pad.size() != 2 * spatial)
    return ShapeOrError::fail("pad_type custom needs a pad entry per side");
  int64_t cin = x[1], cout = w[0];
  if (!isDyn(cin) && cin % p.groups != 0)
    return ShapeOrError::fail(fmt::format(
        "input channels {} are not divisible by groups {}", cin, p.groups));
  if (!isDyn(cout) && cout % p.groups != 0)
    return ShapeOrError::fail(fmt::format(
        "output channels {} are not divisible by groups {}", cout, p.groups));
  if (!isDyn(cin) && !dimsCompatible(w[1], cin / p.groups))
    return ShapeOrError::fail(
        fmt::format("weight dim 1 is {}, expected input channels / groups = {}",
                    formatDim(w[1]), cin / p.groups));
  Shape out = {x[0], cout};
  for (size_t i = 0; i < spatial; ++i) {
    int64_t d = x[i + 2], k = w[i + 2];
    int64_t stride = p.strides.empty() ? 1 : p.strides[i];
    int64_t dil = p.dilations.empty() ? 1 : p.dilations[i];
    if (isDyn(d) || isDyn(k)) {
      out.push_back(kDynamic);
      continue;
    }
    int64_t o;
    if (p.padType == PadType::Same || p.padType == PadType::SameLower) {
      o = ceilDiv(d, stride);
    } else {
      int64_t padded = d;
      if (p.padType == PadType::Custom)
        padded += p.pad[2 * i] + p.pad[2 * i + 1];
      int64_t span = (k - 1) * dil + 1;
      if (padded < span)
        return ShapeOrError::fail(fmt::format(
            "kernel extent {} exceeds padded input {} on spatial dim {}", span,
            padded, i));
      o = (padded - span) / stride + 1;
    }
    out.push_back(o);
  }
  return {out, {}};
}

ShapeOrError matmulShape(const Shape &xIn, const Shape &yIn, bool transposeX,
                         bool transposeY) {
  if (xIn.empty() || yIn.empty())
    return ShapeOrError::fail("matmul operands must have rank >= 1");
  Shape x = xIn, y = yIn;
  bool xVec = x.size() == 1, yVec = y.size() == 1;
  if (xVec)
    x.insert(x.begin(), 1);
  if (yVec)
    y.push_back(1);
  if (transposeX && !xVec)
    std::swap(x[x.size() - 1], x[x.size() - 2]);
  if (transposeY && !yVec)
    std::swap(y[y.size() - 1], y[y.size() - 2]);
  int64_t m = x[x.size() - 2], kx = x.back(), ky = y[y.size() - 2],
          n = y.back();
  if (!dimsCompatible(kx, ky))
    return ShapeOrError::fail(fmt::format(
        "inner dimensions differ: {} vs {} (x {}, y {})", formatDim(kx),
        formatDim(ky), formatShape(xIn), formatShape(yIn)));
  Shape bx(x.begin(), x.end() - 2), by(y.begin(), y.end() - 2);
  ShapeOrError batch = broadcastShapes(bx, by);
  if (!batch.ok())
    return ShapeOrError::fail("batch dims: " + batch.error);
  Shape out = batch.shape;
  if (!xVec)
    out.push_back(m);
  if (!yVec)
    out.push_back(n);
  return {out, {}};
}

ShapeOrError linearShape(const Shape &x, const Shape &w) {
  if (x.empty() || x.size() > 3)
    return ShapeOrError::fail(
        fmt::format("x must have rank 1 to 3, got {}", x.size()));
  if (w.size() != 2)
    return ShapeOrError::fail(
        fmt::format("weight must have rank 2, got {}", w.size()));
  if (!dimsCompatible(x.back(), w[1]))
    return ShapeOrError::fail(
        fmt::format("x last dim {} does not match weight in-features {}",
                    formatDim(x.back()), formatDim(w[1])));
  Shape out = x;
  out.back() = w[0];
  return {out, {}};
}

ShapeOrError reshapeShape(const Shape &x, const std::vector<int64_t> &target) {
  Shape out;
  int64_t inferAt = -1, known = 1;
  bool dynamicIn = std::any_of(x.begin(), x.end(), isDyn);
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t t = target[i];
    if (t == -1) {
      if (inferAt >= 0)
        return ShapeOrError::fail("shape has more than one -1 entry");
      inferAt = static_cast<int64_t>(i);
      out.push_back(kDynamic);
      continue;
    }
    if (t == 0) {
      if (target.size() != x.size())
        return ShapeOrError::fail(
            "a 0 entry (copy a dim) needs shape to have x's rank");
      t = x[i];
    } else if (t < 0) {
      return ShapeOrError::fail(fmt::format("shape entry {} is invalid", t));
    }
    out.push_back(t);
    if (!isDyn(t))
      known *= t;
  }
  if (dynamicIn)
    return {out, {}};
  int64_t total = 1;
  for (int64_t d : x)
    total *= d;
  if (inferAt >= 0) {
    if (known == 0 || total % known != 0)
      return ShapeOrError::fail(
          fmt::format("cannot infer -1: {} elements are not a multiple of {}",
                      total, known));
    out[inferAt] = total / known;
  } else if (known != total) {
    return ShapeOrError::fail(
        fmt::format("reshape from {} ({} elements) to {} ({} elements)",
                    formatShape(x), total, formatShape(out), known));
  }
  return {out, {}};
}

ShapeOrError reduceShape(const Shape &x,
                         const std::optional<std::vector<int64_t>> &axes,
                         bool keepDims) {
  int64_t rank = rankOf(x);
  std::vector<int64_t> norm;
  if (axes) {
    std::string err;
    if (!normalizeAxes(*axes, rank, norm, err))
      return ShapeOrError::fail(err);
  } else {
    for (int64_t i = 0; i < rank; ++i)
      norm.push_back(i);
  }
  Shape out;
  for (int64_t i = 0; i < rank; ++i) {
    bool reduced = std::find(norm.begin(), norm.end(), i) != norm.end();
    if (!reduced)
      out.push_back(x[i]);
    else if (keepDims)
      out.push_back(1);
  }
  return {out, {}};
}

ShapeOrError transposeShape(const Shape &x, const std::vector<int64_t> &perm) {
  if (perm.size() != x.size())
    return ShapeOrError::fail(
        fmt::format("perm has {} entries for rank {}", perm.size(), x.size()));
  std::vector<int64_t> norm;
  std::string err;
  if (!normalizeAxes(perm, rankOf(x), norm, err))
    return ShapeOrError::fail("perm: " + err);
  Shape out;
  for (int64_t p : norm)
    out.push_back(x[p]);
  return {out, {}};
}

ShapeOrError expandDimsShape(const Shape &x, const std::vector<int64_t> &axes) {
  if (axes.empty())
    return ShapeOrError::fail("axes must not be empty");
  int64_t outRank = rankOf(x) + static_cast<int64_t>(axes.size());
  std::vector<int64_t> norm;
  std::string err;
  if (!normalizeAxes(axes, outRank, norm, err))
    return ShapeOrError::fail(err);
  Shape out(outRank, 0);
  std::vector<bool> isNew(outRank, false);
  for (int64_t a : norm)
    isNew[a] = true;
  size_t next = 0;
  for (int64_t i = 0; i < outRank; ++i)
    out[i] = isNew[i] ? 1 : x[next++];
  return {out, {}};
}

ShapeOrError squeezeShape(const Shape &x,
                          const std::optional<std::vector<int64_t>> &axes) {
  std::vector<int64_t> norm;
  if (axes) {
    std::string err;
    if (!normalizeAxes(*axes, rankOf(x), norm, err))
      return ShapeOrError::fail(err);
  }
  Shape out;
  for (int64_t i = 0; i < rankOf(x); ++i) {
    bool listed = !axes || std::find(norm.begin(), norm.end(), i) != norm.end();
    if (!(listed && x[i] == 1))
      out.push_back(x[i]);
  }
  return {out, {}};
}

std::optional<SliceRange> resolveSliceAxis(int64_t d, int64_t b, int64_t e,
                                           int64_t s, bool beginMask,
                                           bool endMask) {
  if (s == 0)
    return std::nullopt;
  if (s > 0) {
    b = beginMask ? 0 : std::clamp(b < 0 ? b + d : b, int64_t(0), d);
    e = endMask ? d : std::clamp(e < 0 ? e + d : e, int64_t(0), d);
    return SliceRange{b, e > b ? ceilDiv(e - b, s) : 0, s};
  }
  b = beginMask ? d - 1 : std::clamp(b < 0 ? b + d : b, int64_t(-1), d - 1);
  e = endMask ? -1 : std::clamp(e < 0 ? e + d : e, int64_t(-1), d - 1);
  return SliceRange{b, b > e ? ceilDiv(b - e, -s) : 0, s};
}

ShapeOrError sliceByIndexShape(const Shape &x, const SliceByIndexParams &p) {
  size_t rank = x.size();
  auto sizeOk = [&](size_t n) { return n == 0 || n == rank; };
  if (p.begin.size() != rank || p.end.size() != rank)
    return ShapeOrError::fail(
        fmt::format("begin and end need {} entries", rank));
  if (!sizeOk(p.stride.size()) || !sizeOk(p.beginMask.size()) ||
      !sizeOk(p.endMask.size()) || !sizeOk(p.squeezeMask.size()))
    return ShapeOrError::fail(
        fmt::format("stride and masks need {} entries", rank));
  Shape out;
  for (size_t i = 0; i < rank; ++i) {
    int64_t s = p.stride.empty() ? 1 : p.stride[i];
    bool squeeze = !p.squeezeMask.empty() && p.squeezeMask[i];
    if (s == 0)
      return ShapeOrError::fail(fmt::format("stride on axis {} is 0", i));
    if (isDyn(x[i])) {
      if (!squeeze)
        out.push_back(kDynamic);
      continue;
    }
    auto r = resolveSliceAxis(x[i], p.begin[i], p.end[i], s,
                              !p.beginMask.empty() && p.beginMask[i],
                              !p.endMask.empty() && p.endMask[i]);
    if (squeeze) {
      int64_t b = p.begin[i] < 0 ? p.begin[i] + x[i] : p.begin[i];
      if (b < 0 || b >= x[i])
        return ShapeOrError::fail(fmt::format(
            "squeezed index {} is out of range on axis {}", p.begin[i], i));
      continue;
    }
    if (r->count == 0)
      return ShapeOrError::fail(fmt::format("slice on axis {} is empty", i));
    out.push_back(r->count);
  }
  return {out, {}};
}

ShapeOrError padShape(const Shape &x, const std::vector<int64_t> &pad) {
  // Far beyond any real tensor, and far from overflowing the sums below.
  constexpr int64_t kMaxDim = int64_t(1) << 40;
  if (pad.size() % 2 != 0 || pad.size() > 2 * x.size())
    return ShapeOrError::fail(fmt::format(
        "pad needs an even number of entries, at most {}", 2 * x.size()));
  Shape out = x;
  size_t first = x.size() - pad.size() / 2;
  for (size_t k = 0; k < pad.size(); ++k)
    if (pad[k] < 0)
      return ShapeOrError::fail(
          fmt::format("pad entry {} is negative: {}", k, pad[k]));
  for (size_t a = first; a < x.size(); ++a)
    if (!isDyn(x[a])) {
      int64_t before = pad[2 * (a - first)], after = pad[2 * (a - first) + 1];
      if (x[a] > kMaxDim || before > kMaxDim || after > kMaxDim)
        return ShapeOrError::fail(
            fmt::format("padded axis {} is too large", a));
      out[a] = x[a] + before + after;
    }
  return {out, {}};
}

ShapeOrError sliceBySizeShape(const Shape &x, const std::vector<int64_t> &begin,
                              const std::vector<int64_t> &size) {
  if (begin.size() != x.size() || size.size() != x.size())
    return ShapeOrError::fail(
        fmt::format("begin and size need {} entries", x.size()));
  Shape out;
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t d = x[i];
    if (size[i] == 0 || size[i] < -1)
      return ShapeOrError::fail(
          fmt::format("size entry {} on axis {} is invalid", size[i], i));
    if (isDyn(d)) {
      out.push_back(size[i] == -1 ? kDynamic : size[i]);
      continue;
    }
    int64_t b = begin[i] < 0 ? begin[i] + d : begin[i];
    if (b < 0 || b >= d)
      return ShapeOrError::fail(fmt::format(
          "begin {} is out of range on axis {} of size {}", begin[i], i, d));
    int64_t n = size[i] == -1 ? d - b : size[i];
    if (b + n > d)
      return ShapeOrError::fail(fmt::format(
          "begin {} + size {} exceeds axis {} of size {}", b, n, i, d));
    out.push_back(n);
  }
  return {out, {}};
}

ShapeOrError concatShape(const std::vector<Shape> &values, int64_t axis,
                         bool interleave) {
  if (values.empty())
    return ShapeOrError::fail("values must not be empty");
  int64_t rank = rankOf(values[0]);
  auto a = normalizeAxis(axis, rank);
  if (!a)
    return ShapeOrError::fail(
        fmt::format("axis {} is out of range for rank {}", axis, rank));
  Shape out = values[0];
  for (size_t v = 1; v < values.size(); ++v) {
    const Shape &s = values[v];
    if (rankOf(s) != rank)
      return ShapeOrError::fail(
          fmt::format("value {} has rank {}, expected {}", v, s.size(), rank));
    for (int64_t i = 0; i < rank; ++i) {
      if (i == *a && !interleave) {
        out[i] = isDyn(out[i]) || isDyn(s[i]) ? kDynamic : out[i] + s[i];
        continue;
      }
      if (!dimsCompatible(out[i], s[i]))
        return ShapeOrError::fail(
            fmt::format("value {} has shape {}, incompatible with {} on axis "
                        "{}",
                        v, formatShape(s), formatShape(values[0]), i));
    }
  }
  if (interleave && !isDyn(out[*a]))
    out[*a] *= static_cast<int64_t>(values.size());
  return {out, {}};
}

ShapesOrError splitShapes(const Shape &x, int64_t axis,
                          std::optional<int64_t> numSplits,
                          const std::optional<std::vector<int64_t>> &sizes) {
  ShapesOrError r;
  auto a = normalizeAxis(axis, rankOf(x));
  if (!a) {
    r.error =
        fmt::format("axis {} is out of range for rank {}", axis, x.size());
    return r;
  }
  if (numSplits.has_value() == sizes.has_value()) {
    r.error = "exactly one of num_splits and split_sizes must be given";
    return r;
  }
  int64_t d = x[*a];
  std::vector<int64_t> parts;
  if (numSplits) {
    if (*numSplits < 1 || (!isDyn(d) && d % *numSplits != 0)) {
      r.error = fmt::format("axis size {} is not divisible by num_splits {}",
                            formatDim(d), *numSplits);
      return r;
    }
    parts.assign(*numSplits, isDyn(d) ? kDynamic : d / *numSplits);
  } else {
    int64_t sum = 0;
    for (int64_t s : *sizes) {
      if (s < 1) {
        r.error = fmt::format("split size {} is invalid", s);
        return r;
      }
      sum += s;
    }
    if (!isDyn(d) && sum != d) {
      r.error = fmt::format("split_sizes sum to {}, axis size is {}", sum, d);
      return r;
    }
    parts = *sizes;
  }
  for (int64_t p : parts) {
    Shape s = x;
    s[*a] = p;
    r.shapes.push_back(s);
  }
  return r;
}

ShapeOrError gatherShape(const Shape &x, const Shape &indices, int64_t axis,
                         int64_t batchDims) {
  auto a = normalizeAxis(axis, rankOf(x));
  if (!a)
    return ShapeOrError::fail(
        fmt::format("axis {} is out of range for rank {}", axis, x.size()));
  if (batchDims < 0 || batchDims > *a || batchDims > rankOf(indices))
    return ShapeOrError::fail(
        fmt::format("batch_dims {} is out of range", batchDims));
  for (int64_t i = 0; i < batchDims; ++i)
    if (!dimsCompatible(x[i], indices[i]))
      return ShapeOrError::fail(
          fmt::format("batch dim {} differs between x and indices", i));
  Shape out(x.begin(), x.begin() + *a);
  out.insert(out.end(), indices.begin() + batchDims, indices.end());
  out.insert(out.end(), x.begin() + *a + 1, x.end());
  return {out, {}};
}

ShapeOrError sdpaShape(const Shape &q, const Shape &k, const Shape &v,
                       const std::optional<Shape> &mask) {
  size_t rank = q.size();
  if (rank < 3 || k.size() != rank || v.size() != rank)
    return ShapeOrError::fail(
        "query, key and value must have the same rank, at least 3");
  if (!dimsCompatible(q.back(), k.back()))
    return ShapeOrError::fail("query and key embedding sizes differ");
  if (!dimsCompatible(k[rank - 2], v[rank - 2]))
    return ShapeOrError::fail("key and value sequence lengths differ");
  Shape bq(q.begin(), q.end() - 2), bk(k.begin(), k.end() - 2),
      bv(v.begin(), v.end() - 2);
  if (!shapesCompatible(bq, bk) || !shapesCompatible(bq, bv))
    return ShapeOrError::fail("query, key and value batch dims differ");
  if (mask) {
    Shape scores = bq;
    scores.push_back(q[rank - 2]);
    scores.push_back(k[rank - 2]);
    ShapeOrError b = broadcastShapes(*mask, scores);
    if (!b.ok() || !shapesCompatible(b.shape, scores))
      return ShapeOrError::fail(
          fmt::format("attn_mask {} does not broadcast to the scores shape {}",
                      formatShape(*mask), formatShape(scores)));
  }
  Shape out = q;
  out.back() = v.back();
  return {out, {}};
}

} // namespace ane::mil
