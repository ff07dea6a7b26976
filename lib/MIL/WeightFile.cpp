//===- WeightFile.cpp - Core ML weight.bin (blob storage v2) --------------===//

#include "lib/MIL/WeightFile.h"
#include "lib/Support/ProcessMemory.h"

#include <cstdio>
#include <cstring>
#include <map>

#include <fmt/format.h>

namespace ane::mil {
namespace {

constexpr size_t kHeaderSize = 64;
constexpr size_t kMetadataSize = 64;

uint32_t readU32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
         uint32_t(p[3]) << 24;
}

uint64_t readU64(const uint8_t *p) {
  return uint64_t(readU32(p)) | uint64_t(readU32(p + 4)) << 32;
}

void writeU32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void writeU64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t alignUp(uint64_t v) {
  return (v + kBlobAlignment - 1) / kBlobAlignment * kBlobAlignment;
}

struct Pair {
  DType dtype;
  BlobDType blob;
};
constexpr Pair kPairs[] = {
    {DType::FP16, BlobDType::Float16},  {DType::FP32, BlobDType::Float32},
    {DType::UInt8, BlobDType::UInt8},   {DType::Int8, BlobDType::Int8},
    {DType::BF16, BlobDType::BFloat16}, {DType::Int16, BlobDType::Int16},
    {DType::UInt16, BlobDType::UInt16}, {DType::Int4, BlobDType::Int4},
    {DType::UInt1, BlobDType::UInt1},   {DType::UInt2, BlobDType::UInt2},
    {DType::UInt4, BlobDType::UInt4},   {DType::UInt3, BlobDType::UInt3},
    {DType::UInt6, BlobDType::UInt6},   {DType::Int32, BlobDType::Int32},
    {DType::UInt32, BlobDType::UInt32},
};

} // namespace

std::optional<BlobDType> blobDTypeFor(DType d) {
  for (const Pair &p : kPairs)
    if (p.dtype == d)
      return p.blob;
  return std::nullopt;
}

std::optional<DType> dtypeForBlob(BlobDType b) {
  for (const Pair &p : kPairs)
    if (p.blob == b)
      return p.dtype;
  return std::nullopt;
}

bool isValidBlobDType(uint32_t code) { return code >= 1 && code <= 17; }

int blobBits(BlobDType d) {
  switch (d) {
  case BlobDType::Float16:
  case BlobDType::BFloat16:
  case BlobDType::Int16:
  case BlobDType::UInt16:
    return 16;
  case BlobDType::Float32:
  case BlobDType::Int32:
  case BlobDType::UInt32:
    return 32;
  case BlobDType::UInt8:
  case BlobDType::Int8:
  case BlobDType::Float8E4M3FN:
  case BlobDType::Float8E5M2:
    return 8;
  case BlobDType::Int4:
  case BlobDType::UInt4:
    return 4;
  case BlobDType::UInt1:
    return 1;
  case BlobDType::UInt2:
    return 2;
  case BlobDType::UInt3:
    return 3;
  case BlobDType::UInt6:
    return 6;
  }
  return 0;
}

std::vector<uint8_t> packSubByte(const std::vector<int64_t> &values, int bits) {
  std::vector<uint8_t> out((values.size() * bits + 7) / 8, 0);
  // Whole bytes and nibbles (int8, int4: most weights) take the short way.
  if (bits == 8) {
    for (size_t i = 0; i < values.size(); ++i)
      out[i] = static_cast<uint8_t>(values[i]);
    return out;
  }
  if (bits == 4) {
    for (size_t i = 0; i < values.size(); ++i)
      out[i / 2] |= static_cast<uint8_t>((values[i] & 0xF) << (4 * (i % 2)));
    return out;
  }
  uint64_t mask = (uint64_t(1) << bits) - 1;
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t v = static_cast<uint64_t>(values[i]) & mask;
    size_t bit = i * bits;
    // A value may straddle two bytes (uint3, uint6): low bits go first.
    for (int b = 0; b < bits; ++b, ++bit)
      if (v >> b & 1)
        out[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
  }
  return out;
}

std::vector<int64_t> unpackSubByte(const uint8_t *bytes, size_t count, int bits,
                                   bool isSigned) {
  std::vector<int64_t> out(count);
  for (size_t i = 0; i < count; ++i)
    out[i] = subByteAt(bytes, i, bits, isSigned);
  return out;
}

