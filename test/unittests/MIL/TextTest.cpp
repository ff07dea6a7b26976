//===- TextTest.cpp - MIL parser and printer ------------------------------===//

#include "lib/MIL/Text.h"

#include "test/unittests/SharedData.h"

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

using namespace ane::mil;

namespace {

std::vector<std::string> corpusFiles() {
  return ane::test::sharedFiles("mil/corpus", ".mil");
}

TEST(MILTextTest, EveryCorpusFileReprintsByteForByte) {
  std::vector<std::string> files = corpusFiles();
  ASSERT_EQ(files.size(), 12u) << "expected the 12 corpus files in "
                               << ane::test::sharedDir() << "/mil/corpus";
  for (const std::string &path : files) {
    std::string text = ane::test::readFile(path);
    ane::Result<Program> program = parseProgram(text, path);
    ASSERT_TRUE(program.ok()) << program.message();
    std::string printed = printProgram(*program);
    if (printed != text) {
      size_t i = 0;
      while (i < printed.size() && i < text.size() && printed[i] == text[i])
        ++i;
      ADD_FAILURE() << path << " differs at byte " << i
                    << ":\n  file:    " << text.substr(i > 40 ? i - 40 : 0, 100)
                    << "\n  printed: "
                    << printed.substr(i > 40 ? i - 40 : 0, 100);
    }
  }
}

TEST(MILTextTest, ParsesLooseHandWrittenText) {
  const char *text = R"(program(1.3)
{
  func main<ios18>(tensor<fp16,[1,64,1,8]> x) {
    string pt = const()[name=string("pt"),val=string("valid")];
    tensor<fp16,[64,64,1,1]> W = const()[name=string("W"),
        val=tensor<fp16,[64,64,1,1]>(BLOBFILE(path=string("@model_path/weights/weight.bin"),offset=uint64(64)))];
    // a comment
    tensor<fp16,[1,64,1,8]> y = conv(
        weight=W,
        x=x, pad_type=pt)[name=string("y")];
    (tensor<fp16,[1,32,1,8]> a, tensor<fp16,[1,32,1,8]> b) = split(x=y,num_splits=int32(2),axis=int32(1))[name=string("s")];
  } -> (a, b);
})";
  ane::Result<Program> p = parseProgram(text);
  ASSERT_TRUE(p.ok()) << p.message();
  const Function &f = p->functions.at(0);
  EXPECT_EQ(f.opsetVersion(), 18);
  ASSERT_EQ(f.body.size(), 4u);
  const Statement &conv = f.body[2];
  EXPECT_EQ(conv.op, "conv");
  EXPECT_EQ(conv.line, 8);
  ASSERT_NE(conv.arg("weight"), nullptr);
  EXPECT_EQ(conv.arg("weight")->text, "W");
  const Value *w = f.body[1].attr("val");
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->isBlobFile());
  EXPECT_EQ(w->blobOffset(), 64u);
  EXPECT_EQ(f.body[3].outputs.size(), 2u);
  // Canonical output: sorted arguments, compiler indentation, bare scalars.
  std::string printed = printProgram(*p);
  EXPECT_NE(printed.find("            tensor<fp16, [1, 64, 1, 8]> y = conv("
                         "pad_type = pt, weight = W, x = x)[name = "
                         "string(\"y\")];\n"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("tensor<fp16, [1, 32, 1, 8]> a, tensor<fp16, [1, 32, "
                         "1, 8]> b = split(axis = int32(1), num_splits = "
                         "int32(2), x = y)"),
            std::string::npos)
      << printed;
  // The canonical text parses back to the same text.
  ane::Result<Program> again = parseProgram(printed);
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(printProgram(*again), printed);
}

TEST(MILTextTest, HexFloatsAndSpecials) {
  EXPECT_EQ(formatHexFloat(1.0), "0x1p+0");
  EXPECT_EQ(formatHexFloat(-0.029815673828125), "-0x1.e88p-6");
  EXPECT_EQ(formatHexFloat(0.0), "0x0p+0");
  EXPECT_EQ(formatHexFloat(-INFINITY), "-inf");
  EXPECT_EQ(formatHexFloat(NAN), "nan");
  const char *text = "program(1.0)\n{\n    func main<ios16>() {\n"
                     "            tensor<fp16, [3]> c = const()[val = "
                     "tensor<fp16, [3]>([0.1, -inf, nan])];\n"
                     "        } -> (c);\n}";
  ane::Result<Program> p = parseProgram(text);
  ASSERT_TRUE(p.ok()) << p.message();
  const Value &v = p->functions[0].body[0].attr("val")->items[0];
  // 0.1 written in decimal is rounded to the fp16 the tensor holds.
  EXPECT_EQ(formatHexFloat(v.items[0].floatValue), "0x1.998p-4");
  EXPECT_TRUE(std::isinf(v.items[1].floatValue));
  EXPECT_TRUE(std::isnan(v.items[2].floatValue));
}

TEST(MILTextTest, ScalarSpellingFollowsTheOpset) {
  const char *text = "program(1.0)\n{\n    func main<ios17>() {\n"
                     "            tensor<int32, []> c = const()[name = "
                     "tensor<string, []>(\"c\"), val = tensor<int32, []>(1)];\n"
                     "        } -> (c);\n}";
  ane::Result<Program> p = parseProgram(text);
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(printProgram(*p), text);
  p->version = "1.3";
  p->functions[0].opset = "ios18";
  EXPECT_NE(printProgram(*p).find("int32 c = const()[name = string(\"c\"), "
                                  "val = int32(1)];"),
            std::string::npos);
}

struct BadInput {
  const char *text;
  const char *error;
};

TEST(MILTextTest, ErrorsNameLineColumnExpectedAndFound) {
  const BadInput cases[] = {
      {"", "<input>:1:1: expected 'program', found end of input"},
      {"program(1.0)\n{\n  func main<ios16>(tensor<fp16, [2]> x) {\n"
       "    tensor<fp16, [2]> y = add(x = x, y = )[name = string(\"y\")];\n",
       "<input>:4:42: expected a value, found ')'"},
      {"program(1.0) { func main<ios16>() { tensor<fp99, [2]> y = f(); } -> "
       "(y); }",
       "<input>:1:44: expected an element type, found 'fp99'"},
      {"program(1.0) { func main<ios16>() { tensor<fp16, [-2]> y = f(); } -> "
       "(y); }",
       "expected a dimension (a non-negative integer or '?'), found '-2'"},
      {"program(1.0) { func main<ios16>() { } (y); }",
       "expected '->' before the function outputs"},
      {"program(1.0) { func main<ios16>() { fp16 y = c()[val = "
       "string(\"oops)]; } -> (y); }",
       "expected a value, found unterminated string"},
      {"program(1.0) { func main<ios16>() { int32 y = c()[val = "
       "int32(99999999999999999999)]; } -> (y); }",
       "found integer out of range"},
      {"program(1.0) { } trailing", "expected end of input after the program"},
      {"program(1.0) { func main<ios16>() { int32 y = c()[val = "
       "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
       "]; } -> (y); }",
       "expected nesting no deeper than 64"},
  };
  for (const BadInput &c : cases) {
    ane::Result<Program> p = parseProgram(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.message().find(c.error), std::string::npos)
        << "got: " << p.message() << "\nwant: " << c.error;
  }
}

} // namespace
