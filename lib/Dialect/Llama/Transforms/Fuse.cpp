//===- Fuse.cpp - llama-fuse ----------------------------------------------===//
//
// Fewer, wider projections: Q/K/V become one linear on a stacked weight
// (and stacked biases, if they have them), as do gate/up, and an RMSNorm scale
// moves into the projections that read the norm (W' = W diag(g)). The weights
// change, so every change is recorded on the new weight argument
// (`llama.fused_from`, `llama.fold_norm`) for the packer to apply to the real
// tensors.
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/Llama/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAFUSEPASS
#include "lib/Dialect/Llama/Transforms/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

constexpr StringLiteral kFusedFrom = "llama.fused_from";
constexpr StringLiteral kFoldNorm = "llama.fold_norm";

std::optional<Role> roleOf(func::FuncOp fn, Value v) {
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg || arg.getOwner() != &fn.getBody().front())
    return std::nullopt;
  auto role = fn.getArgAttrOfType<RoleAttr>(arg.getArgNumber(),
                                            LlamaDialect::getRoleAttrName());
  if (!role)
    return std::nullopt;
  return role.getValue();
}

/// Moves the scale of `norm` into every projection reading it.
void foldNorm(func::FuncOp fn, RmsNormOp norm) {
  if (!norm.getWeight() || !roleOf(fn, norm.getWeight()))
    return;
  Role normRole = *roleOf(fn, norm.getWeight());
  SmallVector<BlockArgument> consumers;
  for (Operation *user : norm.getResult().getUsers()) {
    if (!isa<LinearOp, LmHeadOp>(user) ||
        user->getOperand(0) != norm.getResult())
      return;
    auto w = dyn_cast<BlockArgument>(user->getOperand(1));
    if (!w || !roleOf(fn, w) || fn.getArgAttr(w.getArgNumber(), kFoldNorm))
      return;
    consumers.push_back(w);
  }
  if (consumers.empty())
    return;
  MLIRContext *ctx = fn.getContext();
  for (BlockArgument w : consumers)
    fn.setArgAttr(w.getArgNumber(), kFoldNorm, RoleAttr::get(ctx, normRole));
  auto g = cast<BlockArgument>(norm.getWeight());
  norm.getWeightMutable().clear();
  if (g.use_empty())
    fn.eraseArgument(g.getArgNumber());
}

/// The type of `parts` stacked by rows, if they can be stacked.
Type stackedType(ArrayRef<Type> parts) {
  int64_t rows = 0;
  for (Type t : parts)
    rows += getWeightShape(t)[0];
  int64_t cols = getWeightShape(parts[0])[1];
  if (auto q = dyn_cast<QWeightType>(parts[0])) {
    for (Type t : parts) {
      auto o = dyn_cast<QWeightType>(t);
      if (!o || o.getScheme() != q.getScheme() ||
          o.getGroup() != q.getGroup() ||
          o.getScaleType() != q.getScaleType() || o.getShape()[1] != cols)
        return {};
    }
    return QWeightType::get(q.getContext(), q.getScheme(), q.getGroup(),
                            {rows, cols}, q.getScaleType());
  }
  auto t0 = cast<RankedTensorType>(parts[0]);
  for (Type t : parts)
    if (t != RankedTensorType::get(getWeightShape(t), t0.getElementType()) ||
        getWeightShape(t)[1] != cols)
      return {};
  return RankedTensorType::get({rows, cols}, t0.getElementType());
}

/// Adds a weight argument of `type` stacking `roles` as role `fused`.
BlockArgument addStackedArgument(func::FuncOp fn, Type type, Role fused,
                                 ArrayRef<Role> roles, Attribute fold) {
  MLIRContext *ctx = fn.getContext();
  Builder b(ctx);
  SmallVector<Attribute> from;
  for (Role r : roles)
    from.push_back(RoleAttr::get(ctx, r));
  SmallVector<NamedAttribute> attrs = {
      b.getNamedAttr(LlamaDialect::getRoleAttrName(),
                     RoleAttr::get(ctx, fused)),
      b.getNamedAttr(kFusedFrom, b.getArrayAttr(from))};
  if (fold)
    attrs.push_back(b.getNamedAttr(kFoldNorm, fold));
  unsigned index = fn.getNumArguments();
  fn.insertArgument(index, type, b.getDictionaryAttr(attrs), fn.getLoc());
  return fn.getArgument(index);
}

