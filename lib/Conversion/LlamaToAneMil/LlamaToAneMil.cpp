//===- LlamaToAneMil.cpp - convert-llama-to-anemil ------------------------===//
//
// Each outlined kernel is rebuilt as an anemil function, op by op, with a
// value map. This is not a DialectConversion on purpose: the layout of a
// value depends on what it is (activations [S, C] -> [1, C, 1, S], caches
// [KV, C, hd] -> [1, KV*hd, 1, C], weights -> blob constants that leave the
// signature, positions -> cos/sin tables or a mask), which a type-based
// TypeConverter cannot express, and the signature is the runtime contract.
//
//===----------------------------------------------------------------------===//

#include "lib/Conversion/Passes.h"

#include "lib/Abi/Kernels.h"
#include "lib/Abi/Slots.h"
#include "lib/MIL/WeightFile.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

namespace mlir::ane {
#define GEN_PASS_DEF_CONVERTLLAMATOANEMILPASS
#include "lib/Conversion/Passes.h.inc"
} // namespace mlir::ane

using namespace mlir;
using namespace mlir::anemil;

namespace {

/// The order of weight slots in a segment; every layer's segment has the
/// same offsets because it holds the same slots in the same order.
const llama::Role kLayerSlots[] = {
    llama::Role::AttnNorm,  llama::Role::AttnQ,   llama::Role::AttnK,
    llama::Role::AttnV,     llama::Role::AttnQkv, llama::Role::AttnOut,
    llama::Role::FfnNorm,   llama::Role::FfnGate, llama::Role::FfnUp,
    llama::Role::FfnGateUp, llama::Role::FfnDown};
const llama::Role kGlobalSlots[] = {
    llama::Role::TokenEmbd, llama::Role::OutputNorm, llama::Role::Output};

bool isLayerRole(llama::Role r) { return llvm::is_contained(kLayerSlots, r); }

/// How one weight is stored: the contract's slot, and its blobs' MLIR types.
struct Slot {
  llama::Role role;
  ::ane::abi::SlotSpec spec;
  SmallVector<RankedTensorType> blobTypes;
};

::ane::abi::BlobSpec blobSpecOf(RankedTensorType t) {
  ::ane::abi::BlobSpec b;
  b.dtype = *::ane::mil::parseDType(
      stringifyDType(*getDTypeFor(t.getElementType())).str());
  b.shape.assign(t.getShape().begin(), t.getShape().end());
  return b;
}

/// Lays out every slot of a segment from the weight types of the module.
class SlotTable {
public:
  /// `blobBound`: weights are blob constants (not program inputs), so
  /// per-channel int8 can take MIL's constexpr_affine_dequantize form.
  /// `qkRows`: the rows of Q and of K (0 when the module has no config).
  SlotTable(MLIRContext *ctx, Type computeType, bool blobBound,
            std::pair<int64_t, int64_t> qkRows, int64_t headDim)
      : ctx(ctx), compute(computeType), blobBound(blobBound), qkRows(qkRows),
        headDim(headDim) {}

