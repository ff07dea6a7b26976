//===- Slots.h - weight slots and the blobs that hold them ------*- C++ -*-===//
//
// The compiler lays out each weight of a layer (or of the model) as a slot:
// one to three blobs at fixed offsets of a weight.bin segment. The packer
// writes segments with exactly that layout; backends read them. The one rule
// for a blob's size lives here. Plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_ABI_SLOTS_H
#define ANE_LIB_ABI_SLOTS_H

#include "lib/Abi/Schemes.h"
#include "lib/MIL/Program.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ane::abi {

struct BlobSpec {
  mil::DType dtype = mil::DType::FP16;
  std::vector<int64_t> shape;
  uint64_t offset = 0; ///< of its 64-byte metadata record in the segment
};

/// How a slot's blobs hold its matrix: Core ML's row-major layout (what the
/// MIL text declares, and what every backend reads), or the cpu backend's
/// int4 layout (lib/Runtime/Interleaved.h), which only it reads.
enum class SlotLayout : uint8_t { RowMajor, Interleaved16 };

std::string_view slotLayoutName(SlotLayout layout);
std::optional<SlotLayout> parseSlotLayout(std::string_view name);

struct SlotSpec {
  std::string role; ///< "attn_q", ..., or a fused "attn_qkv"/"ffn_gate_up"
  Segment segment = Segment::Layer;
  Scheme scheme = Scheme::F16;
  int64_t group = 0;          ///< along in-features
  std::vector<int64_t> shape; ///< [out, in] or [n]
  std::vector<BlobSpec> blobs;
  std::vector<std::string> fusedFrom; ///< roles stacked by rows (llama-fuse)
  std::string foldNorm;               ///< role of a norm scale folded in
  int64_t ropeRows = 0; ///< leading rows stored per head as [even; odd] rows
  int64_t headDim = 0;
  SlotLayout layout = SlotLayout::RowMajor;

  /// The group a row is quantized in: `group`, or the whole row.
  int64_t effectiveGroup() const { return group > 0 ? group : shape.at(1); }
};

/// Bytes of the packed elements of a blob: count x bits, rounded up.
uint64_t blobDataBytes(mil::DType dtype, const std::vector<int64_t> &shape);
/// Where a blob's data ends in its segment: its 64-byte metadata record at
/// `offset`, then the packed elements.
uint64_t blobEnd(const BlobSpec &blob);
/// Bytes of a segment holding `slots`: the end of its last blob (at least
/// the 64-byte file header).
uint64_t segmentEnd(const std::vector<SlotSpec> &slots);
/// Weight bytes of a slot: its blobs' data and metadata records.
uint64_t slotBytes(const SlotSpec &slot);
/// Assigns each blob of `slots` its offset in one segment, in order, with
/// weight.bin's 64-byte alignment.
void layOutSegment(std::vector<SlotSpec> &slots);

/// Whether `slot` can take the interleaved layout: a q4 matrix of whole
/// 16-row blocks in groups of whole 32 columns, with int4 codes and fp16
/// scales.
bool canInterleave(const SlotSpec &slot);

/// Checks what a reader cannot trust: scheme and group against the shape,
/// blob offsets aligned and inside a segment of `segmentBytes`.
Status validateSlot(const SlotSpec &slot, uint64_t segmentBytes);

} // namespace ane::abi

#endif // ANE_LIB_ABI_SLOTS_H
