//===- NpyTest.cpp - the .npy writer
//---------------------------------------===//

#include "lib/Support/Npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

namespace ane {
namespace {

std::string tempPath(const char *name) {
  return ::testing::TempDir() + name + std::to_string(::getpid());
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(NpyTest, HeaderFollowsFormatOne) {
  std::string h = npyHeader(3, 512);
  ASSERT_GE(h.size(), 10u);
  EXPECT_EQ(h.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  size_t len = uint8_t(h[8]) | size_t(uint8_t(h[9])) << 8;
  EXPECT_EQ(len + 10, h.size());
  EXPECT_EQ(h.size() % 64, 0u);
  EXPECT_EQ(h.back(), '\n');
  EXPECT_NE(h.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3, "
                   "512), }"),
            std::string::npos);
}

TEST(NpyTest, RowsFollowTheHeader) {
  std::string path = tempPath("rows.npy");
  auto w = NpyWriter::create(path, 2, 3);
  ASSERT_TRUE(w.ok()) << w.message();
  float a[3] = {1, 2, 3}, b[3] = {-1, 0.5f, 1e30f};
  ASSERT_TRUE(w->appendRow(a).ok());
  ASSERT_TRUE(w->appendRow(b).ok());
  Status extra = w->appendRow(a);
  EXPECT_FALSE(extra.ok());
  EXPECT_NE(extra.message().find("all 2 rows"), std::string::npos);
  ASSERT_TRUE(w->finish().ok());
  std::string bytes = readAll(path);
  std::string header = npyHeader(2, 3);
  ASSERT_EQ(bytes.size(), header.size() + 6 * sizeof(float));
  EXPECT_EQ(bytes.substr(0, header.size()), header);
  float back[6];
  std::memcpy(back, bytes.data() + header.size(), sizeof(back));
  EXPECT_EQ(back[0], 1);
  EXPECT_EQ(back[2], 3);
  EXPECT_EQ(back[4], 0.5f);
  EXPECT_EQ(back[5], 1e30f);
  std::remove(path.c_str());
}

TEST(NpyTest, MissingRowsAndBadPathsAreErrors) {
  std::string path = tempPath("short.npy");
  auto w = NpyWriter::create(path, 4, 2);
  ASSERT_TRUE(w.ok());
  float row[2] = {0, 0};
  ASSERT_TRUE(w->appendRow(row).ok());
  Status s = w->finish();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("1 of 4 rows"), std::string::npos);
  std::remove(path.c_str());

  auto bad = NpyWriter::create("/nonexistent-dir/x.npy", 1, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("/nonexistent-dir/x.npy"), std::string::npos);
  EXPECT_FALSE(NpyWriter::create(path, 1, 0).ok());
  EXPECT_FALSE(NpyWriter::create(path, uint64_t(1) << 40, 32000).ok());
}

} // namespace
} // namespace ane
