//===- AneMilOpsTest.cpp - anemil dialect built from C++ ------------------===//

#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/MIL/Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

#include <set>

using namespace mlir;
using namespace mlir::anemil;

namespace {

class AneMilOpsTest : public ::testing::Test {
protected:
  AneMilOpsTest() : b(&ctx), loc(b.getUnknownLoc()) {
    ctx.loadDialect<AneMilDialect, func::FuncDialect>();
    handler =
        std::make_unique<ScopedDiagnosticHandler>(&ctx, [this](Diagnostic &d) {
          diagnostics.push_back(d.str());
          return success();
        });
    module = ModuleOp::create(loc);
  }

  /// Starts `@name(args) -> results` with the ios18 opset; returns its body.
  Block *startFunc(StringRef name, TypeRange args, TypeRange results) {
    b.setInsertionPointToEnd(module->getBody());
    auto fn =
        b.create<func::FuncOp>(loc, name, b.getFunctionType(args, results));
    fn->setAttr(AneMilDialect::getOpsetAttrName(),
                OpsetAttr::get(&ctx, Opset::IOS18));
    Block *body = fn.addEntryBlock();
    b.setInsertionPointToStart(body);
    return body;
  }

  RankedTensorType f16(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getF16Type());
  }

  MLIRContext ctx;
  OpBuilder b;
  Location loc;
  OwningOpRef<ModuleOp> module;
  std::unique_ptr<ScopedDiagnosticHandler> handler;
  std::vector<std::string> diagnostics;
};

TEST_F(AneMilOpsTest, ProjectionAsOneByOneConv) {
  Block *body = startFunc("proj", {f16({1, 64, 1, 8})}, {f16({1, 128, 1, 8})});
  auto wType = f16({128, 64, 1, 1});
  Value w = b.create<ConstOp>(
      loc, wType,
      BlobAttr::get(&ctx, "@model_path/weights/weight.bin", 64, wType));
  Value y = b.create<ConvOp>(
      loc, f16({1, 128, 1, 8}), body->getArgument(0), w, /*bias=*/Value(),
      /*strides=*/nullptr, /*dilations=*/nullptr, /*pad=*/nullptr,
      PadTypeAttr::get(&ctx, PadType::Valid), /*groups=*/nullptr);
  b.create<func::ReturnOp>(loc, y);
  EXPECT_TRUE(succeeded(verify(*module)))
      << (diagnostics.empty() ? "" : diagnostics[0]);
}

TEST_F(AneMilOpsTest, WrongConvResultIsRejected) {
  Block *body = startFunc("proj", {f16({1, 64, 1, 8}), f16({128, 64, 1, 1})},
                          {f16({1, 64, 1, 8})});
  Value y = b.create<ConvOp>(loc, f16({1, 64, 1, 8}), body->getArgument(0),
                             body->getArgument(1), Value(), nullptr, nullptr,
                             nullptr, nullptr, nullptr);
  b.create<func::ReturnOp>(loc, y);
  EXPECT_TRUE(failed(verify(*module)));
  ASSERT_FALSE(diagnostics.empty());
  EXPECT_NE(diagnostics[0].find("inferred shape [1, 128, 1, 8]"),
            std::string::npos)
      << diagnostics[0];
}

TEST_F(AneMilOpsTest, SplitHasOneResultPerPart) {
  Block *body = startFunc("split", {f16({1, 64, 1, 8})}, {});
  auto part = f16({1, 16, 1, 8});
  auto split = b.create<SplitOp>(loc, TypeRange{part, part, part, part},
                                 body->getArgument(0), b.getI64IntegerAttr(1),
                                 b.getI64IntegerAttr(4), nullptr);
  b.create<func::ReturnOp>(loc);
  EXPECT_EQ(split.getOutputs().size(), 4u);
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(AneMilOpsTest, OpsetGatesNewerOps) {
  EXPECT_EQ(getIntroducedOpset("add"), Opset::IOS15);
  EXPECT_EQ(getIntroducedOpset("constexpr_lut_to_dense"), Opset::IOS16);
  EXPECT_EQ(getIntroducedOpset("dequantize"), Opset::IOS17);
  EXPECT_EQ(getIntroducedOpset("scaled_dot_product_attention"), Opset::IOS18);

  Block *body = startFunc("attn", {f16({1, 4, 8}), f16({1, 6, 8})}, {});
  cast<func::FuncOp>(body->getParentOp())
      ->setAttr(AneMilDialect::getOpsetAttrName(),
                OpsetAttr::get(&ctx, Opset::IOS17));
  b.create<ScaledDotProductAttentionOp>(
      loc, f16({1, 4, 8}), body->getArgument(0), body->getArgument(1),
      body->getArgument(1), Value());
  b.create<func::ReturnOp>(loc);
  EXPECT_TRUE(failed(verify(*module)));
  ASSERT_FALSE(diagnostics.empty());
  EXPECT_NE(diagnostics[0].find("'anemil.scaled_dot_product_attention' op "
                                "needs opset ios18, the function is ios17"),
            std::string::npos)
      << diagnostics[0];
}

TEST_F(AneMilOpsTest, EveryDTypeMapsToOneElementTypeAndBack) {
  for (uint32_t i = 0; i <= getMaxEnumValForDType(); ++i) {
    auto dtype = symbolizeDType(i);
    ASSERT_TRUE(dtype.has_value());
    Type t = getElementTypeFor(&ctx, *dtype);
    ASSERT_TRUE(t) << stringifyDType(*dtype).str();
    EXPECT_EQ(getDTypeFor(t), dtype) << stringifyDType(*dtype).str();
  }
  EXPECT_FALSE(getDTypeFor(b.getI64Type()).has_value());
  EXPECT_FALSE(getDTypeFor(b.getF64Type()).has_value());
  EXPECT_FALSE(
      getDTypeFor(IntegerType::get(&ctx, 8, IntegerType::Signed)).has_value());
}

} // namespace

namespace {

// The anemil dialect (ODS) and the MIL op table (lib/MIL/Ops.def) that the
// executor, exporter and verifier read list the same ops.
TEST(AneMilOpTableTest, DialectAndOpTableAgree) {
  MLIRContext ctx;
  ctx.loadDialect<AneMilDialect>();
  std::set<std::string> dialect;
  for (RegisteredOperationName op : ctx.getRegisteredOperations())
    if (op.getDialectNamespace() == "anemil")
      dialect.insert(op.stripDialect().str());
  std::set<std::string> table;
  for (size_t k = 0; k < ::ane::mil::kNumOpKinds; ++k)
    table.insert(
        std::string(::ane::mil::opName(static_cast<::ane::mil::OpKind>(k))));
  for (const std::string &op : dialect)
    EXPECT_TRUE(table.count(op)) << "anemil." << op << " is not in Ops.def";
  std::set<std::string> onlyInTable;
  for (const std::string &op : table)
    if (!dialect.count(op))
      onlyInTable.insert(op);
  // The executor runs identity (imported MIL may hold it); the dialect has
  // no use for it.
  EXPECT_EQ(onlyInTable, (std::set<std::string>{"identity"}));
}

} // namespace