uint64_t BlobLayout::append(uint64_t bytes) {
  uint64_t meta = alignUp(end);
  end = meta + kMetadataSize + bytes;
  return meta;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

WeightWriter::WeightWriter() : WeightWriter(std::vector<uint8_t>()) {}

WeightWriter::WeightWriter(std::vector<uint8_t> recycled)
    : buffer(std::move(recycled)) {
  buffer.assign(kHeaderSize, 0);
  writeU32(buffer.data() + 4, 2); // version
}

uint32_t WeightWriter::count() const { return readU32(buffer.data()); }

void WeightWriter::reserve(uint64_t bytes) {
  reserveOnHugePages(buffer, bytes);
}

uint8_t *WeightWriter::payload(uint64_t offset) {
  return buffer.data() + offset + kMetadataSize;
}

uint64_t WeightWriter::appendSpace(BlobDType dtype, uint64_t bytes,
                                   uint64_t paddingBits) {
  uint64_t meta = alignUp(buffer.size());
  buffer.resize(meta + kMetadataSize + bytes, 0);
  uint8_t *m = buffer.data() + meta;
  writeU32(m, kBlobSentinel);
  writeU32(m + 4, static_cast<uint32_t>(dtype));
  writeU64(m + 8, bytes);
  writeU64(m + 16, meta + kMetadataSize);
  writeU64(m + 24, paddingBits);
  writeU32(buffer.data(), count() + 1);
  return meta;
}

uint64_t WeightWriter::append(BlobDType dtype, const void *data, uint64_t bytes,
                              uint64_t paddingBits) {
  uint64_t meta = appendSpace(dtype, bytes, paddingBits);
  if (bytes)
    std::memcpy(payload(meta), data, bytes);
  return meta;
}

uint64_t WeightWriter::appendValues(BlobDType dtype,
                                    const std::vector<int64_t> &values) {
  int bits = blobBits(dtype);
  std::vector<uint8_t> packed = packSubByte(values, bits);
  uint64_t padding = packed.size() * 8 - values.size() * bits;
  return append(dtype, packed.data(), packed.size(), bits < 8 ? padding : 0);
}

Status WeightWriter::writeFile(const std::string &path) const {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return Status::error(path + ": cannot open for writing");
  size_t n = std::fwrite(buffer.data(), 1, buffer.size(), f);
  bool ok = n == buffer.size();
  ok = std::fclose(f) == 0 && ok;
  return ok ? Status::success() : Status::error(path + ": write failed");
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

uint64_t BlobView::elementCount() const {
  int bits = blobBits(dtype);
  return bits ? (size * 8 - paddingBits) / bits : 0;
}

Result<WeightReader>
WeightReader::fromBuffer(const uint8_t *data, size_t size, std::string name,
                         std::shared_ptr<const void> keepAlive) {
  if (size < kHeaderSize)
    return Result<WeightReader>::error(fmt::format(
        "{}: file is {} bytes, shorter than the 64-byte header", name, size));
  uint32_t version = readU32(data + 4);
  if (version != 2)
    return Result<WeightReader>::error(fmt::format(
        "{}: unsupported storage version {} at offset 4 (expected 2)", name,
        version));
  WeightReader r;
  r.data_ = data;
  r.size_ = size;
  r.count_ = readU32(data);
  r.name_ = std::move(name);
  r.keepAlive_ = std::move(keepAlive);
  return r;
}

Result<WeightReader> WeightReader::open(const std::string &path) {
  auto file = MappedFile::open(path);
  if (!file.ok())
    return file.status();
  std::shared_ptr<MappedFile> f = *file;
  return fromBuffer(f->data(), f->size(), path, f);
}

Result<BlobView> WeightReader::blob(uint64_t off) const {
  auto fail = [&](const std::string &what) {
    return Result<BlobView>::error(
        fmt::format("{}: blob at offset {}: {}", name_, off, what));
  };
  if (off < kHeaderSize || off > size_ || size_ - off < kMetadataSize)
    return fail(
        fmt::format("metadata record lies outside the {}-byte file", size_));
  const uint8_t *m = data_ + off;
  if (readU32(m) != kBlobSentinel)
    return fail(
        fmt::format("bad sentinel 0x{:08x} (expected 0xdeadbeef)", readU32(m)));
  uint32_t code = readU32(m + 4);
  if (!isValidBlobDType(code))
    return fail(
        fmt::format("unknown data type code {} at offset {}", code, off + 4));
  BlobView b;
  b.metadataOffset = off;
  b.dtype = static_cast<BlobDType>(code);
  b.size = readU64(m + 8);
  b.dataOffset = readU64(m + 16);
  b.paddingBits = readU64(m + 24);
  if (b.dataOffset < kHeaderSize || b.dataOffset > size_ ||
      b.size > size_ - b.dataOffset)
    return fail(fmt::format("payload [{}, +{}) lies outside the {}-byte file",
                            b.dataOffset, b.size, size_));
  int bits = blobBits(b.dtype);
  if (b.paddingBits > 7 || (bits >= 8 && b.paddingBits != 0) ||
      b.paddingBits > b.size * 8)
    return fail(fmt::format("invalid padding of {} bits", b.paddingBits));
  if (bits >= 8 && b.size % (bits / 8) != 0)
    return fail(fmt::format("payload of {} bytes is not a whole number of "
                            "{}-bit elements",
                            b.size, bits));
  b.data = data_ + b.dataOffset;
  return b;
}

Result<std::vector<BlobView>> WeightReader::blobs() const {
  std::vector<BlobView> out;
  uint64_t off = kHeaderSize;
  for (uint32_t i = 0; i < count_; ++i) {
    Result<BlobView> b = blob(off);
    if (!b.ok())
      return b.status();
    out.push_back(*b);
    uint64_t next = alignUp(b->dataOffset + b->size);
    if (next <= off)
      return Result<std::vector<BlobView>>::error(
          fmt::format("{}: blob at offset {} points backwards", name_, off));
    off = next;
  }
  return out;
}

Result<std::vector<uint8_t>> compactWeightFile(Program &program,
                                               const WeightReader &weights) {
  WeightWriter writer;
  std::map<uint64_t, uint64_t> moved; // old metadata offset -> new
  Status status = Status::success();
  for (Function &fn : program.functions)
    forEachBlobFile(fn, [&](Value &v, const Statement &st) {
      if (!status.ok() || v.blobPath() != kModelWeightPath)
        return;
      auto it = moved.find(v.blobOffset());
      if (it == moved.end()) {
        auto blob = weights.blob(v.blobOffset());
        if (!blob.ok()) {
          status = Status::error(
              fmt::format("line {}: {}", st.line, blob.message()));
          return;
        }
        it = moved
                 .emplace(v.blobOffset(),
                          writer.append(blob->dtype, blob->data, blob->size,
                                        blob->paddingBits))
                 .first;
      }
      v.setBlobOffset(it->second);
    });
  if (!status.ok())
    return status;
  return writer.bytes();
}

} // namespace ane::mil
