//===- OutlineKernels.cpp - llama-outline-kernels -------------------------===//
//
// A kernel is the slice of the layer template between boundary values: the
// ops computing its outputs, stopping at its inputs. Weights the slice uses
// become kernel arguments with their roles. Dynamic dims of the template
// (`?`: sequence and context lengths) become the bucket's static sizes.
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/Llama/Transforms/Passes.h"

#include "lib/Abi/Kernels.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAOUTLINEKERNELSPASS
#include "lib/Dialect/Llama/Transforms/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

struct KernelSpec {
  ::ane::abi::Kernel kernel;
  SmallVector<Value> inputs;
  SmallVector<Value> outputs;
};

StringRef name(const KernelSpec &spec) {
  std::string_view n = ::ane::abi::kernelName(spec.kernel);
  return StringRef(n.data(), n.size());
}

class Outliner {
public:
  Outliner(ModuleOp module, int64_t seq, int64_t ctx)
      : module(module), seq(seq), ctx(ctx) {}

  /// The bucket's static type for a template type.
  Type staticType(Type t) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    if (!tensor || tensor.hasStaticShape())
      return t;
    SmallVector<int64_t> shape(tensor.getShape());
    for (auto [i, d] : llvm::enumerate(shape))
      if (ShapedType::isDynamic(d))
        // Caches are [kv_heads, ctx, head_dim]; everything else is per token.
        d = (tensor.getRank() == 3 && i == 1) ? ctx : seq;
    return tensor.clone(shape);
  }

  /// Clones the slice of `spec` into a new kernel function.
  LogicalResult outline(func::FuncOp from, const KernelSpec &spec,
                        OpBuilder &b) {
    llvm::SetVector<Operation *> ops;
    DenseSet<Value> stop(spec.inputs.begin(), spec.inputs.end());
    SmallVector<Value> work(spec.outputs.begin(), spec.outputs.end());
    SmallVector<BlockArgument> weights;
    while (!work.empty()) {
      Value v = work.pop_back_val();
      if (stop.contains(v))
        continue;
      if (auto arg = dyn_cast<BlockArgument>(v)) {
        if (!from.getArgAttr(arg.getArgNumber(),
                             LlamaDialect::getRoleAttrName()))
          return from.emitError()
                 << "kernel " << name(spec) << " needs argument "
                 << arg.getArgNumber() << ", which is not one of its inputs";
        if (!llvm::is_contained(weights, arg))
          weights.push_back(arg);
        continue;
      }
      Operation *op = v.getDefiningOp();
      if (ops.insert(op))
        for (Value operand : op->getOperands())
          work.push_back(operand);
    }
    // Weights in argument order, so kernels list them deterministically.
    llvm::sort(weights, [](BlockArgument a, BlockArgument b) {
      return a.getArgNumber() < b.getArgNumber();
    });
    SmallVector<Type> argTypes, resultTypes;
    for (Value in : spec.inputs)
      argTypes.push_back(staticType(in.getType()));
    for (BlockArgument w : weights)
      argTypes.push_back(w.getType());
    for (Value out : spec.outputs)
      resultTypes.push_back(staticType(out.getType()));
    auto fn = b.create<func::FuncOp>(from.getLoc(), name(spec),
                                     b.getFunctionType(argTypes, resultTypes));
    fn->setAttr(kKernelAttrName, b.getStringAttr(name(spec)));
    for (auto [i, w] : llvm::enumerate(weights))
      fn.setArgAttrs(spec.inputs.size() + i,
                     from.getArgAttrDict(w.getArgNumber()));
    Block *body = fn.addEntryBlock();
    IRMapping map;
    for (auto [in, arg] : llvm::zip(spec.inputs, body->getArguments()))
      map.map(in, arg);
    for (auto [w, arg] : llvm::zip(
             weights, body->getArguments().drop_front(spec.inputs.size())))
      map.map(w, arg);
    OpBuilder kb = OpBuilder::atBlockEnd(body);
    // Clone in the template's order so definitions precede uses.
    for (Operation &op : from.getBody().front())
      if (ops.contains(&op)) {
        Operation *clone = kb.clone(op, map);
        for (OpResult r : clone->getResults())
          r.setType(staticType(r.getType()));
      }
    SmallVector<Value> results;
    for (Value out : spec.outputs)
      results.push_back(map.lookup(out));
    kb.create<func::ReturnOp>(from.getLoc(), results);
    return success();
  }

  LogicalResult run() {
    auto layer = module.lookupSymbol<func::FuncOp>("layer");
    auto head = module.lookupSymbol<func::FuncOp>("head");
    if (!layer || !head)
      return module.emitError()
             << "llama-outline-kernels needs @layer and @head functions";
    if (layer.getNumArguments() < 4)
      return layer.emitError() << "expected (x, positions, k_cache, v_cache, "
                                  "weights...) arguments";
    GqaAttentionOp attn;
    SwiGluOp swiglu;
    SmallVector<RmsNormOp> norms;
    layer.walk([&](Operation *op) {
      if (auto a = dyn_cast<GqaAttentionOp>(op))
        attn = a;
      else if (auto s = dyn_cast<SwiGluOp>(op))
        swiglu = s;
      else if (auto n = dyn_cast<RmsNormOp>(op))
        norms.push_back(n);
    });
    if (!attn || !swiglu || norms.size() != 2)
      return layer.emitError()
             << "@layer must hold one gqa_attention, one swiglu and two "
                "rms_norm ops";
    Value x = layer.getArgument(0), pos = layer.getArgument(1);
    Value kc = layer.getArgument(2), vc = layer.getArgument(3);
    Value h1 = norms[1].getX();
    auto ret = cast<func::ReturnOp>(layer.getBody().front().getTerminator());
    auto headRet = cast<func::ReturnOp>(head.getBody().front().getTerminator());
    if (ret.getNumOperands() < 1 || headRet.getNumOperands() != 1)
      return layer.emitError() << "unexpected @layer or @head results";
    KernelSpec kernels[] = {
        {::ane::abi::Kernel::AttnQkv,
         {x, pos},
         {attn.getQ(), attn.getK(), attn.getV()}},
        {::ane::abi::Kernel::AttnCore,
         {attn.getQ(), attn.getK(), attn.getV(), kc, vc, pos},
         {attn.getResult()}},
        {::ane::abi::Kernel::AttnOut, {attn.getResult(), x}, {h1}},
        {::ane::abi::Kernel::FfnUp, {h1}, {swiglu.getResult()}},
        {::ane::abi::Kernel::FfnDown,
         {swiglu.getResult(), h1},
         {ret.getOperand(0)}},
    };
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    for (const KernelSpec &k : kernels)
      if (failed(outline(layer, k, b)))
        return failure();
    KernelSpec lmHead{::ane::abi::Kernel::LmHead,
                      {head.getArgument(0)},
                      {headRet.getOperand(0)}};
    if (failed(outline(head, lmHead, b)))
      return failure();
    layer.erase();
    head.erase();
    return success();
  }

private:
  ModuleOp module;
  int64_t seq, ctx;
};

struct LlamaOutlineKernelsPass
    : public llama::impl::LlamaOutlineKernelsPassBase<LlamaOutlineKernelsPass> {
  using LlamaOutlineKernelsPassBase::LlamaOutlineKernelsPassBase;

  void runOnOperation() override {
    if (seq <= 0 || ctx <= 0 || ctx < seq) {
      getOperation().emitError()
          << "seq and ctx must be positive with ctx >= seq";
      return signalPassFailure();
    }
    if (failed(Outliner(getOperation(), seq, ctx).run()))
      signalPassFailure();
  }
};

} // namespace
