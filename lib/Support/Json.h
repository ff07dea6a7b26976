//===- Json.h - a small JSON reader and writer ------------------*- C++ -*-===//
//
// The runtime reads its manifest without LLVM, so it carries its own JSON:
// a strict RFC 8259 parser whose errors give the byte offset, a typed field
// reader whose errors give the field's path, and a compact writer.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SUPPORT_JSON_H
#define ANE_LIB_SUPPORT_JSON_H

#include "lib/Support/Result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ane::json {

class Value {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  bool integral = false; // a number written without fraction or exponent
  int64_t integer = 0;   // its value when integral
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;

  /// The member `key` of an object, or null.
  const Value *get(std::string_view key) const;
};

/// Parses one JSON document; errors read "<source>: offset N: ...".
/// Nesting deeper than 64 levels is rejected.
Result<Value> parse(std::string_view text, const std::string &source);
/// Reads the file at `path` (readTextInput's rules) and parses it.
Result<Value> parseFile(const std::string &path);

/// Reads the fields of one object; the first error is kept and later reads
/// return defaults, so a reader checks `status()` once at the end.
class Fields {
public:
  Fields(const Value &object, std::string path);

  int64_t integer(const char *key);
  double number(const char *key);
  std::string string(const char *key);
  bool boolean(const char *key);
  /// An array or object member; null (and an error) when missing.
  const Value *array(const char *key);
  const Value *object(const char *key);
  std::vector<int64_t> integers(const char *key);
  std::vector<std::string> strings(const char *key);
  bool has(const char *key) const { return value.get(key) != nullptr; }

  /// Records an error about this object's field `key`.
  void fail(const char *key, const std::string &what);
  /// Keeps an error that already names its path (from a nested reader).
  void fail(const Status &status);
  const Status &status() const { return error; }
  std::string pathOf(const char *key) const;

private:
  const Value *member(const char *key, Value::Kind kind, const char *what);

  const Value &value;
  std::string path;
  Status error;
};

/// Builds compact JSON text. Keys and values alternate inside objects.
class Writer {
public:
  Writer &beginObject();
  Writer &endObject();
  Writer &beginArray();
  Writer &endArray();
  Writer &key(std::string_view k);
  Writer &string(std::string_view s);
  Writer &integer(int64_t v);
  Writer &number(double v);
  Writer &boolean(bool v);
  Writer &integers(const std::vector<int64_t> &v);
  const std::string &str() const { return out; }

private:
  void separate();
  std::string out;
  std::vector<bool> first; // per open container: nothing written yet
  bool afterKey = false;
};

} // namespace ane::json

#endif // ANE_LIB_SUPPORT_JSON_H
