//===- LlamaOpsTest.cpp - llama dialect built from C++ --------------------===//

#include "lib/Dialect/Llama/IR/LlamaOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::llama;

namespace {

class LlamaOpsTest : public ::testing::Test {
protected:
  LlamaOpsTest() {
    ctx.loadDialect<LlamaDialect, func::FuncDialect>();
    // Keep verifier messages for assertions instead of printing them.
    handler =
        std::make_unique<ScopedDiagnosticHandler>(&ctx, [this](Diagnostic &d) {
          diagnostics.push_back(d.str());
          return success();
        });
  }

  ConfigAttr storiesConfig() {
    Builder b(&ctx);
    return ConfigAttr::get(&ctx, /*dim=*/64, /*n_layers=*/5, /*n_heads=*/8,
                           /*n_kv_heads=*/4, /*head_dim=*/8,
                           /*hidden_dim=*/172, /*vocab_size=*/512,
                           b.getF64FloatAttr(10000.0), b.getF64FloatAttr(1e-5),
                           /*max_seq_len=*/512);
  }

  /// A module with the config and one function `@attn(x, wq, norm)` computing
  /// linear(rms_norm(x)).
  OwningOpRef<ModuleOp> buildAttnModule(int64_t wqRows) {
    OpBuilder b(&ctx);
    Location loc = b.getUnknownLoc();
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    (*module)->setAttr(LlamaDialect::getConfigAttrName(), storiesConfig());
    b.setInsertionPointToEnd(module->getBody());
    auto f32 = b.getF32Type();
    auto act = RankedTensorType::get({4, 64}, f32);
    auto wq = RankedTensorType::get({wqRows, 64}, f32);
    auto norm = RankedTensorType::get({64}, f32);
    auto out = RankedTensorType::get({4, wqRows}, f32);
    auto fn = b.create<func::FuncOp>(loc, "attn",
                                     b.getFunctionType({act, wq, norm}, {out}));
    fn.setArgAttr(1, LlamaDialect::getRoleAttrName(),
                  RoleAttr::get(&ctx, Role::AttnQ));
    fn.setArgAttr(2, LlamaDialect::getRoleAttrName(),
                  RoleAttr::get(&ctx, Role::AttnNorm));
    Block *body = fn.addEntryBlock();
    b.setInsertionPointToStart(body);
    Value n =
        b.create<RmsNormOp>(loc, act, body->getArgument(0),
                            body->getArgument(2), b.getF32FloatAttr(1e-5));
    Value q = b.create<LinearOp>(loc, out, n, body->getArgument(1));
    b.create<func::ReturnOp>(loc, q);
    return module;
  }

  MLIRContext ctx;
  std::unique_ptr<ScopedDiagnosticHandler> handler;
  std::vector<std::string> diagnostics;
};

TEST_F(LlamaOpsTest, BuiltLayerVerifies) {
  OwningOpRef<ModuleOp> module = buildAttnModule(64);
  EXPECT_TRUE(succeeded(verify(*module)))
      << (diagnostics.empty() ? "" : diagnostics[0]);
  int rmsNorms = 0;
  module->walk([&](RmsNormOp op) {
    ++rmsNorms;
    EXPECT_FLOAT_EQ(op.getEps().convertToFloat(), 1e-5f);
    EXPECT_EQ(op.getResult().getType(), op.getX().getType());
  });
  EXPECT_EQ(rmsNorms, 1);
}

TEST_F(LlamaOpsTest, RoleShapeIsCheckedAgainstConfig) {
  OwningOpRef<ModuleOp> module = buildAttnModule(32);
  EXPECT_TRUE(failed(verify(*module)));
  ASSERT_FALSE(diagnostics.empty());
  EXPECT_NE(diagnostics[0].find("role attn_q has shape [32, 64], the config "
                                "requires [64, 64]"),
            std::string::npos)
      << diagnostics[0];
}

TEST_F(LlamaOpsTest, ExpectedWeightShapesFollowConfig) {
  ConfigAttr c = storiesConfig();
  EXPECT_EQ(c.getKvDim(), 32);
  EXPECT_EQ(getExpectedWeightShape(c, Role::AttnQ),
            (SmallVector<int64_t>{64, 64}));
  EXPECT_EQ(getExpectedWeightShape(c, Role::AttnV),
            (SmallVector<int64_t>{32, 64}));
  EXPECT_EQ(getExpectedWeightShape(c, Role::FfnDown),
            (SmallVector<int64_t>{64, 172}));
  EXPECT_EQ(getExpectedWeightShape(c, Role::TokenEmbd),
            (SmallVector<int64_t>{512, 64}));
  EXPECT_EQ(getExpectedWeightShape(c, Role::OutputNorm),
            (SmallVector<int64_t>{64}));
}

TEST_F(LlamaOpsTest, QWeightTypeHelpers) {
  Type f16 = Float16Type::get(&ctx);
  auto q4 =
      QWeightType::get(&ctx, QuantScheme::Q4, int64_t(32), {172, 64}, f16);
  EXPECT_EQ(q4.getEffectiveGroup(), 32);
  EXPECT_EQ(q4.getBitsPerElement(), 4u);
  auto q8 = QWeightType::get(&ctx, QuantScheme::Q8, int64_t(0), {64, 172}, f16);
  EXPECT_EQ(q8.getEffectiveGroup(), 172);
  EXPECT_EQ(q8.getBitsPerElement(), 8u);
  EXPECT_EQ(getWeightShape(q8), (SmallVector<int64_t>{64, 172}));
  // The checked builder reports a group that does not divide in-features.
  auto bad = QWeightType::getChecked(
      [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx, QuantScheme::Q3,
      int64_t(128), ArrayRef<int64_t>{64, 172}, f16);
  EXPECT_FALSE(bad);
}

TEST_F(LlamaOpsTest, ParsedAttentionExposesAttributes) {
  const char *ir = R"mlir(
    func.func @a(%q: tensor<2x64xf16>, %k: tensor<2x32xf16>, %c: tensor<4x16x8xf16>, %p: tensor<2xi32>) {
      %o, %kc, %vc = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
          {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
          : tensor<2x64xf16>, tensor<2x32xf16>, tensor<4x16x8xf16>, tensor<2xi32>
      return
    })mlir";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(ir, &ctx);
  ASSERT_TRUE(module);
  GqaAttentionOp attn;
  module->walk([&](GqaAttentionOp op) { attn = op; });
  ASSERT_TRUE(attn);
  EXPECT_EQ(attn.getNHeads(), 8);
  EXPECT_EQ(attn.getNKvHeads(), 4);
  EXPECT_TRUE(attn.getCausal());
  EXPECT_EQ(attn.getKCacheOut().getType(), attn.getKCache().getType());
  EXPECT_EQ(attn.getResult().getType(), attn.getQ().getType());
}

} // namespace
