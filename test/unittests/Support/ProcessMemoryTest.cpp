//===- ProcessMemoryTest.cpp - the resident set figures -------------------===//

#include "lib/Support/ProcessMemory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace ane;

namespace {

/// Touching 64 MiB shows in the resident set and in its high-water mark,
/// and resetting the mark (Linux) brings it back down once the memory is
/// freed.
TEST(ProcessMemoryTest, TouchedMemoryShows) {
  uint64_t before = residentBytes();
  ASSERT_GT(before, 0u) << "no resident set from /proc/self/statm";
  constexpr size_t kBytes = size_t(64) << 20;
  {
    std::vector<char> block(kBytes);
    std::memset(block.data(), 1, block.size());
    uint64_t during = residentBytes();
    EXPECT_GE(during, before + kBytes * 9 / 10);
    // Linux batches its per-thread page counts, so the two figures can
    // differ by a few pages.
    EXPECT_GE(peakResidentBytes() + (1u << 20), during);
  }
  ASSERT_TRUE(resetPeakResident()) << "/proc/self/clear_refs";
  EXPECT_LT(peakResidentBytes(), residentBytes() + kBytes / 2)
      << "the mark was not lowered after the 64 MiB went back";
}

} // namespace
