//===- WeightFileTest.cpp - weight.bin reader and writer ------------------===//

#include "lib/MIL/WeightFile.h"
#include "lib/MIL/Text.h"

#include "test/unittests/SharedData.h"

#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>

#include <gtest/gtest.h>

using namespace ane::mil;

namespace {

ane::Result<WeightReader> readerFor(const std::vector<uint8_t> &bytes) {
  return WeightReader::fromBuffer(bytes.data(), bytes.size(), "test.bin",
                                  nullptr);
}

TEST(WeightFileTest, FirstBlobIsAtOffset64WithPayloadAt128) {
  WeightWriter w;
  float values[3] = {1.0f, -2.0f, 0.5f};
  EXPECT_EQ(w.append(BlobDType::Float32, values, sizeof(values)), 64u);
  // 128 + 12 = 140, aligned up to 192.
  EXPECT_EQ(w.append(BlobDType::Float32, values, sizeof(values)), 192u);
  const std::vector<uint8_t> &b = w.bytes();
  EXPECT_EQ(b[0], 2); // count
  EXPECT_EQ(b[4], 2); // version
  EXPECT_EQ(b[64], 0xEF);
  EXPECT_EQ(b[65], 0xBE);
  EXPECT_EQ(b[66], 0xAD);
  EXPECT_EQ(b[67], 0xDE);
  EXPECT_EQ(b[68], 2);   // Float32
  EXPECT_EQ(b[80], 128); // payload offset
  float back;
  std::memcpy(&back, b.data() + 128 + 4, 4);
  EXPECT_EQ(back, -2.0f);
}

TEST(WeightFileTest, EveryDTypeRoundTrips) {
  std::mt19937 rng(7);
  for (uint32_t code = 1; code <= 17; ++code) {
    auto dtype = static_cast<BlobDType>(code);
    int bits = blobBits(dtype);
    ASSERT_GT(bits, 0);
    bool isSigned = dtype == BlobDType::Int4;
    std::vector<int64_t> values(37); // odd count: exercises padding
    for (int64_t &v : values) {
      int64_t span = bits >= 32 ? (int64_t(1) << 31) : (int64_t(1) << bits);
      v = static_cast<int64_t>(rng() % span);
      if (isSigned)
        v -= span / 2;
    }
    WeightWriter w;
    uint64_t off = w.appendValues(dtype, values);
    auto reader = readerFor(w.bytes());
    ASSERT_TRUE(reader.ok()) << reader.message();
    auto blob = reader->blob(off);
    ASSERT_TRUE(blob.ok()) << blob.message();
    EXPECT_EQ(blob->dtype, dtype);
    EXPECT_EQ(blob->size, (values.size() * bits + 7) / 8) << code;
    EXPECT_EQ(blob->elementCount(), values.size()) << code;
    std::vector<int64_t> back =
        unpackSubByte(blob->data, values.size(), bits, isSigned);
    if (bits <= 32) {
      EXPECT_EQ(back, values) << "dtype code " << code;
    }
  }
}

TEST(WeightFileTest, SubBytePackingIsLsbFirstWithStraddling) {
  // uint4: element 0 in the low nibble.
  EXPECT_EQ(packSubByte({0x3, 0xA}, 4), (std::vector<uint8_t>{0xA3}));
  // int4 two's complement: -1 = 0xF, -8 = 0x8.
  EXPECT_EQ(packSubByte({-1, -8}, 4), (std::vector<uint8_t>{0x8F}));
  // uint3 straddles: values 1,2,3 -> bits 001 010 011 -> 0b1101_0001, 0b0.
  EXPECT_EQ(packSubByte({1, 2, 3}, 3), (std::vector<uint8_t>{0xD1, 0x00}));
  // uint6: 63 and 1 -> 0b0111_1111, 0b0000_0000.
  EXPECT_EQ(packSubByte({63, 1}, 6), (std::vector<uint8_t>{0x7F, 0x00}));
  uint8_t bytes[2] = {0xD1, 0x00};
  EXPECT_EQ(unpackSubByte(bytes, 3, 3, false), (std::vector<int64_t>{1, 2, 3}));
  uint8_t nib = 0x8F;
  EXPECT_EQ(unpackSubByte(&nib, 2, 4, true), (std::vector<int64_t>{-1, -8}));
  // Padding bits are recorded: 5 uint3 values = 15 bits in 2 bytes.
  WeightWriter w;
  uint64_t off = w.appendValues(BlobDType::UInt3, {1, 2, 3, 4, 5});
  auto r = readerFor(w.bytes());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->blob(off)->paddingBits, 1u);
}

