//===- OutputFileTest.cpp - writing around the page cache -----------------===//

#include "lib/Support/OutputFile.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

using namespace ane;

namespace {

std::vector<uint8_t> randomBytes(size_t n, unsigned seed) {
  std::vector<uint8_t> bytes(n);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; i += 4) {
    uint32_t word = rng();
    std::memcpy(bytes.data() + i, &word, std::min<size_t>(4, n - i));
  }
  return bytes;
}

std::vector<uint8_t> readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<uint8_t> bytes(size_t(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char *>(bytes.data()),
          std::streamsize(bytes.size()));
  return bytes;
}

OutputFile create(const std::string &path, OutputFile::Caching caching) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  EXPECT_GE(fd, 0) << path;
  return OutputFile::adopt(fd, path, caching);
}

/// A .anepak's pattern: a small head, runs that start on 16 KiB boundaries
/// and end anywhere (split over the streams unevenly, one longer than all
/// the streams' buffers together), one run starting off a block boundary,
/// then the head filled in. Both ways give the same file.
TEST(OutputFileTest, EveryRunLandsWhereItWasWritten) {
  constexpr size_t kToPage = 0; // a run of zeros to the next 16 KiB
  const std::vector<size_t> runs = {100,
                                    kToPage,
                                    (3 << 20) + 777,
                                    5000,
                                    kToPage,
                                    (5 << 20) + 3 * 4096 + 5,
                                    kToPage,
                                    (70 << 20) + 7 * 4096,
                                    1 << 20,
                                    10};
  std::vector<uint8_t> expected;
  std::vector<std::vector<uint8_t>> pieces;
  for (size_t i = 0; i < runs.size(); ++i) {
    pieces.push_back(runs[i] == kToPage
                         ? std::vector<uint8_t>(16384 - expected.size() % 16384)
                         : randomBytes(runs[i], unsigned(i)));
    expected.insert(expected.end(), pieces.back().begin(), pieces.back().end());
  }
  std::vector<uint8_t> head = randomBytes(64, 99);
  std::copy(head.begin(), head.end(), expected.begin());
  for (auto caching :
       {OutputFile::Caching::Bypass, OutputFile::Caching::PageCache}) {
    std::string path = ::testing::TempDir() + "ane-output-file.bin";
    OutputFile file = create(path, caching);
    for (const std::vector<uint8_t> &p : pieces)
      ASSERT_TRUE(file.write(p.data(), p.size()).ok());
    ASSERT_TRUE(file.overwrite(0, head.data(), head.size()).ok());
    EXPECT_EQ(file.position(), expected.size());
    EXPECT_EQ(file.uncachedBytes() % 4096, 0u);
    if (caching == OutputFile::Caching::PageCache) {
      EXPECT_EQ(file.uncachedBytes(), 0u);
    }
    ASSERT_TRUE(file.close().ok());
    EXPECT_TRUE(readAll(path) == expected)
        << (caching == OutputFile::Caching::Bypass ? "bypass" : "page cache");
    std::remove(path.c_str());
  }
}

/// Where the file system takes O_DIRECT, the whole blocks of a long
/// aligned run go around the page cache; a run that starts off a block
/// boundary does not. Where it does not (or there is no O_DIRECT),
/// everything goes through the page cache, and the file is the same.
TEST(OutputFileTest, LongAlignedRunsGoAroundThePageCache) {
  std::string path = ::testing::TempDir() + "ane-output-direct.bin";
  bool takesDirect = false;
#if defined(__linux__) && defined(O_DIRECT)
  { std::ofstream touch(path); }
  int probe = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  takesDirect = probe >= 0;
  if (probe >= 0)
    ::close(probe);
#endif
  std::printf("%s %s O_DIRECT\n", ::testing::TempDir().c_str(),
              takesDirect ? "takes" : "does not take");
  OutputFile file = create(path, OutputFile::Caching::Bypass);
  std::vector<uint8_t> small = randomBytes(10, 1);
  std::vector<uint8_t> big = randomBytes((2 << 20) + 100, 2);
  ASSERT_TRUE(file.write(small.data(), small.size()).ok());
  ASSERT_TRUE(file.write(big.data(), big.size()).ok());
  EXPECT_EQ(file.uncachedBytes(), 0u) << "a run at offset 10 went direct";
  std::vector<uint8_t> pad(4096 - (small.size() + big.size()) % 4096, 0);
  ASSERT_TRUE(file.write(pad.data(), pad.size()).ok());
  ASSERT_TRUE(file.write(big.data(), big.size()).ok());
  EXPECT_EQ(file.uncachedBytes(), takesDirect ? uint64_t(2) << 20 : 0);
  ASSERT_TRUE(file.close().ok());
  std::vector<uint8_t> expected = small;
  for (const auto *p : {&big, &pad, &big})
    expected.insert(expected.end(), p->begin(), p->end());
  EXPECT_TRUE(readAll(path) == expected);
  std::remove(path.c_str());
}

TEST(OutputFileTest, MisuseIsAnError) {
  std::string path = ::testing::TempDir() + "ane-output-misuse.bin";
  OutputFile file = create(path, OutputFile::Caching::Bypass);
  std::vector<uint8_t> bytes = randomBytes(100, 3);
  ASSERT_TRUE(file.write(bytes.data(), bytes.size()).ok());
  Status past = file.overwrite(90, bytes.data(), 20);
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.message().find(path), std::string::npos) << past.message();
  EXPECT_NE(past.message().find("past the 100 bytes"), std::string::npos)
      << past.message();
  ASSERT_TRUE(file.close().ok());
  EXPECT_FALSE(file.write(bytes.data(), 1).ok());
  EXPECT_FALSE(file.overwrite(0, bytes.data(), 1).ok());
  EXPECT_EQ(readAll(path), bytes);
  std::remove(path.c_str());
}

} // namespace
