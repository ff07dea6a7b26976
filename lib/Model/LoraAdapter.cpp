//===- LoraAdapter.cpp - LoRA adapters in llama.cpp's GGUF form -----------===//

#include "lib/Model/LoraAdapter.h"

#include "lib/Model/GGUF.h"
#include "lib/Model/GGUFWriter.h"

#include <fmt/format.h>

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

} // namespace ane::model