/// The biases of `parts` stacked: none when no part has one, a null type
/// when only some do or they cannot be stacked.
std::optional<Type> stackedBiasType(ArrayRef<LinearOp> parts) {
  if (llvm::none_of(parts, [](LinearOp p) { return bool(p.getBias()); }))
    return std::nullopt;
  int64_t n = 0;
  Type element;
  for (LinearOp p : parts) {
    if (!p.getBias())
      return Type();
    auto t = cast<RankedTensorType>(p.getBias().getType());
    if (element && t.getElementType() != element)
      return Type();
    element = t.getElementType();
    n += t.getDimSize(0);
  }
  return RankedTensorType::get({n}, element);
}

/// Replaces the projections of `input` with weights `roles` (in that order)
/// by one projection on a stacked weight with role `fused`, then a split.
/// Their biases, if any, are stacked as role `fusedBias` from `biasRoles`.
void fuseProjections(func::FuncOp fn, Value input, ArrayRef<Role> roles,
                     Role fused, ArrayRef<Role> biasRoles = {},
                     std::optional<Role> fusedBias = std::nullopt) {
  SmallVector<LinearOp> parts;
  for (Role r : roles) {
    LinearOp found;
    for (Operation *user : input.getUsers())
      if (auto lin = dyn_cast<LinearOp>(user))
        if (lin.getX() == input && roleOf(fn, lin.getWeight()) == r)
          found = lin;
    if (!found)
      return;
    parts.push_back(found);
  }
  SmallVector<Type> types;
  SmallVector<BlockArgument> weights;
  Attribute fold;
  for (auto [i, p] : llvm::enumerate(parts)) {
    auto w = cast<BlockArgument>(p.getWeight());
    Attribute f = fn.getArgAttr(w.getArgNumber(), kFoldNorm);
    if (i > 0 && f != fold)
      return; // the parts must share the same folded norm, or none
    fold = f;
    types.push_back(w.getType());
    weights.push_back(w);
  }
  Type stacked = stackedType(types);
  if (!stacked)
    return;
  std::optional<Type> biasType = stackedBiasType(parts);
  if (biasType) {
    if (!*biasType || !fusedBias)
      return;
    for (auto [p, r] : llvm::zip(parts, biasRoles)) {
      if (roleOf(fn, p.getBias()) != r)
        return;
      weights.push_back(cast<BlockArgument>(p.getBias()));
    }
  }
  Value w = addStackedArgument(fn, stacked, fused, roles, fold);
  Value bias;
  if (biasType)
    bias = addStackedArgument(fn, *biasType, *fusedBias, biasRoles, nullptr);

  // The fused projection goes where the first part was; its users follow.
  LinearOp first = parts.front();
  for (LinearOp p : parts)
    if (p->isBeforeInBlock(first))
      first = p;
  OpBuilder ob(first);
  auto inType = cast<RankedTensorType>(input.getType());
  SmallVector<int64_t> sizes;
  SmallVector<Type> resultTypes;
  for (LinearOp p : parts) {
    sizes.push_back(p.getResult().getType().getDimSize(1));
    resultTypes.push_back(p.getResult().getType());
  }
  int64_t total = getWeightShape(stacked)[0];
  auto wide = ob.create<LinearOp>(
      first.getLoc(),
      RankedTensorType::get({inType.getDimSize(0), total},
                            parts[0].getResult().getType().getElementType()),
      input, w, bias);
  auto split = ob.create<SplitOp>(first.getLoc(), resultTypes, wide.getResult(),
                                  ob.getDenseI64ArrayAttr(sizes));
  for (auto [p, r] : llvm::zip(parts, split.getResults())) {
    p.getResult().replaceAllUsesWith(r);
    p.erase();
  }
  // Erase the old weight arguments, highest index first.
  llvm::sort(weights, [](BlockArgument a, BlockArgument c) {
    return a.getArgNumber() > c.getArgNumber();
  });
  for (BlockArgument old : weights)
    if (old.use_empty())
      fn.eraseArgument(old.getArgNumber());
}

struct LlamaFusePass : public llama::impl::LlamaFusePassBase<LlamaFusePass> {
  using LlamaFusePassBase::LlamaFusePassBase;

  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp fn) {
      if (fn.isExternal())
        return;
      SmallVector<RmsNormOp> norms;
      fn.walk([&](RmsNormOp n) { norms.push_back(n); });
      if (foldNorms)
        for (RmsNormOp n : norms)
          foldNorm(fn, n);
      for (RmsNormOp n : norms) {
        fuseProjections(fn, n.getResult(),
                        {Role::AttnQ, Role::AttnK, Role::AttnV}, Role::AttnQkv,
                        {Role::AttnQBias, Role::AttnKBias, Role::AttnVBias},
                        Role::AttnQkvBias);
        fuseProjections(fn, n.getResult(), {Role::FfnGate, Role::FfnUp},
                        Role::FfnGateUp);
      }
    });
  }
};

} // namespace
