//===- LegalizeAne.cpp - anemil-legalize-ane ------------------------------===//

#include "lib/Dialect/AneMil/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSwitch.h"

namespace mlir::anemil {
#define GEN_PASS_DEF_ANEMILLEGALIZEANEPASS
#include "lib/Dialect/AneMil/Transforms/Passes.h.inc"
} // namespace mlir::anemil

using namespace mlir;
using namespace mlir::anemil;

int64_t mlir::anemil::aneAxisLimit(StringRef family) {
  return llvm::StringSwitch<int64_t>(family)
      .Cases("m1", "m2", "m3", 16384)
      .Case("m4", 65536)
      .Default(0);
}

namespace {

/// A fused projection whose only user splits it along channels: one conv
/// per part, on rows of the weight, in place of the conv and the split.
LogicalResult splitConv(ConvOp conv, SplitOp split, int64_t limit) {
  auto w = conv.getWeight().getType();
  OpBuilder b(split);
  int64_t at = 0;
  for (Value part : split.getOutputs()) {
    auto t = cast<RankedTensorType>(part.getType());
    int64_t rows = t.getDimSize(1);
    if (rows > limit)
      return split.emitError()
             << "a part of " << rows << " channels is still over the limit";
    auto wt = RankedTensorType::get({rows, w.getDimSize(1), 1, 1},
                                    w.getElementType());
    Value slice = b.create<SliceBySizeOp>(
        conv.getLoc(), wt, conv.getWeight(),
        b.getDenseI64ArrayAttr({at, 0, 0, 0}),
        b.getDenseI64ArrayAttr({rows, w.getDimSize(1), 1, 1}));
    Value y = b.create<ConvOp>(conv.getLoc(), t, conv.getX(), slice, Value(),
                               conv.getStridesAttr(), conv.getDilationsAttr(),
                               conv.getPadAttr(), conv.getPadTypeAttr(),
                               conv.getGroupsAttr());
    part.replaceAllUsesWith(y);
    at += rows;
  }
  split.erase();
  conv.erase();
  return success();
}

/// Splits `conv` (x [1, Cin, 1, S], weight [Cout, Cin, 1, 1]) into tiles of
/// at most `limit` output channels, concatenated along axis 2.
LogicalResult tileConv(ConvOp conv, int64_t limit) {
  if (conv->hasOneUse())
    if (auto split = dyn_cast<SplitOp>(*conv->getUsers().begin()))
      if (split.getAxis() == 1)
        return splitConv(conv, split, limit);
  for (Operation *user : conv->getUsers())
    if (!isa<func::ReturnOp>(user))
      return conv.emitError()
             << "only a conv returned by its kernel (or split right after) "
                "can be tiled over the axis limit";
  auto out = conv.getOutput().getType();
  auto w = conv.getWeight().getType();
  if (out.getRank() != 4 || out.getDimSize(0) != 1 || out.getDimSize(2) != 1 ||
      w.getDimSize(2) != 1 || w.getDimSize(3) != 1 || conv.getBias())
    return conv.emitError() << "only 1x1 convs over [1, C, 1, S] without "
                               "bias can be tiled";
  int64_t cout = out.getDimSize(1), seq = out.getDimSize(3);
  int64_t tiles = (cout + limit - 1) / limit;
  int64_t tile = (cout + tiles - 1) / tiles;
  Type et = out.getElementType();
  OpBuilder b(conv);
  Location loc = conv.getLoc();
  SmallVector<Value> parts;
  for (int64_t t = 0; t < tiles; ++t) {
    int64_t rows = std::min(tile, cout - t * tile);
    auto wt = RankedTensorType::get({rows, w.getDimSize(1), 1, 1},
                                    w.getElementType());
    Value slice = b.create<SliceBySizeOp>(
        loc, wt, conv.getWeight(), b.getDenseI64ArrayAttr({t * tile, 0, 0, 0}),
        b.getDenseI64ArrayAttr({rows, w.getDimSize(1), 1, 1}));
    Value y = b.create<ConvOp>(
        loc, RankedTensorType::get({1, rows, 1, seq}, et), conv.getX(), slice,
        Value(), conv.getStridesAttr(), conv.getDilationsAttr(),
        conv.getPadAttr(), conv.getPadTypeAttr(), conv.getGroupsAttr());
    if (rows < tile) {
      // Pad the short last tile so tiles stack along axis 2.
      auto padType = RankedTensorType::get({1, tile - rows, 1, seq}, et);
      Value zeros = b.create<FillOp>(loc, padType,
                                     b.getDenseI64ArrayAttr(padType.getShape()),
                                     FloatAttr::get(et, 0.0));
      y = b.create<ConcatOp>(loc, RankedTensorType::get({1, tile, 1, seq}, et),
                             ValueRange{y, zeros}, b.getI64IntegerAttr(1),
                             nullptr);
    }
    parts.push_back(y);
  }
  Value joined =
      b.create<ConcatOp>(loc, RankedTensorType::get({1, tile, tiles, seq}, et),
                         parts, b.getI64IntegerAttr(2), nullptr);
  // The function result changes shape with it.
  conv.getOutput().replaceAllUsesWith(joined);
  conv.erase();
  return success();
}

struct AneMilLegalizeAnePass
    : public anemil::impl::AneMilLegalizeAnePassBase<AneMilLegalizeAnePass> {
  using AneMilLegalizeAnePassBase::AneMilLegalizeAnePassBase;

  void runOnOperation() override {
    int64_t limit = axisLimit > 0 ? int64_t(axisLimit) : aneAxisLimit(family);
    if (!limit) {
      getOperation().emitError()
          << "unknown ANE family '" << family << "' (m1, m2, m3, m4)";
      return signalPassFailure();
    }
    SmallVector<ConvOp> wide;
    getOperation().walk([&](ConvOp conv) {
      if (conv.getOutput().getType().getDimSize(1) > limit)
        wide.push_back(conv);
    });
    for (ConvOp conv : wide) {
      auto fn = conv->getParentOfType<func::FuncOp>();
      if (failed(tileConv(conv, limit)))
        return signalPassFailure();
      fn.setFunctionType(FunctionType::get(
          &getContext(), fn.getArgumentTypes(),
          fn.getBody().front().getTerminator()->getOperandTypes()));
    }
  }
};

} // namespace
