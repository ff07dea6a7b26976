//===- ForwardLowering.cpp - the forward kernels --------------------------===//

#include "lib/Conversion/LlamaToAneMil/KernelLowering.h"

#include "lib/Abi/Kernels.h"
#include "lib/MIL/WeightFile.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

namespace mlir::anemil::lowering {

LogicalResult KernelLowering::run() {
  StringRef name = fn->getAttrOfType<StringAttr>("llama.kernel").getValue();
  std::optional<::ane::abi::Kernel> parsed =
      ::ane::abi::parseKernel(std::string_view(name.data(), name.size()));
  if (!parsed || ::ane::abi::isBackward(*parsed) ||
      (backward && !::ane::abi::backwardOf(*parsed)))
    return fn.emitError() << "'" << name << "' is not a forward kernel"
                          << (backward ? " with a backward" : "");
  kernel = *parsed;
  ::ane::abi::Kernel made = backward ? *::ane::abi::backwardOf(kernel) : kernel;
  std::string newName(::ane::abi::kernelName(made));
  b.setInsertionPoint(fn);
  auto newFn =
      b.create<func::FuncOp>(fn.getLoc(), newName, b.getFunctionType({}, {}));
  newFn->setAttr(AneMilDialect::getOpsetAttrName(),
                 OpsetAttr::get(ctx, Opset::IOS18));
  newFn->setAttr("anemil.kernel", b.getStringAttr(newName));
  body = newFn.addEntryBlock();
  b.setInsertionPointToStart(body);
  if (failed(mapArguments()))
    return failure();
  for (Operation &op : fn.getBody().front())
    if (failed(lower(&op))) {
      newFn.erase(); // leave no half-built kernel behind
      return failure();
    }
  // Backward kernels recompute what they need; drop the rest.
  if (backward)
    eraseDeadOps();
  // Weight slots read, in slot order.
  SmallVector<Attribute> used;
  for (llama::Role r : usedRoles)
    used.push_back(slots.describe(slots.get(r)));
  newFn->setAttr("anemil.weights", b.getArrayAttr(used));
  // attn_core reads the new keys and values from the cache, where the
  // host writes them; drop inputs nothing reads.
  for (int i = static_cast<int>(body->getNumArguments()) - 1; i >= 0; --i)
    if (body->getArgument(i).use_empty()) {
      body->eraseArgument(i);
      inputNames.erase(inputNames.begin() + i);
    }
  SmallVector<Type> inputs;
  for (BlockArgument a : body->getArguments())
    inputs.push_back(a.getType());
  newFn.setFunctionType(b.getFunctionType(inputs, resultTypes));
  for (auto [i, name] : llvm::enumerate(inputNames))
    newFn.setArgAttr(i, "anemil.name", b.getStringAttr(name));
  for (auto [i, name] : llvm::enumerate(outputNames))
    newFn.setResultAttr(i, "anemil.name", b.getStringAttr(name));
  if (!backward)
    fn.erase();
  return success();
}

RankedTensorType KernelLowering::act(int64_t channels, int64_t seq) {
  return RankedTensorType::get({1, channels, 1, seq}, compute);
}

Value KernelLowering::input(StringRef name, RankedTensorType type) {
  inputNames.push_back(name.str());
  return body->addArgument(type,
                           NameLoc::get(b.getStringAttr(name), fn.getLoc()));
}

LogicalResult KernelLowering::mapArguments() {
  for (BlockArgument arg : fn.getArguments()) {
    if (auto role = fn.getArgAttrOfType<llama::RoleAttr>(
            arg.getArgNumber(), llama::LlamaDialect::getRoleAttrName())) {
      weights[arg] = role.getValue();
      continue;
    }
    auto t = cast<RankedTensorType>(arg.getType());
    if (t.getRank() == 1) { // positions
      int64_t seq = t.getDimSize(0);
      if (kernel == ::ane::abi::Kernel::AttnQkv) {
        int64_t half = ropeHalf();
        if (half < 0)
          return fn.emitError() << "attn_qkv needs a llama.rope op";
        cosTable = input("rope_cos", act(half, seq));
        sinTable = input("rope_sin", act(half, seq));
      }
      // attn_core takes an additive mask instead, added when lowering
      // the attention.
      continue;
    }
    if (t.getRank() == 3) { // [kv_heads, ctx, head_dim]: k then v cache
      values[arg] =
          input(++caches == 1 ? "k_cache" : "v_cache",
                act(t.getDimSize(0) * t.getDimSize(2), t.getDimSize(1)));
      continue;
    }
    if (t.getRank() != 2)
      return fn.emitError() << "unexpected kernel argument type " << t;
    static const char *names[] = {"x", "y", "z", "w"};
    std::string name = activationName(arg.getArgNumber(), names);
    values[arg] = input(name, act(t.getDimSize(1), t.getDimSize(0)));
  }
  return addLoraInputs();
}

LogicalResult KernelLowering::addLoraInputs() {
  if (loraOptions.rank == 0)
    return success();
  for (Operation &op : fn.getBody().front()) {
    auto lin = dyn_cast<llama::LinearOp>(op);
    auto wArg = lin ? dyn_cast<BlockArgument>(lin.getWeight()) : nullptr;
    if (!wArg || !weights.count(wArg))
      continue; // lowerLinear reports a weight without a role
    const Slot &slot = slots.get(weights[wArg]);
    SmallVector<std::pair<llama::Role, int64_t>> parts;
    if (slot.spec.fusedFrom.empty()) {
      parts.push_back({slot.role, slot.spec.shape[0]});
    } else {
      auto split = lin->hasOneUse()
                       ? dyn_cast<llama::SplitOp>(*lin->user_begin())
                       : llama::SplitOp();
      if (!split || split.getSizes().size() != slot.spec.fusedFrom.size())
        return lin.emitError()
               << "a fused projection with adapters must feed one "
                  "llama.split into its parts";
      for (auto [name, rows] :
           llvm::zip(slot.spec.fusedFrom, split.getSizes())) {
        std::optional<llama::Role> role = llama::symbolizeRole(name);
        if (!role)
          return lin.emitError() << "unknown fused role '" << name << "'";
        parts.push_back({*role, rows});
      }
    }
    bool adapted = llvm::any_of(parts, [&](auto p) {
      return llvm::is_contained(loraOptions.targets, p.first);
    });
    if (adapted && !slot.spec.foldNorm.empty())
      return lin.emitError()
             << "adapters need the norm weight outside the projection; '"
             << slot.spec.role << "' has '" << slot.spec.foldNorm
             << "' folded in (llama-fuse fold-norms=0)";
    addLoraSite(lin.getResult(), lin.getX(), slot.spec.shape[1], parts);
  }
  // attn_core_bwd applies attn_out's W^T to the gradient, and so its
  // adapter's too.
  if (backward && kernel == ::ane::abi::Kernel::AttnCore) {
    Value attnResult = fn.getBody().front().getTerminator()->getOperand(0);
    const ::ane::abi::SlotSpec &wo = slots.get(llama::Role::AttnOut).spec;
    addLoraSite(attnResult, attnResult, wo.shape[1],
                {{llama::Role::AttnOut, wo.shape[0]}});
  }
  return success();
}

void KernelLowering::addLoraSite(
    Value result, Value x, int64_t in,
    ArrayRef<std::pair<llama::Role, int64_t>> parts) {
  LoraSite site{x, {}};
  bool adapted = false;
  for (auto [role, rows] : parts) {
    LoraPart part{role, rows, Value(), Value()};
    if (llvm::is_contained(loraOptions.targets, role)) {
      StringRef name = llama::stringifyRole(role);
      std::string_view view(name.data(), name.size());
      part.a = input(::ane::abi::loraInputA(view), act(in, loraOptions.rank));
      part.b = input(::ane::abi::loraInputB(view), act(loraOptions.rank, rows));
      loraInputs.push_back(part);
      adapted = true;
    }
    site.parts.push_back(part);
  }
  if (adapted)
    loraSites[result] = std::move(site);
}

Value KernelLowering::loraDelta(Value x, const LoraPart &part) {
  return projectInput(projectInput(x, part.a, fn.getLoc()), part.b,
                      fn.getLoc());
}

std::string KernelLowering::activationName(unsigned index,
                                           const char *const *fallback) {
  // By llama argument: attn_core's k and v (the new rows) are dropped
  // later, as the host writes them into the caches.
  std::vector<const char *> names;
  switch (kernel) {
  case ::ane::abi::Kernel::AttnCore:
    names = {"q", "k", "v"};
    break;
  case ::ane::abi::Kernel::AttnOut:
    names = {"attn", "x"};
    break;
  case ::ane::abi::Kernel::FfnDown:
    names = {"h", "x"};
    break;
  default:
    names = {"x"};
    break;
  }
  return index < names.size() ? names[index] : fallback[index % 4];
}

int64_t KernelLowering::ropeHalf() {
  int64_t half = -1;
  fn.walk([&](llama::RopeOp r) { half = r.getHeadDim() / 2; });
  return half;
}

Value KernelLowering::scalarConst(double v) {
  auto t = RankedTensorType::get({}, compute);
  return b.create<ConstOp>(
      fn.getLoc(), t, DenseElementsAttr::get(t, FloatAttr::get(compute, v)));
}

Value KernelLowering::reshape(Value x, ArrayRef<int64_t> shape) {
  return b.create<ReshapeOp>(fn.getLoc(), RankedTensorType::get(shape, compute),
                             x, b.getDenseI64ArrayAttr(shape));
}

Value KernelLowering::transpose(Value x, ArrayRef<int64_t> perm) {
  auto in = cast<RankedTensorType>(x.getType()).getShape();
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(in[p]);
  return b.create<TransposeOp>(fn.getLoc(),
                               RankedTensorType::get(shape, compute), x,
                               b.getDenseI64ArrayAttr(perm));
}

Value KernelLowering::sliceSize(Value x, ArrayRef<int64_t> begin,
                                ArrayRef<int64_t> size) {
  return b.create<SliceBySizeOp>(
      fn.getLoc(), RankedTensorType::get(size, compute), x,
      b.getDenseI64ArrayAttr(begin), b.getDenseI64ArrayAttr(size));
}

Value KernelLowering::weightInput(const Slot &slot) {
  const ::ane::abi::SlotSpec &s = slot.spec;
  if (s.shape.size() == 2) // [out, in] travels as [1, in, 1, out]
    return input("w_" + s.role, act(s.shape[1], s.shape[0]));
  return input("w_" + s.role, act(s.shape[0], 1));
}

FailureOr<Value> KernelLowering::weight(llama::Role role) {
  auto cached = weightValues.find(static_cast<int>(role));
  if (cached != weightValues.end())
    return cached->second;
  // Built where first needed; in a kernel's single block that dominates
  // every later use.
  auto w = buildWeight(role);
  if (succeeded(w))
    weightValues[static_cast<int>(role)] = *w;
  return w;
}

FailureOr<Value> KernelLowering::buildWeight(llama::Role role) {
  if (!llvm::is_contained(usedRoles, role))
    usedRoles.push_back(role);
  const Slot &slot = slots.get(role);
  const ::ane::abi::SlotSpec &s = slot.spec;
  Location loc = fn.getLoc();
  if (inputBinding)
    return weightInput(slot);
  auto blob = [&](size_t i) -> Value {
    RankedTensorType t = slot.blobTypes[i];
    return b.create<ConstOp>(
        loc, t,
        BlobAttr::get(ctx, ::ane::mil::kModelWeightPath, s.blobs[i].offset, t));
  };
  if (s.scheme == ::ane::abi::Scheme::F16)
    return blob(0);
  auto out = RankedTensorType::get({s.shape[0], s.shape[1], 1, 1}, compute);
  Value data = blob(0);
  Value table = blob(1); // scales, or the palettes of lut4
  if (s.scheme == ::ane::abi::Scheme::Lut4)
    return Value(b.create<ConstexprLutToDenseOp>(loc, out, data, table, nullptr,
                                                 nullptr));
  if (slot.blobTypes.size() == 3) // per-channel int8
    return Value(b.create<ConstexprAffineDequantizeOp>(
        loc, out, data, table, blob(2), b.getI64IntegerAttr(0)));
  return Value(
      b.create<ConstexprBlockwiseShiftScaleOp>(loc, out, data, table, Value()));
}

Value KernelLowering::project(Value x, Value w, Location loc) {
  auto xs = cast<RankedTensorType>(x.getType()).getShape();
  auto ws = cast<RankedTensorType>(w.getType()).getShape();
  if (!inputBinding)
    return b.create<ConvOp>(loc, act(ws[0], xs[3]), x, w, Value(), nullptr,
                            nullptr, nullptr,
                            PadTypeAttr::get(ctx, PadType::Valid), nullptr);
  return projectInput(x, w, loc);
}

Value KernelLowering::projectInput(Value x, Value w, Location loc) {
  auto xs = cast<RankedTensorType>(x.getType()).getShape();
  auto ws = cast<RankedTensorType>(w.getType()).getShape();
  // W [1, in, 1, out] and x [1, in, 1, S] as matrices: y = W^T x.
  int64_t in = ws[1], out = ws[3], seq = xs[3];
  Value y = b.create<MatmulOp>(
      loc, RankedTensorType::get({1, 1, out, seq}, compute),
      reshape(w, {1, 1, in, out}), reshape(x, {1, 1, in, seq}),
      b.getBoolAttr(true), nullptr);
  return reshape(y, {1, out, 1, seq});
}

LogicalResult KernelLowering::lower(Operation *op) {
  return TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](llama::RmsNormOp o) { return lowerRmsNorm(o); })
      .Case([&](llama::LinearOp o) { return lowerLinear(o); })
      .Case([&](llama::LmHeadOp o) { return lowerLinear(o); })
      .Case([&](llama::RopeOp o) { return lowerRope(o); })
      .Case([&](llama::GqaAttentionOp o) { return lowerAttention(o); })
      .Case([&](llama::SplitOp o) {
        Value x = values.lookup(o.getX());
        int64_t seq = cast<RankedTensorType>(x.getType()).getDimSize(3);
        SmallVector<Type> types;
        for (int64_t size : o.getSizes())
          types.push_back(act(size, seq));
        auto split = b.create<anemil::SplitOp>(
            fn.getLoc(), types, x, b.getI64IntegerAttr(1), nullptr,
            b.getDenseI64ArrayAttr(o.getSizes()));
        auto site = loraSites.find(o.getX());
        for (auto [i, r, n] :
             llvm::enumerate(o.getResults(), split.getOutputs())) {
          values[r] = n;
          if (site != loraSites.end() && site->second.parts[i].a)
            values[r] =
                binary<AddOp>(n, loraDelta(values.lookup(site->second.x),
                                           site->second.parts[i]));
        }
        return success();
      })
      .Case([&](llama::SwiGluOp o) {
        Value g = values.lookup(o.getGate()), u = values.lookup(o.getUp());
        Value s = b.create<SiluOp>(fn.getLoc(), g.getType(), g);
        values[o.getResult()] = binary<MulOp>(s, u);
        return success();
      })
      .Case([&](llama::AddOp o) {
        values[o.getResult()] =
            binary<AddOp>(values.lookup(o.getLhs()), values.lookup(o.getRhs()));
        return success();
      })
      .Case([&](func::ReturnOp o) {
        return backward ? lowerBackward(o) : lowerReturn(o);
      })
      .Default([&](Operation *other) {
        return other->emitError() << "cannot lower to anemil inside a kernel";
      });
}

