//===- SharedData.h - locate ../shared test data ----------------*- C++ -*-===//

#ifndef ANE_TEST_UNITTESTS_SHAREDDATA_H
#define ANE_TEST_UNITTESTS_SHAREDDATA_H

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ane::test {

/// The shared data folder beside the repository (set by CMake). Tests that
/// need it fail, never skip, when it is missing.
inline std::string sharedDir() { return ANE_SHARED_DIR; }

/// A folder under ../shared; records a failure naming it when it is missing.
inline std::string sharedPath(const std::string &sub) {
  std::string path = sharedDir() + "/" + sub;
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_directory(path, ec) ||
              std::filesystem::is_regular_file(path, ec))
      << path << " is missing: tests need ../shared next to the repository";
  return path;
}

/// The files of a ../shared folder with the given extension, sorted.
inline std::vector<std::string> sharedFiles(const std::string &sub,
                                            const std::string &ext) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(sharedPath(sub), ec))
    if (e.path().extension() == ext)
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

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
