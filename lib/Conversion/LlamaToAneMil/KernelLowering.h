//===- KernelLowering.h - one llama kernel as an anemil function -*- C++
//-*-===//
//
// Each outlined kernel is rebuilt as an anemil function, op by op, with a
// value map. This is not a DialectConversion on purpose: the layout of a
// value depends on what it is (activations [S, C] -> [1, C, 1, S], caches
// [KV, C, hd] -> [1, KV*hd, 1, C], weights -> blob constants that leave the
// signature, positions -> cos/sin tables or a mask), which a type-based
// TypeConverter cannot express, and the signature is the runtime contract.
// ForwardLowering.cpp builds the forward kernels (and the helpers both
// directions use); BackwardLowering.cpp derives the input-gradient kernels.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_CONVERSION_LLAMATOANEMIL_KERNELLOWERING_H
#define ANE_LIB_CONVERSION_LLAMATOANEMIL_KERNELLOWERING_H

#include "lib/Abi/Kernels.h"
#include "lib/Conversion/LlamaToAneMil/SlotTable.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <string>

namespace mlir::anemil::lowering {

/// The adapters a kernel set is compiled for (lib/Abi/Kernels.h).
struct LoraOptions {
  int64_t rank = 0; // 0: none
  SmallVector<llama::Role> targets;
};

/// Rebuilds one llama kernel as an anemil function.
class KernelLowering {
public:
  KernelLowering(func::FuncOp fn, const SlotTable &slots, Type compute,
                 bool inputBinding, bool backward = false,
                 LoraOptions lora = {})
      : fn(fn), slots(slots), compute(compute), ctx(fn.getContext()),
        b(fn.getContext()), inputBinding(inputBinding), backward(backward),
        loraOptions(std::move(lora)) {}

  LogicalResult run();

private:
  RankedTensorType act(int64_t channels, int64_t seq);

  Value input(StringRef name, RankedTensorType type);

  /// Activations enter in [1, C, 1, S]; positions become cos/sin tables
  /// (attn_qkv) or an additive mask (attn_core); weights become constants.
  LogicalResult mapArguments();

  /// The input name of activation argument `index` of a llama kernel.
  std::string activationName(unsigned index, const char *const *fallback);

  int64_t ropeHalf();

  // -- helpers building anemil ops ------------------------------------------
  Value scalarConst(double v);

  Value reshape(Value x, ArrayRef<int64_t> shape);

  Value transpose(Value x, ArrayRef<int64_t> perm);

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

  Value sliceSize(Value x, ArrayRef<int64_t> begin, ArrayRef<int64_t> size);

  /// The weight as a program input (weight-binding=input). The ANE takes
  /// inputs as fp16 surfaces [1, C, 1, S], so whatever the slot stores, the
  /// host passes it in the compute type: a matrix [out, in] as
  /// [1, in, 1, out], a vector [n] as [1, n, 1, 1].
  Value weightInput(const Slot &slot);

  /// The weight of a role, built once per kernel (a backward kernel reads
  /// each weight twice: to recompute and to transpose).
  FailureOr<Value> weight(llama::Role role);

  /// The weight of `role` in the compute type: from blob constants an
  /// [out, in, 1, 1] matrix, from inputs [1, in, 1, out]; a vector is
  /// [1, n, 1, 1] either way.
  FailureOr<Value> buildWeight(llama::Role role);

  /// W x for an activation [1, in, 1, S]: a 1x1 conv on a constant weight,
  /// a matmul on an input one (the ANE convolves with constants only).
  Value project(Value x, Value w, Location loc);

  /// W x for a weight input in surface form [1, in, 1, out].
  Value projectInput(Value x, Value w, Location loc);

  // -- LoRA -------------------------------------------------------------------

  /// One adapted row block of a projection's output.
  struct LoraPart {
    llama::Role role;
    int64_t rows = 0;
    Value a, b; // inputs; null when the role is not adapted
  };
  /// A projection with adapters: its llama input and its parts (one, or
  /// the fused roles in row order).
  struct LoraSite {
    Value x;
    SmallVector<LoraPart> parts;
  };

  /// Adds the lora_a/lora_b inputs of every adapted projection the kernel
  /// runs (and, for attn_core_bwd, of attn_out's, whose W^T it folds in).
  LogicalResult addLoraInputs();
  void addLoraSite(Value result, Value x, int64_t in,
                   ArrayRef<std::pair<llama::Role, int64_t>> parts);

  /// B (A x) for a lowered activation x.
  Value loraDelta(Value x, const LoraPart &part);

  /// The gradients of one adapted part at output gradient g: A^T B^T g to x,
  /// and dA^T = x (B^T g)^T, dB^T = (A x) g^T as outputs.
  void loraBackward(Value xLlama, const LoraPart &part, Value g);

  /// Rows [at, at + rows) of a weight matrix, in either layout.
  Value weightRows(Value w, int64_t at, int64_t rows);

  // -- op lowerings ---------------------------------------------------------
  LogicalResult lower(Operation *op);

  /// x * rsqrt(mean(x^2) + eps) * weight, reducing over channels.
  LogicalResult lowerRmsNorm(llama::RmsNormOp o);

  LogicalResult lowerLinear(Operation *o);

  /// RoPE as rotate-half: the slot table stores each head's Q/K rows as
  /// [even members; odd members] of the checkpoint's interleaved pairs, so
  /// pair p is (p, p + hd/2). No sin/cos ops: the tables are inputs.
  LogicalResult lowerRope(llama::RopeOp o);

  /// Rotates each pair (x1[p], x2[p]) of the two halves of every head by
  /// the table angles, or by their negatives (the transpose, for the
  /// backward).
  Value rotate(Value x, int64_t hd, bool inverse);

  /// softmax(Q K^T / sqrt(hd) + mask) V with each KV head serving its group
  /// of query heads through reshapes, never a repeated K or V.
  LogicalResult lowerAttention(llama::GqaAttentionOp o);

  /// The kernel's results, named as lib/Abi's kernel outputs.
  LogicalResult lowerReturn(func::ReturnOp o);

  // -- backward kernels (input gradients) ------------------------------------

  /// W^T g for a weight [out, in, 1, 1] and a gradient [1, out, 1, S].
  Value projectT(Value w, Value g);

  Value zeros(Type t);

  void addGrad(Value of, Value g);

  Value reduceKeep(Value x, int64_t axis, bool mean);

  /// The gradient each op passes to its operands, in reverse order.
  LogicalResult backprop(Operation *op);

  /// O = P V, P = softmax(Q K^T / sqrt(hd) + mask), per KV-head group:
  /// dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = dS K / sqrt
  /// (hd), dK = dS^T Q / sqrt(hd).
  LogicalResult backpropAttention(llama::GqaAttentionOp at, Value g);

  /// Seeds output gradients, runs backprop over the kernel in reverse and
  /// returns the gradients of the kernel's differentiable inputs.
  LogicalResult lowerBackward(func::ReturnOp ret);

  /// Backward kernels recompute what they need; the rest goes.
  void eraseDeadOps();

  func::FuncOp fn;
  ::ane::abi::Kernel kernel = ::ane::abi::Kernel::AttnQkv; // fn's, from run()
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
  LoraOptions loraOptions;
  /// By the llama result of the projection.
  DenseMap<Value, LoraSite> loraSites;
  /// Adapted roles in input order, and their gradients once computed.
  SmallVector<LoraPart> loraInputs;
  DenseMap<int, std::pair<Value, Value>> loraGrads;
};

} // namespace mlir::anemil::lowering

#endif // ANE_LIB_CONVERSION_LLAMATOANEMIL_KERNELLOWERING_H
