//===- TextInputTest.cpp - the tools' input rules -------------------------===//

#include "lib/Support/TextInput.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

using namespace ane;

namespace {

std::string tempPath(const char *name) {
  return ::testing::TempDir() + "/TextInputTest-" + name;
}

TEST(TextInputTest, ReadsARegularFileWhole) {
  std::string path = tempPath("regular");
  std::ofstream(path) << "module {\n}\n";
  Result<std::string> text = readTextInput(path);
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_EQ(*text, "module {\n}\n");
  std::remove(path.c_str());
}

TEST(TextInputTest, RefusesDevicesFifosAndFolders) {
  Result<std::string> zero = readTextInput("/dev/zero");
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.message(), "/dev/zero: is a character device; give a "
                            "regular file, or - for standard input");
  std::string fifo = tempPath("fifo");
  std::remove(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO with no writer must not block.
  Result<std::string> pipe = readTextInput(fifo);
  ASSERT_FALSE(pipe.ok());
  EXPECT_NE(pipe.message().find("is a FIFO"), std::string::npos);
  std::remove(fifo.c_str());
  Result<std::string> folder = readTextInput(::testing::TempDir());
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(folder.message().find("is a folder"), std::string::npos);
  EXPECT_FALSE(readTextInput(tempPath("missing")).ok());
}

TEST(TextInputTest, RefusesTextOverTheCap) {
  std::string path = tempPath("big");
  std::ofstream(path) << std::string(101, 'x');
  EXPECT_TRUE(readTextInput(path, 101).ok());
  Result<std::string> big = readTextInput(path, 100);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.message().find("101 bytes"), std::string::npos);
  std::remove(path.c_str());
}

TEST(TextInputTest, NestingUpToTheCapPassesAndOneMoreFails) {
  EXPECT_TRUE(checkNesting("((([x])))", "t", 4).ok());
  EXPECT_TRUE(checkNesting("(((([x]))))", "t", 5).ok());
  Status deep = checkNesting("a\n  (((([x]))))", "t.mlir", 4);
  ASSERT_FALSE(deep.ok());
  // The fifth opener is the '[' at line 2, column 7.
  EXPECT_EQ(deep.message().substr(0, 13), "t.mlir:2:7: b");
}

TEST(TextInputTest, NestingCountsEveryBracketKind) {
  EXPECT_FALSE(checkNesting("{", "t", 0).ok());
  EXPECT_FALSE(checkNesting("[", "t", 0).ok());
  EXPECT_FALSE(checkNesting("(", "t", 0).ok());
  EXPECT_FALSE(checkNesting("tensor<", "t", 0).ok());
  // Closed brackets make room again.
  EXPECT_TRUE(checkNesting("()[]{}<>()", "t", 1).ok());
}

TEST(TextInputTest, NestingSkipsStringsCommentsAndArrows) {
  EXPECT_TRUE(checkNesting(R"(x = "((((\"((((" )", "t", 1).ok());
  EXPECT_TRUE(checkNesting("// ((((((\n(x)", "t", 1).ok());
  // "->" closes nothing: the second '(' would be depth 2 if it did not count.
  EXPECT_FALSE(checkNesting("(a -> (b))", "t", 1).ok());
  EXPECT_TRUE(checkNesting("(d0 >= 0, d1 <= 2)", "t", 1).ok());
  // A string does not run past its line, so a stray quote hides nothing.
  EXPECT_FALSE(checkNesting("\"\n((", "t", 1).ok());
}

/// n, after n nested calls of over 512 bytes of stack each.
int recurse(int n) {
  volatile char frame[512];
  frame[0] = 1;
  return n == 0 ? 0 : recurse(n - 1) + frame[0];
}

TEST(TextInputTest, LargeStackRunsTheWorkAndReturnsItsStatus) {
  // 50,000 frames need over 25 MB: more than a main thread's 8 MB.
  EXPECT_EQ(runOnLargeStack(size_t(64) << 20, "overflow\n",
                            [] { return recurse(50000) == 50000 ? 7 : 8; }),
            7);
}

TEST(TextInputTest, StackOverflowOnTheLargeStackIsACleanExit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(runOnLargeStack(size_t(1) << 20, "error: too deep\n",
                              [] { return recurse(1 << 30); }),
              ::testing::ExitedWithCode(1), "error: too deep");
}

} // namespace