LogicalResult KernelLowering::lowerRmsNorm(llama::RmsNormOp o) {
  Value x = values.lookup(o.getX());
  auto shape = cast<RankedTensorType>(x.getType()).getShape();
  Value sq = binary<MulOp>(x, x);
  auto reduced = RankedTensorType::get({1, 1, 1, shape[3]}, compute);
  Value ms =
      b.create<ReduceMeanOp>(fn.getLoc(), reduced, sq,
                             b.getDenseI64ArrayAttr({1}), b.getBoolAttr(true));
  Value r = b.create<RsqrtOp>(fn.getLoc(), reduced, ms, o.getEpsAttr());
  Value n = binary<MulOp>(x, r);
  if (!o.getWeight()) { // folded into the next projections
    values[o.getResult()] = n;
    return success();
  }
  auto wArg = dyn_cast<BlockArgument>(o.getWeight());
  if (!wArg || !weights.count(wArg))
    return o.emitError() << "the norm weight must be a role-tagged argument";
  auto g = weight(weights[wArg]);
  if (failed(g))
    return failure();
  values[o.getResult()] = binary<MulOp>(n, *g);
  return success();
}

LogicalResult KernelLowering::lowerLinear(Operation *o) {
  Value xv = o->getOperand(0), wv = o->getOperand(1);
  auto wArg = dyn_cast<BlockArgument>(wv);
  if (!wArg || !weights.count(wArg))
    return o->emitError() << "the weight must be a role-tagged argument";
  auto w = weight(weights[wArg]);
  if (failed(w))
    return failure();
  Value x = values.lookup(xv);
  Value y = project(x, *w, fn.getLoc());
  // A bias [1, out, 1, 1] broadcast over the sequence, before a fused
  // projection's split, so each part gets its own.
  auto lin = dyn_cast<llama::LinearOp>(o);
  if (lin && lin.getBias()) {
    auto bArg = dyn_cast<BlockArgument>(lin.getBias());
    if (!bArg || !weights.count(bArg))
      return o->emitError() << "the bias must be a role-tagged argument";
    auto bias = weight(weights[bArg]);
    if (failed(bias))
      return failure();
    y = binary<AddOp>(y, *bias);
  }
  // A fused projection's adapters are added to its split parts.
  auto site = loraSites.find(o->getResult(0));
  if (site != loraSites.end() && site->second.parts.size() == 1)
    y = binary<AddOp>(y, loraDelta(x, site->second.parts[0]));
  values[o->getResult(0)] = y;
  return success();
}

