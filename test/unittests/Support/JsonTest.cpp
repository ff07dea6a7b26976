//===- JsonTest.cpp - the runtime's JSON reader and writer ----------------===//

#include "lib/Support/Json.h"

#include <gtest/gtest.h>

#include <string>

using namespace ane;

namespace {

TEST(JsonTest, ParsesEveryKindOfValue) {
  auto v = json::parse(
      R"({"a": [1, -2, 3.5, 1e3], "b": {"c": true, "d": null}, "e": "x\ty\u00e9\ud83d\ude00"})",
      "t");
  ASSERT_TRUE(v.ok()) << v.message();
  const json::Value *a = v->get("a");
  ASSERT_TRUE(a && a->array.size() == 4);
  EXPECT_TRUE(a->array[1].integral);
  EXPECT_EQ(a->array[1].integer, -2);
  EXPECT_FALSE(a->array[2].integral);
  EXPECT_DOUBLE_EQ(a->array[2].number, 3.5);
  EXPECT_FALSE(a->array[3].integral);
  EXPECT_DOUBLE_EQ(a->array[3].number, 1000);
  EXPECT_TRUE(v->get("b")->get("c")->boolean);
  EXPECT_EQ(v->get("b")->get("d")->kind, json::Value::Kind::Null);
  EXPECT_EQ(v->get("e")->string, "x\ty\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(JsonTest, ErrorsGiveTheByteOffset) {
  struct Case {
    const char *text;
    const char *message;
  } cases[] = {
      {"{\"a\": 1,}", "t: offset 8: expected a member name"},
      {"[1 2]", "t: offset 3: expected ',' or ']'"},
      {"01", "t: offset 0: a number with a leading zero"},
      {"\"abc", "t: offset 4: unterminated string"},
      {"\"\\ud800\"", "t: offset 7: a high surrogate without its low half"},
      {"tru", "t: offset 0: unexpected character 't'"},
      {"{} x", "t: offset 3: unexpected text after the document"},
      {"", "t: offset 0: unexpected end of input"},
  };
  for (const Case &c : cases) {
    auto v = json::parse(c.text, "t");
    ASSERT_FALSE(v.ok()) << c.text;
    EXPECT_EQ(v.message(), c.message) << c.text;
  }
}

TEST(JsonTest, DeepNestingIsRejectedNotRecursedInto) {
  std::string deep(100000, '[');
  auto v = json::parse(deep, "deep");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.message().find("nesting deeper than 64"), std::string::npos);
}

TEST(JsonTest, FieldErrorsNameThePath) {
  auto v = json::parse(R"({"n": 1.5, "s": 3, "list": [1, "x"]})", "t");
  ASSERT_TRUE(v.ok());
  {
    json::Fields f(*v, "m");
    f.integer("n");
    EXPECT_EQ(f.status().message(), "m.n: expected an integer");
  }
  {
    json::Fields f(*v, "m");
    f.string("s");
    EXPECT_EQ(f.status().message(), "m.s: expected a string, found a number");
  }
  {
    json::Fields f(*v, "m");
    f.integers("list");
    EXPECT_EQ(f.status().message(), "m.list: expected an array of integers");
  }
  {
    json::Fields f(*v, "m");
    f.strings("list");
    EXPECT_EQ(f.status().message(), "m.list: expected an array of strings");
  }
  {
    json::Fields f(*v, "m");
    f.boolean("missing");
    f.integer("n"); // the first error is kept
    EXPECT_EQ(f.status().message(), "m.missing: missing");
  }
}

TEST(JsonTest, WriterOutputParsesBackToTheSameValues) {
  json::Writer w;
  w.beginObject();
  w.key("quote\"and\\").string("line\nbreak\x01");
  w.key("list").integers({1, -2, 3});
  w.key("pi").number(3.25);
  w.key("empty").beginArray().endArray();
  w.key("flag").boolean(false);
  w.endObject();
  EXPECT_EQ(w.str(), R"({"quote\"and\\":"line\nbreak\u0001","list":[1,-2,3],)"
                     R"("pi":3.25,"empty":[],"flag":false})");
  auto v = json::parse(w.str(), "w");
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->get("quote\"and\\")->string, "line\nbreak\x01");
  EXPECT_EQ(v->get("list")->array[1].integer, -2);
  EXPECT_DOUBLE_EQ(v->get("pi")->number, 3.25);
}

} // namespace
