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

RankedTensorType withChannels(RankedTensorType t, int64_t c) {
  SmallVector<int64_t> shape(t.getShape());
  shape[1] = c;
  return RankedTensorType::get(shape, t.getElementType());
}

/// `x` [1, C, H, S] completed to `channels` with zeros by MIL's `pad`
/// (verified on the ANE, unlike `fill`).
Value padChannelsWithZeros(OpBuilder &b, Location loc, Value x,
                           int64_t channels) {
  auto t = cast<RankedTensorType>(x.getType());
  return b.create<PadOp>(
      loc, withChannels(t, channels), x,
      b.getDenseI64ArrayAttr(
          {0, 0, 0, channels - t.getDimSize(1), 0, 0, 0, 0}));
}

/// Tiles of at most `limit` along an axis of `n`: the same split for the
/// classifier and its backward, so d_logits arrives in the logits layout.
std::pair<int64_t, int64_t> tilesFor(int64_t n, int64_t limit) {
  int64_t tiles = (n + limit - 1) / limit;
  return {tiles, (n + tiles - 1) / tiles};
}

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
  auto [tiles, tile] = tilesFor(cout, limit);
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
    if (rows < tile) // the short last tile, padded so tiles stack on axis 2
      y = padChannelsWithZeros(b, loc, y, tile);
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

/// W^T g whose contraction axis is over the limit (the classifier's
/// backward): x = reshape(W [K, N, 1, 1]), y = reshape(g [1, K, 1, S]) with
/// g a kernel input. g is taken in the tiled layout [1, K/T, T, S] that the
/// forward classifier emits, and the product becomes the sum of per-tile
/// products on row slices of W, so no computed value spans K.
LogicalResult tileTransposedMatmul(MatmulOp mm, int64_t limit) {
  auto wReshape = mm.getX().getDefiningOp<ReshapeOp>();
  auto gReshape = mm.getY().getDefiningOp<ReshapeOp>();
  auto g = gReshape ? dyn_cast<BlockArgument>(gReshape.getX()) : nullptr;
  if (!mm.getTransposeX().value_or(false) ||
      mm.getTransposeY().value_or(false) || !wReshape || !g ||
      !gReshape->hasOneUse() || !g.hasOneUse())
    return mm.emitError() << "only W^T g with g a kernel input can be tiled "
                             "along a contraction axis over the limit";
  auto wt = cast<RankedTensorType>(wReshape.getX().getType());
  auto gt = cast<RankedTensorType>(g.getType());
  int64_t k = wt.getDimSize(0), n = wt.getDimSize(1), seq = gt.getDimSize(3);
  if (wt.getRank() != 4 || wt.getDimSize(2) != 1 || wt.getDimSize(3) != 1 ||
      gt.getRank() != 4 || gt.getDimSize(1) != k || gt.getDimSize(2) != 1)
    return mm.emitError() << "expected W [K, N, 1, 1] and g [1, K, 1, S]";
  auto [tiles, tile] = tilesFor(k, limit);
  Type et = gt.getElementType();
  g.setType(RankedTensorType::get({1, tile, tiles, seq}, et));
  OpBuilder b(mm);
  Location loc = mm.getLoc();
  Value sum;
  for (int64_t t = 0; t < tiles; ++t) {
    int64_t rows = std::min(tile, k - t * tile);
    Value w = b.create<SliceBySizeOp>(
        loc, RankedTensorType::get({rows, n, 1, 1}, wt.getElementType()),
        wReshape.getX(), b.getDenseI64ArrayAttr({t * tile, 0, 0, 0}),
        b.getDenseI64ArrayAttr({rows, n, 1, 1}));
    w = b.create<ReshapeOp>(loc, RankedTensorType::get({rows, n}, et), w,
                            b.getDenseI64ArrayAttr({rows, n}));
    Value part = b.create<SliceBySizeOp>(
        loc, RankedTensorType::get({1, rows, 1, seq}, et), g,
        b.getDenseI64ArrayAttr({0, 0, t, 0}),
        b.getDenseI64ArrayAttr({1, rows, 1, seq}));
    part = b.create<ReshapeOp>(loc, RankedTensorType::get({rows, seq}, et),
                               part, b.getDenseI64ArrayAttr({rows, seq}));
    Value y = b.create<MatmulOp>(loc, mm.getType(), w, part,
                                 mm.getTransposeXAttr(), nullptr);
    sum = sum ? b.create<AddOp>(loc, mm.getType(), sum, y).getResult() : y;
  }
  mm.replaceAllUsesWith(sum);
  mm.erase();
  gReshape.erase();
  if (wReshape->use_empty())
    wReshape.erase();
  return success();
}

