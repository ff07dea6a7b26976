//===- HfModel.cpp - Hugging Face checkpoint folders ----------------------===//

#include "lib/Model/HfModel.h"

#include "lib/Model/HfTokenizer.h"
#include "lib/Support/Json.h"
#include "lib/Support/MappedFile.h"

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <sys/stat.h>

namespace ane::model {
namespace {

using json::Value;

/// One tensor of a safetensors file.
struct Stored {
  std::shared_ptr<MappedFile> file;
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape;
  uint64_t offset = 0, bytes = 0; // absolute, in the file
};

bool isFile(const std::string &path) {
  struct stat s;
  return ::stat(path.c_str(), &s) == 0 && S_ISREG(s.st_mode);
}

/// The tensors of one safetensors file: an 8-byte little-endian header
/// length, the JSON header, then the data its offsets point into.
Status readSafetensors(const std::string &path,
                       std::map<std::string, Stored> &out) {
  auto file = MappedFile::open(path);
  if (!file.ok())
    return file.status();
  std::shared_ptr<MappedFile> f = *file;
  auto fail = [&](const std::string &what) {
    return Status::error(fmt::format("{}: {}", path, what));
  };
  if (f->size() < 8)
    return fail(
        fmt::format("{} bytes, shorter than the header length", f->size()));
  uint64_t headerBytes = 0;
  std::memcpy(&headerBytes, f->data(), 8); // little-endian, as the hosts
  if (headerBytes > f->size() - 8 || headerBytes > (uint64_t(100) << 20))
    return fail(fmt::format("offset 0: a header of {} bytes does not fit "
                            "the file's {}",
                            headerBytes, f->size()));
  auto header = json::parse(
      std::string_view(reinterpret_cast<const char *>(f->data()) + 8,
                       headerBytes),
      path);
  if (!header.ok())
    return header.status();
  if (header->kind != Value::Kind::Object)
    return fail("the header is not a JSON object");
  uint64_t dataStart = 8 + headerBytes, dataBytes = f->size() - dataStart;
  for (const auto &[name, v] : header->object) {
    if (name == "__metadata__")
      continue;
    auto bad = [&](const std::string &what) {
      return fail(fmt::format("tensor {}: {}", name, what));
    };
    const Value *dtype = v.get("dtype"), *shape = v.get("shape"),
                *offsets = v.get("data_offsets");
    if (!dtype || dtype->kind != Value::Kind::String || !shape ||
        shape->kind != Value::Kind::Array || !offsets ||
        offsets->kind != Value::Kind::Array || offsets->array.size() != 2)
      return bad("needs dtype, shape and two data_offsets");
    Stored s;
    s.file = f;
    if (dtype->string == "F32")
      s.type = TensorType::F32;
    else if (dtype->string == "F16")
      s.type = TensorType::F16;
    else if (dtype->string == "BF16")
      s.type = TensorType::BF16;
    else
      return bad("dtype " + dtype->string + " is not read (F32, F16, BF16)");
    uint64_t count = 1;
    for (const Value &d : shape->array) {
      if (!d.integral || d.integer < 0 || d.integer > (int64_t(1) << 32))
        return bad("a dimension is not a size");
      s.shape.push_back(d.integer);
      if (d.integer && count > (uint64_t(1) << 40) / uint64_t(d.integer))
        return bad("too many elements");
      count *= uint64_t(d.integer);
    }
    const Value &b = offsets->array[0], &e = offsets->array[1];
    if (!b.integral || !e.integral || b.integer < 0 || e.integer < b.integer ||
        uint64_t(e.integer) > dataBytes)
      return bad(fmt::format("data_offsets [{}, {}] lie outside the {} "
                             "bytes of data",
                             b.number, e.number, dataBytes));
    s.offset = dataStart + uint64_t(b.integer);
    s.bytes = uint64_t(e.integer - b.integer);
    uint64_t want = count * (s.type == TensorType::F32 ? 4 : 2);
    if (s.bytes != want)
      return bad(fmt::format("{} bytes of data for {} {} elements", s.bytes,
                             count, dtype->string));
    out[name] = std::move(s);
  }
  return Status::success();
}

/// Every tensor of the folder's safetensors file or shards.
Status readWeights(const std::string &dir,
                   std::map<std::string, Stored> &tensors) {
  std::string single = dir + "/model.safetensors";
  std::string index = dir + "/model.safetensors.index.json";
  if (isFile(single))
    return readSafetensors(single, tensors);
  if (!isFile(index))
    return Status::error(dir + ": neither model.safetensors nor "
                               "model.safetensors.index.json");
  auto doc = json::parseFile(index);
  if (!doc.ok())
    return doc.status();
  const Value *map = doc->get("weight_map");
  if (!map || map->kind != Value::Kind::Object)
    return Status::error(index + ": weight_map: missing");
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto &[name, file] : map->object) {
    if (file.kind != Value::Kind::String || file.string.empty() ||
        file.string.find('/') != std::string::npos)
      return Status::error(
          fmt::format("{}: weight_map[\"{}\"]: not a file name in the folder",
                      index, name));
    shards[file.string].push_back(name);
  }
  for (const auto &[shard, names] : shards) {
    std::string path = dir + "/" + shard;
    if (!isFile(path))
      return Status::error(fmt::format("{}: shard {} (holding {}) is missing",
                                       index, shard, names[0]));
    std::map<std::string, Stored> got;
    if (Status s = readSafetensors(path, got); !s.ok())
      return s;
    for (const std::string &n : names) {
      auto it = got.find(n);
      if (it == got.end())
        return Status::error(
            fmt::format("{}: {} names {} for tensor {}, which it does not hold",
                        index, shard, shard, n));
      tensors[n] = std::move(it->second);
    }
  }
  return Status::success();
}

/// The role and layer of a Hugging Face tensor name; none for tensors the
/// model does not use (rotary inv_freq buffers).
std::optional<std::pair<Role, int>> roleOf(const std::string &name) {
  static const std::pair<const char *, Role> globals[] = {
      {"model.embed_tokens.weight", Role::TokenEmbd},
      {"model.norm.weight", Role::OutputNorm},
      {"lm_head.weight", Role::Output}};
  for (const auto &[n, r] : globals)
    if (name == n)
      return std::make_pair(r, -1);
  static const std::pair<const char *, Role> perLayer[] = {
      {"input_layernorm.weight", Role::AttnNorm},
      {"self_attn.q_proj.weight", Role::AttnQ},
      {"self_attn.k_proj.weight", Role::AttnK},
      {"self_attn.v_proj.weight", Role::AttnV},
      {"self_attn.o_proj.weight", Role::AttnOut},
      {"post_attention_layernorm.weight", Role::FfnNorm},
      {"mlp.gate_proj.weight", Role::FfnGate},
      {"mlp.up_proj.weight", Role::FfnUp},
      {"mlp.down_proj.weight", Role::FfnDown},
      {"self_attn.q_proj.bias", Role::AttnQBias},
      {"self_attn.k_proj.bias", Role::AttnKBias},
      {"self_attn.v_proj.bias", Role::AttnVBias}};
  const std::string prefix = "model.layers.";
  if (name.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos)
    return std::nullopt;
  std::string digits = name.substr(prefix.size(), dot - prefix.size());
  if (digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  std::string rest = name.substr(dot + 1);
  for (const auto &[n, r] : perLayer)
    if (rest == n)
      return std::make_pair(r, std::stoi(digits));
  return std::nullopt;
}

/// rope_scaling of type "llama3" as frequency factors; other types are
/// refused by name.
Status readRopeScaling(const Value &scaling, const std::string &path,
                       Config &c) {
  auto fail = [&](const std::string &field, const std::string &what) {
    return Status::error(
        fmt::format("{}: rope_scaling.{}: {}", path, field, what));
  };
  if (scaling.kind != Value::Kind::Object)
    return fail("", "not an object");
  const Value *type = scaling.get("rope_type");
  if (!type)
    type = scaling.get("type");
  std::string t = type && type->kind == Value::Kind::String ? type->string : "";
  if (t != "llama3")
    return fail("rope_type", "'" + t + "' is not implemented (llama3 is)");
  double values[4];
  const char *keys[4] = {"factor", "low_freq_factor", "high_freq_factor",
                         "original_max_position_embeddings"};
  for (int i = 0; i < 4; ++i) {
    const Value *v = scaling.get(keys[i]);
    if (!v || v->kind != Value::Kind::Number || !(v->number > 0))
      return fail(keys[i], "missing or not positive");
    values[i] = v->number;
  }
  if (!(values[2] > values[1]))
    return fail("high_freq_factor", "must exceed low_freq_factor");
  c.ropeFreqFactors = llama3RopeFactors(c.ropeTheta, c.headDim, values[0],
                                        values[1], values[2], values[3]);
  return Status::success();
}

/// config.json's fields as our Config.
Result<Config> readConfig(const std::string &path) {
  auto doc = json::parseFile(path);
  if (!doc.ok())
    return doc.status();
  auto fail = [&](const std::string &field, const std::string &what) {
    return Status::error(fmt::format("{}: {}: {}", path, field, what));
  };
  const Value *archs = doc->get("architectures");
  std::string arch = archs && archs->kind == Value::Kind::Array &&
                             !archs->array.empty() &&
                             archs->array[0].kind == Value::Kind::String
                         ? archs->array[0].string
                         : "";
  if (arch != "LlamaForCausalLM" && arch != "MistralForCausalLM" &&
      arch != "Qwen2ForCausalLM")
    return fail("architectures",
                arch.empty() ? "missing"
                             : "'" + arch +
                                   "' is not read (LlamaForCausalLM, "
                                   "MistralForCausalLM and Qwen2ForCausalLM "
                                   "are)");
  auto integer = [&](const char *key, int64_t fallback) -> Result<int64_t> {
    const Value *v = doc->get(key);
    if (!v || v->kind == Value::Kind::Null) {
      if (fallback < 0)
        return fail(key, "missing");
      return fallback;
    }
    if (!v->integral || v->integer <= 0)
      return fail(key, "not a positive integer");
    return v->integer;
  };
  auto number = [&](const char *key, double fallback) -> Result<double> {
    const Value *v = doc->get(key);
    if (!v || v->kind == Value::Kind::Null)
      return fallback;
    if (v->kind != Value::Kind::Number || !(v->number > 0))
      return fail(key, "not a positive number");
    return v->number;
  };
  if (const Value *v = doc->get("mlp_bias");
      v && v->kind == Value::Kind::Bool && v->boolean)
    return fail("mlp_bias", "biases of the MLP are not in the kernels");
  Config c;
  // Llama's attention_bias also puts one on o_proj, which the kernels lack;
  // Qwen2 has q, k and v biases and no such key.
  if (const Value *v = doc->get("attention_bias");
      v && v->kind == Value::Kind::Bool && v->boolean)
    return fail("attention_bias", "an o_proj bias is not in the kernels "
                                  "(Qwen2's q/k/v biases are)");
  c.qkvBias = arch == "Qwen2ForCausalLM";
  struct Int {
    const char *key;
    int64_t *dest;
    int64_t fallback;
  };
  auto dim = integer("hidden_size", -1);
  if (!dim.ok())
    return dim.status();
  c.dim = *dim;
  auto heads = integer("num_attention_heads", -1);
  if (!heads.ok())
    return heads.status();
  c.nHeads = *heads;
  for (Int f : {Int{"intermediate_size", &c.hiddenDim, -1},
                Int{"num_hidden_layers", &c.nLayers, -1},
                Int{"num_key_value_heads", &c.nKvHeads, c.nHeads},
                Int{"head_dim", &c.headDim, c.dim / c.nHeads},
                Int{"vocab_size", &c.vocabSize, -1},
                Int{"max_position_embeddings", &c.maxSeqLen, 2048}}) {
    auto v = integer(f.key, f.fallback);
    if (!v.ok())
      return v.status();
    *f.dest = *v;
  }
  auto theta = number("rope_theta", 10000.0);
  auto eps = number("rms_norm_eps", 1e-6);
  if (!theta.ok())
    return theta.status();
  if (!eps.ok())
    return eps.status();
  c.ropeTheta = *theta;
  c.normEps = *eps;
  if (const Value *scaling = doc->get("rope_scaling");
      scaling && scaling->kind != Value::Kind::Null)
    if (Status s = readRopeScaling(*scaling, path, c); !s.ok())
      return s;
  const Value *tie = doc->get("tie_word_embeddings");
  c.sharedClassifier = tie && tie->kind == Value::Kind::Bool && tie->boolean;
  // The kernels attend to the whole context: no more than the window.
  // Qwen2 names a window it does not use unless use_sliding_window.
  const Value *use = doc->get("use_sliding_window");
  bool windowed = !use || use->kind != Value::Kind::Bool || use->boolean;
  if (const Value *w = doc->get("sliding_window");
      windowed && w && w->integral && w->integer > 0 &&
      w->integer < c.maxSeqLen) {
    c.slidingWindow = w->integer;
    c.maxSeqLen = w->integer;
  }
  if (Status s = c.validate(); !s.ok())
    return Status::error(path + ": " + s.message());
  return c;
}

} // namespace

bool isHfModelFolder(const std::string &path) {
  struct stat s;
  return ::stat(path.c_str(), &s) == 0 && S_ISDIR(s.st_mode) &&
         isFile(path + "/config.json");
}

Result<ModelSpec> openHfModel(const std::string &folder) {
  std::string dir = folder;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  auto config = readConfig(dir + "/config.json");
  if (!config.ok())
    return config.status();
  auto stored = std::make_shared<std::map<std::string, Stored>>();
  if (Status s = readWeights(dir, *stored); !s.ok())
    return s;
  ModelSpec spec;
  spec.source = dir;
  spec.format = "hf";
  spec.config = *config;
  for (const auto &[name, s] : *stored) {
    auto role = roleOf(name);
    bool bias =
        name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (bias && (!role || !spec.config.qkvBias))
      return Status::error(fmt::format(
          "{}: tensor {}: this bias is not in the kernels (Qwen2's q, k and "
          "v biases are)",
          s.file->path(), name));
    if (!role)
      continue;
    TensorInfo t;
    t.name = name;
    t.role = role->first;
    t.layer = role->second;
    t.type = s.type;
    t.shape = s.shape;
    t.bytes = s.bytes;
    if (isRopeRole(t.role))
      t.rotateHalfHead = spec.config.headDim;
    std::vector<int64_t> want = expectedShape(spec.config, t.role);
    if (t.role == Role::TokenEmbd || t.role == Role::Output)
      want = {spec.config.vocabSize, spec.config.dim};
    if (t.shape != want)
      return Status::error(fmt::format(
          "{}: tensor {} is [{}], config.json says [{}]", s.file->path(), name,
          fmt::join(t.shape, ", "), fmt::join(want, ", ")));
    if (t.layer >= spec.config.nLayers)
      return Status::error(
          fmt::format("{}: tensor {} is past the {} layers of config.json",
                      s.file->path(), name, spec.config.nLayers));
    spec.tensors.push_back(std::move(t));
  }
  if (!spec.config.sharedClassifier && !spec.find(Role::Output))
    spec.config.sharedClassifier = true; // lm_head missing: tied
  spec.generate = [stored](const TensorInfo &t) -> Result<TensorData> {
    const Stored &s = stored->at(t.name);
    TensorData d;
    d.type = s.type;
    d.shape = s.shape;
    d.size = s.bytes;
    d.data = s.file->data() + s.offset;
    d.file = s.file;
    return d;
  };
  std::string tokenizer = dir + "/tokenizer.json";
  if (isFile(tokenizer)) {
    auto t = readHfTokenizer(tokenizer);
    if (!t.ok())
      return t.status();
    if (int64_t(t->tokens.size()) > spec.config.vocabSize)
      return Status::error(fmt::format(
          "{}: {} tokens, more than the vocab_size {} of config.json",
          tokenizer, t->tokens.size(), spec.config.vocabSize));
    // The embedding may have rows past the tokenizer's (padding).
    while (int64_t(t->tokens.size()) < spec.config.vocabSize) {
      t->tokens.push_back("");
      t->types.push_back(kTokenUnused);
    }
    spec.tokenizer = std::move(*t);
  }
  return spec;
}

} // namespace ane::model
