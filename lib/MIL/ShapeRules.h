//===- ShapeRules.h - MIL output-shape rules --------------------*- C++ -*-===//
//
// The shape rules of the MIL ops we support, as plain C++ so that the
// `anemil` verifiers, the MIL parser and the reference executor agree on them.
// Dimensions equal to kDynamic are unknown (`?` in MIL text) and propagate.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MIL_SHAPERULES_H
#define ANE_LIB_MIL_SHAPERULES_H

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace ane::mil {

/// An unknown dimension. Equal to mlir::ShapedType::kDynamic on purpose.
constexpr int64_t kDynamic = std::numeric_limits<int64_t>::min();

using Shape = std::vector<int64_t>;

/// A shape, or the reason none exists.
struct ShapeOrError {
  Shape shape;
  std::string error;
  bool ok() const { return error.empty(); }
  static ShapeOrError fail(std::string msg) { return {{}, std::move(msg)}; }
};

/// Several shapes (multi-result ops), or the reason none exist.
struct ShapesOrError {
  std::vector<Shape> shapes;
  std::string error;
  bool ok() const { return error.empty(); }
};

enum class PadType { Valid, Same, SameLower, Custom };

/// Renders a shape as MIL writes it: `[1, 64, ?]`.
std::string formatShape(const Shape &shape);

/// True if every dimension pair is equal or one side is dynamic.
bool shapesCompatible(const Shape &a, const Shape &b);

/// Normalizes a possibly negative axis into [0, rank); nullopt if out of range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

/// NumPy broadcasting of two shapes.
ShapeOrError broadcastShapes(const Shape &a, const Shape &b);

struct ConvParams {
  std::vector<int64_t> strides;   // empty: all 1
  std::vector<int64_t> dilations; // empty: all 1
  std::vector<int64_t> pad;       // 2 per spatial dim, only for Custom
  PadType padType = PadType::Valid;
  int64_t groups = 1;
};
/// conv: x [N, Cin, *D], weight [Cout, Cin/groups, *K] -> [N, Cout, *Dout].
ShapeOrError convShape(const Shape &x, const Shape &weight,
                       const ConvParams &params);

/// matmul with NumPy batch broadcasting and 1-D promotion.
ShapeOrError matmulShape(const Shape &x, const Shape &y, bool transposeX,
                         bool transposeY);

/// linear: x [*D, Din], weight [Dout, Din] -> [*D, Dout].
ShapeOrError linearShape(const Shape &x, const Shape &weight);

/// reshape with MIL's `-1` (infer) and `0` (copy) entries.
ShapeOrError reshapeShape(const Shape &x, const std::vector<int64_t> &target);

/// reduce_*: axes default to all dimensions.
ShapeOrError reduceShape(const Shape &x,
                         const std::optional<std::vector<int64_t>> &axes,
                         bool keepDims);

/// pad (constant mode): `pad` holds (before, after) pairs for the last
/// pad.size() / 2 axes.
ShapeOrError padShape(const Shape &x, const std::vector<int64_t> &pad);
ShapeOrError transposeShape(const Shape &x, const std::vector<int64_t> &perm);
ShapeOrError expandDimsShape(const Shape &x, const std::vector<int64_t> &axes);
/// squeeze: with no axes, every size-1 dimension; listed non-1 dims are kept.
ShapeOrError squeezeShape(const Shape &x,
                          const std::optional<std::vector<int64_t>> &axes);

struct SliceByIndexParams {
  std::vector<int64_t> begin, end;
  std::vector<int64_t> stride;   // empty: all 1
  std::vector<bool> beginMask;   // empty: all false
  std::vector<bool> endMask;     // empty: all false
  std::vector<bool> squeezeMask; // empty: all false
};
ShapeOrError sliceByIndexShape(const Shape &x, const SliceByIndexParams &p);
/// The resolved start index and element count of one sliced axis; shared with
/// the executor so both agree on MIL's clamping rules.
struct SliceRange {
  int64_t start, count, stride;
};
std::optional<SliceRange> resolveSliceAxis(int64_t dim, int64_t begin,
                                           int64_t end, int64_t stride,
                                           bool beginMask, bool endMask);

ShapeOrError sliceBySizeShape(const Shape &x, const std::vector<int64_t> &begin,
                              const std::vector<int64_t> &size);

ShapeOrError concatShape(const std::vector<Shape> &values, int64_t axis,
                         bool interleave);

ShapesOrError splitShapes(const Shape &x, int64_t axis,
                          std::optional<int64_t> numSplits,
                          const std::optional<std::vector<int64_t>> &sizes);

ShapeOrError gatherShape(const Shape &x, const Shape &indices, int64_t axis,
                         int64_t batchDims);

/// scaled_dot_product_attention: q [B*, L, E], k [B*, S, E], v [B*, S, EV].
ShapeOrError sdpaShape(const Shape &q, const Shape &k, const Shape &v,
                       const std::optional<Shape> &mask);

} // namespace ane::mil

#endif // ANE_LIB_MIL_SHAPERULES_H