TEST(WeightFileTest, RewriteIsByteExact) {
  WeightWriter w;
  std::vector<uint16_t> half(100, 0x3c00);
  w.append(BlobDType::Float16, half.data(), half.size() * 2);
  w.appendValues(BlobDType::Int4, std::vector<int64_t>(33, -3));
  w.appendValues(BlobDType::UInt6, std::vector<int64_t>(9, 17));
  std::vector<int32_t> ints = {1, 2, 3};
  w.append(BlobDType::Int32, ints.data(), 12);
  auto r = readerFor(w.bytes());
  ASSERT_TRUE(r.ok());
  auto blobs = r->blobs();
  ASSERT_TRUE(blobs.ok()) << blobs.message();
  ASSERT_EQ(blobs->size(), 4u);
  WeightWriter again;
  for (const BlobView &b : *blobs)
    EXPECT_EQ(again.append(b.dtype, b.data, b.size, b.paddingBits),
              b.metadataOffset);
  EXPECT_EQ(again.bytes(), w.bytes());
}

/// Apple's compiler wrote the BLOBFILE offsets in the corpus. Writing blobs
/// of the same types in offset order must land on the same offsets.
TEST(WeightFileTest, WriterReproducesCorpusOffsets) {
  int filesWithBlobs = 0, blobsChecked = 0;
  for (const std::string &path : ane::test::sharedFiles("mil/corpus", ".mil")) {
    auto program = parseProgram(ane::test::readFile(path));
    ASSERT_TRUE(program.ok()) << program.message();
    std::map<uint64_t, Type> blobs;
    std::function<void(const Value &)> visit = [&](const Value &v) {
      if (v.isBlobFile())
        blobs.emplace(v.blobOffset(), *v.type);
      for (const Value &i : v.items)
        visit(i);
      for (const auto &[n, a] : v.namedArgs)
        visit(a);
    };
    for (const Function &f : program->functions)
      for (const Statement &s : f.body) {
        for (const Argument &a : s.args)
          visit(a.value);
        for (const Argument &a : s.attrs)
          visit(a.value);
      }
    if (blobs.empty())
      continue;
    ++filesWithBlobs;
    WeightWriter w;
    for (const auto &[offset, type] : blobs) {
      auto dtype = blobDTypeFor(type.dtype);
      ASSERT_TRUE(dtype.has_value()) << printType(type, false);
      int bits = blobBits(*dtype);
      uint64_t bytes = (type.numElements() * bits + 7) / 8;
      std::vector<uint8_t> zeros(bytes);
      EXPECT_EQ(w.append(*dtype, zeros.data(), bytes), offset)
          << path << " " << printType(type, false);
      ++blobsChecked;
    }
  }
  EXPECT_EQ(filesWithBlobs, 7);
  EXPECT_GT(blobsChecked, 100);
}

struct Corruption {
  const char *what;
  std::function<void(std::vector<uint8_t> &)> damage;
  const char *error;
};

TEST(WeightFileTest, CorruptFilesGiveErrorsNamingTheOffset) {
  WeightWriter w;
  std::vector<uint16_t> half(8, 0);
  uint64_t off = w.append(BlobDType::Float16, half.data(), 16);
  const Corruption cases[] = {
      {"truncated header", [](auto &b) { b.resize(40); },
       "test.bin: file is 40 bytes, shorter than the 64-byte header"},
      {"bad version", [](auto &b) { b[4] = 1; },
       "unsupported storage version 1 at offset 4"},
      {"bad sentinel", [](auto &b) { b[64] = 0; },
       "blob at offset 64: bad sentinel 0xdeadbe00"},
      {"unknown dtype", [](auto &b) { b[68] = 99; },
       "unknown data type code 99 at offset 68"},
      {"payload past the end",
       [](auto &b) {
         b[72] = 0xff;
         b[73] = 0xff;
       },
       "payload [128, +65535) lies outside the 144-byte file"},
      {"truncated payload", [](auto &b) { b.resize(130); },
       "payload [128, +16) lies outside the 130-byte file"},
      {"huge data offset",
       [](auto &b) { std::fill(b.begin() + 80, b.begin() + 88, 0xff); },
       "payload [18446744073709551615, +16) lies outside"},
      {"padding on a byte type", [](auto &b) { b[88] = 3; },
       "invalid padding of 3 bits"},
  };
  for (const Corruption &c : cases) {
    std::vector<uint8_t> bytes = w.bytes();
    c.damage(bytes);
    auto r = readerFor(bytes);
    std::string message = r.ok() ? r->blob(off).message() : r.message();
    EXPECT_NE(message.find(c.error), std::string::npos)
        << c.what << ": got '" << message << "'";
  }
  auto r = readerFor(w.bytes());
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->blob(4096).message().find(
                "blob at offset 4096: metadata record lies outside"),
            std::string::npos);
}