LogicalResult KernelLowering::lowerRope(llama::RopeOp o) {
  values[o.getResult()] =
      rotate(values.lookup(o.getX()), o.getHeadDim(), /*inverse=*/false);
  return success();
}

Value KernelLowering::rotate(Value x, int64_t hd, bool inverse) {
  auto shape = cast<RankedTensorType>(x.getType()).getShape();
  int64_t heads = shape[1] / hd, seq = shape[3];
  if (!cosHalves) {
    // [1, hd/2, 1, S] tables broadcast over [heads, 1, hd/2, S] halves.
    cosHalves = reshape(cosTable, {1, 1, hd / 2, seq});
    sinHalves = reshape(sinTable, {1, 1, hd / 2, seq});
  }
  Value halves = reshape(x, {heads, 2, hd / 2, seq});
  Value x1 = sliceSize(halves, {0, 0, 0, 0}, {heads, 1, hd / 2, seq});
  Value x2 = sliceSize(halves, {0, 1, 0, 0}, {heads, 1, hd / 2, seq});
  Value c1 = binary<MulOp>(x1, cosHalves);
  Value s2 = binary<MulOp>(x2, sinHalves);
  Value y1 = inverse ? binary<AddOp>(c1, s2) : binary<SubOp>(c1, s2);
  Value s1 = binary<MulOp>(x1, sinHalves);
  Value c2 = binary<MulOp>(x2, cosHalves);
  Value y2 = inverse ? binary<SubOp>(c2, s1) : binary<AddOp>(s1, c2);
  Value joined = b.create<ConcatOp>(
      fn.getLoc(), RankedTensorType::get({heads, 2, hd / 2, seq}, compute),
      ValueRange{y1, y2}, b.getI64IntegerAttr(1), nullptr);
  return reshape(joined, {1, shape[1], 1, seq});
}

