//===- Slots.cpp - weight slots and the blobs that hold them --------------===//

#include "lib/Abi/Slots.h"

#include "lib/MIL/WeightFile.h"

#include <fmt/format.h>

#include <algorithm>

namespace ane::abi {

std::string_view slotLayoutName(SlotLayout layout) {
  return layout == SlotLayout::Interleaved16 ? "interleaved16" : "row_major";
}

std::optional<SlotLayout> parseSlotLayout(std::string_view name) {
  for (SlotLayout l : {SlotLayout::RowMajor, SlotLayout::Interleaved16})
    if (name == slotLayoutName(l))
      return l;
  return std::nullopt;
}

bool canInterleave(const SlotSpec &s) {
  return s.scheme == Scheme::Q4 && s.shape.size() == 2 && s.group > 0 &&
         s.shape[0] % 16 == 0 && s.group % 32 == 0 &&
         s.shape[1] % s.group == 0 && s.blobs.size() == 2 &&
         s.blobs[0].dtype == mil::DType::Int4 &&
         s.blobs[1].dtype == mil::DType::FP16 &&
         blobDataBytes(s.blobs[0].dtype, s.blobs[0].shape) ==
             uint64_t(s.shape[0] * s.shape[1] / 2) &&
         blobDataBytes(s.blobs[1].dtype, s.blobs[1].shape) ==
             uint64_t(2 * s.shape[0] * (s.shape[1] / s.group));
}

uint64_t blobDataBytes(mil::DType dtype, const std::vector<int64_t> &shape) {
  uint64_t count = 1;
  for (int64_t d : shape)
    count *= uint64_t(d);
  return (count * uint64_t(mil::dtypeBits(dtype)) + 7) / 8;
}

uint64_t blobEnd(const BlobSpec &b) {
  return b.offset + 64 + blobDataBytes(b.dtype, b.shape);
}

uint64_t segmentEnd(const std::vector<SlotSpec> &slots) {
  uint64_t end = 64;
  for (const SlotSpec &s : slots)
    for (const BlobSpec &b : s.blobs)
      end = std::max(end, blobEnd(b));
  return end;
}

uint64_t slotBytes(const SlotSpec &slot) {
  uint64_t bytes = 0;
  for (const BlobSpec &b : slot.blobs)
    bytes += blobEnd(b) - b.offset;
  return bytes;
}

void layOutSegment(std::vector<SlotSpec> &slots) {
  mil::BlobLayout layout;
  for (SlotSpec &s : slots)
    for (BlobSpec &b : s.blobs)
      b.offset = layout.append(blobDataBytes(b.dtype, b.shape));
}

Status validateSlot(const SlotSpec &s, uint64_t segmentBytes) {
  auto fail = [&](const std::string &what) {
    return Status::error(fmt::format("weight slot '{}': {}", s.role, what));
  };
  if (s.shape.empty() || s.shape.size() > 2)
    return fail("a weight is a vector or a matrix");
  for (int64_t d : s.shape)
    if (d <= 0 || d > (int64_t(1) << 24))
      return fail(fmt::format("dimension {} is out of range", d));
  if (isQuantized(s.scheme) &&
      (s.shape.size() != 2 || s.group <= 0 || s.shape[1] % s.group != 0))
    return fail(fmt::format("group {} does not divide the rows", s.group));
  if (s.blobs.empty() || s.blobs.size() > 3)
    return fail("a slot has one to three blobs");
  for (const BlobSpec &b : s.blobs) {
    if (b.offset % 64 != 0)
      return fail(
          fmt::format("blob offset {} is not 64-byte aligned", b.offset));
    for (int64_t d : b.shape)
      if (d <= 0 || d > (int64_t(1) << 24))
        return fail("a blob dimension is out of range");
    if (blobEnd(b) > segmentBytes)
      return fail(fmt::format("blob at {} ends past the {}-byte segment",
                              b.offset, segmentBytes));
  }
  if (s.ropeRows && (s.headDim <= 0 || s.headDim % 2 ||
                     s.ropeRows % s.headDim || s.ropeRows > s.shape[0]))
    return fail("rope_rows must be whole heads of the rows");
  if (s.layout == SlotLayout::Interleaved16 && !canInterleave(s))
    return fail("the interleaved16 layout needs a q4 matrix of 16-row blocks "
                "in groups of whole 32 columns, int4 codes and fp16 scales");
  return Status::success();
}

} // namespace ane::abi
