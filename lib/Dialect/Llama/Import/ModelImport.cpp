//===- ModelImport.cpp - model files to the llama dialect -----------------===//

#include "lib/Dialect/Llama/Import/ModelImport.h"

#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace mlir::llama;
namespace model = ane::model;

namespace {

Role roleFor(model::Role r) {
  switch (r) {
  case model::Role::TokenEmbd:
    return Role::TokenEmbd;
  case model::Role::AttnNorm:
    return Role::AttnNorm;
  case model::Role::AttnQ:
    return Role::AttnQ;
  case model::Role::AttnK:
    return Role::AttnK;
  case model::Role::AttnV:
    return Role::AttnV;
  case model::Role::AttnOut:
    return Role::AttnOut;
  case model::Role::FfnNorm:
    return Role::FfnNorm;
  case model::Role::FfnGate:
    return Role::FfnGate;
  case model::Role::FfnUp:
    return Role::FfnUp;
  case model::Role::FfnDown:
    return Role::FfnDown;
  case model::Role::OutputNorm:
    return Role::OutputNorm;
  case model::Role::Output:
    return Role::Output;
  case model::Role::AttnQBias:
    return Role::AttnQBias;
  case model::Role::AttnKBias:
    return Role::AttnKBias;
  case model::Role::AttnVBias:
    return Role::AttnVBias;
  }
  return Role::TokenEmbd;
}

class Importer {
public:
  Importer(const model::ModelSpec &m, MLIRContext *ctx)
      : m(m), c(m.config), ctx(ctx), b(ctx), loc(b.getUnknownLoc()) {}

  OwningOpRef<ModuleOp> run() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    (*module)->setAttr(
        LlamaDialect::getConfigAttrName(),
        ConfigAttr::get(ctx, c.dim, c.nLayers, c.nHeads, c.nKvHeads, c.headDim,
                        c.hiddenDim, c.vocabSize,
                        b.getF64FloatAttr(c.ropeTheta),
                        b.getF64FloatAttr(c.normEps), c.maxSeqLen));
    b.setInsertionPointToEnd(module->getBody());
    buildEmbed();
    buildLayer();
    buildHead();
    return module;
  }

private:
  RankedTensorType act(int64_t width) {
    return RankedTensorType::get({ShapedType::kDynamic, width}, b.getF32Type());
  }
  RankedTensorType positions() {
    return RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  }

  /// The argument type of a weight: its storage type where the dialect has
  /// one (f32/f16/bf16, Q8_0 as q8 and Q4_0 as q4 in groups of 32), else
  /// f32, which the weight packer dequantizes to.
  Type weightType(model::Role role, int layer) {
    const model::TensorInfo *t = m.find(role, layer < 0 ? -1 : layer);
    std::vector<int64_t> shape = model::expectedShape(c, role);
    Type f16 = b.getF16Type();
    if (t && shape.size() == 2) {
      if (t->type == model::TensorType::Q8_0)
        return QWeightType::get(ctx, QuantScheme::Q8, 32, shape, f16);
      if (t->type == model::TensorType::Q4_0)
        return QWeightType::get(ctx, QuantScheme::Q4, 32, shape, f16);
    }
    Type et = b.getF32Type();
    if (t && t->type == model::TensorType::F16)
      et = f16;
    else if (t && t->type == model::TensorType::BF16)
      et = b.getBF16Type();
    return RankedTensorType::get(shape, et);
  }

  /// Adds role-tagged weight arguments after the activation arguments.
  func::FuncOp makeFunc(StringRef name, ArrayRef<Type> inputs,
                        ArrayRef<std::pair<model::Role, int>> weights,
                        ArrayRef<Type> results) {
    SmallVector<Type> args(inputs.begin(), inputs.end());
    for (auto [role, layer] : weights)
      args.push_back(weightType(role, layer));
    auto fn =
        b.create<func::FuncOp>(loc, name, b.getFunctionType(args, results));
    for (auto [i, w] : llvm::enumerate(weights))
      fn.setArgAttr(inputs.size() + i, LlamaDialect::getRoleAttrName(),
                    RoleAttr::get(ctx, roleFor(w.first)));
    b.setInsertionPointToStart(fn.addEntryBlock());
    return fn;
  }

  void buildEmbed() {
    OpBuilder::InsertionGuard g(b);
    auto fn = makeFunc("embed", {positions()}, {{model::Role::TokenEmbd, -1}},
                       {act(c.dim)});
    Value h = b.create<EmbeddingOp>(loc, act(c.dim), fn.getArgument(0),
                                    fn.getArgument(1));
    b.create<func::ReturnOp>(loc, h);
  }