/// A program reading blobs `offsets` (one const each) of a weight.bin.
Program programReading(const std::vector<uint64_t> &offsets) {
  Function fn;
  fn.name = "main";
  fn.opset = "ios18";
  for (size_t i = 0; i < offsets.size(); ++i) {
    Statement st;
    Type t = Type::tensor(DType::FP16, {4});
    st.outputs.push_back({t, "c" + std::to_string(i)});
    st.op = "const";
    st.attrs.push_back(
        {"val", Value::makeBlobFile(t, kModelWeightPath, offsets[i])});
    st.line = int(i) + 1;
    fn.body.push_back(std::move(st));
  }
  Program p;
  p.functions.push_back(std::move(fn));
  return p;
}

TEST(WeightFileTest, CompactionKeepsOnlyTheBlobsReadInFirstReadOrder) {
  WeightWriter w;
  std::vector<uint64_t> at;
  for (uint16_t k = 0; k < 4; ++k) {
    std::vector<uint16_t> half(4, uint16_t(k + 1));
    at.push_back(w.append(BlobDType::Float16, half.data(), 8));
  }
  // Blob 2 twice, blob 0 once; blobs 1 and 3 are never read.
  Program p = programReading({at[2], at[0], at[2]});
  auto original = readerFor(w.bytes());
  ASSERT_TRUE(original.ok());
  auto compact = compactWeightFile(p, *original);
  ASSERT_TRUE(compact.ok()) << compact.message();
  auto r = readerFor(*compact);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->count(), 2u);
  EXPECT_LT(compact->size(), w.bytes().size());
  std::vector<uint64_t> now;
  forEachBlobFile(p.functions[0], [&](const Value &v, const Statement &) {
    now.push_back(v.blobOffset());
  });
  ASSERT_EQ(now.size(), 3u);
  EXPECT_EQ(now[0], 64u); // blob 2 comes first now
  EXPECT_EQ(now[2], now[0]);
  EXPECT_NE(now[1], now[0]);
  for (auto [offset, fill] : {std::pair{now[0], 3}, std::pair{now[1], 1}}) {
    auto blob = r->blob(offset);
    ASSERT_TRUE(blob.ok()) << blob.message();
    uint16_t first;
    std::memcpy(&first, blob->data, 2);
    EXPECT_EQ(first, fill);
    EXPECT_EQ(blob->size, 8u);
  }
  // The rewritten program prints the new offsets.
  std::string text = printProgram(p);
  EXPECT_NE(text.find("offset = uint64(64)"), std::string::npos) << text;
  EXPECT_EQ(text.find("offset = uint64(" + std::to_string(at[2]) + ")"),
            std::string::npos);
}

TEST(WeightFileTest, CompactionNamesTheLineOfABlobThatIsNotThere) {
  WeightWriter w;
  std::vector<uint16_t> half(4, 0);
  uint64_t at = w.append(BlobDType::Float16, half.data(), 8);
  Program p = programReading({at, 4096});
  auto r = readerFor(w.bytes());
  ASSERT_TRUE(r.ok());
  auto compact = compactWeightFile(p, *r);
  ASSERT_FALSE(compact.ok());
  EXPECT_NE(compact.message().find("line 2: "), std::string::npos)
      << compact.message();
  EXPECT_NE(compact.message().find("offset 4096"), std::string::npos)
      << compact.message();
}

} // namespace
