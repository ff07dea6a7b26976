//===- Program.h - in-memory MIL program ------------------------*- C++ -*-===//
//
// The MIL text model shared by the compiler (anemil <-> MIL) and the runtime
// (which executes parsed MIL). Plain C++17: no MLIR, no LLVM.
//
// Rank-0 tensors and bare scalars are one thing here (a Tensor with no dims);
// the printer spells them `tensor<int32, []>` or `int32` as the opset wants.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MIL_PROGRAM_H
#define ANE_LIB_MIL_PROGRAM_H

#include "lib/MIL/ShapeRules.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ane::mil {

/// MIL element types, with the spellings of MIL text.
enum class DType : uint8_t {
  Bool,
  String,
  FP16,
  FP32,
  FP64,
  BF16,
  Int4,
  Int8,
  Int16,
  Int32,
  Int64,
  UInt1,
  UInt2,
  UInt3,
  UInt4,
  UInt6,
  UInt8,
  UInt16,
  UInt32,
  UInt64,
};

std::string_view dtypeName(DType dtype);
std::optional<DType> parseDType(std::string_view name);
inline bool isFloatDType(DType d) {
  return d == DType::FP16 || d == DType::FP32 || d == DType::FP64 ||
         d == DType::BF16;
}
bool isSignedIntDType(DType dtype);
bool isUnsignedIntDType(DType dtype);
/// Bits per element (1 for bool; 0 for string).
int dtypeBits(DType dtype);

struct Type {
  enum class Kind { Tensor, List, Tuple, Dict, State };
  Kind kind = Kind::Tensor;
  DType dtype = DType::FP32;  // Tensor
  Shape dims;                 // Tensor; kDynamic for `?`, empty = rank 0
  std::vector<Type> elements; // List: 1, Tuple: n, Dict: key+value, State: 1
  std::optional<int64_t> listSize; // List: N, or nullopt for `?`

  static Type tensor(DType dtype, Shape dims) {
    Type t;
    t.dtype = dtype;
    t.dims = std::move(dims);
    return t;
  }
  static Type scalar(DType dtype) { return tensor(dtype, {}); }
  bool isTensor() const { return kind == Kind::Tensor; }
  bool isScalar() const { return isTensor() && dims.empty(); }
  int64_t numElements() const; // kDynamic if any dim is unknown
  bool operator==(const Type &o) const;
  bool operator!=(const Type &o) const { return !(*this == o); }
};

/// A literal or a reference in MIL text.
struct Value {
  enum class Kind {
    Int,    // 42, -1
    Float,  // 0x1.8p+0, nan, -inf
    Bool,   // true, false
    String, // "fp16"
    Ref,    // a value name used as an argument
    List,   // [a, b]
    Tuple,  // (a, b)
    Dict,   // {{k, v}, ...}: items alternate key, value
    Typed,  // TYPE(value)
    Call,   // BLOBFILE(path = ..., offset = ...)
  };
  Kind kind = Kind::Int;
  int64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
  std::string text; // String contents, Ref name, Call name
  std::vector<Value> items;
  std::shared_ptr<Type> type;                           // Typed
  std::vector<std::pair<std::string, Value>> namedArgs; // Call
  /// Ref: an index its consumer assigned when it loaded the program (the
  /// executor's value slot); -1 as parsed. Not part of the text.
  int32_t slot = -1;

  static Value makeInt(int64_t v);
  static Value makeFloat(double v);
  static Value makeBool(bool v);
  static Value makeString(std::string s);
  static Value makeRef(std::string name);
  static Value makeList(std::vector<Value> items);
  static Value makeTuple(std::vector<Value> items);
  static Value makeTyped(Type type, Value inner);
  /// `TYPE(BLOBFILE(path = ..., offset = ...))`.
  static Value makeBlobFile(Type type, std::string path, uint64_t offset);

  /// For a Typed value whose inner value is a BLOBFILE call: path and offset.
  bool isBlobFile() const;
  std::string blobPath() const;
  uint64_t blobOffset() const;
  /// Points a BLOBFILE value at another metadata record.
  void setBlobOffset(uint64_t offset);
};

struct Argument {
  std::string name;
  Value value;
};

struct Statement {
  struct Output {
    Type type;
    std::string name;
  };
  std::vector<Output> outputs; // empty for write_state
  std::string op;
  std::vector<Argument> args;
  std::vector<Argument> attrs;
  int line = 0; // 1-based source line, 0 if built in memory

  const Value *arg(std::string_view name) const;
  const Value *attr(std::string_view name) const;
};

struct Param {
  Type type;
  std::string name;
};

struct Function {
  std::string name;
  std::string opset; // "ios15" .. "ios18"
  std::vector<Param> params;
  std::vector<Argument> attrs;
  std::vector<Statement> body;
  std::vector<std::string> outputs;
  /// The opset number (15..18), or 0 if the tag is not iosNN.
  int opsetVersion() const;
};

struct Program {
  std::string version = "1.0";
  std::vector<Argument> attrs;
  std::vector<Function> functions;
  bool trailingNewline = false;

  const Function *function(std::string_view name) const;
};

/// Calls `f(value, statement)` for every BLOBFILE constant of `fn`, nested
/// ones included.
void forEachBlobFile(
    const Function &fn,
    const std::function<void(const Value &, const Statement &)> &f);
/// The same, with the constants open to change.
void forEachBlobFile(Function &fn,
                     const std::function<void(Value &, const Statement &)> &f);

} // namespace ane::mil

#endif // ANE_LIB_MIL_PROGRAM_H