  void buildLayer() {
    OpBuilder::InsertionGuard g(b);
    auto cache = RankedTensorType::get(
        {c.nKvHeads, ShapedType::kDynamic, c.headDim}, b.getF32Type());
    using R = model::Role;
    SmallVector<std::pair<model::Role, int>> weights = {
        {R::AttnNorm, 0}, {R::AttnQ, 0},   {R::AttnK, 0},
        {R::AttnV, 0},    {R::AttnOut, 0}, {R::FfnNorm, 0},
        {R::FfnGate, 0},  {R::FfnUp, 0},   {R::FfnDown, 0}};
    if (c.qkvBias) // after the others, so their argument numbers stay
      weights.append({{R::AttnQBias, 0}, {R::AttnKBias, 0}, {R::AttnVBias, 0}});
    auto fn = makeFunc("layer", {act(c.dim), positions(), cache, cache},
                       weights, {act(c.dim), cache, cache});
    auto arg = [&](int i) { return fn.getArgument(i); };
    auto bias = [&](int i) { return c.qkvBias ? arg(13 + i) : Value(); };
    Value x = arg(0), pos = arg(1);
    FloatAttr eps = b.getF32FloatAttr(static_cast<float>(c.normEps));
    int64_t q = c.nHeads * c.headDim;
    Value n = b.create<RmsNormOp>(loc, act(c.dim), x, arg(4), eps);
    Value vq = b.create<LinearOp>(loc, act(q), n, arg(5), bias(0));
    Value vk = b.create<LinearOp>(loc, act(c.kvDim()), n, arg(6), bias(1));
    Value vv = b.create<LinearOp>(loc, act(c.kvDim()), n, arg(7), bias(2));
    auto headDim = b.getI64IntegerAttr(c.headDim);
    auto theta = b.getF64FloatAttr(c.ropeTheta);
    Value rq = b.create<RopeOp>(loc, act(q), vq, pos, headDim, theta);
    Value rk = b.create<RopeOp>(loc, act(c.kvDim()), vk, pos, headDim, theta);
    auto attn = b.create<GqaAttentionOp>(
        loc, TypeRange{act(q), cache, cache}, rq, rk, vv, arg(2), arg(3), pos,
        b.getI64IntegerAttr(c.nHeads), b.getI64IntegerAttr(c.nKvHeads), headDim,
        b.getBoolAttr(true));
    Value o = b.create<LinearOp>(loc, act(c.dim), attn.getResult(), arg(8));
    Value h = b.create<AddOp>(loc, act(c.dim), x, o);
    Value n2 = b.create<RmsNormOp>(loc, act(c.dim), h, arg(9), eps);
    Value gate = b.create<LinearOp>(loc, act(c.hiddenDim), n2, arg(10));
    Value up = b.create<LinearOp>(loc, act(c.hiddenDim), n2, arg(11));
    Value s = b.create<SwiGluOp>(loc, act(c.hiddenDim), gate, up);
    Value d = b.create<LinearOp>(loc, act(c.dim), s, arg(12));
    Value out = b.create<AddOp>(loc, act(c.dim), h, d);
    b.create<func::ReturnOp>(
        loc, ValueRange{out, attn.getKCacheOut(), attn.getVCacheOut()});
  }

  void buildHead() {
    OpBuilder::InsertionGuard g(b);
    auto fn =
        makeFunc("head", {act(c.dim)},
                 {{model::Role::OutputNorm, -1}, {model::Role::Output, -1}},
                 {act(c.vocabSize)});
    FloatAttr eps = b.getF32FloatAttr(static_cast<float>(c.normEps));
    Value n = b.create<RmsNormOp>(loc, act(c.dim), fn.getArgument(0),
                                  fn.getArgument(1), eps);
    Value logits =
        b.create<LmHeadOp>(loc, act(c.vocabSize), n, fn.getArgument(2));
    b.create<func::ReturnOp>(loc, logits);
  }

  const model::ModelSpec &m;
  const model::Config &c;
  MLIRContext *ctx;
  OpBuilder b;
  Location loc;
};

} // namespace

OwningOpRef<ModuleOp> mlir::llama::importModel(const model::ModelSpec &m,
                                               MLIRContext *context) {
  context->loadDialect<LlamaDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = Importer(m, context).run();
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

bool mlir::llama::isImportModelInvocation(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    StringRef a(argv[i]);
    if (a == "--import-model" || a == "-import-model" ||
        a.starts_with("--import-model=") || a.starts_with("-import-model="))
      return true;
  }
  return false;
}

int mlir::llama::importModelMain(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  static llvm::cl::opt<std::string> spec(
      "import-model", llvm::cl::Required,
      llvm::cl::desc(
          "import a model (.gguf, llama2.c .bin or "
          "synthetic:NAME[?layers=N&seed=S]) into the llama dialect"),
      llvm::cl::value_desc("file|synthetic:NAME"));
  static llvm::cl::opt<std::string> output("o", llvm::cl::desc("output file"),
                                           llvm::cl::init("-"),
                                           llvm::cl::value_desc("filename"));
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  llvm::cl::ParseCommandLineOptions(argc, argv, "ane-translate model import\n");

  auto model = ane::model::openModel(spec);
  if (!model.ok()) {
    llvm::errs() << "error: " << model.message() << "\n";
    return 1;
  }
  MLIRContext context;
  OwningOpRef<ModuleOp> module = importModel(*model, &context);
  if (!module)
    return 1;
  std::string error;
  auto out = openOutputFile(output, &error);
  if (!out) {
    llvm::errs() << "error: " << error << "\n";
    return 1;
  }
  module->print(out->os(), OpPrintingFlags());
  out->os() << "\n";
  out->keep();
  return 0;
}
