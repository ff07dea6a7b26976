//===- GGUF.cpp - GGUF v2/v3 reader ---------------------------------------===//

#include "lib/Model/GGUF.h"

#include <cstring>
#include <limits>
#include <set>

#include <fmt/format.h>

namespace ane::model {
namespace {

constexpr int kMaxArrayDepth = 4;
constexpr uint32_t kMaxDims = 4;

/// A bounds-checked little-endian reader over the mapped file.
class Cursor {
public:
  Cursor(const uint8_t *data, uint64_t size, std::string file)
      : data(data), size(size), file(std::move(file)) {}

  uint64_t pos = 0;

  Status fail(const std::string &field, const std::string &what) const {
    return Status::error(
        fmt::format("{}: {} at offset {}: {}", file, field, pos, what));
  }
  Status need(uint64_t n, const std::string &field) const {
    if (n > size - pos)
      return fail(field, fmt::format("needs {} bytes, the file ends after {}",
                                     n, size - pos));
    return Status::success();
  }
  uint64_t remaining() const { return size - pos; }

  template <typename T> Result<T> read(const std::string &field) {
    if (Status s = need(sizeof(T), field); !s.ok())
      return s;
    T v;
    std::memcpy(&v, data + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }

  Result<std::string_view> string(const std::string &field) {
    uint64_t at = pos;
    auto len = read<uint64_t>(field + " length");
    if (!len.ok())
      return len.status();
    if (*len > remaining()) {
      pos = at;
      return fail(field, fmt::format("string length {} exceeds the {} bytes "
                                     "left in the file",
                                     *len, remaining() - 8));
    }
    std::string_view s(reinterpret_cast<const char *>(data + pos), *len);
    pos += *len;
    return s;
  }

  const uint8_t *data;
  uint64_t size;
  std::string file;
};

/// The smallest encoding of a value of `type`, to bound array counts.
uint64_t minSize(GGUFType type) {
  switch (type) {
  case GGUFType::UInt8:
  case GGUFType::Int8:
  case GGUFType::Bool:
    return 1;
  case GGUFType::UInt16:
  case GGUFType::Int16:
    return 2;
  case GGUFType::UInt32:
  case GGUFType::Int32:
  case GGUFType::Float32:
    return 4;
  case GGUFType::String:
  case GGUFType::UInt64:
  case GGUFType::Int64:
  case GGUFType::Float64:
    return 8;
  case GGUFType::Array:
    return 12;
  }
  return 1;
}

Status readValue(Cursor &c, GGUFType type, const std::string &field,
                 GGUFValue &out, int depth) {
  out.type = type;
  auto num = [&](auto tag, auto store) -> Status {
    using T = decltype(tag);
    auto v = c.read<T>(field);
    if (!v.ok())
      return v.status();
    store(*v);
    return Status::success();
  };
  switch (type) {
  case GGUFType::UInt8:
    return num(uint8_t(), [&](uint8_t v) { out.u = v; });
  case GGUFType::Int8:
    return num(int8_t(), [&](int8_t v) { out.i = v; });
  case GGUFType::UInt16:
    return num(uint16_t(), [&](uint16_t v) { out.u = v; });
  case GGUFType::Int16:
    return num(int16_t(), [&](int16_t v) { out.i = v; });
  case GGUFType::UInt32:
    return num(uint32_t(), [&](uint32_t v) { out.u = v; });
  case GGUFType::Int32:
    return num(int32_t(), [&](int32_t v) { out.i = v; });
  case GGUFType::UInt64:
    return num(uint64_t(), [&](uint64_t v) { out.u = v; });
  case GGUFType::Int64:
    return num(int64_t(), [&](int64_t v) { out.i = v; });
  case GGUFType::Float32:
    return num(float(), [&](float v) { out.f = v; });
  case GGUFType::Float64:
    return num(double(), [&](double v) { out.f = v; });
  case GGUFType::Bool: {
    auto v = c.read<uint8_t>(field);
    if (!v.ok())
      return v.status();
    if (*v > 1)
      return c.fail(field, fmt::format("bool value {} is not 0 or 1", *v));
    out.u = *v;
    return Status::success();
  }
  case GGUFType::String: {
    auto s = c.string(field);
    if (!s.ok())
      return s.status();
    out.s = *s;
    return Status::success();
  }
  case GGUFType::Array: {
    if (depth >= kMaxArrayDepth)
      return c.fail(field, "arrays nested too deeply");
    uint64_t at = c.pos;
    auto et = c.read<uint32_t>(field + " element type");
    if (!et.ok())
      return et.status();
    if (*et > static_cast<uint32_t>(GGUFType::Float64)) {
      c.pos = at;
      return c.fail(field, fmt::format("unknown array element type {}", *et));
    }
    out.elementType = static_cast<GGUFType>(*et);
    auto count = c.read<uint64_t>(field + " count");
    if (!count.ok())
      return count.status();
    if (*count > c.remaining() / minSize(out.elementType)) {
      c.pos -= 8;
      return c.fail(field, fmt::format("array count {} cannot fit in the {} "
                                       "bytes left",
                                       *count, c.remaining() - 8));
    }
    out.items.resize(*count);
    for (uint64_t k = 0; k < *count; ++k)
      if (Status s =
              readValue(c, out.elementType, fmt::format("{}[{}]", field, k),
                        out.items[k], depth + 1);
          !s.ok())
        return s;
    return Status::success();
  }
  }
  return c.fail(field, "unknown value type");
}

struct GgmlType {
  uint32_t code;
  const char *name;
  std::optional<TensorType> type;
};
constexpr GgmlType kGgmlTypes[] = {
    {0, "f32", TensorType::F32},    {1, "f16", TensorType::F16},
    {2, "q4_0", TensorType::Q4_0},  {3, "q4_1", TensorType::Q4_1},
    {6, "q5_0", std::nullopt},      {7, "q5_1", std::nullopt},
    {8, "q8_0", TensorType::Q8_0},  {9, "q8_1", std::nullopt},
    {10, "q2_K", std::nullopt},     {11, "q3_K", std::nullopt},
    {12, "q4_K", TensorType::Q4_K}, {13, "q5_K", std::nullopt},
    {14, "q6_K", TensorType::Q6_K}, {15, "q8_K", std::nullopt},
    {30, "bf16", TensorType::BF16},
};

} // namespace

std::string_view ggufTypeName(GGUFType t) {
  static const char *names[] = {
      "uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
      "bool",  "string", "array",  "uint64", "int64",  "float64"};
  auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

std::optional<int64_t> GGUFValue::asInt() const {
  switch (type) {
  case GGUFType::UInt8:
  case GGUFType::UInt16:
  case GGUFType::UInt32:
  case GGUFType::UInt64:
  case GGUFType::Bool:
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(u);
  case GGUFType::Int8:
  case GGUFType::Int16:
  case GGUFType::Int32:
  case GGUFType::Int64:
    return i;
  default:
    return std::nullopt;
  }
}

std::optional<double> GGUFValue::asFloat() const {
  if (type == GGUFType::Float32 || type == GGUFType::Float64)
    return f;
  if (auto v = asInt())
    return static_cast<double>(*v);
  return std::nullopt;
}

std::string ggmlTypeName(uint32_t code) {
  for (const GgmlType &t : kGgmlTypes)
    if (t.code == code)
      return t.name;
  return fmt::format("code {}", code);
}

std::optional<TensorType> tensorTypeForGgml(uint32_t code) {
  for (const GgmlType &t : kGgmlTypes)
    if (t.code == code)
      return t.type;
  return std::nullopt;
}

uint32_t ggmlCodeFor(TensorType type) {
  for (const GgmlType &t : kGgmlTypes)
    if (t.type == type)
      return t.code;
  return 0;
}

const GGUFValue *GGUFFile::get(std::string_view key) const {
  for (const auto &[k, v] : metadata)
    if (k == key)
      return &v;
  return nullptr;
}

Result<GGUFFile> GGUFFile::open(const std::string &path) {
  auto file = MappedFile::open(path);
  if (!file.ok())
    return file.status();
  return parse(*file);
}

Result<GGUFFile> GGUFFile::parse(std::shared_ptr<MappedFile> mapped) {
  Cursor c(mapped->data(), mapped->size(), mapped->path());
  GGUFFile g;
  g.file = mapped;
  auto magic = c.read<uint32_t>("magic");
  if (!magic.ok())
    return magic.status();
  if (*magic != 0x46554747u) { // "GGUF"
    c.pos = 0;
    return c.fail("magic", "not a GGUF file");
  }
  auto version = c.read<uint32_t>("version");
  if (!version.ok())
    return version.status();
  if (*version != 2 && *version != 3) {
    c.pos -= 4;
    return c.fail("version",
                  fmt::format("unsupported GGUF version {} (2 and 3 are read)",
                              *version));
  }
  g.version = *version;
  auto nTensors = c.read<uint64_t>("tensor count");
  if (!nTensors.ok())
    return nTensors.status();
  auto nKv = c.read<uint64_t>("metadata count");
  if (!nKv.ok())
    return nKv.status();
  // Each entry takes at least 12 (metadata) or 28 (tensor info) bytes.
  if (*nKv > c.remaining() / 12) {
    c.pos -= 8;
    return c.fail("metadata count",
                  fmt::format("{} entries cannot fit in the file", *nKv));
  }
  if (*nTensors > c.remaining() / 28) {
    c.pos -= 16;
    return c.fail("tensor count",
                  fmt::format("{} tensors cannot fit in the file", *nTensors));
  }
  std::set<std::string_view> keys;
  for (uint64_t k = 0; k < *nKv; ++k) {
    auto key = c.string(fmt::format("metadata key #{}", k));
    if (!key.ok())
      return key.status();
    if (!keys.insert(*key).second)
      return c.fail(fmt::format("metadata key '{}'", *key), "duplicate key");
    uint64_t at = c.pos;
    auto type = c.read<uint32_t>(fmt::format("type of '{}'", *key));
    if (!type.ok())
      return type.status();
    if (*type > static_cast<uint32_t>(GGUFType::Float64)) {
      c.pos = at;
      return c.fail(fmt::format("type of '{}'", *key),
                    fmt::format("unknown value type {}", *type));
    }
    GGUFValue v;
    if (Status s = readValue(c, static_cast<GGUFType>(*type),
                             fmt::format("value of '{}'", *key), v, 0);
        !s.ok())
      return s;
    g.metadata.emplace_back(std::string(*key), std::move(v));
  }
  if (const GGUFValue *a = g.get("general.alignment")) {
    auto v = a->asInt();
    if (!v || *v <= 0 || *v > 65536 || (*v & (*v - 1)) != 0)
      return Result<GGUFFile>::error(fmt::format(
          "{}: general.alignment must be a power of two up to 65536",
          mapped->path()));
    g.alignment = static_cast<uint64_t>(*v);
  }
  std::set<std::string> names;
  for (uint64_t t = 0; t < *nTensors; ++t) {
    GGUFTensor info;
    info.infoOffset = c.pos;
    auto name = c.string(fmt::format("tensor #{} name", t));
    if (!name.ok())
      return name.status();
    info.name = std::string(*name);
    std::string field = fmt::format("tensor '{}'", info.name);
    if (!names.insert(info.name).second)
      return c.fail(field, "duplicate tensor name");
    auto nDims = c.read<uint32_t>(field + " n_dims");
    if (!nDims.ok())
      return nDims.status();
    if (*nDims == 0 || *nDims > kMaxDims) {
      c.pos -= 4;
      return c.fail(
          field + " n_dims",
          fmt::format("{} dimensions (1 to {} allowed)", *nDims, kMaxDims));
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < *nDims; ++d) {
      auto ne = c.read<uint64_t>(fmt::format("{} dim {}", field, d));
      if (!ne.ok())
        return ne.status();
      if (*ne == 0 || *ne > (uint64_t(1) << 40) ||
          elements > (uint64_t(1) << 50) / *ne) {
        c.pos -= 8;
        return c.fail(fmt::format("{} dim {}", field, d),
                      fmt::format("size {} is invalid or overflows", *ne));
      }
      elements *= *ne;
      info.ne.push_back(*ne);
    }
    auto type = c.read<uint32_t>(field + " type");
    if (!type.ok())
      return type.status();
    info.ggmlType = *type;
    auto offset = c.read<uint64_t>(field + " offset");
    if (!offset.ok())
      return offset.status();
    info.offset = *offset;
    g.tensors.push_back(std::move(info));
  }
  g.dataOffset = (c.pos + g.alignment - 1) / g.alignment * g.alignment;
  if (g.dataOffset > c.size && !g.tensors.empty())
    return c.fail("data section", "starts past the end of the file");
  uint64_t dataSize = c.size > g.dataOffset ? c.size - g.dataOffset : 0;
  for (const GGUFTensor &t : g.tensors) {
    auto type = tensorTypeForGgml(t.ggmlType);
    c.pos = t.infoOffset;
    std::string field = fmt::format("tensor '{}'", t.name);
    if (!type)
      return c.fail(field,
                    fmt::format("type {} is not supported (f32, f16, "
                                "bf16, q8_0, q4_0, q4_1, q4_K, q6_K are)",
                                ggmlTypeName(t.ggmlType)));
    int64_t count = 1;
    for (uint64_t ne : t.ne)
      count *= static_cast<int64_t>(ne);
    if (t.ne[0] % blockElements(*type) != 0)
      return c.fail(field, fmt::format("row of {} elements is not a whole "
                                       "number of {} blocks",
                                       t.ne[0], ggmlTypeName(t.ggmlType)));
    uint64_t bytes = *tensorBytes(*type, count);
    if (t.offset % g.alignment != 0)
      return c.fail(field, fmt::format("data offset {} is not aligned to {}",
                                       t.offset, g.alignment));
    if (t.offset > dataSize || bytes > dataSize - t.offset)
      return c.fail(field, fmt::format("data [{}, +{}) lies outside the {} "
                                       "bytes of the data section",
                                       t.offset, bytes, dataSize));
  }
  return g;
}

//===----------------------------------------------------------------------===//
// Llama models
//===----------------------------------------------------------------------===//

namespace {

struct NamedRole {
  const char *suffix;
  Role role;
};
constexpr NamedRole kLayerRoles[] = {
    {"attn_norm", Role::AttnNorm},  {"attn_q", Role::AttnQ},
    {"attn_k", Role::AttnK},        {"attn_v", Role::AttnV},
    {"attn_output", Role::AttnOut}, {"ffn_norm", Role::FfnNorm},
    {"ffn_gate", Role::FfnGate},    {"ffn_up", Role::FfnUp},
    {"ffn_down", Role::FfnDown},
};
constexpr NamedRole kBiasRoles[] = {{"attn_q", Role::AttnQBias},
                                    {"attn_k", Role::AttnKBias},
                                    {"attn_v", Role::AttnVBias}};

/// Role and layer of a GGUF tensor name; nullopt for tensors we do not use.
std::optional<std::pair<Role, int>> roleOf(const std::string &name) {
  if (name == "token_embd.weight")
    return std::pair{Role::TokenEmbd, -1};
  if (name == "output_norm.weight")
    return std::pair{Role::OutputNorm, -1};
  if (name == "output.weight")
    return std::pair{Role::Output, -1};
  int layer = 0;
  char suffix[32] = {0}, kind[8] = {0};
  int consumed = 0;
  if (std::sscanf(name.c_str(), "blk.%d.%31[a-z_].%7[a-z]%n", &layer, suffix,
                  kind, &consumed) != 3 ||
      static_cast<size_t>(consumed) != name.size() || layer < 0)
    return std::nullopt;
  if (std::strcmp(kind, "weight") == 0) {
    for (const NamedRole &r : kLayerRoles)
      if (std::strcmp(r.suffix, suffix) == 0)
        return std::pair{r.role, layer};
  } else if (std::strcmp(kind, "bias") == 0) {
    for (const NamedRole &r : kBiasRoles)
      if (std::strcmp(r.suffix, suffix) == 0)
        return std::pair{r.role, layer};
  }
  return std::nullopt;
}

Result<int64_t> requiredInt(const GGUFFile &g, const std::string &key) {
  const GGUFValue *v = g.get(key);
  if (!v)
    return Result<int64_t>::error(
        fmt::format("{}: missing metadata '{}'", g.file->path(), key));
  auto i = v->asInt();
  if (!i)
    return Result<int64_t>::error(
        fmt::format("{}: metadata '{}' must be an integer, is {}",
                    g.file->path(), key, ggufTypeName(v->type)));
  return *i;
}

/// rope_freqs.weight: llama.cpp's per-frequency RoPE divisors (Llama 3.1),
/// F32, one per rotated pair.
Status readRopeFactors(const GGUFFile &g, const GGUFTensor &t, Config &c) {
  const std::string &path = g.file->path();
  uint64_t n = t.ne.empty() ? 0 : t.ne[0];
  if (t.ggmlType != 0 || t.ne.size() != 1 || n == 0 || n > 65536)
    return Status::error(fmt::format(
        "{}: rope_freqs.weight must be a 1-D f32 tensor, is {} [{}]", path,
        ggmlTypeName(t.ggmlType), fmt::join(t.ne, ", ")));
  uint64_t at = g.dataOffset + t.offset;
  if (at > g.file->size() || n * 4 > g.file->size() - at)
    return Status::error(fmt::format(
        "{}: rope_freqs.weight at offset {} lies outside the file", path, at));
  c.ropeFreqFactors.resize(n);
  std::memcpy(c.ropeFreqFactors.data(), g.file->data() + at, n * 4);
  return Status::success();
}

Status readTokenizer(const GGUFFile &g, ModelSpec &spec) {
  const GGUFValue *tokens = g.get("tokenizer.ggml.tokens");
  if (!tokens)
    return Status::success();
  auto fail = [&](const std::string &what) {
    return Status::error(fmt::format("{}: {}", g.file->path(), what));
  };
  if (tokens->type != GGUFType::Array ||
      tokens->elementType != GGUFType::String)
    return fail("tokenizer.ggml.tokens must be an array of strings");
  TokenizerData t;
  if (const GGUFValue *m = g.get("tokenizer.ggml.model"))
    t.model = std::string(m->s);
  for (const GGUFValue &v : tokens->items)
    t.tokens.emplace_back(v.s);
  if (const GGUFValue *scores = g.get("tokenizer.ggml.scores")) {
    if (scores->type != GGUFType::Array ||
        scores->items.size() != t.tokens.size())
      return fail("tokenizer.ggml.scores must have one score per token");
    for (const GGUFValue &v : scores->items)
      t.scores.push_back(static_cast<float>(v.asFloat().value_or(0)));
  } else {
    t.scores.assign(t.tokens.size(), 0.0f);
  }
  if (const GGUFValue *types = g.get("tokenizer.ggml.token_type")) {
    if (types->type != GGUFType::Array ||
        types->items.size() != t.tokens.size())
      return fail("tokenizer.ggml.token_type must have one type per token");
    for (const GGUFValue &v : types->items)
      t.types.push_back(static_cast<int32_t>(v.asInt().value_or(0)));
  }
  if (const GGUFValue *tmpl = g.get("tokenizer.chat_template")) {
    if (tmpl->type != GGUFType::String)
      return fail("tokenizer.chat_template must be a string");
    t.chatTemplate = std::string(tmpl->s);
  }
  int64_t n = static_cast<int64_t>(t.tokens.size());
  for (auto [key, dest] : {std::pair{"tokenizer.ggml.bos_token_id", &t.bos},
                           std::pair{"tokenizer.ggml.eos_token_id", &t.eos}}) {
    if (const GGUFValue *v = g.get(key)) {
      auto id = v->asInt();
      if (!id || *id < 0 || *id >= n)
        return fail(fmt::format("{} is out of range", key));
      *dest = static_cast<int32_t>(*id);
    }
  }
  for (const char *key :
       {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (const GGUFValue *v = g.get(key)) {
      auto id = v->asInt();
      // llama.cpp's writers store -1 (as 0xFFFFFFFF) for "none".
      if (id && *id >= 0 && *id < n)
        t.endOfGeneration.push_back(int32_t(*id));
    }
  for (auto [key, dest] :
       {std::pair{"tokenizer.ggml.add_bos_token", &t.addBos},
        std::pair{"tokenizer.ggml.add_eos_token", &t.addEos}})
    if (const GGUFValue *v = g.get(key)) {
      if (v->type != GGUFType::Bool)
        return fail(fmt::format("{} must be a bool", key));
      *dest = v->asInt().value_or(0) != 0;
    }
  if (const GGUFValue *pre = g.get("tokenizer.ggml.pre")) {
    if (pre->type != GGUFType::String)
      return fail("tokenizer.ggml.pre must be a string");
    t.pre = std::string(pre->s);
  }
  if (const GGUFValue *merges = g.get("tokenizer.ggml.merges")) {
    if (merges->type != GGUFType::Array ||
        merges->elementType != GGUFType::String)
      return fail("tokenizer.ggml.merges must be an array of strings");
    for (const GGUFValue &v : merges->items)
      t.merges.emplace_back(v.s);
  }
  if (t.model == "gpt2") {
    // llama.cpp's rules: Llama 3's pre-tokens that are tokens skip the
    // merges; a gpt2 vocabulary without the flag adds no BOS.
    t.ignoreMerges = t.pre == "llama3" || t.pre == "llama-bpe";
    if (!g.get("tokenizer.ggml.add_bos_token"))
      t.addBos = t.ignoreMerges;
  }
  spec.tokenizer = std::move(t);
  return Status::success();
}

} // namespace

Result<TokenizerData> tokenizerFromGGUF(const GGUFFile &g) {
  if (!g.get("tokenizer.ggml.tokens"))
    return Status::error(g.file->path() +
                         ": no tokenizer.ggml.tokens (not a vocabulary)");
  ModelSpec holder;
  if (Status s = readTokenizer(g, holder); !s.ok())
    return s;
  return std::move(*holder.tokenizer);
}

namespace {} // namespace

Result<ModelSpec> modelFromGGUF(const GGUFFile &g) {
  const std::string &path = g.file->path();
  const GGUFValue *arch = g.get("general.architecture");
  if (!arch || arch->type != GGUFType::String)
    return Result<ModelSpec>::error(
        path + ": missing metadata 'general.architecture'");
  // qwen2 is llama with q/k/v biases and NEOX RoPE: llama.cpp's converter
  // keeps its q and k rows in Hugging Face's rotate-half order.
  bool qwen2 = arch->s == "qwen2";
  if (arch->s != "llama" && !qwen2)
    return Result<ModelSpec>::error(fmt::format(
        "{}: architecture '{}' is not supported (llama and qwen2 are)", path,
        arch->s));
  ModelSpec spec;
  spec.source = path;
  spec.format = "gguf";
  spec.file = g.file;
  Config &c = spec.config;
  std::string p = std::string(arch->s) + ".";
  for (auto [key, dest] : {std::pair{"embedding_length", &c.dim},
                           std::pair{"block_count", &c.nLayers},
                           std::pair{"attention.head_count", &c.nHeads},
                           std::pair{"feed_forward_length", &c.hiddenDim},
                           std::pair{"context_length", &c.maxSeqLen}}) {
    auto v = requiredInt(g, p + key);
    if (!v.ok())
      return v.status();
    *dest = *v;
  }
  c.nKvHeads = c.nHeads;
  if (g.get(p + "attention.head_count_kv")) {
    auto v = requiredInt(g, p + "attention.head_count_kv");
    if (!v.ok())
      return v.status();
    c.nKvHeads = *v;
  }
  c.headDim = c.nHeads > 0 ? c.dim / c.nHeads : 0;
  // RoPE over part of a head (rotary dims < head_dim) is not supported:
  // such a file would load and produce garbage.
  if (g.get(p + "rope.dimension_count")) {
    auto rot = requiredInt(g, p + "rope.dimension_count");
    if (!rot.ok())
      return rot.status();
    if (*rot != c.headDim)
      return Status::error(fmt::format(
          "{}: {}rope.dimension_count is {}; RoPE must rotate whole heads "
          "(head_dim {})",
          path, p, *rot, c.headDim));
  }
  for (auto [key, dest] :
       {std::pair{"rope.freq_base", &c.ropeTheta},
        std::pair{"attention.layer_norm_rms_epsilon", &c.normEps}})
    if (const GGUFValue *v = g.get(p + key)) {
      std::optional<double> f = v->asFloat();
      if (!f)
        return Status::error(
            fmt::format("{}: {}{} is not a number", path, p, key));
      *dest = *f;
    }
  if (Status s = readTokenizer(g, spec); !s.ok())
    return s;

  for (const GGUFTensor &t : g.tensors) {
    if (t.name == "rope_freqs.weight") {
      if (Status s = readRopeFactors(g, t, c); !s.ok())
        return s;
      continue;
    }
    auto role = roleOf(t.name);
    if (!role)
      continue;
    TensorInfo info;
    info.name = t.name;
    info.role = role->first;
    info.layer = role->second;
    info.type = *tensorTypeForGgml(t.ggmlType);
    for (auto it = t.ne.rbegin(); it != t.ne.rend(); ++it)
      info.shape.push_back(static_cast<int64_t>(*it));
    info.bytes = *tensorBytes(info.type, info.numElements());
    info.fileOffset = g.dataOffset + t.offset;
    c.qkvBias |= isBiasRole(info.role);
    if (qwen2 && isRopeRole(info.role))
      info.rotateHalfHead = c.headDim;
    spec.tensors.push_back(std::move(info));
  }
  if (const TensorInfo *embd = spec.find(Role::TokenEmbd))
    c.vocabSize = embd->shape.at(0);
  if (!spec.find(Role::Output))
    c.sharedClassifier = true;
  if (Status s = c.validate(); !s.ok())
    return Status::error(path + ": " + s.message());
  if (spec.tokenizer &&
      static_cast<int64_t>(spec.tokenizer->tokens.size()) != c.vocabSize)
    return Result<ModelSpec>::error(fmt::format(
        "{}: the tokenizer has {} tokens, token_embd.weight has {} rows", path,
        spec.tokenizer->tokens.size(), c.vocabSize));
  return spec;
}

} // namespace ane::model