  LogicalResult add(llama::Role role, Type weightType, DictionaryAttr attrs,
                    Location loc) {
    if (slots.count(static_cast<int>(role)))
      return success();
    Slot slot;
    slot.role = role;
    ::ane::abi::SlotSpec &s = slot.spec;
    s.role = llama::stringifyRole(role).str();
    s.segment = isLayerRole(role) ? ::ane::abi::Segment::Layer
                                  : ::ane::abi::Segment::Global;
    if (attrs) {
      if (auto from = attrs.getAs<ArrayAttr>("llama.fused_from"))
        for (Attribute r : from)
          s.fusedFrom.push_back(
              llama::stringifyRole(cast<llama::RoleAttr>(r).getValue()).str());
      if (auto fold = attrs.getAs<llama::RoleAttr>("llama.fold_norm"))
        s.foldNorm = llama::stringifyRole(fold.getValue()).str();
    }
    SmallVector<int64_t> shape = llama::getWeightShape(weightType);
    s.shape.assign(shape.begin(), shape.end());
    if (failed(setRopeRows(slot, loc)))
      return failure();
    if (auto q = dyn_cast<llama::QWeightType>(weightType)) {
      int64_t out = s.shape[0], in = s.shape[1];
      s.group = q.getEffectiveGroup();
      s.scheme = toAbi(q.getScheme());
      Type scaleType = compute;
      auto groups = RankedTensorType::get({out, in / s.group, 1, 1}, scaleType);
      switch (q.getScheme()) {
      case llama::QuantScheme::Q8:
        slot.blobTypes = {
            RankedTensorType::get({out, in, 1, 1}, IntegerType::get(ctx, 8)),
            groups};
        if (s.group == in && blobBound) {
          // Per-channel: one scale and one (zero) zero point per row.
          slot.blobTypes[1] = RankedTensorType::get({out}, scaleType);
          slot.blobTypes.push_back(
              RankedTensorType::get({out}, IntegerType::get(ctx, 8)));
        }
        break;
      case llama::QuantScheme::Q4:
      case llama::QuantScheme::Q3:
        // MIL has no 3-bit blockwise type: q3 values live in int4.
        slot.blobTypes = {
            RankedTensorType::get({out, in, 1, 1}, IntegerType::get(ctx, 4)),
            groups};
        break;
      case llama::QuantScheme::Lut4:
        slot.blobTypes = {
            RankedTensorType::get(
                {out, in, 1, 1},
                IntegerType::get(ctx, 4, IntegerType::Unsigned)),
            RankedTensorType::get({out, in / s.group, 1, 1, 16, 1}, scaleType)};
        break;
      }
    } else if (s.shape.size() == 2) {
      slot.blobTypes = {
          RankedTensorType::get({s.shape[0], s.shape[1], 1, 1}, compute)};
    } else if (s.shape.size() == 1) {
      slot.blobTypes = {RankedTensorType::get({1, s.shape[0], 1, 1}, compute)};
    } else {
      return emitError(loc) << "cannot lay out weight of type " << weightType;
    }
    for (RankedTensorType t : slot.blobTypes)
      s.blobs.push_back(blobSpecOf(t));
    slots[static_cast<int>(role)] = std::move(slot);
    return success();
  }

  /// Q and K rows are stored with each head's interleaved pairs split into
  /// halves (rows 0, 2, 4, ... then 1, 3, 5, ...), so RoPE is rotate-half
  /// on contiguous slices. Q and K move alike, which leaves Q Kᵀ unchanged.
  LogicalResult setRopeRows(Slot &slot, Location loc) {
    ::ane::abi::SlotSpec &s = slot.spec;
    bool fusedQkv = slot.role == llama::Role::AttnQkv;
    if (slot.role != llama::Role::AttnQ && slot.role != llama::Role::AttnK &&
        !fusedQkv)
      return success();
    if (!headDim || !qkRows.first)
      return emitError(loc) << "attention weights need the module's "
                               "#llama.config for their RoPE row order";
    s.ropeRows = slot.role == llama::Role::AttnQ ? qkRows.first
                 : slot.role == llama::Role::AttnK
                     ? qkRows.second
                     : qkRows.first + qkRows.second;
    s.headDim = headDim;
    if (s.shape.size() != 2 || s.ropeRows > s.shape[0] ||
        s.ropeRows % headDim != 0)
      return emitError(loc) << "weight " << s.role << " does not hold "
                            << s.ropeRows << " rows of heads of " << headDim;
    return success();
  }

  /// Assigns offsets, segment by segment, in the fixed slot order.
  void layout() {
    for (ArrayRef<llama::Role> segment :
         {ArrayRef<llama::Role>(kLayerSlots),
          ArrayRef<llama::Role>(kGlobalSlots)}) {
      std::vector<::ane::abi::SlotSpec> specs;
      for (llama::Role r : segment)
        if (slots.count(static_cast<int>(r)))
          specs.push_back(get(r).spec);
      ::ane::abi::layOutSegment(specs);
      for (const ::ane::abi::SlotSpec &spec : specs)
        slots[static_cast<int>(*llama::symbolizeRole(spec.role))].spec = spec;
    }
  }