/// The channel count of an activation [1, C, H, S] rounded up to 64-byte
/// rows, or 0 when `t` needs no padding (the rule anemil-verify-ane checks).
int64_t paddedChannels(Type t) {
  auto tensor = dyn_cast<RankedTensorType>(t);
  if (!tensor || tensor.getRank() != 4 || tensor.getDimSize(0) != 1 ||
      tensor.getDimSize(1) <= 1)
    return 0;
  int64_t bytes = tensor.getElementTypeBitWidth() / 8;
  if (bytes == 0 || 64 % bytes != 0)
    return 0;
  int64_t per = 64 / bytes, c = tensor.getDimSize(1);
  return c % per == 0 ? 0 : (c + per - 1) / per * per;
}

std::string ioName(func::FuncOp fn, bool result, unsigned i) {
  auto name = result ? fn.getResultAttrOfType<StringAttr>(i, "anemil.name")
                     : fn.getArgAttrOfType<StringAttr>(i, "anemil.name");
  if (name)
    return name.str();
  return (result ? "result" : "arg") + std::to_string(i);
}

/// Pads the channels of a kernel's inputs and outputs to 64-byte rows:
/// inputs are sliced back to their logical width on entry, outputs are
/// completed with zeros before the return.
void padKernelIO(func::FuncOp fn) {
  Block &entry = fn.getBody().front();
  Location loc = fn.getLoc();
  SmallVector<NamedAttribute> logical;
  OpBuilder b = OpBuilder::atBlockBegin(&entry);
  for (BlockArgument arg : entry.getArguments()) {
    int64_t c = paddedChannels(arg.getType());
    if (!c)
      continue;
    auto t = cast<RankedTensorType>(arg.getType());
    arg.setType(withChannels(t, c));
    auto slice = b.create<SliceBySizeOp>(loc, t, arg,
                                         b.getDenseI64ArrayAttr({0, 0, 0, 0}),
                                         b.getDenseI64ArrayAttr(t.getShape()));
    arg.replaceAllUsesExcept(slice, slice);
    logical.push_back(b.getNamedAttr(ioName(fn, false, arg.getArgNumber()),
                                     b.getI64IntegerAttr(t.getDimSize(1))));
  }
  Operation *ret = entry.getTerminator();
  b.setInsertionPoint(ret);
  for (OpOperand &operand : ret->getOpOperands()) {
    int64_t c = paddedChannels(operand.get().getType());
    if (!c)
      continue;
    auto t = cast<RankedTensorType>(operand.get().getType());
    Value full = padChannelsWithZeros(b, loc, operand.get(), c);
    logical.push_back(
        b.getNamedAttr(ioName(fn, true, operand.getOperandNumber()),
                       b.getI64IntegerAttr(t.getDimSize(1))));
    operand.set(full);
  }
  if (!logical.empty())
    fn->setAttr("anemil.padded_channels", b.getDictionaryAttr(logical));
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
    if (failed(checkInputs(limit)))
      return signalPassFailure();
    SmallVector<ConvOp> wide;
    getOperation().walk([&](ConvOp conv) {
      if (conv.getOutput().getType().getDimSize(1) > limit)
        wide.push_back(conv);
    });
    SmallVector<MatmulOp> deep;
    getOperation().walk([&](MatmulOp mm) {
      auto x = cast<RankedTensorType>(mm.getX().getType());
      if (mm.getTransposeX().value_or(false) && x.getDimSize(0) > limit)
        deep.push_back(mm);
    });
    for (ConvOp conv : wide) {
      auto fn = conv->getParentOfType<func::FuncOp>();
      if (failed(tileConv(conv, limit)))
        return signalPassFailure();
      updateSignature(fn);
    }
    for (MatmulOp mm : deep) {
      auto fn = mm->getParentOfType<func::FuncOp>();
      if (failed(tileTransposedMatmul(mm, limit)))
        return signalPassFailure();
      updateSignature(fn);
    }
    if (padChannels)
      for (auto fn : getOperation().getOps<func::FuncOp>())
        if (fn->hasAttr("anemil.kernel")) {
          padKernelIO(fn);
          updateSignature(fn);
        }
  }

  /// Tiling splits computed values and the classifier's gradient, never a
  /// weight input (weight-binding=input): the host passes those whole.
  LogicalResult checkInputs(int64_t limit) {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (!fn->hasAttr("anemil.kernel"))
        continue;
      for (BlockArgument arg : fn.getArguments()) {
        auto t = dyn_cast<RankedTensorType>(arg.getType());
        std::string name = ioName(fn, false, arg.getArgNumber());
        if (!t || !StringRef(name).starts_with("w_"))
          continue;
        for (int64_t d : t.getShape())
          if (d > limit)
            return fn.emitError()
                   << "input '" << name << "' " << t << " has an axis of " << d
                   << ", over the " << limit
                   << " an ANE axis takes, and weight inputs are not tiled: "
                   << "with weight-binding=input use a family with a larger "
                      "axis (m4), or weight-binding=blob";
      }
    }
    return success();
  }

  /// Tiling changes the shapes of kernel inputs and results.
  void updateSignature(func::FuncOp fn) {
    fn.setFunctionType(FunctionType::get(
        &getContext(), fn.getBody().front().getArgumentTypes(),
        fn.getBody().front().getTerminator()->getOperandTypes()));
  }
};

} // namespace
