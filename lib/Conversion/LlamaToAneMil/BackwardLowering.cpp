//===- BackwardLowering.cpp - the input-gradient kernels ------------------===//

#include "lib/Conversion/LlamaToAneMil/KernelLowering.h"

#include "lib/Abi/Kernels.h"

#include <cmath>

namespace mlir::anemil::lowering {

Value KernelLowering::projectT(Value w, Value g) {
  auto ws = cast<RankedTensorType>(w.getType()).getShape();
  int64_t seq = cast<RankedTensorType>(g.getType()).getDimSize(3);
  // [out, in, 1, 1] (blob) or [1, in, 1, out] (input): W^T g either way.
  int64_t in = ws[1], out = inputBinding ? ws[3] : ws[0];
  Value wm = inputBinding ? reshape(w, {in, out}) : reshape(w, {out, in});
  Value gm = reshape(g, {out, seq});
  Value r =
      b.create<MatmulOp>(fn.getLoc(), RankedTensorType::get({in, seq}, compute),
                         wm, gm, b.getBoolAttr(!inputBinding), nullptr);
  return reshape(r, {1, in, 1, seq});
}

Value KernelLowering::weightRows(Value w, int64_t at, int64_t rows) {
  auto ws = cast<RankedTensorType>(w.getType()).getShape();
  if (inputBinding)
    return sliceSize(w, {0, 0, 0, at}, {1, ws[1], 1, rows});
  return sliceSize(w, {at, 0, 0, 0}, {rows, ws[1], 1, 1});
}

Value KernelLowering::zeros(Type t) {
  auto tensor = cast<RankedTensorType>(t);
  return b.create<FillOp>(fn.getLoc(), tensor,
                          b.getDenseI64ArrayAttr(tensor.getShape()),
                          FloatAttr::get(compute, 0.0));
}

void KernelLowering::addGrad(Value of, Value g) {
  auto it = grads.find(of);
  grads[of] = it == grads.end() ? g : binary<AddOp>(it->second, g);
}

Value KernelLowering::reduceKeep(Value x, int64_t axis, bool mean) {
  auto shape =
      SmallVector<int64_t>(cast<RankedTensorType>(x.getType()).getShape());
  shape[axis] = 1;
  auto t = RankedTensorType::get(shape, compute);
  if (mean)
    return b.create<ReduceMeanOp>(
        fn.getLoc(), t, x, b.getDenseI64ArrayAttr({axis}), b.getBoolAttr(true));
  return b.create<ReduceSumOp>(
      fn.getLoc(), t, x, b.getDenseI64ArrayAttr({axis}), b.getBoolAttr(true));
}

LogicalResult KernelLowering::backprop(Operation *op) {
  Location loc = fn.getLoc();
  auto gradOf = [&](Value v) { return grads.lookup(v); };
  if (auto add = dyn_cast<llama::AddOp>(op)) {
    if (Value g = gradOf(add.getResult())) {
      addGrad(add.getLhs(), g);
      addGrad(add.getRhs(), g);
    }
    return success();
  }
  if (isa<llama::LinearOp, llama::LmHeadOp>(op)) {
    auto w = weight(weights[cast<BlockArgument>(op->getOperand(1))]);
    if (failed(w))
      return failure();
    auto site = loraSites.find(op->getResult(0));
    if (Value g = gradOf(op->getResult(0))) {
      addGrad(op->getOperand(0), projectT(*w, g));
      if (site != loraSites.end())
        loraBackward(site->second.x, site->second.parts[0], g);
      return success();
    }
    // A fused projection: sum W_i^T g_i over the row blocks of its split
    // parts, never a concatenation of all part gradients.
    auto parts = splitGrads.find(op->getResult(0));
    if (parts == splitGrads.end())
      return success();
    int64_t at = 0;
    for (auto [i, part] : llvm::enumerate(parts->second)) {
      auto [rows, g] = part;
      if (g)
        addGrad(op->getOperand(0), projectT(weightRows(*w, at, rows), g));
      if (g && site != loraSites.end() && site->second.parts[i].a)
        loraBackward(site->second.x, site->second.parts[i], g);
      at += rows;
    }
    return success();
  }
  if (auto split = dyn_cast<llama::SplitOp>(op)) {
    auto &parts = splitGrads[split.getX()];
    for (auto [size, r] : llvm::zip(split.getSizes(), split.getResults()))
      parts.push_back({size, gradOf(r)});
    return success();
  }
  if (auto sw = dyn_cast<llama::SwiGluOp>(op)) {
    Value g = gradOf(sw.getResult());
    if (!g)
      return success();
    Value a = values.lookup(sw.getGate()), u = values.lookup(sw.getUp());
    Value sig = b.create<SigmoidOp>(loc, a.getType(), a);
    Value silu = binary<MulOp>(a, sig);
    // silu'(a) = sig * (1 + a * (1 - sig))
    Value one = scalarConst(1.0);
    Value dsilu = binary<MulOp>(
        sig, binary<AddOp>(one, binary<MulOp>(a, binary<SubOp>(one, sig))));
    addGrad(sw.getGate(), binary<MulOp>(binary<MulOp>(g, u), dsilu));
    addGrad(sw.getUp(), binary<MulOp>(g, silu));
    return success();
  }
  if (auto norm = dyn_cast<llama::RmsNormOp>(op)) {
    Value g = gradOf(norm.getResult());
    if (!g)
      return success();
    Value x = values.lookup(norm.getX());
    int64_t d = cast<RankedTensorType>(x.getType()).getDimSize(1);
    Value gw = g;
    if (norm.getWeight()) {
      auto w = weight(weights[cast<BlockArgument>(norm.getWeight())]);
      if (failed(w))
        return failure();
      gw = binary<MulOp>(g, *w);
    }
    // dx = r gw - x r^3 sum(gw x) / D, with r = rsqrt(mean(x^2) + eps).
    Value ms = reduceKeep(binary<MulOp>(x, x), 1, /*mean=*/true);
    Value r = b.create<RsqrtOp>(loc, ms.getType(), ms, norm.getEpsAttr());
    Value s = reduceKeep(binary<MulOp>(gw, x), 1, /*mean=*/false);
    Value r3 = binary<MulOp>(binary<MulOp>(r, r), r);
    Value coef = binary<MulOp>(binary<MulOp>(r3, s), scalarConst(1.0 / d));
    addGrad(norm.getX(),
            binary<SubOp>(binary<MulOp>(gw, r), binary<MulOp>(x, coef)));
    return success();
  }
  if (auto rope = dyn_cast<llama::RopeOp>(op)) {
    if (Value g = gradOf(rope.getResult()))
      addGrad(rope.getX(), rotate(g, rope.getHeadDim(), /*inverse=*/true));
    return success();
  }
  if (auto at = dyn_cast<llama::GqaAttentionOp>(op)) {
    Value g = gradOf(at.getResult());
    if (!g)
      return success();
    return backpropAttention(at, g);
  }
  return op->emitError() << "has no backward rule";
}

void KernelLowering::loraBackward(Value xLlama, const LoraPart &part, Value g) {
  Location loc = fn.getLoc();
  Value x = values.lookup(xLlama);
  int64_t in = cast<RankedTensorType>(part.a.getType()).getDimSize(1);
  int64_t r = loraOptions.rank, out = part.rows;
  int64_t seq = cast<RankedTensorType>(g.getType()).getDimSize(3);
  auto mm = [&](Value p, Value q, bool tp, bool tq, int64_t m, int64_t n) {
    return b.create<MatmulOp>(loc, RankedTensorType::get({m, n}, compute), p, q,
                              tp ? b.getBoolAttr(true) : nullptr,
                              tq ? b.getBoolAttr(true) : nullptr);
  };
  // The inputs are A^T [in, r] and B^T [r, out].
  Value at = reshape(part.a, {in, r}), bt = reshape(part.b, {r, out});
  Value gm = reshape(g, {out, seq}), xm = reshape(x, {in, seq});
  Value t = mm(bt, gm, false, false, r, seq); // B^T g
  addGrad(xLlama, reshape(mm(at, t, false, false, in, seq), {1, in, 1, seq}));
  Value u = mm(at, xm, true, false, r, seq); // A x
  Value da = mm(xm, t, false, true, in, r);  // dA^T = x (B^T g)^T
  Value db = mm(u, gm, false, true, r, out); // dB^T = (A x) g^T
  loraGrads[static_cast<int>(part.role)] = {reshape(da, {1, in, 1, r}),
                                            reshape(db, {1, r, 1, out})};
}

LogicalResult KernelLowering::backpropAttention(llama::GqaAttentionOp at,
                                                Value g) {
  Location loc = fn.getLoc();
  auto &a = attn;
  int64_t gs = (a.h / a.kv) * a.seq;
  Value go = reshape(transpose(reshape(g, {1, a.h, a.hd, a.seq}), {0, 1, 3, 2}),
                     {1, a.kv, gs, a.hd});
  auto t = [&](ArrayRef<int64_t> s) {
    return RankedTensorType::get(s, compute);
  };
  Value dv = b.create<MatmulOp>(loc, t({1, a.kv, a.ctx, a.hd}), a.p, go,
                                b.getBoolAttr(true), nullptr);
  Value dp = b.create<MatmulOp>(loc, t({1, a.kv, gs, a.ctx}), go, a.v4, nullptr,
                                nullptr);
  Value rs = reduceKeep(binary<MulOp>(dp, a.p), 3, /*mean=*/false);
  Value ds = binary<MulOp>(a.p, binary<SubOp>(dp, rs));
  Value dss = binary<MulOp>(ds, scalarConst(1.0 / std::sqrt(double(a.hd))));
  Value dq = b.create<MatmulOp>(loc, t({1, a.kv, gs, a.hd}), dss, a.k4, nullptr,
                                b.getBoolAttr(true));
  Value dk = b.create<MatmulOp>(loc, t({1, a.kv, a.ctx, a.hd}), dss, a.qg,
                                b.getBoolAttr(true), nullptr);
  addGrad(at.getQ(),
          reshape(transpose(reshape(dq, {1, a.h, a.seq, a.hd}), {0, 1, 3, 2}),
                  {1, a.h * a.hd, 1, a.seq}));
  // Cache gradients in the cache layout [1, kv*hd, 1, ctx].
  auto toCache = [&](Value v) {
    return reshape(transpose(v, {0, 1, 3, 2}), {1, a.kv * a.hd, 1, a.ctx});
  };
  addGrad(at.getKCache(), toCache(dk));
  addGrad(at.getVCache(), toCache(dv));
  return success();
}

LogicalResult KernelLowering::lowerBackward(func::ReturnOp ret) {
  // The llama arguments each backward kernel differentiates, by index, in
  // the order of its outputs (abi::kernelOutputs).
  std::vector<unsigned> wrt = {0};
  if (kernel == ::ane::abi::Kernel::AttnCore)
    wrt = {0, 3, 4}; // q and the two caches
  if (kernel == ::ane::abi::Kernel::AttnCore) {
    // attn_out is folded in: the gradient arrives at its output and goes
    // through Wo^T; the residual's share is the host's.
    const Slot &wo = slots.get(llama::Role::AttnOut);
    Value dxo = input("d_x_out", act(wo.spec.shape[0], attn.seq));
    auto w = weight(llama::Role::AttnOut);
    if (failed(w))
      return failure();
    grads[ret.getOperand(0)] = projectT(*w, dxo);
    auto site = loraSites.find(ret.getOperand(0));
    if (site != loraSites.end())
      loraBackward(site->second.x, site->second.parts[0], dxo);
  } else {
    const auto &names = ::ane::abi::kernelOutputs(kernel);
    for (auto [i, v] : llvm::enumerate(ret.getOperands()))
      grads[v] = input("d_" + std::string(names.at(i)),
                       cast<RankedTensorType>(values.lookup(v).getType()));
  }
  SmallVector<Operation *> ops;
  for (Operation &op : fn.getBody().front())
    if (!isa<func::ReturnOp>(op))
      ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (failed(backprop(op)))
      return failure();
  SmallVector<Value> results;
  const auto &gradNames =
      ::ane::abi::kernelOutputs(*::ane::abi::backwardOf(kernel));
  for (auto [i, index] : llvm::enumerate(wrt)) {
    Value arg = fn.getArgument(index);
    Value g = grads.lookup(arg);
    results.push_back(g ? g : zeros(values.lookup(arg).getType()));
    outputNames.push_back(std::string(gradNames.at(i)));
    resultTypes.push_back(results.back().getType());
  }
  // Then each adapter's dA^T and dB^T, in input order.
  for (const LoraPart &part : loraInputs) {
    StringRef name = llama::stringifyRole(part.role);
    std::string_view view(name.data(), name.size());
    auto it = loraGrads.find(static_cast<int>(part.role));
    for (bool isB : {false, true}) {
      Value g;
      if (it != loraGrads.end())
        g = isB ? it->second.second : it->second.first;
      results.push_back(g ? g : zeros((isB ? part.b : part.a).getType()));
      outputNames.push_back("d_" + (isB ? ::ane::abi::loraInputB(view)
                                        : ::ane::abi::loraInputA(view)));
      resultTypes.push_back(results.back().getType());
    }
  }
  b.create<func::ReturnOp>(ret.getLoc(), results);
  return success();
}

void KernelLowering::eraseDeadOps() {
  bool changed = true;
  while (changed) {
    changed = false;
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*body)))
      if (!isa<func::ReturnOp>(op) && op.use_empty()) {
        op.erase();
        changed = true;
      }
  }
}

} // namespace mlir::anemil::lowering
