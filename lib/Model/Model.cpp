//===- Model.cpp - a Llama-family model as read from any source -----------===//

#include "lib/Model/Model.h"

#include "lib/Support/FileKinds.h"

#include "lib/Model/GGUF.h"
#include "lib/Model/HfModel.h"
#include "lib/Model/Llama2c.h"
#include "lib/Model/Quant.h"
#include "lib/Model/Synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include <fmt/format.h>

namespace ane::model {

Status Config::validate() const {
  // Bounds well past every released Llama-family model (405B: dim 16384,
  // 126 layers, 128 heads; vocabularies to 256k; contexts to 128k), low
  // enough that a wrong or hostile value cannot make a tool run for hours.
  struct Field {
    const char *name;
    int64_t value, max;
  } fields[] = {{"dim", dim, int64_t(1) << 16},
                {"n_layers", nLayers, 1024},
                {"n_heads", nHeads, 4096},
                {"n_kv_heads", nKvHeads, 4096},
                {"hidden_dim", hiddenDim, int64_t(1) << 20},
                {"vocab_size", vocabSize, int64_t(1) << 21},
                {"max_seq_len", maxSeqLen, int64_t(1) << 24}};
  for (const Field &f : fields)
    if (f.value <= 0 || f.value > f.max)
      return Status::error(fmt::format("{} = {} is out of range (1 to {})",
                                       f.name, f.value, f.max));
  if (dim % nHeads != 0)
    return Status::error(
        fmt::format("n_heads {} does not divide dim {}", nHeads, dim));
  if (nHeads % nKvHeads != 0)
    return Status::error(fmt::format("n_kv_heads {} does not divide n_heads {}",
                                     nKvHeads, nHeads));
  if (headDim != dim / nHeads || headDim % 2 != 0)
    return Status::error(
        fmt::format("head_dim {} must be dim / n_heads and even", headDim));
  if (!(ropeTheta > 0) || !(normEps > 0))
    return Status::error("rope_theta and norm_eps must be positive");
  if (!ropeFreqFactors.empty() &&
      int64_t(ropeFreqFactors.size()) != headDim / 2)
    return Status::error(fmt::format(
        "{} RoPE frequency factors for head_dim {} (one per pair: {})",
        ropeFreqFactors.size(), headDim, headDim / 2));
  for (float f : ropeFreqFactors)
    if (!(f > 0) || !std::isfinite(f))
      return Status::error("RoPE frequency factors must be positive");
  return Status::success();
}

double Config::ropeFrequency(int64_t p) const {
  double f = std::pow(ropeTheta, -2.0 * double(p) / double(headDim));
  return ropeFreqFactors.empty() ? f : f / double(ropeFreqFactors[p]);
}

std::vector<float> llama3RopeFactors(double theta, int64_t headDim,
                                     double factor, double lowFreqFactor,
                                     double highFreqFactor,
                                     double originalContext) {
  const double pi = 3.14159265358979323846;
  double lowWave = originalContext / lowFreqFactor;
  double highWave = originalContext / highFreqFactor;
  std::vector<float> out;
  for (int64_t p = 0; p < headDim / 2; ++p) {
    double wave = 2 * pi * std::pow(theta, 2.0 * double(p) / double(headDim));
    if (wave < highWave) {
      out.push_back(1.0f);
    } else if (wave > lowWave) {
      out.push_back(float(factor));
    } else {
      double smooth = (originalContext / wave - lowFreqFactor) /
                      (highFreqFactor - lowFreqFactor);
      out.push_back(float(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

std::optional<Role> parseRole(std::string_view name) {
  for (int r = 0; r <= int(Role::AttnVBias); ++r)
    if (roleName(Role(r)) == name)
      return Role(r);
  return std::nullopt;
}

std::string_view roleName(Role role) {
  switch (role) {
  case Role::TokenEmbd:
    return "token_embd";
  case Role::AttnNorm:
    return "attn_norm";
  case Role::AttnQ:
    return "attn_q";
  case Role::AttnK:
    return "attn_k";
  case Role::AttnV:
    return "attn_v";
  case Role::AttnOut:
    return "attn_out";
  case Role::FfnNorm:
    return "ffn_norm";
  case Role::FfnGate:
    return "ffn_gate";
  case Role::FfnUp:
    return "ffn_up";
  case Role::FfnDown:
    return "ffn_down";
  case Role::OutputNorm:
    return "output_norm";
  case Role::Output:
    return "output";
  case Role::AttnQBias:
    return "attn_q_bias";
  case Role::AttnKBias:
    return "attn_k_bias";
  case Role::AttnVBias:
    return "attn_v_bias";
  }
  return "?";
}

bool isRopeRole(Role role) {
  return role == Role::AttnQ || role == Role::AttnK ||
         role == Role::AttnQBias || role == Role::AttnKBias;
}

bool isBiasRole(Role role) {
  return role == Role::AttnQBias || role == Role::AttnKBias ||
         role == Role::AttnVBias;
}

std::string ggufTensorName(Role role, int layer) {
  switch (role) {
  case Role::TokenEmbd:
    return "token_embd.weight";
  case Role::OutputNorm:
    return "output_norm.weight";
  case Role::Output:
    return "output.weight";
  case Role::AttnOut:
    return fmt::format("blk.{}.attn_output.weight", layer);
  case Role::AttnQBias:
    return fmt::format("blk.{}.attn_q.bias", layer);
  case Role::AttnKBias:
    return fmt::format("blk.{}.attn_k.bias", layer);
  case Role::AttnVBias:
    return fmt::format("blk.{}.attn_v.bias", layer);
  default:
    return fmt::format("blk.{}.{}.weight", layer, roleName(role));
  }
}

std::vector<int64_t> expectedShape(const Config &c, Role role) {
  int64_t q = c.nHeads * c.headDim;
  switch (role) {
  case Role::TokenEmbd:
  case Role::Output:
    return {c.vocabSize, c.dim};
  case Role::AttnNorm:
  case Role::FfnNorm:
  case Role::OutputNorm:
    return {c.dim};
  case Role::AttnQ:
    return {q, c.dim};
  case Role::AttnK:
  case Role::AttnV:
    return {c.kvDim(), c.dim};
  case Role::AttnOut:
    return {c.dim, q};
  case Role::FfnGate:
  case Role::FfnUp:
    return {c.hiddenDim, c.dim};
  case Role::FfnDown:
    return {c.dim, c.hiddenDim};
  case Role::AttnQBias:
    return {q};
  case Role::AttnKBias:
  case Role::AttnVBias:
    return {c.kvDim()};
  }
  return {};
}

std::string_view tensorTypeName(TensorType t) {
  switch (t) {
  case TensorType::F32:
    return "f32";
  case TensorType::F16:
    return "f16";
  case TensorType::BF16:
    return "bf16";
  case TensorType::Q8_0:
    return "q8_0";
  case TensorType::Q4_0:
    return "q4_0";
  case TensorType::Q4_1:
    return "q4_1";
  case TensorType::Q4_K:
    return "q4_K";
  case TensorType::Q6_K:
    return "q6_K";
  }
  return "?";
}

int64_t blockElements(TensorType t) {
  switch (t) {
  case TensorType::F32:
  case TensorType::F16:
  case TensorType::BF16:
    return 1;
  case TensorType::Q8_0:
  case TensorType::Q4_0:
  case TensorType::Q4_1:
    return 32;
  case TensorType::Q4_K:
  case TensorType::Q6_K:
    return 256;
  }
  return 1;
}

int64_t blockBytes(TensorType t) {
  switch (t) {
  case TensorType::F32:
    return 4;
  case TensorType::F16:
  case TensorType::BF16:
    return 2;
  case TensorType::Q8_0:
    return 34;
  case TensorType::Q4_0:
    return 18;
  case TensorType::Q4_1:
    return 20;
  case TensorType::Q4_K:
    return 144;
  case TensorType::Q6_K:
    return 210;
  }
  return 0;
}

std::optional<uint64_t> tensorBytes(TensorType t, int64_t count) {
  if (count < 0 || count % blockElements(t) != 0)
    return std::nullopt;
  return static_cast<uint64_t>(count / blockElements(t)) * blockBytes(t);
}

int64_t TensorInfo::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t TensorData::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<float> TensorData::toFloat() const {
  std::vector<float> out(numElements());
  dequantize(type, data, out.data(), numElements());
  return out;
}

void TensorData::copyBytes(uint64_t offset, uint64_t n, uint8_t *out) const {
  if (file)
    file->copy(data + offset, n, out);
  else
    std::memcpy(out, data + offset, n);
}

const TensorInfo *ModelSpec::find(Role role, int layer) const {
  if (role == Role::Output && config.sharedClassifier)
    role = Role::TokenEmbd;
  for (const TensorInfo &t : tensors)
    if (t.role == role && t.layer == layer)
      return &t;
  return nullptr;
}

/// `d`'s rows (elements of a vector) from rotate-half order into
/// adjacent-pair order within each head of `headDim`: pair row 2i + j is
/// rotate-half row j * headDim/2 + i. A copy; the source stays mapped.
static Result<TensorData> pairRows(const TensorData &d, int64_t headDim,
                                   const std::string &name) {
  int64_t rows = d.shape.empty() ? 0 : d.shape[0];
  if (rows <= 0 || headDim <= 0 || headDim % 2 || rows % headDim ||
      d.size % uint64_t(rows))
    return Status::error(fmt::format(
        "tensor '{}': {} rows are not whole heads of {}", name, rows, headDim));
  uint64_t rowBytes = d.size / uint64_t(rows);
  int64_t half = headDim / 2;
  auto out = std::make_shared<std::vector<uint8_t>>(d.size);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t k = r % headDim;
    int64_t from = r - k + (k % 2) * half + k / 2;
    std::memcpy(out->data() + uint64_t(r) * rowBytes,
                d.data + uint64_t(from) * rowBytes, rowBytes);
  }
  TensorData p = d;
  p.data = out->data();
  p.owner = out;
  p.file = nullptr;
  return p;
}

Result<TensorData> ModelSpec::load(const TensorInfo &t) const {
  TensorData d;
  if (generate) {
    auto g = generate(t);
    if (!g.ok())
      return g;
    d = std::move(*g);
  } else {
    if (!file || t.fileOffset > file->size() ||
        t.bytes > file->size() - t.fileOffset)
      return Result<TensorData>::error(
          fmt::format("{}: tensor '{}' lies outside the file", source, t.name));
    d.type = t.type;
    d.shape = t.shape;
    d.data = file->data() + t.fileOffset;
    d.size = t.bytes;
    d.file = file;
  }
  if (!t.rotateHalfHead)
    return d;
  auto paired = pairRows(d, t.rotateHalfHead, t.name);
  if (!paired.ok())
    return Status::error(source + ": " + paired.message());
  return paired;
}

static Status checkTensorTable(const ModelSpec &spec) {
  const Config &c = spec.config;
  // One pass to index the table: a find per role and layer would take time
  // growing with the square of the layer count.
  std::map<std::pair<Role, int>, const TensorInfo *> index;
  for (const TensorInfo &t : spec.tensors)
    index.emplace(std::make_pair(t.role, t.layer), &t);
  auto check = [&](Role role, int layer) -> Status {
    Role stored =
        role == Role::Output && c.sharedClassifier ? Role::TokenEmbd : role;
    auto it = index.find({stored, layer});
    const TensorInfo *t = it == index.end() ? nullptr : it->second;
    std::string name = ggufTensorName(role, layer);
    if (!t)
      return Status::error(
          fmt::format("{}: missing tensor '{}'", spec.source, name));
    std::vector<int64_t> want = expectedShape(c, role);
    if (role == Role::Output && c.sharedClassifier)
      want = expectedShape(c, Role::TokenEmbd);
    if (t->shape != want)
      return Status::error(fmt::format(
          "{}: tensor '{}' has shape [{}], the config requires [{}]",
          spec.source, t->name, fmt::join(t->shape, ", "),
          fmt::join(want, ", ")));
    return Status::success();
  };
  for (Role r : {Role::TokenEmbd, Role::OutputNorm, Role::Output})
    if (Status s = check(r, -1); !s.ok())
      return s;
  for (int l = 0; l < c.nLayers; ++l) {
    for (Role r :
         {Role::AttnNorm, Role::AttnQ, Role::AttnK, Role::AttnV, Role::AttnOut,
          Role::FfnNorm, Role::FfnGate, Role::FfnUp, Role::FfnDown})
      if (Status s = check(r, l); !s.ok())
        return s;
    if (c.qkvBias)
      for (Role r : {Role::AttnQBias, Role::AttnKBias, Role::AttnVBias})
        if (Status s = check(r, l); !s.ok())
          return s;
  }
  return Status::success();
}

namespace {

/// A model file by its magic, then its extension: a GGUF, else a llama2.c
/// checkpoint (which has no magic). What is neither is named with its
/// first bytes, not read as a llama2.c header of nonsense.
Result<ModelSpec> openModelFile(const std::shared_ptr<MappedFile> &f,
                                const std::string &path) {
  const uint8_t *p = f->data();
  uint64_t size = f->size();
  if (startsWith(p, size, kGgufMagic, 4)) {
    auto gguf = GGUFFile::parse(f);
    if (!gguf.ok())
      return gguf.status();
    return modelFromGGUF(*gguf);
  }
  std::string start = describeStart(p, size);
  if (startsWith(p, size, kAnepakMagic, 8))
    return Status::error(fmt::format(
        "{}: a .anepak (kernels and packed weights), not a model source; "
        "run it with ane-exec run/eval/bench/inspect",
        path));
  if (endsWith(path, ".gguf"))
    return Status::error(fmt::format(
        "{}: not a GGUF file: it starts with {}, not \"GGUF\"", path, start));
  auto model = modelFromLlama2c(f);
  // A llama2.c header is 7 small integers: text, or a file too short for
  // it, is some other format.
  bool text = size >= 4 && std::all_of(p, p + 4, [](uint8_t c) {
                return c >= 0x20 && c < 0x7f;
              });
  if (!model.ok() && !endsWith(path, ".bin") && (size < 28 || text))
    return Status::error(fmt::format(
        "{}: not a GGUF, llama2.c or .anepak file: it starts with {}", path,
        start));
  return model;
}

} // namespace

Result<ModelSpec> openModel(const std::string &spec) {
  Result<ModelSpec> model = Status::error("unreachable");
  if (spec.rfind("synthetic:", 0) == 0) {
    model = syntheticModel(spec.substr(10));
  } else if (isHfModelFolder(spec)) {
    model = openHfModel(spec);
  } else {
    auto file = MappedFile::open(spec);
    if (!file.ok())
      return file.status();
    std::shared_ptr<MappedFile> f = *file;
    model = openModelFile(f, spec);
  }
  if (!model.ok())
    return model;
  if (Status s = checkTensorTable(*model); !s.ok())
    return s;
  return model;
}

} // namespace ane::model
