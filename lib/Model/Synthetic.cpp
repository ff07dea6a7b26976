//===- Synthetic.cpp - deterministic random models of any size ------------===//

#include "lib/Model/Synthetic.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace ane::model {
namespace {

struct Preset {
  const char *name;
  Config config;
};

Config makeConfig(int64_t dim, int64_t layers, int64_t heads, int64_t kv,
                  int64_t hidden, int64_t vocab, int64_t ctx, double theta) {
  Config c;
  c.dim = dim;
  c.nLayers = layers;
  c.nHeads = heads;
  c.nKvHeads = kv;
  c.headDim = dim / heads;
  c.hiddenDim = hidden;
  c.vocabSize = vocab;
  c.maxSeqLen = ctx;
  c.ropeTheta = theta;
  c.normEps = 1e-5;
  return c;
}

const Preset kPresets[] = {
    {"tiny", makeConfig(64, 2, 4, 2, 176, 512, 256, 10000.0)},
    {"7b", makeConfig(4096, 32, 32, 32, 11008, 32000, 4096, 10000.0)},
    {"13b", makeConfig(5120, 40, 40, 40, 13824, 32000, 4096, 10000.0)},
    {"llama3-8b", makeConfig(4096, 32, 32, 8, 14336, 128256, 8192, 500000.0)},
};

uint64_t splitmix(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hashName(const std::string &s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (char c : s)
    h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

/// Matrices: uniform with the standard deviation 0.02 of common Llama inits;
/// norms: 1.0.
Result<TensorData> generate(const TensorInfo &t, uint64_t seed) {
  auto values = std::make_shared<std::vector<float>>(t.numElements());
  std::vector<float> &v = *values;
  bool isNorm = t.role == Role::AttnNorm || t.role == Role::FfnNorm ||
                t.role == Role::OutputNorm;
  if (isNorm) {
    std::fill(v.begin(), v.end(), 1.0f);
  } else {
    uint64_t state = hashName(t.name, seed);
    const float scale = 0.02f * std::sqrt(3.0f) / float(1u << 31);
    for (size_t i = 0; i + 1 < v.size(); i += 2) {
      uint64_t r = splitmix(state);
      v[i] = scale * static_cast<float>(static_cast<int32_t>(r));
      v[i + 1] = scale * static_cast<float>(static_cast<int32_t>(r >> 32));
    }
    if (v.size() % 2)
      v.back() =
          scale * static_cast<float>(static_cast<int32_t>(splitmix(state)));
  }
  TensorData d;
  d.type = TensorType::F32;
  d.shape = t.shape;
  d.data = reinterpret_cast<const uint8_t *>(v.data());
  d.size = v.size() * sizeof(float);
  d.owner = values;
  return d;
}

Status applyOverride(Config &c, uint64_t &seed, std::string_view key,
                     std::string_view value) {
  int64_t v = 0;
  auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  if (r.ec != std::errc() || r.ptr != value.data() + value.size() || v <= 0)
    return Status::error(fmt::format(
        "synthetic override {}={}: expected a positive integer", key, value));
  if (key == "layers")
    c.nLayers = v;
  else if (key == "seed")
    seed = static_cast<uint64_t>(v);
  else if (key == "ctx")
    c.maxSeqLen = v;
  else if (key == "vocab")
    c.vocabSize = v;
  else if (key == "hidden")
    c.hiddenDim = v;
  else if (key == "qkv_bias" && v == 1)
    c.qkvBias = true;
  else
    return Status::error(fmt::format(
        "unknown synthetic override '{}={}' (layers, seed, ctx, vocab, "
        "hidden, qkv_bias=1)",
        key, value));
  return Status::success();
}

} // namespace

TokenizerData syntheticTokenizer(int64_t size) {
  TokenizerData t;
  auto add = [&](std::string s, int32_t type) {
    if (static_cast<int64_t>(t.tokens.size()) >= size)
      return;
    t.tokens.push_back(std::move(s));
    t.scores.push_back(-static_cast<float>(t.tokens.size()));
    t.types.push_back(type);
  };
  add("<unk>", 2);
  add("<s>", 3);
  add("</s>", 3);
  for (int b = 0; b < 256; ++b)
    add(fmt::format("<0x{:02X}>", b), 6);
  for (char c = 32; c < 127; ++c)
    add(std::string(1, c), 1);
  // Then letter pairs and triples, with and without a leading space, so that
  // merges exist for ordinary words.
  const std::string letters = "etaoinshrdlucmfwypvbgkjqxz";
  for (const char *prefix : {" ", ""})
    for (char a : letters)
      for (char b : letters)
        add(prefix + std::string{a, b}, 1);
  for (char a : letters)
    for (char b : letters)
      for (char c : letters)
        for (const char *prefix : {" ", ""})
          add(prefix + std::string{a, b, c}, 1);
  for (int64_t i = static_cast<int64_t>(t.tokens.size()); i < size; ++i)
    add(fmt::format("<extra_{}>", i), 4);
  return t;
}

Result<ModelSpec> syntheticModel(const std::string &spec) {
  std::string name = spec.substr(0, spec.find('?'));
  const Preset *preset = nullptr;
  for (const Preset &p : kPresets)
    if (name == p.name)
      preset = &p;
  if (!preset)
    return Result<ModelSpec>::error(fmt::format(
        "unknown synthetic model '{}' (tiny, 7b, 13b, llama3-8b)", name));
  ModelSpec m;
  m.source = "synthetic:" + spec;
  m.format = "synthetic";
  m.config = preset->config;
  uint64_t seed = 1;
  if (size_t q = spec.find('?'); q != std::string::npos) {
    std::string_view rest(spec);
    rest.remove_prefix(q + 1);
    while (!rest.empty()) {
      std::string_view item = rest.substr(0, rest.find('&'));
      rest.remove_prefix(std::min(rest.size(), item.size() + 1));
      size_t eq = item.find('=');
      if (eq == std::string_view::npos)
        return Result<ModelSpec>::error(
            fmt::format("synthetic override '{}' needs key=value", item));
      if (Status s = applyOverride(m.config, seed, item.substr(0, eq),
                                   item.substr(eq + 1));
          !s.ok())
        return s;
    }
  }
  if (Status s = m.config.validate(); !s.ok())
    return Status::error(m.source + ": " + s.message());
  auto add = [&](Role role, int layer) {
    TensorInfo t;
    t.name = ggufTensorName(role, layer);
    t.role = role;
    t.layer = layer;
    t.type = TensorType::F32;
    t.shape = expectedShape(m.config, role);
    t.bytes = static_cast<uint64_t>(t.numElements()) * 4;
    m.tensors.push_back(std::move(t));
  };
  add(Role::TokenEmbd, -1);
  for (int l = 0; l < m.config.nLayers; ++l)
    for (Role r :
         {Role::AttnNorm, Role::AttnQ, Role::AttnK, Role::AttnV, Role::AttnOut,
          Role::FfnNorm, Role::FfnGate, Role::FfnUp, Role::FfnDown})
      add(r, l);
  for (int l = 0; m.config.qkvBias && l < m.config.nLayers; ++l)
    for (Role r : {Role::AttnQBias, Role::AttnKBias, Role::AttnVBias})
      add(r, l);
  add(Role::OutputNorm, -1);
  add(Role::Output, -1);
  m.tokenizer = syntheticTokenizer(m.config.vocabSize);
  m.generate = [seed](const TensorInfo &t) { return generate(t, seed); };
  return m;
}

} // namespace ane::model
