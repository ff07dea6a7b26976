//===- SharedData.h - locate ../shared test data ----------------*- C++ -*-===//

#ifndef ANE_TEST_UNITTESTS_SHAREDDATA_H
#define ANE_TEST_UNITTESTS_SHAREDDATA_H

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace ane::test {

/// The shared data folder beside the repository (set by CMake). Tests that
/// need it fail, never skip, when it is missing.
inline std::string sharedDir() { return ANE_SHARED_DIR; }

/// Reads a whole file; records a test failure if it cannot.
inline std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path
                         << " (is ../shared next to the repository?)";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace ane::test

#endif // ANE_TEST_UNITTESTS_SHAREDDATA_H
