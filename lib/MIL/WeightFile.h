//===- WeightFile.h - Core ML weight.bin (blob storage v2) ------*- C++ -*-===//
//
// Layout (all little-endian): a 64-byte header {u32 count, u32 version = 2,
// 7 x u64 reserved}, then per blob a 64-byte metadata record at a 64-aligned
// offset {u32 sentinel 0xDEADBEEF, u32 dtype, u64 size, u64 data offset,
// u64 padding bits, 4 x u64 reserved} followed by the payload. A BLOBFILE
// offset in MIL text names the metadata record.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MIL_WEIGHTFILE_H
#define ANE_LIB_MIL_WEIGHTFILE_H

#include "lib/MIL/Program.h"
#include "lib/Support/MappedFile.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ane::mil {

/// The BLOBFILE path compiled models use: the weight.bin beside model.mil,
/// which the runtime binds to a layer's weight segment.
constexpr const char *kModelWeightPath = "@model_path/weights/weight.bin";

/// BlobDataType codes of the format.
enum class BlobDType : uint32_t {
  Float16 = 1,
  Float32 = 2,
  UInt8 = 3,
  Int8 = 4,
  BFloat16 = 5,
  Int16 = 6,
  UInt16 = 7,
  Int4 = 8,
  UInt1 = 9,
  UInt2 = 10,
  UInt4 = 11,
  UInt3 = 12,
  UInt6 = 13,
  Int32 = 14,
  UInt32 = 15,
  Float8E4M3FN = 16,
  Float8E5M2 = 17,
};

constexpr uint32_t kBlobSentinel = 0xDEADBEEFu;
constexpr uint64_t kBlobAlignment = 64;

std::optional<BlobDType> blobDTypeFor(DType dtype);
std::optional<DType> dtypeForBlob(BlobDType dtype);
int blobBits(BlobDType dtype);
bool isValidBlobDType(uint32_t code);

/// LSB-first packing of `bits`-wide values (two's complement for signed).
std::vector<uint8_t> packSubByte(const std::vector<int64_t> &values, int bits);
/// Value `i` of packSubByte's bytes, for reading one in place.
inline int64_t subByteAt(const uint8_t *bytes, size_t i, int bits,
                         bool isSigned) {
  uint64_t v = 0;
  if (bits == 8) {
    v = bytes[i];
  } else if (bits == 4) {
    v = (bytes[i / 2] >> (4 * (i % 2))) & 0xF;
  } else {
    size_t bit = i * size_t(bits);
    for (int b = 0; b < bits; ++b, ++bit)
      v |= uint64_t(bytes[bit / 8] >> (bit % 8) & 1) << b;
  }
  int64_t s = static_cast<int64_t>(v);
  if (isSigned && (v >> (bits - 1) & 1))
    s -= int64_t(1) << bits;
  return s;
}
/// Inverse of packSubByte; `bytes` must hold ceil(count * bits / 8) bytes.
std::vector<int64_t> unpackSubByte(const uint8_t *bytes, size_t count, int bits,
                                   bool isSigned);

/// The offsets a WeightWriter will give to blobs appended in order, without
/// writing them: the compiler lays out weight slots, the packer writes them.
class BlobLayout {
public:
  /// The metadata offset of the next blob of `bytes` payload bytes.
  uint64_t append(uint64_t bytes);
  /// The file size after the blobs appended so far.
  uint64_t size() const { return end; }

private:
  uint64_t end = 64;
};

/// Builds a weight.bin in memory.
class WeightWriter {
public:
  WeightWriter();
  /// Writes into `recycled`'s storage (its contents are dropped).
  explicit WeightWriter(std::vector<uint8_t> recycled);
  /// Appends a payload of whole bytes; returns its metadata offset.
  uint64_t append(BlobDType dtype, const void *data, uint64_t bytes,
                  uint64_t paddingBits = 0);
  /// Packs `values` at the dtype's width and appends them.
  uint64_t appendValues(BlobDType dtype, const std::vector<int64_t> &values);
  const std::vector<uint8_t> &bytes() const { return buffer; }
  /// Room for a file of `bytes` in all, so appends never move the buffer;
  /// on Linux in huge pages where the kernel has them (a 7B layer's 118 MB
  /// in 4 KiB pages took most of a GGUF's packing time in page faults).
  void reserve(uint64_t bytes);
  /// Appends a zeroed payload of `bytes` for the caller to fill through
  /// payload(offset); returns its metadata offset.
  uint64_t appendSpace(BlobDType dtype, uint64_t bytes,
                       uint64_t paddingBits = 0);
  /// The payload of the blob whose metadata is at `offset` (valid until the
  /// next append).
  uint8_t *payload(uint64_t offset);
  /// The file, moved out; the writer is empty afterwards.
  std::vector<uint8_t> release() { return std::move(buffer); }
  uint32_t count() const;
  Status writeFile(const std::string &path) const;

private:
  std::vector<uint8_t> buffer;
};

/// One blob as stored.
struct BlobView {
  uint64_t metadataOffset = 0;
  BlobDType dtype = BlobDType::Float16;
  const uint8_t *data = nullptr;
  uint64_t size = 0;
  uint64_t dataOffset = 0;
  uint64_t paddingBits = 0;
  /// Elements stored: size * 8 - padding, divided by the element width.
  uint64_t elementCount() const;
};

/// Reads and validates a weight.bin; every offset and size is checked
/// against the file before use.
class WeightReader {
public:
  /// Views `size` bytes at `data`; `keepAlive` owns them (may be null when
  /// the caller guarantees the lifetime).
  static Result<WeightReader> fromBuffer(const uint8_t *data, size_t size,
                                         std::string name,
                                         std::shared_ptr<const void> keepAlive);
  static Result<WeightReader> open(const std::string &path);

  uint32_t count() const { return count_; }
  const std::string &name() const { return name_; }
  /// The blob whose metadata record is at `metadataOffset`.
  Result<BlobView> blob(uint64_t metadataOffset) const;
  /// Every blob, walking from offset 64 as the writer lays them out.
  Result<std::vector<BlobView>> blobs() const;

private:
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  uint32_t count_ = 0;
  std::string name_;
  std::shared_ptr<const void> keepAlive_;
};

/// A weight file of only the blobs `program` reads from `weights` (its
/// kModelWeightPath), in the order first read, with the program's BLOBFILE
/// offsets rewritten to it: a kernel bound to a whole layer's segment reads
/// a few of its blobs, and a device that bakes weights at compile keeps a
/// copy of what it is given.
Result<std::vector<uint8_t>> compactWeightFile(Program &program,
                                               const WeightReader &weights);

} // namespace ane::mil

#endif // ANE_LIB_MIL_WEIGHTFILE_H
