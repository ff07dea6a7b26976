//===- CompiledKernels.h - compiled modules as the runtime sees them -*- C++
//-*-===//
//
// Test helpers that turn a module compiled by ane-compile into what the
// runtime consumes: slot specs from `anemil.weight_slots` and one parsed MIL
// program per kernel.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_TEST_UNITTESTS_CONVERSION_COMPILEDKERNELS_H
#define ANE_TEST_UNITTESTS_CONVERSION_COMPILEDKERNELS_H

#include "lib/Dialect/AneMil/Export/MILTranslation.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/MIL/Text.h"
#include "lib/Runtime/Packing.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace ane::test {

inline runtime::SlotSpec slotFromAttr(mlir::DictionaryAttr d) {
  using namespace mlir;
  runtime::SlotSpec s;
  s.role = d.getAs<StringAttr>("role").str();
  s.segment = d.getAs<StringAttr>("segment").str();
  s.scheme = d.getAs<StringAttr>("scheme").str();
  s.group = d.getAs<IntegerAttr>("group").getInt();
  auto shape = d.getAs<DenseI64ArrayAttr>("shape").asArrayRef();
  s.shape.assign(shape.begin(), shape.end());
  auto offsets = d.getAs<DenseI64ArrayAttr>("offsets").asArrayRef();
  for (auto [off, t] : llvm::zip(offsets, d.getAs<ArrayAttr>("blobs"))) {
    auto type = cast<RankedTensorType>(cast<TypeAttr>(t).getValue());
    runtime::BlobSpec b;
    b.dtype = *mil::parseDType(
        anemil::stringifyDType(*anemil::getDTypeFor(type.getElementType())));
    b.shape.assign(type.getShape().begin(), type.getShape().end());
    b.offset = off;
    s.blobs.push_back(b);
  }
  if (auto rows = d.getAs<IntegerAttr>("rope_rows")) {
    s.ropeRows = rows.getInt();
    s.headDim = d.getAs<IntegerAttr>("head_dim").getInt();
  }
  if (auto from = d.getAs<ArrayAttr>("fused_from"))
    for (Attribute r : from)
      s.fusedFrom.push_back(cast<StringAttr>(r).str());
  if (auto fold = d.getAs<StringAttr>("fold_norm"))
    s.foldNorm = fold.str();
  return s;
}

/// The slots of one segment ("layer" or "global"), in layout order.
inline std::vector<runtime::SlotSpec> slotsOf(mlir::ModuleOp module,
                                              llvm::StringRef segment) {
  std::vector<runtime::SlotSpec> list;
  auto slots = module->getAttrOfType<mlir::ArrayAttr>("anemil.weight_slots");
  EXPECT_TRUE(slots) << "the module has no anemil.weight_slots";
  if (slots)
    for (mlir::Attribute a : slots) {
      auto d = mlir::cast<mlir::DictionaryAttr>(a);
      if (d.getAs<mlir::StringAttr>("segment").getValue() == segment)
        list.push_back(slotFromAttr(d));
    }
  return list;
}

/// `kernel` exported as its own program (function `main`) and parsed back
/// from its text, as the runtime receives it.
inline mil::Program kernelProgram(mlir::ModuleOp module,
                                  llvm::StringRef kernel) {
  using namespace mlir;
  auto fn = module.lookupSymbol<func::FuncOp>(kernel);
  EXPECT_TRUE(fn) << kernel.str();
  if (!fn)
    return {};
  OwningOpRef<ModuleOp> single = ModuleOp::create(fn.getLoc());
  auto clone = cast<func::FuncOp>(fn->clone());
  clone.setSymName("main");
  single->push_back(clone);
  auto program = anemil::exportMIL(*single, anemil::MILExportOptions());
  EXPECT_TRUE(succeeded(program)) << kernel.str();
  if (failed(program))
    return {};
  auto parsed = mil::parseProgram(mil::printProgram(*program));
  EXPECT_TRUE(parsed.ok()) << parsed.message();
  return parsed.ok() ? *parsed : mil::Program();
}

/// max |got - want| relative to max |want|.
inline double relativeError(const std::vector<float> &got,
                            const std::vector<float> &want) {
  double err = 0, scale = 1e-6;
  for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
    err = std::max(err, std::fabs(double(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  return got.size() == want.size() ? err / scale : INFINITY;
}

} // namespace ane::test

#endif // ANE_TEST_UNITTESTS_CONVERSION_COMPILEDKERNELS_H
