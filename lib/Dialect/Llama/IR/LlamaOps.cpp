//===- LlamaOps.cpp - llama dialect operations ----------------*- C++ -*-===//

#include "lib/Dialect/Llama/IR/LlamaOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::llama;

#define GET_OP_CLASSES
#include "lib/Dialect/Llama/IR/LlamaOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

SmallVector<int64_t> mlir::llama::getWeightShape(Type type) {
  if (auto q = dyn_cast<QWeightType>(type))
    return SmallVector<int64_t>(q.getShape());
  if (auto t = dyn_cast<RankedTensorType>(type))
    return SmallVector<int64_t>(t.getShape());
  return {};
}

SmallVector<int64_t> mlir::llama::getExpectedWeightShape(ConfigAttr c,
                                                         Role role) {
  int64_t dim = c.getDim(), qDim = c.getNHeads() * c.getHeadDim(),
          kvDim = c.getKvDim(), hidden = c.getHiddenDim(),
          vocab = c.getVocabSize();
  switch (role) {
  case Role::AttnQ:
    return {qDim, dim};
  case Role::AttnK:
  case Role::AttnV:
    return {kvDim, dim};
  case Role::AttnOut:
    return {dim, qDim};
  case Role::AttnNorm:
  case Role::FfnNorm:
  case Role::OutputNorm:
    return {dim};
  case Role::FfnGate:
  case Role::FfnUp:
    return {hidden, dim};
  case Role::FfnDown:
    return {dim, hidden};
  case Role::Output:
  case Role::TokenEmbd:
    return {vocab, dim};
  case Role::AttnQkv:
    return {qDim + 2 * kvDim, dim};
  case Role::FfnGateUp:
    return {2 * hidden, dim};
  case Role::AttnQBias:
    return {qDim};
  case Role::AttnKBias:
  case Role::AttnVBias:
    return {kvDim};
  case Role::AttnQkvBias:
    return {qDim + 2 * kvDim};
  }
  return {};
}

ConfigAttr mlir::llama::lookupConfig(Operation *op) {
  for (Operation *p = op; p; p = p->getParentOp())
    if (auto c =
            p->getAttrOfType<ConfigAttr>(LlamaDialect::getConfigAttrName()))
      return c;
  return {};
}

namespace {

/// Checks that `t` is [rows, cols] where a dimension of -1 is not checked.
LogicalResult expectShape(Operation *op, StringRef what, ArrayRef<int64_t> got,
                          ArrayRef<int64_t> want) {
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i)
    ok = want[i] < 0 || got[i] == want[i];
  if (ok)
    return success();
  auto diag = op->emitOpError() << what << " has shape [";
  llvm::interleaveComma(got, diag);
  diag << "], expected [";
  llvm::interleave(
      want, diag, [&](int64_t d) { d < 0 ? (diag << "?") : (diag << d); },
      ", ");
  return diag << "]";
}

int64_t rows(Value v) {
  return cast<RankedTensorType>(v.getType()).getDimSize(0);
}
int64_t cols(Value v) {
  return cast<RankedTensorType>(v.getType()).getDimSize(1);
}

} // namespace

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  SmallVector<int64_t> table = getWeightShape(getTable().getType());
  int64_t seq = cast<RankedTensorType>(getTokens().getType()).getDimSize(0);
  return expectShape(*this, "result", getResult().getType().getShape(),
                     {seq, table[1]});
}

LogicalResult RmsNormOp::verify() {
  if (!getWeight())
    return success();
  return expectShape(*this, "weight", getWeight().getType().getShape(),
                     {cols(getX())});
}

LogicalResult SplitOp::verify() {
  ArrayRef<int64_t> sizes = getSizes();
  if (sizes.size() != getResults().size())
    return emitOpError() << "has " << getResults().size() << " results for "
                         << sizes.size() << " sizes";
  int64_t total = 0;
  for (auto [size, r] : llvm::zip(sizes, getResults())) {
    if (size <= 0)
      return emitOpError() << "sizes must be positive";
    total += size;
    if (failed(expectShape(*this, "result",
                           cast<RankedTensorType>(r.getType()).getShape(),
                           {rows(getX()), size})))
      return failure();
    if (cast<RankedTensorType>(r.getType()).getElementType() !=
        getX().getType().getElementType())
      return emitOpError() << "results must have the input's element type";
  }
  if (total != cols(getX()))
    return emitOpError() << "sizes sum to " << total << ", the input has "
                         << cols(getX()) << " features";
  return success();
}

LogicalResult LinearOp::verify() {
  if (getResult().getType().getElementType() !=
      getX().getType().getElementType())
    return emitOpError() << "result element type must equal the input's";
  SmallVector<int64_t> w = getWeightShape(getWeight().getType());
  if (w[1] != cols(getX()))
    return emitOpError() << "weight in-features " << w[1]
                         << " do not match input width " << cols(getX());
  if (getBias() && getBias().getType().getDimSize(0) != w[0])
    return emitOpError() << "bias of " << getBias().getType().getDimSize(0)
                         << " elements for " << w[0] << " out-features";
  return expectShape(*this, "result", getResult().getType().getShape(),
                     {rows(getX()), w[0]});
}

LogicalResult RopeOp::verify() {
  int64_t headDim = getHeadDim();
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError() << "head_dim must be positive and even, got "
                         << headDim;
  if (cols(getX()) % headDim != 0)
    return emitOpError() << "input width " << cols(getX())
                         << " is not a multiple of head_dim " << headDim;
  if (getTheta().convertToDouble() <= 0.0)
    return emitOpError() << "theta must be positive";
  return expectShape(*this, "positions", getPositions().getType().getShape(),
                     {rows(getX())});
}

LogicalResult GqaAttentionOp::verify() {
  int64_t nHeads = getNHeads(), nKv = getNKvHeads(), headDim = getHeadDim();
  if (nHeads <= 0 || nKv <= 0 || headDim <= 0)
    return emitOpError() << "n_heads, n_kv_heads and head_dim must be positive";
  if (nHeads % nKv != 0)
    return emitOpError() << "n_kv_heads (" << nKv << ") must divide n_heads ("
                         << nHeads << ")";
  int64_t seq = rows(getQ());
  if (failed(expectShape(*this, "q", getQ().getType().getShape(),
                         {seq, nHeads * headDim})) ||
      failed(expectShape(*this, "k", getK().getType().getShape(),
                         {seq, nKv * headDim})) ||
      failed(expectShape(*this, "k_cache", getKCache().getType().getShape(),
                         {nKv, -1, headDim})) ||
      failed(expectShape(*this, "positions",
                         getPositions().getType().getShape(), {seq})))
    return failure();
  int64_t ctx = getKCache().getType().getDimSize(1);
  if (!ShapedType::isDynamic(ctx) && !ShapedType::isDynamic(seq) && ctx < seq)
    return emitOpError() << "cache length " << ctx << " is shorter than the "
                         << seq << " new tokens";
  if (getKCache().getType().getElementType() !=
      getQ().getType().getElementType())
    return emitOpError() << "cache element type differs from q";
  return success();
}

LogicalResult LmHeadOp::verify() {
  if (getLogits().getType().getElementType() !=
      getX().getType().getElementType())
    return emitOpError() << "logits element type must equal the input's";
  SmallVector<int64_t> w = getWeightShape(getWeight().getType());
  if (w[1] != cols(getX()))
    return emitOpError() << "weight width " << w[1]
                         << " does not match hidden size " << cols(getX());
  return expectShape(*this, "logits", getLogits().getType().getShape(),
                     {rows(getX()), w[0]});
}
