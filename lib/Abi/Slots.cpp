//===- Slots.cpp - weight slots and the blobs that hold them --------------===//

#include "lib/Abi/Slots.h"

#include "lib/MIL/WeightFile.h"

#include <fmt/format.h>

#include <algorithm>

namespace ane::abi {

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
  return Status::success();
}

} // namespace ane::abi
