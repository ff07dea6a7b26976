//===- SlotTable.cpp - where each weight of a kernel set lives -----------===//

#include "lib/Conversion/LlamaToAneMil/SlotTable.h"

namespace mlir::anemil::lowering {

::ane::abi::BlobSpec blobSpecOf(RankedTensorType t) {
  ::ane::abi::BlobSpec b;
  b.dtype = *::ane::mil::parseDType(
      stringifyDType(*getDTypeFor(t.getElementType())).str());
  b.shape.assign(t.getShape().begin(), t.getShape().end());
  return b;
}

LogicalResult SlotTable::add(llama::Role role, Type weightType,
                             DictionaryAttr attrs, Location loc) {
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
              {out, in, 1, 1}, IntegerType::get(ctx, 4, IntegerType::Unsigned)),
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

LogicalResult SlotTable::setRopeRows(Slot &slot, Location loc) {
  ::ane::abi::SlotSpec &s = slot.spec;
  using llama::Role;
  Role r = slot.role;
  bool q = r == Role::AttnQ || r == Role::AttnQBias;
  bool k = r == Role::AttnK || r == Role::AttnKBias;
  bool qkv = r == Role::AttnQkv || r == Role::AttnQkvBias;
  if (!q && !k && !qkv)
    return success();
  if (!headDim || !qkRows.first)
    return emitError(loc) << "attention weights need the module's "
                             "#llama.config for their RoPE row order";
  s.ropeRows = q   ? qkRows.first
               : k ? qkRows.second
                   : qkRows.first + qkRows.second;
  s.headDim = headDim;
  bool bias =
      r == Role::AttnQBias || r == Role::AttnKBias || r == Role::AttnQkvBias;
  if (s.shape.size() != (bias ? 1u : 2u) || s.ropeRows > s.shape[0] ||
      s.ropeRows % headDim != 0)
    return emitError(loc) << "weight " << s.role << " does not hold "
                          << s.ropeRows << " rows of heads of " << headDim;
  return success();
}

void SlotTable::layout() {
  for (ArrayRef<llama::Role> segment : {ArrayRef<llama::Role>(kLayerSlots),
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

ArrayAttr SlotTable::describeAll() const {
  SmallVector<Attribute> all;
  for (ArrayRef<llama::Role> segment : {ArrayRef<llama::Role>(kLayerSlots),
                                        ArrayRef<llama::Role>(kGlobalSlots)})
    for (llama::Role r : segment)
      if (slots.count(static_cast<int>(r)))
        all.push_back(describe(get(r)));
  return ArrayAttr::get(ctx, all);
}

::ane::abi::Scheme SlotTable::toAbi(llama::QuantScheme q) {
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

} // namespace mlir::anemil::lowering
