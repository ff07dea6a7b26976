//===- MappedFileTest.cpp - reading a mapped file with read(2) ------------===//

#include "lib/Support/MappedFile.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <vector>

using namespace ane;

namespace {

/// copy() gives a range's bytes, wherever it starts and ends, and copies
/// memory outside the mapping as it is.
TEST(MappedFileTest, CopyGivesTheMappedBytes) {
  std::string path = ::testing::TempDir() + "ane-mapped-copy.bin";
  std::vector<uint8_t> bytes(3 * 4096 + 123);
  std::mt19937 rng(3);
  for (uint8_t &b : bytes)
    b = uint8_t(rng());
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
  auto file = MappedFile::open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  const uint8_t *base = (*file)->data();
  for (auto [from, n] : {std::pair<size_t, size_t>{0, bytes.size()},
                         {4095, 4098},
                         {bytes.size() - 1, 1},
                         {17, 0}}) {
    std::vector<uint8_t> out(n + 1, 0xAA);
    (*file)->copy(base + from, n, out.data());
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + n, bytes.begin() + from))
        << from << " + " << n;
    EXPECT_EQ(out[n], 0xAA) << "wrote past the range";
  }
  std::vector<uint8_t> out(8);
  (*file)->copy(bytes.data() + 5, 8, out.data());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), bytes.begin() + 5));
  std::remove(path.c_str());
}

} // namespace