LogicalResult KernelLowering::lowerAttention(llama::GqaAttentionOp o) {
  int64_t h = o.getNHeads(), kv = o.getNKvHeads(), hd = o.getHeadDim();
  int64_t g = h / kv;
  int64_t seq = o.getQ().getType().getDimSize(0);
  int64_t ctxLen = o.getKCache().getType().getDimSize(1);
  Value mask =
      input("mask", RankedTensorType::get({1, 1, seq, ctxLen}, compute));
  Value q = values.lookup(o.getQ());
  Value kc = values.lookup(o.getKCache()), vc = values.lookup(o.getVCache());
  Location loc = fn.getLoc();
  Value qt = transpose(reshape(q, {1, h, hd, seq}), {0, 1, 3, 2});
  Value qg = reshape(qt, {1, kv, g * seq, hd});
  Value k4 = reshape(kc, {1, kv, hd, ctxLen});
  Value scores = b.create<MatmulOp>(
      loc, RankedTensorType::get({1, kv, g * seq, ctxLen}, compute), qg, k4,
      nullptr, nullptr);
  Value scaled =
      binary<MulOp>(scores, scalarConst(1.0 / std::sqrt(double(hd))));
  Value masked = binary<AddOp>(reshape(scaled, {1, h, seq, ctxLen}), mask);
  Value p = b.create<SoftmaxOp>(loc, masked.getType(), masked,
                                b.getI64IntegerAttr(-1));
  Value pg = reshape(p, {1, kv, g * seq, ctxLen});
  Value v4 = reshape(vc, {1, kv, hd, ctxLen});
  attn = {qg, k4, v4, pg, h, kv, hd, seq, ctxLen};
  Value o4 = b.create<MatmulOp>(
      loc, RankedTensorType::get({1, kv, g * seq, hd}, compute), pg, v4,
      nullptr, b.getBoolAttr(true));
  Value ot = transpose(reshape(o4, {1, h, seq, hd}), {0, 1, 3, 2});
  values[o.getResult()] = reshape(ot, {1, h * hd, 1, seq});
  return success();
}

LogicalResult KernelLowering::lowerReturn(func::ReturnOp o) {
  SmallVector<Value> results;
  for (auto [i, v] : llvm::enumerate(o.getOperands())) {
    Value r = values.lookup(v);
    if (!r)
      return o.emitError() << "result " << i << " was not lowered";
    const auto &names = ::ane::abi::kernelOutputs(kernel);
    outputNames.push_back(i < names.size() ? std::string(names[i])
                                           : "out_" + std::to_string(i));
    results.push_back(r);
    resultTypes.push_back(r.getType());
  }
  b.create<func::ReturnOp>(o.getLoc(), results);
  return success();
}

} // namespace mlir::anemil::lowering
