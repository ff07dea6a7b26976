//===- GGUF.h - GGUF v2/v3 reader -------------------------------*- C++ -*-===//
//
// Layout: "GGUF", u32 version, u64 tensor count, u64 metadata count, then
// the metadata (string key, u32 type, value), the tensor infos (string name,
// u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset), padding to
// `general.alignment` (default 32), and the tensor data. Strings are a u64
// length and bytes; arrays a u32 element type, u64 count and the elements.
// Every count, length and offset is checked against the file before use.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_GGUF_H
#define ANE_LIB_MODEL_GGUF_H

#include "lib/Model/Model.h"

#include <string>
#include <string_view>
#include <vector>

namespace ane::model {

enum class GGUFType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};
std::string_view ggufTypeName(GGUFType type);

struct GGUFValue {
  GGUFType type = GGUFType::UInt8;
  uint64_t u = 0;                         // unsigned integers and bool
  int64_t i = 0;                          // signed integers
  double f = 0;                           // floats
  std::string_view s;                     // strings (a view into the file)
  GGUFType elementType = GGUFType::UInt8; // arrays
  std::vector<GGUFValue> items;           // arrays

  /// Any integer type as int64 (nullopt for others or out of range).
  std::optional<int64_t> asInt() const;
  /// Any numeric type as double.
  std::optional<double> asFloat() const;
};

struct GGUFTensor {
  std::string name;
  std::vector<uint64_t> ne; // ggml order: ne[0] is the innermost dimension
  uint32_t ggmlType = 0;
  uint64_t offset = 0;     // relative to the data section
  uint64_t infoOffset = 0; // where the tensor info starts, for messages
};

/// ggml's name for a type code ("q4_K", "f16", ...), or "type N".
std::string ggmlTypeName(uint32_t code);
/// Our TensorType for a ggml type code, if we read it.
std::optional<TensorType> tensorTypeForGgml(uint32_t code);
/// The ggml type code of a TensorType.
uint32_t ggmlCodeFor(TensorType type);

class GGUFFile {
public:
  /// Parses a mapped GGUF file; errors name the file, field and offset.
  static Result<GGUFFile> parse(std::shared_ptr<MappedFile> file);
  static Result<GGUFFile> open(const std::string &path);

  const GGUFValue *get(std::string_view key) const;

  uint32_t version = 0;
  std::vector<std::pair<std::string, GGUFValue>> metadata;
  std::vector<GGUFTensor> tensors;
  uint64_t alignment = 32;
  uint64_t dataOffset = 0;
  std::shared_ptr<MappedFile> file;
};

/// Builds the ModelSpec of a Llama-architecture GGUF file.
Result<ModelSpec> modelFromGGUF(const GGUFFile &gguf);

/// The vocabulary of a GGUF file, tensors or not (llama.cpp ships
/// vocabulary-only files: the tokenizer keys and no tensors).
Result<TokenizerData> tokenizerFromGGUF(const GGUFFile &gguf);

} // namespace ane::model

#endif // ANE_LIB_MODEL_GGUF_H
