//===- SlotTable.h - where each weight of a kernel set lives ---*- C++ -*-===//
//
// The weight slots of the llama-to-anemil lowering: every role-tagged weight
// of the module gets a lib/Abi SlotSpec (scheme, group, blobs) and its
// blobs' MLIR types; layout() assigns offsets in a fixed slot order, so every
// layer's segment has the same layout. The module records them as
// #anemil.weight_slot attributes.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_CONVERSION_LLAMATOANEMIL_SLOTTABLE_H
#define ANE_LIB_CONVERSION_LLAMATOANEMIL_SLOTTABLE_H

#include "lib/Abi/Slots.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"

#include <map>
#include <utility>

namespace mlir::anemil::lowering {

/// The order of weight slots in a segment; every layer's segment has the
/// same offsets because it holds the same slots in the same order.
inline constexpr llama::Role kLayerSlots[] = {
    llama::Role::AttnNorm,  llama::Role::AttnQ,     llama::Role::AttnK,
    llama::Role::AttnV,     llama::Role::AttnQkv,   llama::Role::AttnOut,
    llama::Role::FfnNorm,   llama::Role::FfnGate,   llama::Role::FfnUp,
    llama::Role::FfnGateUp, llama::Role::FfnDown,   llama::Role::AttnQBias,
    llama::Role::AttnKBias, llama::Role::AttnVBias, llama::Role::AttnQkvBias};
inline constexpr llama::Role kGlobalSlots[] = {
    llama::Role::TokenEmbd, llama::Role::OutputNorm, llama::Role::Output};

inline bool isLayerRole(llama::Role r) {
  return llvm::is_contained(kLayerSlots, r);
}

/// How one weight is stored: the contract's slot, and its blobs' MLIR types.
struct Slot {
  llama::Role role;
  ::ane::abi::SlotSpec spec;
  SmallVector<RankedTensorType> blobTypes;
};

/// The contract's description of a blob of type `t`.
::ane::abi::BlobSpec blobSpecOf(RankedTensorType t);

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
                    Location loc);

  /// Q and K rows are stored with each head's interleaved pairs split into
  /// halves (rows 0, 2, 4, ... then 1, 3, 5, ...), so RoPE is rotate-half
  /// on contiguous slices. Q and K move alike, which leaves Q Kᵀ unchanged;
  /// their biases move with their rows.
  LogicalResult setRopeRows(Slot &slot, Location loc);

  /// Assigns offsets, segment by segment, in the fixed slot order.
  void layout();

  const Slot &get(llama::Role r) const { return slots.at(static_cast<int>(r)); }

  /// Every slot, layer segment first, each in slot order.
  ArrayAttr describeAll() const;

  WeightSlotAttr describe(const Slot &s) const {
    return WeightSlotAttr::fromSlotSpec(ctx, s.spec);
  }

private:
  static ::ane::abi::Scheme toAbi(llama::QuantScheme q);

  MLIRContext *ctx;
  Type compute;
  bool blobBound;
  std::pair<int64_t, int64_t> qkRows;
  int64_t headDim;
  std::map<int, Slot> slots;
};

} // namespace mlir::anemil::lowering

#endif // ANE_LIB_CONVERSION_LLAMATOANEMIL_SLOTTABLE_H