  const Slot &get(llama::Role r) const { return slots.at(static_cast<int>(r)); }

  /// Every slot, layer segment first, each in slot order.
  ArrayAttr describeAll() const {
    SmallVector<Attribute> all;
    for (ArrayRef<llama::Role> segment : {ArrayRef<llama::Role>(kLayerSlots),
                                          ArrayRef<llama::Role>(kGlobalSlots)})
      for (llama::Role r : segment)
        if (slots.count(static_cast<int>(r)))
          all.push_back(describe(get(r)));
    return ArrayAttr::get(ctx, all);
  }

  WeightSlotAttr describe(const Slot &s) const {
    return WeightSlotAttr::fromSlotSpec(ctx, s.spec);
  }

private:
  static ::ane::abi::Scheme toAbi(llama::QuantScheme q) {
    switch (q) {
    case llama::QuantScheme::Q8:
      return ::ane::abi::Scheme::Q8;
    case llama::QuantScheme::Q4:
      return ::ane::abi::Scheme::Q4;
    case llama::QuantScheme::Q3:
      return ::ane::abi::Scheme::Q3;
    case llama::QuantScheme::Lut4:
      return ::ane::abi::Scheme::Lut4;
    }
    return ::ane::abi::Scheme::F16;
  }

  MLIRContext *ctx;
  Type compute;
  bool blobBound;
  std::pair<int64_t, int64_t> qkRows;
  int64_t headDim;
  std::map<int, Slot> slots;
};

/// Rebuilds one llama kernel as an anemil function.
class KernelLowering {
public:
  KernelLowering(func::FuncOp fn, const SlotTable &slots, Type compute,
                 bool inputBinding, bool backward = false)
      : fn(fn), slots(slots), compute(compute), ctx(fn.getContext()),
        b(fn.getContext()), inputBinding(inputBinding), backward(backward) {}

