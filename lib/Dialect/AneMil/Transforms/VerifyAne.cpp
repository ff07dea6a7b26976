//===- VerifyAne.cpp - anemil-verify-ane ----------------------------------===//
//
// The rules come from MIL_SPEC_NOTES section 4 (Apple's statements and the
// reverse-engineering reports it cites); where the reports conflict or are
// uncertain (int4 constexpr data, multi-input requests) the check is an
// option or is left out, and docs/pipeline.md says which.
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/AneMil/Transforms/Passes.h"

#include "lib/MIL/Ops.h"

namespace mlir::anemil {
#define GEN_PASS_DEF_ANEMILVERIFYANEPASS
#include "lib/Dialect/AneMil/Transforms/Passes.h.inc"
} // namespace mlir::anemil

using namespace mlir;
using namespace mlir::anemil;

namespace {

/// Ops reported to compile and run on the ANE (verified or compile-only),
/// from lib/MIL/Ops.def.
bool runsOnAne(StringRef mnemonic) {
  std::optional<::ane::mil::OpKind> kind = ::ane::mil::parseOpKind(
      std::string_view(mnemonic.data(), mnemonic.size()));
  return kind && ::ane::mil::runsOnAne(*kind);
}

bool isFloat32(Type t) {
  auto tensor = dyn_cast<RankedTensorType>(t);
  return tensor && tensor.getElementType().isF32();
}

struct AneMilVerifyAnePass
    : public anemil::impl::AneMilVerifyAnePassBase<AneMilVerifyAnePass> {
  using AneMilVerifyAnePassBase::AneMilVerifyAnePassBase;

  void runOnOperation() override {
    int64_t limit = aneAxisLimit(family);
    if (!limit) {
      getOperation().emitError()
          << "unknown ANE family '" << family << "' (m1, m2, m3, m4)";
      return signalPassFailure();
    }
    bool ok = true;
    int64_t kernels = 0;
    auto checkAxes = [&](Operation *at, Type t, StringRef what) {
      auto tensor = dyn_cast<RankedTensorType>(t);
      if (!tensor)
        return;
      for (auto [i, d] : llvm::enumerate(tensor.getShape()))
        if (d > limit) {
          at->emitError() << what << " axis " << i << " has " << d
                          << " elements, over the " << family << " limit of "
                          << limit;
          ok = false;
        }
    };
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (!fn->hasAttr("anemil.kernel"))
        continue;
      ++kernels;
      if (singleInput && fn.getNumArguments() > 1) {
        fn.emitError() << "has " << fn.getNumArguments()
                       << " inputs; single-input mode allows one";
        ok = false;
      }
      auto io =
          llvm::concat<const Type>(fn.getArgumentTypes(), fn.getResultTypes());
      for (Type t : io) {
        checkAxes(fn, t, "an input or output");
        auto tensor = dyn_cast<RankedTensorType>(t);
        if (!tensor || tensor.getRank() != 4)
          continue;
        // Activations [1, C, H, S] are laid out a channel plane at a time;
        // tensors with one channel (the mask [1, 1, S, C]) by their
        // innermost axis.
        bool activation = tensor.getDimSize(0) == 1 && tensor.getDimSize(1) > 1;
        int64_t row = activation ? tensor.getDimSize(1) : tensor.getDimSize(3);
        unsigned bytes = tensor.getElementTypeBitWidth() / 8;
        if (row * bytes % 64 != 0) {
          fn.emitError() << "input or output " << t << " has rows of "
                         << row * bytes << " bytes, not a multiple of 64";
          ok = false;
        }
      }
      fn.walk([&](Operation *op) {
        if (op->getDialect() == nullptr ||
            op->getDialect()->getNamespace() != "anemil")
          return;
        StringRef name = op->getName().stripDialect();
        if (!runsOnAne(name)) {
          op->emitError() << "'" << name << "' does not run on the ANE";
          ok = false;
        }
        // fp32 is allowed only where a cast brings data in or out.
        if (!isa<CastOp>(op))
          for (Type t : op->getResultTypes())
            if (isFloat32(t)) {
              op->emitError() << "computes in fp32; the ANE computes in fp16";
              ok = false;
              break;
            }
        // Constants are compile-time data (a slice of one folds into a
        // smaller constant), so only computed values have axis limits.
        if (!isa<ConstOp, ConstexprAffineDequantizeOp,
                 ConstexprBlockwiseShiftScaleOp, ConstexprLutToDenseOp>(op))
          for (Type t : op->getResultTypes())
            checkAxes(op, t, "a result");
      });
    }
    if (kernels > maxPrograms) {
      getOperation().emitError()
          << kernels << " kernels exceed the compile budget of "
          << int64_t(maxPrograms);
      ok = false;
    }
    if (!ok)
      signalPassFailure();
  }
};

} // namespace
