//===- LoraAdapter.cpp - LoRA adapters in llama.cpp's GGUF form -----------===//

#include "lib/Model/LoraAdapter.h"

#include "lib/Model/GGUF.h"
#include "lib/Model/GGUFWriter.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <map>

namespace ane::model {
namespace {

constexpr Role kAdaptable[] = {Role::AttnQ,   Role::AttnK,   Role::AttnV,
                               Role::AttnOut, Role::FfnGate, Role::FfnUp,
                               Role::FfnDown};

std::optional<std::string_view> stringKey(const GGUFFile &g,
                                          std::string_view key) {
  const GGUFValue *v = g.get(key);
  if (!v || v->type != GGUFType::String)
    return std::nullopt;
  return v->s;
}

Status checkKind(const GGUFFile &g, const std::string &path) {
  for (auto [key, want] : {std::pair{"general.type", "adapter"},
                           std::pair{"adapter.type", "lora"}}) {
    auto got = stringKey(g, key);
    if (!got)
      return Status::error(
          fmt::format("{}: {} is missing: not a LoRA adapter", path, key));
    if (*got != want)
      return Status::error(
          fmt::format("{}: {} is '{}', not '{}'", path, key, *got, want));
  }
  auto arch = stringKey(g, "general.architecture");
  if (!arch || *arch != "llama")
    return Status::error(fmt::format(
        "{}: the adapter is for architecture '{}'; the model is 'llama'", path,
        arch ? *arch : std::string_view("(none)")));
  return Status::success();
}

struct Half {
  LoraPair pair;
  bool hasA = false, hasB = false;
};

} // namespace

bool isAdaptable(Role role) {
  for (Role r : kAdaptable)
    if (r == role)
      return true;
  return false;
}

const LoraPair *LoraAdapter::find(Role role, int layer) const {
  for (const LoraPair &p : pairs)
    if (p.role == role && p.layer == layer)
      return &p;
  return nullptr;
}

Result<LoraAdapter> readLoraAdapter(const std::string &path,
                                    const Config &config) {
  auto g = GGUFFile::open(path);
  if (!g.ok())
    return g.status();
  if (Status s = checkKind(*g, path); !s.ok())
    return s;
  LoraAdapter adapter;
  adapter.source = path;
  const GGUFValue *alpha = g->get("adapter.lora.alpha");
  if (!alpha || !alpha->asFloat())
    return Status::error(
        fmt::format("{}: adapter.lora.alpha is missing or not a number", path));
  adapter.alpha = float(*alpha->asFloat());
  if (const GGUFValue *steps = g->get("training.step"))
    adapter.trainedSteps = steps->asInt().value_or(-1);

  std::map<std::string, std::pair<Role, int>> bases;
  for (int l = 0; l < config.nLayers; ++l)
    for (Role r : kAdaptable)
      bases[ggufTensorName(r, l)] = {r, l};
  std::map<std::string, Half> halves;
  for (const GGUFTensor &t : g->tensors) {
    std::string field = fmt::format("{}: tensor '{}'", path, t.name);
    size_t dot = t.name.rfind('.');
    std::string base = t.name.substr(0, dot == std::string::npos ? 0 : dot);
    std::string suffix = dot == std::string::npos ? "" : t.name.substr(dot);
    auto known = bases.find(base);
    if (known == bases.end() || (suffix != ".lora_a" && suffix != ".lora_b"))
      return Status::error(field + " is not the lora_a or lora_b of a "
                                   "projection of this model");
    bool isA = suffix == ".lora_a";
    auto [role, layer] = known->second;
    std::optional<TensorType> type = tensorTypeForGgml(t.ggmlType);
    if (!type || (*type != TensorType::F32 && *type != TensorType::F16 &&
                  *type != TensorType::BF16))
      return Status::error(
          fmt::format("{} is {}; adapters are f32, f16 or bf16", field,
                      ggmlTypeName(t.ggmlType)));
    std::vector<int64_t> w = expectedShape(config, role); // [out, in]
    if (t.ne.size() != 2)
      return Status::error(field + " is not a matrix");
    int64_t rank = int64_t(isA ? t.ne[1] : t.ne[0]);
    int64_t other = int64_t(isA ? t.ne[0] : t.ne[1]);
    int64_t want = isA ? w[1] : w[0];
    if (other != want)
      return Status::error(
          fmt::format("{} has {} {} features; the base weight has {}", field,
                      other, isA ? "input" : "output", want));
    if (rank <= 0 || rank > 4096 || (adapter.rank && rank != adapter.rank))
      return Status::error(fmt::format(
          "{} has rank {}{}", field, rank,
          adapter.rank ? fmt::format(", the others {}", adapter.rank) : ""));
    adapter.rank = rank;
    TensorData data;
    data.type = *type;
    data.shape = {int64_t(t.ne[1]), int64_t(t.ne[0])};
    data.data = g->file->data() + g->dataOffset + t.offset;
    data.size = *tensorBytes(*type, data.numElements());
    Half &h = halves[base];
    h.pair.layer = layer;
    h.pair.role = role;
    if ((isA ? h.hasA : h.hasB))
      return Status::error(field + " appears twice");
    (isA ? h.hasA : h.hasB) = true;
    (isA ? h.pair.a : h.pair.b) = data.toFloat();
  }
  for (auto &[base, h] : halves) {
    if (!h.hasA || !h.hasB)
      return Status::error(fmt::format("{}: tensor '{}.{}' is missing", path,
                                       base, h.hasA ? "lora_b" : "lora_a"));
    adapter.pairs.push_back(std::move(h.pair));
  }
  if (adapter.pairs.empty())
    return Status::error(path + ": the adapter has no tensors");
  return adapter;
}

Status writeLoraAdapter(const std::string &path, const LoraAdapter &adapter) {
  GGUFWriter w;
  w.str("general.architecture", adapter.architecture);
  w.str("general.type", "adapter");
  w.str("adapter.type", "lora");
  w.f32("adapter.lora.alpha", adapter.alpha);
  if (adapter.trainedSteps >= 0)
    w.u64("training.step", uint64_t(adapter.trainedSteps));
  auto floats = [](const std::vector<float> &v) {
    std::vector<uint8_t> bytes(v.size() * sizeof(float));
    std::memcpy(bytes.data(), v.data(), bytes.size());
    return bytes;
  };
  uint32_t f32 = ggmlCodeFor(TensorType::F32);
  for (const LoraPair &p : adapter.pairs) {
    uint64_t r = uint64_t(adapter.rank);
    std::string base = ggufTensorName(p.role, p.layer);
    w.tensor(base + ".lora_a", {p.a.size() / r, r}, f32, floats(p.a));
    w.tensor(base + ".lora_b", {r, p.b.size() / r}, f32, floats(p.b));
  }
  return w.write(path);
}

LoraAdapter
combineAdapters(const std::vector<std::pair<LoraAdapter, double>> &adapters) {
  LoraAdapter out;
  std::vector<std::string> sources;
  for (const auto &[a, s] : adapters) {
    out.rank += a.rank;
    sources.push_back(a.source);
  }
  out.source = fmt::format("{}", fmt::join(sources, " + "));
  std::map<std::pair<int, Role>, LoraPair> pairs;
  int64_t at = 0, r = out.rank;
  for (const auto &[a, userScale] : adapters) {
    double s = a.scale(userScale);
    for (const LoraPair &p : a.pairs) {
      int64_t in = int64_t(p.a.size()) / a.rank;
      int64_t rows = int64_t(p.b.size()) / a.rank;
      LoraPair &c = pairs[{p.layer, p.role}];
      c.layer = p.layer;
      c.role = p.role;
      c.a.resize(size_t(r * in), 0.0f);
      c.b.resize(size_t(rows * r), 0.0f);
      for (int64_t j = 0; j < a.rank; ++j) {
        std::copy_n(p.a.begin() + j * in, in, c.a.begin() + (at + j) * in);
        for (int64_t o = 0; o < rows; ++o)
          c.b[size_t(o * r + at + j)] = float(s * p.b[size_t(o * a.rank + j)]);
      }
    }
    at += a.rank;
  }
  for (auto &[key, p] : pairs)
    out.pairs.push_back(std::move(p));
  return out;
}

ModelSpec mergeAdapter(const ModelSpec &spec, const LoraAdapter &adapter,
                       double userScale) {
  auto base = std::make_shared<const ModelSpec>(spec);
  auto lora = std::make_shared<const LoraAdapter>(adapter);
  double s = adapter.scale(userScale);
  if (s == 0)
    return spec; // exactly the base model, its own storage kept
  ModelSpec merged = spec;
  for (TensorInfo &t : merged.tensors) {
    // The base's load already returns adjacent-pair rows.
    t.rotateHalfHead = 0;
    if (t.layer >= 0 && adapter.find(t.role, t.layer)) {
      t.type = TensorType::F32;
      t.bytes = uint64_t(t.numElements()) * 4;
    }
  }
  merged.generate = [base, lora, s](const TensorInfo &t) -> Result<TensorData> {
    const TensorInfo *orig = base->find(t.role, t.layer);
    const LoraPair *p = t.layer >= 0 ? lora->find(t.role, t.layer) : nullptr;
    if (!orig || !p)
      return base->load(orig ? *orig : t);
    auto data = base->load(*orig);
    if (!data.ok())
      return data.status();
    auto w = std::make_shared<std::vector<float>>(data->toFloat());
    int64_t rows = orig->shape[0], cols = orig->shape[1], r = lora->rank;
    for (int64_t o = 0; o < rows; ++o)
      for (int64_t j = 0; j < r; ++j) {
        float b = float(s * p->b[size_t(o * r + j)]);
        if (b == 0.0f)
          continue;
        const float *a = p->a.data() + j * cols;
        float *row = w->data() + o * cols;
        for (int64_t i = 0; i < cols; ++i)
          row[i] += b * a[i];
      }
    TensorData d;
    d.type = TensorType::F32;
    d.shape = orig->shape;
    d.data = reinterpret_cast<const uint8_t *>(w->data());
    d.size = w->size() * sizeof(float);
    d.owner = w;
    return d;
  };
  return merged;
}

} // namespace ane::model