  LogicalResult run() {
    StringRef kernel = fn->getAttrOfType<StringAttr>("llama.kernel").getValue();
    std::string name = backward ? kernel.str() + "_bwd" : kernel.str();
    b.setInsertionPoint(fn);
    auto newFn =
        b.create<func::FuncOp>(fn.getLoc(), name, b.getFunctionType({}, {}));
    newFn->setAttr(AneMilDialect::getOpsetAttrName(),
                   OpsetAttr::get(ctx, Opset::IOS18));
    newFn->setAttr("anemil.kernel", b.getStringAttr(name));
    body = newFn.addEntryBlock();
    b.setInsertionPointToStart(body);
    if (failed(mapArguments(kernel)))
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

private:
  RankedTensorType act(int64_t channels, int64_t seq) {
    return RankedTensorType::get({1, channels, 1, seq}, compute);
  }

  Value input(StringRef name, RankedTensorType type) {
    inputNames.push_back(name.str());
    return body->addArgument(type,
                             NameLoc::get(b.getStringAttr(name), fn.getLoc()));
  }

  /// Activations enter in [1, C, 1, S]; positions become cos/sin tables
  /// (attn_qkv) or an additive mask (attn_core); weights become constants.
  LogicalResult mapArguments(StringRef kernel) {
    for (BlockArgument arg : fn.getArguments()) {
      if (auto role = fn.getArgAttrOfType<llama::RoleAttr>(
              arg.getArgNumber(), llama::LlamaDialect::getRoleAttrName())) {
        weights[arg] = role.getValue();
        continue;
      }
      auto t = cast<RankedTensorType>(arg.getType());
      if (t.getRank() == 1) { // positions
        int64_t seq = t.getDimSize(0);
        if (kernel == "attn_qkv") {
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
      std::string name = activationName(kernel, arg.getArgNumber(), names);
      values[arg] = input(name, act(t.getDimSize(1), t.getDimSize(0)));
    }
    return success();
  }

  std::string activationName(StringRef kernel, unsigned index,
                             const char *const *fallback) {
    static const std::map<std::string, std::vector<std::string>> names = {
        {"attn_qkv", {"x"}},         {"attn_core", {"q", "k", "v"}},
        {"attn_out", {"attn", "x"}}, {"ffn_up", {"x"}},
        {"ffn_down", {"h", "x"}},    {"lm_head", {"x"}},
    };
    auto it = names.find(kernel.str());
    if (it != names.end() && index < it->second.size())
      return it->second[index];
    return fallback[index % 4];
  }

  int64_t ropeHalf() {
    int64_t half = -1;
    fn.walk([&](llama::RopeOp r) { half = r.getHeadDim() / 2; });
    return half;
  }

  // -- helpers building anemil ops ------------------------------------------

  Value scalarConst(double v) {
    auto t = RankedTensorType::get({}, compute);
    return b.create<ConstOp>(
        fn.getLoc(), t, DenseElementsAttr::get(t, FloatAttr::get(compute, v)));
  }

  Value reshape(Value x, ArrayRef<int64_t> shape) {
    return b.create<ReshapeOp>(fn.getLoc(),
                               RankedTensorType::get(shape, compute), x,
                               b.getDenseI64ArrayAttr(shape));
  }

  Value transpose(Value x, ArrayRef<int64_t> perm) {
    auto in = cast<RankedTensorType>(x.getType()).getShape();
    SmallVector<int64_t> shape;
    for (int64_t p : perm)
      shape.push_back(in[p]);
    return b.create<TransposeOp>(fn.getLoc(),
                                 RankedTensorType::get(shape, compute), x,
                                 b.getDenseI64ArrayAttr(perm));
  }

  template <typename OpTy> Value binary(Value x, Value y, Location loc) {
    auto sx = cast<RankedTensorType>(x.getType()).getShape();
    auto sy = cast<RankedTensorType>(y.getType()).getShape();
    size_t rank = std::max(sx.size(), sy.size());
    SmallVector<int64_t> shape(rank);
    for (size_t i = 0; i < rank; ++i) {
      int64_t a = i < rank - sx.size() ? 1 : sx[i - (rank - sx.size())];
      int64_t c = i < rank - sy.size() ? 1 : sy[i - (rank - sy.size())];
      shape[i] = a == 1 ? c : a;
    }
    return b.create<OpTy>(loc, RankedTensorType::get(shape, compute), x, y);
  }
  template <typename OpTy> Value binary(Value x, Value y) {
    return binary<OpTy>(x, y, fn.getLoc());
  }

  Value sliceSize(Value x, ArrayRef<int64_t> begin, ArrayRef<int64_t> size) {
    return b.create<SliceBySizeOp>(
        fn.getLoc(), RankedTensorType::get(size, compute), x,
        b.getDenseI64ArrayAttr(begin), b.getDenseI64ArrayAttr(size));
  }

  /// The weight of `role` as an [out, in, 1, 1] (or [1, n, 1, 1]) tensor of
  /// the compute type, from blob constants.
  /// The weight as program inputs (weight-binding=input): dense weights in
  /// the compute type, q8 as int8 data and scales dequantized in the graph
  /// (MIL inputs have no sub-byte types, so other schemes need blobs).
  FailureOr<Value> weightInput(const Slot &slot) {
    const ::ane::abi::SlotSpec &s = slot.spec;
    std::string base = "w_" + s.role;
    Location loc = fn.getLoc();
    if (s.scheme == ::ane::abi::Scheme::F16)
      return input(base, slot.blobTypes[0]);
    if (s.scheme != ::ane::abi::Scheme::Q8)
      return fn.emitError()
             << "weight-binding=input carries weights as fp16/fp32 or int8; "
                "scheme "
             << ::ane::abi::schemeName(s.scheme).data()
             << " needs weight-binding=blob";
    int64_t out = s.shape[0], in = s.shape[1], groups = in / s.group;
    Value data = input(base, slot.blobTypes[0]);
    Value scale = input(base + "_scale", slot.blobTypes[1]);
    auto wide = RankedTensorType::get({out, in, 1, 1}, compute);
    Value f = b.create<CastOp>(loc, wide, data,
                               DTypeAttr::get(ctx, *getDTypeFor(compute)));
    Value grouped = reshape(f, {out, groups, s.group, 1});
    Value scaled = binary<MulOp>(grouped, scale);
    return reshape(scaled, {out, in, 1, 1});
  }

  /// The weight of a role, built once per kernel (a backward kernel reads
  /// each weight twice: to recompute and to transpose).
  FailureOr<Value> weight(llama::Role role) {
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

  FailureOr<Value> buildWeight(llama::Role role) {
    if (!llvm::is_contained(usedRoles, role))
      usedRoles.push_back(role);
    const Slot &slot = slots.get(role);
    const ::ane::abi::SlotSpec &s = slot.spec;
    Location loc = fn.getLoc();
    if (inputBinding)
      return weightInput(slot);
    auto blob = [&](size_t i) -> Value {
      RankedTensorType t = slot.blobTypes[i];
      return b.create<ConstOp>(loc, t,
                               BlobAttr::get(ctx, ::ane::mil::kModelWeightPath,
                                             s.blobs[i].offset, t));
    };
    if (s.scheme == ::ane::abi::Scheme::F16)
      return blob(0);
    auto out = RankedTensorType::get({s.shape[0], s.shape[1], 1, 1}, compute);
    Value data = blob(0);
    Value table = blob(1); // scales, or the palettes of lut4
    if (s.scheme == ::ane::abi::Scheme::Lut4)
      return Value(b.create<ConstexprLutToDenseOp>(loc, out, data, table,
                                                   nullptr, nullptr));
    if (slot.blobTypes.size() == 3) // per-channel int8
      return Value(b.create<ConstexprAffineDequantizeOp>(
          loc, out, data, table, blob(2), b.getI64IntegerAttr(0)));
    return Value(b.create<ConstexprBlockwiseShiftScaleOp>(loc, out, data, table,
                                                          Value()));
  }

  Value conv(Value x, Value w, Location loc) {
    auto xs = cast<RankedTensorType>(x.getType()).getShape();
    auto ws = cast<RankedTensorType>(w.getType()).getShape();
    return b.create<ConvOp>(loc, act(ws[0], xs[3]), x, w, Value(), nullptr,
                            nullptr, nullptr,
                            PadTypeAttr::get(ctx, PadType::Valid), nullptr);
  }

  // -- op lowerings ---------------------------------------------------------

  LogicalResult lower(Operation *op) {
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
          for (auto [r, n] : llvm::zip(o.getResults(), split.getOutputs()))
            values[r] = n;
          return success();
        })
        .Case([&](llama::SwiGluOp o) {
          Value g = values.lookup(o.getGate()), u = values.lookup(o.getUp());
          Value s = b.create<SiluOp>(fn.getLoc(), g.getType(), g);
          values[o.getResult()] = binary<MulOp>(s, u);
          return success();
        })
        .Case([&](llama::AddOp o) {
          values[o.getResult()] = binary<AddOp>(values.lookup(o.getLhs()),
                                                values.lookup(o.getRhs()));
          return success();
        })
        .Case([&](func::ReturnOp o) {
          return backward ? lowerBackward(o) : lowerReturn(o);
        })
        .Default([&](Operation *other) {
          return other->emitError() << "cannot lower to anemil inside a kernel";
        });
  }

  /// x * rsqrt(mean(x^2) + eps) * weight, reducing over channels.
  LogicalResult lowerRmsNorm(llama::RmsNormOp o) {
    Value x = values.lookup(o.getX());
    auto shape = cast<RankedTensorType>(x.getType()).getShape();
    Value sq = binary<MulOp>(x, x);
    auto reduced = RankedTensorType::get({1, 1, 1, shape[3]}, compute);
    Value ms = b.create<ReduceMeanOp>(fn.getLoc(), reduced, sq,
                                      b.getDenseI64ArrayAttr({1}),
                                      b.getBoolAttr(true));
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

  LogicalResult lowerLinear(Operation *o) {
    Value xv = o->getOperand(0), wv = o->getOperand(1);
    auto wArg = dyn_cast<BlockArgument>(wv);
    if (!wArg || !weights.count(wArg))
      return o->emitError() << "the weight must be a role-tagged argument";
    auto w = weight(weights[wArg]);
    if (failed(w))
      return failure();
    values[o->getResult(0)] = conv(values.lookup(xv), *w, fn.getLoc());
    return success();
  }

  /// RoPE as rotate-half: the slot table stores each head's Q/K rows as
  /// [even members; odd members] of the checkpoint's interleaved pairs, so
  /// pair p is (p, p + hd/2). No sin/cos ops: the tables are inputs.
  LogicalResult lowerRope(llama::RopeOp o) {
    values[o.getResult()] =
        rotate(values.lookup(o.getX()), o.getHeadDim(), /*inverse=*/false);
    return success();
  }

  /// Rotates each pair (x1[p], x2[p]) of the two halves of every head by
  /// the table angles, or by their negatives (the transpose, for the
  /// backward).
  Value rotate(Value x, int64_t hd, bool inverse) {
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

  /// softmax(Q K^T / sqrt(hd) + mask) V with each KV head serving its group
  /// of query heads through reshapes, never a repeated K or V.
  LogicalResult lowerAttention(llama::GqaAttentionOp o) {
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

  // -- backward kernels (input gradients) ------------------------------------

  /// W^T g for a weight [out, in, 1, 1] and a gradient [1, out, 1, S].
  Value projectT(Value w, Value g) {
    auto ws = cast<RankedTensorType>(w.getType()).getShape();
    int64_t seq = cast<RankedTensorType>(g.getType()).getDimSize(3);
    Value wm = reshape(w, {ws[0], ws[1]});
    Value gm = reshape(g, {ws[0], seq});
    Value r = b.create<MatmulOp>(fn.getLoc(),
                                 RankedTensorType::get({ws[1], seq}, compute),
                                 wm, gm, b.getBoolAttr(true), nullptr);
    return reshape(r, {1, ws[1], 1, seq});
  }

  Value zeros(Type t) {
    auto tensor = cast<RankedTensorType>(t);
    return b.create<FillOp>(fn.getLoc(), tensor,
                            b.getDenseI64ArrayAttr(tensor.getShape()),
                            FloatAttr::get(compute, 0.0));
  }

  void addGrad(Value of, Value g) {
    auto it = grads.find(of);
    grads[of] = it == grads.end() ? g : binary<AddOp>(it->second, g);
  }

  Value reduceKeep(Value x, int64_t axis, bool mean) {
    auto shape =
        SmallVector<int64_t>(cast<RankedTensorType>(x.getType()).getShape());
    shape[axis] = 1;
    auto t = RankedTensorType::get(shape, compute);
    if (mean)
      return b.create<ReduceMeanOp>(fn.getLoc(), t, x,
                                    b.getDenseI64ArrayAttr({axis}),
                                    b.getBoolAttr(true));
    return b.create<ReduceSumOp>(
        fn.getLoc(), t, x, b.getDenseI64ArrayAttr({axis}), b.getBoolAttr(true));
  }

  /// The gradient each op passes to its operands, in reverse order.
  LogicalResult backprop(Operation *op) {
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
      if (Value g = gradOf(op->getResult(0))) {
        addGrad(op->getOperand(0), projectT(*w, g));
        return success();
      }
      // A fused projection: sum W_i^T g_i over the row blocks of its split
      // parts, never a concatenation of all part gradients.
      auto parts = splitGrads.find(op->getResult(0));
      if (parts == splitGrads.end())
        return success();
      auto ws = cast<RankedTensorType>((*w).getType()).getShape();
      int64_t at = 0;
      for (auto [rows, g] : parts->second) {
        if (g) {
          auto t = RankedTensorType::get({rows, ws[1], 1, 1}, compute);
          Value wi = b.create<SliceBySizeOp>(
              loc, t, *w, b.getDenseI64ArrayAttr({at, 0, 0, 0}),
              b.getDenseI64ArrayAttr({rows, ws[1], 1, 1}));
          addGrad(op->getOperand(0), projectT(wi, g));
        }
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

  /// O = P V, P = softmax(Q K^T / sqrt(hd) + mask), per KV-head group:
  /// dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = dS K / sqrt
  /// (hd), dK = dS^T Q / sqrt(hd).
  LogicalResult backpropAttention(llama::GqaAttentionOp at, Value g) {
    Location loc = fn.getLoc();
    auto &a = attn;
    int64_t gs = (a.h / a.kv) * a.seq;
    Value go =
        reshape(transpose(reshape(g, {1, a.h, a.hd, a.seq}), {0, 1, 3, 2}),
                {1, a.kv, gs, a.hd});
    auto t = [&](ArrayRef<int64_t> s) {
      return RankedTensorType::get(s, compute);
    };
    Value dv = b.create<MatmulOp>(loc, t({1, a.kv, a.ctx, a.hd}), a.p, go,
                                  b.getBoolAttr(true), nullptr);
    Value dp = b.create<MatmulOp>(loc, t({1, a.kv, gs, a.ctx}), go, a.v4,
                                  nullptr, nullptr);
    Value rs = reduceKeep(binary<MulOp>(dp, a.p), 3, /*mean=*/false);
    Value ds = binary<MulOp>(a.p, binary<SubOp>(dp, rs));
    Value dss = binary<MulOp>(ds, scalarConst(1.0 / std::sqrt(double(a.hd))));
    Value dq = b.create<MatmulOp>(loc, t({1, a.kv, gs, a.hd}), dss, a.k4,
                                  nullptr, b.getBoolAttr(true));
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

  /// Seeds output gradients, runs backprop over the kernel in reverse and
  /// returns the gradients of the kernel's differentiable inputs.
  LogicalResult lowerBackward(func::ReturnOp ret) {
    // The llama arguments each backward kernel differentiates, by index, in
    // the order of its outputs (abi::kernelOutputs).
    static const std::map<std::string, std::vector<unsigned>> wrt = {
        {"attn_qkv", {0}},
        {"attn_core", {0, 3, 4}},
        {"ffn_up", {0}},
        {"ffn_down", {0}},
        {"lm_head", {0}}};
    std::string kernel =
        fn->getAttrOfType<StringAttr>("llama.kernel").getValue().str();
    ::ane::abi::Kernel forward = *::ane::abi::parseKernel(kernel);
    if (kernel == "attn_core") {
      // attn_out is folded in: the gradient arrives at its output and goes
      // through Wo^T; the residual's share is the host's.
      const Slot &wo = slots.get(llama::Role::AttnOut);
      Value dxo = input("d_x_out", act(wo.spec.shape[0], attn.seq));
      auto w = weight(llama::Role::AttnOut);
      if (failed(w))
        return failure();
      grads[ret.getOperand(0)] = projectT(*w, dxo);
    } else {
      const auto &names = ::ane::abi::kernelOutputs(forward);
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
        ::ane::abi::kernelOutputs(*::ane::abi::backwardOf(forward));
    for (auto [i, index] : llvm::enumerate(wrt.at(kernel))) {
      Value arg = fn.getArgument(index);
      Value g = grads.lookup(arg);
      results.push_back(g ? g : zeros(values.lookup(arg).getType()));
      outputNames.push_back(std::string(gradNames.at(i)));
      resultTypes.push_back(results.back().getType());
    }
    b.create<func::ReturnOp>(ret.getLoc(), results);
    return success();
  }

  void eraseDeadOps() {
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

  LogicalResult lowerReturn(func::ReturnOp o) {
    StringRef kernel = fn->getAttrOfType<StringAttr>("llama.kernel").getValue();
    std::optional<::ane::abi::Kernel> k = ::ane::abi::parseKernel(kernel.str());
    SmallVector<Value> results;
    for (auto [i, v] : llvm::enumerate(o.getOperands())) {
      Value r = values.lookup(v);
      if (!r)
        return o.emitError() << "result " << i << " was not lowered";
      const auto *names = k ? &::ane::abi::kernelOutputs(*k) : nullptr;
      outputNames.push_back(names && i < names->size()
                                ? std::string((*names)[i])
                                : "out_" + std::to_string(i));
      results.push_back(r);
      resultTypes.push_back(r.getType());
    }
    b.create<func::ReturnOp>(o.getLoc(), results);
    return success();
  }

  func::FuncOp fn;
  const SlotTable &slots;
  Type compute;
  MLIRContext *ctx;
  OpBuilder b;
  Block *body = nullptr;
  DenseMap<Value, Value> values;
  DenseMap<BlockArgument, llama::Role> weights;
  SmallVector<llama::Role> usedRoles;
  SmallVector<std::string> inputNames, outputNames;
  int caches = 0;
  SmallVector<Type> resultTypes;
  Value cosTable, sinTable;
  Value cosHalves, sinHalves; // the tables shaped for rotate()
  bool inputBinding = false;
  bool backward = false;
  /// Forward values of the attention, kept for its backward.
  struct {
    Value qg, k4, v4, p;
    int64_t h = 0, kv = 0, hd = 0, seq = 0, ctx = 0;
  } attn;
  DenseMap<Value, Value> grads;
  /// Per-part gradients of a split's input: (rows, gradient or null).
  DenseMap<Value, SmallVector<std::pair<int64_t, Value>>> splitGrads;
  DenseMap<int, Value> weightValues;
};

struct ConvertLlamaToAneMilPass
    : public mlir::ane::impl::ConvertLlamaToAneMilPassBase<
          ConvertLlamaToAneMilPass> {
  using ConvertLlamaToAneMilPassBase::ConvertLlamaToAneMilPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    Type compute = dtype == ::ane::abi::DType::FP16
                       ? Type(Float16Type::get(ctx))
                       : Type(Float32Type::get(ctx));
    // Every weight of the module, so all kernels share one slot layout.
    std::pair<int64_t, int64_t> qkRows{0, 0};
    int64_t headDim = 0;
    if (auto config = module->getAttrOfType<llama::ConfigAttr>(
            llama::LlamaDialect::getConfigAttrName())) {
      headDim = config.getHeadDim();
      qkRows = {config.getNHeads() * headDim, config.getNKvHeads() * headDim};
    }
    bool inputs = weightBinding == ::ane::abi::WeightBinding::Input;
    SlotTable slots(ctx, compute, !inputs, qkRows, headDim);
    bool failedLayout = false;
    module.walk([&](func::FuncOp fn) {
      for (unsigned i = 0; i < fn.getNumArguments(); ++i)
        if (auto role = fn.getArgAttrOfType<llama::RoleAttr>(
                i, llama::LlamaDialect::getRoleAttrName()))
          failedLayout |=
              failed(slots.add(role.getValue(), fn.getArgument(i).getType(),
                               fn.getArgAttrDict(i), fn.getLoc()));
    });
    if (failedLayout)
      return signalPassFailure();
    slots.layout();
    SmallVector<func::FuncOp> kernels;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr("llama.kernel"))
        kernels.push_back(fn);
    if (kernels.empty()) {
      module.emitError() << "no kernels: run llama-outline-kernels first";
      return signalPassFailure();
    }
    // Backward kernels first: they read the llama kernels the forward
    // lowering then replaces. attn_out's backward is part of attn_core's.
    if (backward)
      for (func::FuncOp fn : kernels)
        if (fn->getAttrOfType<StringAttr>("llama.kernel").getValue() !=
                "attn_out" &&
            failed(KernelLowering(fn, slots, compute, inputs, true).run()))
          return signalPassFailure();
    for (func::FuncOp fn : kernels)
      if (failed(KernelLowering(fn, slots, compute, inputs).run()))
        return signalPassFailure();
    // The packer lays out segments from this, host-side slots included.
    module->setAttr("anemil.weight_slots", slots.describeAll());
    module->setAttr("anemil.dtype",
                    StringAttr::get(ctx, ::ane::abi::dtypeName(dtype)));
    module->setAttr(
        "anemil.weight_binding",
        StringAttr::get(ctx, ::ane::abi::weightBindingName(weightBinding)));
  }
};

} // namespace
