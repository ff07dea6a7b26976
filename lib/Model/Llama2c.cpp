//===- Llama2c.cpp - llama2.c checkpoints and tokenizer.bin ---------------===//

#include "lib/Model/Llama2c.h"

#include "lib/Support/FileKinds.h"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace ane::model {
namespace {

int32_t readI32(const uint8_t *p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

} // namespace

Result<ModelSpec> modelFromLlama2c(std::shared_ptr<MappedFile> file) {
  const std::string &path = file->path();
  const uint8_t *p = file->data();
  if (file->size() < 28)
    return Result<ModelSpec>::error(
        fmt::format("{}: {} bytes cannot hold the 28-byte llama2.c header",
                    path, file->size()));
  if (std::memcmp(p, "24ka", 4) == 0)
    return Result<ModelSpec>::error(
        path + ": versioned llama2.c exports (magic 'ak42') are not "
               "supported; export with the legacy header");
  static const char *fields[] = {"dim",     "hidden_dim", "n_layers",
                                 "n_heads", "n_kv_heads", "vocab_size",
                                 "seq_len"};
  int32_t h[7];
  for (int k = 0; k < 7; ++k)
    h[k] = readI32(p + 4 * k);
  for (int k = 0; k < 7; ++k) {
    // A negative vocab_size says the classifier is separate; int64 so that
    // INT32_MIN has a magnitude (the fuzzer found its negation UB).
    int64_t v = k == 5 ? std::abs(int64_t(h[k])) : h[k];
    if (v <= 0 || v > (1 << 24))
      return Result<ModelSpec>::error(
          fmt::format("{}: header field {} at offset {} is {}", path, fields[k],
                      4 * k, h[k]));
  }
  ModelSpec spec;
  spec.source = path;
  spec.format = "llama2c";
  spec.file = file;
  Config &c = spec.config;
  c.dim = h[0];
  c.hiddenDim = h[1];
  c.nLayers = h[2];
  c.nHeads = h[3];
  c.nKvHeads = h[4];
  c.vocabSize = h[5] < 0 ? -int64_t(h[5]) : h[5];
  c.sharedClassifier = h[5] > 0;
  c.maxSeqLen = h[6];
  c.headDim = c.dim / c.nHeads;
  if (Status s = c.validate(); !s.ok())
    return Status::error(path + ": " + s.message());

  uint64_t offset = 28;
  auto add = [&](Role role, int layer, std::vector<int64_t> shape) -> Status {
    TensorInfo t;
    t.name = ggufTensorName(role, layer);
    t.role = role;
    t.layer = layer;
    t.type = TensorType::F32;
    t.shape = std::move(shape);
    t.bytes = static_cast<uint64_t>(t.numElements()) * 4;
    t.fileOffset = offset;
    if (offset > file->size() || t.bytes > file->size() - offset)
      return Status::error(
          fmt::format("{}: tensor '{}' needs bytes [{}, +{}), the file has {}",
                      path, t.name, offset, t.bytes, file->size()));
    offset += t.bytes;
    spec.tensors.push_back(std::move(t));
    return Status::success();
  };
  // Layer tensors are stored role by role, all layers of a role together.
  auto perLayer = [&](Role role) -> Status {
    for (int l = 0; l < c.nLayers; ++l)
      if (Status s = add(role, l, expectedShape(c, role)); !s.ok())
        return s;
    return Status::success();
  };
  if (Status s = add(Role::TokenEmbd, -1, expectedShape(c, Role::TokenEmbd));
      !s.ok())
    return s;
  for (Role r :
       {Role::AttnNorm, Role::AttnQ, Role::AttnK, Role::AttnV, Role::AttnOut,
        Role::FfnNorm, Role::FfnGate, Role::FfnDown, Role::FfnUp})
    if (Status s = perLayer(r); !s.ok())
      return s;
  if (Status s = add(Role::OutputNorm, -1, {c.dim}); !s.ok())
    return s;
  // Skip the precomputed RoPE tables (real and imaginary parts).
  offset += 2 * static_cast<uint64_t>(c.maxSeqLen) * (c.headDim / 2) * 4;
  if (!c.sharedClassifier)
    if (Status s = add(Role::Output, -1, expectedShape(c, Role::Output));
        !s.ok())
      return s;
  // The header fixes the size exactly: a file that is longer was written
  // for other hyper-parameters (too few layers read, say) and would run
  // as garbage.
  if (offset != file->size())
    return Status::error(fmt::format(
        "{}: the header (dim {}, {} layers, hidden {}, vocabulary {}, context "
        "{}) describes {} bytes, the file has {}",
        path, c.dim, c.nLayers, c.hiddenDim, c.vocabSize, c.maxSeqLen, offset,
        file->size()));
  return spec;
}

Result<TokenizerData> readLlama2cTokenizer(const std::string &path) {
  auto mapped = MappedFile::open(path);
  if (!mapped.ok())
    return mapped.status();
  const std::shared_ptr<MappedFile> &f = *mapped;
  const uint8_t *p = f->data();
  uint64_t size = f->size(), pos = 4;
  if (startsWith(p, size, kGgufMagic, 4) ||
      startsWith(p, size, kAnepakMagic, 8))
    return Result<TokenizerData>::error(fmt::format(
        "{}: a {} file, not a llama2.c tokenizer.bin: -z is for checkpoints "
        "that carry no vocabulary",
        path, startsWith(p, size, kGgufMagic, 4) ? "GGUF" : ".anepak"));
  if (size < 4)
    return Result<TokenizerData>::error(
        fmt::format("{}: missing the max_token_length header", path));
  int32_t maxLen = readI32(p);
  if (maxLen <= 0 || maxLen > 65536)
    return Result<TokenizerData>::error(
        fmt::format("{}: max_token_length at offset 0 is {}", path, maxLen));
  TokenizerData t;
  t.model = "llama";
  while (pos < size) {
    if (size - pos < 8)
      return Result<TokenizerData>::error(
          fmt::format("{}: token #{} at offset {} is truncated", path,
                      t.tokens.size(), pos));
    float score;
    std::memcpy(&score, p + pos, 4);
    int32_t len = readI32(p + pos + 4);
    if (len < 0 || len > maxLen || static_cast<uint64_t>(len) > size - pos - 8)
      return Result<TokenizerData>::error(
          fmt::format("{}: token #{} at offset {} has length {}", path,
                      t.tokens.size(), pos + 4, len));
    t.tokens.emplace_back(reinterpret_cast<const char *>(p + pos + 8), len);
    t.scores.push_back(score);
    pos += 8 + static_cast<uint64_t>(len);
  }
  if (t.tokens.size() < 3)
    return Result<TokenizerData>::error(
        fmt::format("{}: holds {} tokens", path, t.tokens.size()));
  return t;
}

} // namespace ane::model
