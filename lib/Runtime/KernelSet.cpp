//===- KernelSet.cpp - compiled kernels and where their weights live ------===//

#include "lib/Runtime/KernelSet.h"

#include "lib/Support/Float16.h"
#include "lib/Support/Json.h"
#include "lib/Support/MappedFile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace ane::runtime {

const KernelDesc *KernelSet::find(std::string_view name, int64_t seq,
                                  int64_t ctx) const {
  for (const KernelDesc &k : kernels)
    if (k.name == name && k.seq == seq && (k.ctx == 0 || k.ctx == ctx))
      return &k;
  return nullptr;
}

namespace {

std::vector<int64_t> distinct(const std::vector<KernelDesc> &kernels,
                              int64_t KernelDesc::*field) {
  std::set<int64_t> s;
  for (const KernelDesc &k : kernels)
    if (k.*field > 0)
      s.insert(k.*field);
  return {s.begin(), s.end()};
}

Status validateSlot(const SlotSpec &s, uint64_t segmentBytes) {
  auto fail = [&](const std::string &what) {
    return Status::error(fmt::format("weight slot '{}': {}", s.role, what));
  };
  static const std::set<std::string> schemes = {"dense", "q8", "q4", "q3",
                                                "lut4"};
  if (!schemes.count(s.scheme))
    return fail(fmt::format("unknown scheme '{}'", s.scheme));
  if (s.shape.empty() || s.shape.size() > 2)
    return fail("a weight is a vector or a matrix");
  for (int64_t d : s.shape)
    if (d <= 0 || d > (int64_t(1) << 24))
      return fail(fmt::format("dimension {} is out of range", d));
  if (s.scheme != "dense" &&
      (s.shape.size() != 2 || s.group <= 0 || s.shape[1] % s.group != 0))
    return fail(fmt::format("group {} does not divide the rows", s.group));
  if (s.blobs.empty() || s.blobs.size() > 3)
    return fail("a slot has one to three blobs");
  for (const BlobSpec &b : s.blobs) {
    if (b.offset % 64 != 0)
      return fail(
          fmt::format("blob offset {} is not 64-byte aligned", b.offset));
    for (int64_t d : b.shape)
      if (d <= 0 || d > (int64_t(1) << 24))
        return fail("a blob dimension is out of range");
    if (blobEnd(b) > segmentBytes)
      return fail(fmt::format("blob at {} ends past the {}-byte segment",
                              b.offset, segmentBytes));
  }
  if (s.ropeRows && (s.headDim <= 0 || s.headDim % 2 ||
                     s.ropeRows % s.headDim || s.ropeRows > s.shape[0]))
    return fail("rope_rows must be whole heads of the rows");
  return Status::success();
}

} // namespace

std::vector<int64_t> KernelSet::seqBuckets() const {
  return distinct(kernels, &KernelDesc::seq);
}

std::vector<int64_t> KernelSet::ctxBuckets() const {
  return distinct(kernels, &KernelDesc::ctx);
}

std::vector<SlotSpec> KernelSet::slotsOf(std::string_view segment) const {
  std::vector<SlotSpec> out;
  for (const SlotSpec &s : slots)
    if (s.segment == segment)
      out.push_back(s);
  return out;
}

std::vector<const SlotSpec *> KernelSet::decodeSlots() const {
  std::set<std::string> read;
  for (const KernelDesc &k : kernels)
    if (k.seq == 1)
      read.insert(k.weights.begin(), k.weights.end());
  std::vector<const SlotSpec *> out;
  for (const SlotSpec &s : slots)
    if (read.count(s.role))
      out.push_back(&s);
  return out;
}

uint64_t KernelSet::decodeBytesPerToken() const {
  uint64_t bytes = 0;
  for (const SlotSpec *s : decodeSlots()) {
    uint64_t slot = 0;
    for (const BlobSpec &b : s->blobs)
      slot += blobEnd(b) - b.offset;
    bytes += s->segment == "layer" ? slot * uint64_t(config.nLayers) : slot;
  }
  return bytes;
}

Status KernelSet::validate() const {
  if (Status s = config.validate(); !s.ok())
    return Status::error("config: " + s.message());
  if (dtype != mil::DType::FP16 && dtype != mil::DType::FP32)
    return Status::error("dtype must be fp16 or fp32");
  if (weightBinding != "blob" && weightBinding != "input")
    return Status::error(
        fmt::format("unknown weight binding '{}'", weightBinding));
  for (const SlotSpec &s : slots) {
    if (s.segment != "layer" && s.segment != "global")
      return Status::error(fmt::format("weight slot '{}': unknown segment '{}'",
                                       s.role, s.segment));
    Status st = validateSlot(s, s.segment == "layer" ? layerSegmentBytes
                                                     : globalSegmentBytes);
    if (!st.ok())
      return st;
  }
  for (const KernelDesc &k : kernels) {
    if (k.program < 0 || k.program >= int64_t(programs.size()))
      return Status::error(fmt::format("kernel '{}': program {} of {}", k.name,
                                       k.program, programs.size()));
    if (k.seq <= 0 || k.ctx < 0)
      return Status::error(fmt::format("kernel '{}': bad bucket", k.name));
    for (const std::string &role : k.weights)
      if (std::none_of(slots.begin(), slots.end(),
                       [&](const SlotSpec &s) { return s.role == role; }))
        return Status::error(
            fmt::format("kernel '{}' reads unknown weight '{}'", k.name, role));
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

namespace {

void writeTensors(json::Writer &w, const char *key,
                  const std::vector<TensorDesc> &list) {
  w.key(key).beginArray();
  for (const TensorDesc &t : list) {
    w.beginObject();
    w.key("name").string(t.name);
    w.key("dtype").string(mil::dtypeName(t.dtype));
    w.key("shape").integers(t.shape);
    w.endObject();
  }
  w.endArray();
}

void writeSlot(json::Writer &w, const SlotSpec &s) {
  w.beginObject();
  w.key("role").string(s.role);
  w.key("segment").string(s.segment);
  w.key("scheme").string(s.scheme);
  w.key("group").integer(s.group);
  w.key("shape").integers(s.shape);
  w.key("blobs").beginArray();
  for (const BlobSpec &b : s.blobs) {
    w.beginObject();
    w.key("offset").integer(int64_t(b.offset));
    w.key("dtype").string(mil::dtypeName(b.dtype));
    w.key("shape").integers(b.shape);
    w.endObject();
  }
  w.endArray();
  if (!s.fusedFrom.empty()) {
    w.key("fused_from").beginArray();
    for (const std::string &r : s.fusedFrom)
      w.string(r);
    w.endArray();
  }
  if (!s.foldNorm.empty())
    w.key("fold_norm").string(s.foldNorm);
  if (s.ropeRows) {
    w.key("rope_rows").integer(s.ropeRows);
    w.key("head_dim").integer(s.headDim);
  }
  w.endObject();
}

mil::DType readDType(json::Fields &f, const char *key) {
  std::string name = f.string(key);
  if (!f.status().ok())
    return mil::DType::FP32;
  auto d = mil::parseDType(name);
  if (!d) {
    f.fail(key, fmt::format("unknown dtype '{}'", name));
    return mil::DType::FP32;
  }
  return *d;
}

/// Calls `each(element, path)` for every element of array `key`.
template <typename Fn> void forEach(json::Fields &f, const char *key, Fn each) {
  const json::Value *list = f.array(key);
  if (!list)
    return;
  for (size_t i = 0; i < list->array.size() && f.status().ok(); ++i) {
    Status s = each(list->array[i], fmt::format("{}[{}]", f.pathOf(key), i));
    if (!s.ok())
      f.fail(s);
  }
}

/// Errors are recorded in `f`.
void readTensors(json::Fields &f, const char *key,
                 std::vector<TensorDesc> &out) {
  forEach(f, key, [&](const json::Value &v, const std::string &path) {
    json::Fields t(v, path);
    TensorDesc d;
    d.name = t.string("name");
    d.dtype = readDType(t, "dtype");
    d.shape = t.integers("shape");
    out.push_back(d);
    return t.status();
  });
}

Result<SlotSpec> readSlot(const json::Value &v, const std::string &path) {
  json::Fields f(v, path);
  SlotSpec s;
  s.role = f.string("role");
  s.segment = f.string("segment");
  s.scheme = f.string("scheme");
  s.group = f.integer("group");
  s.shape = f.integers("shape");
  forEach(f, "blobs", [&](const json::Value &b, const std::string &p) {
    json::Fields bf(b, p);
    BlobSpec blob;
    int64_t offset = bf.integer("offset");
    if (offset < 0)
      bf.fail("offset", "negative");
    blob.offset = uint64_t(offset);
    blob.dtype = readDType(bf, "dtype");
    blob.shape = bf.integers("shape");
    s.blobs.push_back(blob);
    return bf.status();
  });
  if (f.has("fused_from"))
    s.fusedFrom = f.strings("fused_from");
  if (f.has("fold_norm"))
    s.foldNorm = f.string("fold_norm");
  if (f.has("rope_rows")) {
    s.ropeRows = f.integer("rope_rows");
    s.headDim = f.integer("head_dim");
  }
  if (!f.status().ok())
    return f.status();
  return s;
}

Status readConfig(json::Fields &top, model::Config &c) {
  const json::Value *v = top.object("config");
  if (!v)
    return top.status();
  json::Fields f(*v, top.pathOf("config"));
  c.dim = f.integer("dim");
  c.nLayers = f.integer("n_layers");
  c.nHeads = f.integer("n_heads");
  c.nKvHeads = f.integer("n_kv_heads");
  c.headDim = f.integer("head_dim");
  c.hiddenDim = f.integer("hidden_dim");
  c.vocabSize = f.integer("vocab_size");
  c.maxSeqLen = f.integer("max_seq_len");
  c.ropeTheta = f.number("rope_theta");
  c.normEps = f.number("norm_eps");
  c.sharedClassifier = f.boolean("shared_classifier");
  return f.status();
}

} // namespace

std::string writeManifest(const KernelSet &set) {
  json::Writer w;
  const model::Config &c = set.config;
  w.beginObject();
  w.key("format").string("ane-kernel-set");
  w.key("version").integer(1);
  w.key("config").beginObject();
  w.key("dim").integer(c.dim);
  w.key("n_layers").integer(c.nLayers);
  w.key("n_heads").integer(c.nHeads);
  w.key("n_kv_heads").integer(c.nKvHeads);
  w.key("head_dim").integer(c.headDim);
  w.key("hidden_dim").integer(c.hiddenDim);
  w.key("vocab_size").integer(c.vocabSize);
  w.key("max_seq_len").integer(c.maxSeqLen);
  w.key("rope_theta").number(c.ropeTheta);
  w.key("norm_eps").number(c.normEps);
  w.key("shared_classifier").boolean(c.sharedClassifier);
  w.endObject();
  w.key("dtype").string(mil::dtypeName(set.dtype));
  w.key("scheme").string(set.scheme);
  w.key("weight_binding").string(set.weightBinding);
  w.key("segments").beginObject();
  w.key("layer").integer(int64_t(set.layerSegmentBytes));
  w.key("global").integer(int64_t(set.globalSegmentBytes));
  w.endObject();
  w.key("slots").beginArray();
  for (const SlotSpec &s : set.slots)
    writeSlot(w, s);
  w.endArray();
  w.key("programs").integer(int64_t(set.programs.size()));
  w.key("kernels").beginArray();
  for (const KernelDesc &k : set.kernels) {
    w.beginObject();
    w.key("name").string(k.name);
    w.key("seq").integer(k.seq);
    w.key("ctx").integer(k.ctx);
    w.key("program").integer(k.program);
    writeTensors(w, "inputs", k.inputs);
    writeTensors(w, "outputs", k.outputs);
    w.key("weights").beginArray();
    for (const std::string &r : k.weights)
      w.string(r);
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.endObject();
  return w.str();
}

Result<KernelSet> readManifest(std::string_view text,
                               const std::string &source) {
  auto doc = json::parse(text, source);
  if (!doc.ok())
    return doc.status();
  json::Fields f(*doc, source);
  KernelSet set;
  if (f.string("format") != "ane-kernel-set" && f.status().ok())
    f.fail("format", "not an ane-kernel-set manifest");
  if (int64_t v = f.integer("version"); f.status().ok() && v != 1)
    f.fail("version", fmt::format("version {} is not supported", v));
  if (Status s = readConfig(f, set.config); !s.ok())
    return s;
  set.dtype = readDType(f, "dtype");
  set.scheme = f.string("scheme");
  set.weightBinding = f.string("weight_binding");
  if (const json::Value *seg = f.object("segments")) {
    json::Fields sf(*seg, f.pathOf("segments"));
    int64_t layer = sf.integer("layer"), global = sf.integer("global");
    if (layer < 0 || global < 0)
      sf.fail("layer", "segment sizes must not be negative");
    if (!sf.status().ok())
      return sf.status();
    set.layerSegmentBytes = uint64_t(layer);
    set.globalSegmentBytes = uint64_t(global);
  }
  forEach(f, "slots", [&](const json::Value &v, const std::string &path) {
    auto slot = readSlot(v, path);
    if (slot.ok())
      set.slots.push_back(std::move(*slot));
    return slot.ok() ? Status::success() : slot.status();
  });
  int64_t programs = f.integer("programs");
  if (f.status().ok() && (programs < 0 || programs > 4096))
    f.fail("programs", fmt::format("{} programs is out of range", programs));
  forEach(f, "kernels", [&](const json::Value &v, const std::string &path) {
    json::Fields kf(v, path);
    KernelDesc k;
    k.name = kf.string("name");
    k.seq = kf.integer("seq");
    k.ctx = kf.integer("ctx");
    k.program = kf.integer("program");
    readTensors(kf, "inputs", k.inputs);
    readTensors(kf, "outputs", k.outputs);
    k.weights = kf.strings("weights");
    set.kernels.push_back(std::move(k));
    return kf.status();
  });
  if (!f.status().ok())
    return f.status();
  set.programs.assign(size_t(programs), std::string());
  if (Status s = set.validate(); !s.ok())
    return Status::error(source + ": " + s.message());
  return set;
}

namespace {

/// Drops the embedding's pages in the 2 MiB windows (file offsets) around
/// [row, row + bytes) from the resident set. Reading a row maps the whole
/// page-cache folio it lies in, and with ext4's large folios that measured
/// 350 KB per looked-up token; folios are at most 2 MiB and aligned in the
/// file, so the window covers them. Weights outside the table stay mapped.
void releaseAround(const ModelImage &image, const uint8_t *row,
                   uint64_t bytes) {
  if (!image.mapped)
    return;
  constexpr uint64_t kWindow = uint64_t(2) << 20;
  const uint8_t *base = image.mapped->data();
  uint64_t at = uint64_t(row - base);
  const uint8_t *from =
      std::max(base + at / kWindow * kWindow, image.embedding.data);
  const uint8_t *to =
      std::min(base + (at + bytes + kWindow - 1) / kWindow * kWindow,
               image.embedding.data + image.embedding.size);
  image.mapped->release(from, uint64_t(to - from));
}

} // namespace

std::vector<float> embeddingRow(const ModelImage &image, int32_t token) {
  int64_t dim = image.kernels.config.dim;
  std::vector<float> row(dim);
  if (image.kernels.dtype == mil::DType::FP32) {
    const uint8_t *p = image.embedding.data + token * dim * 4;
    std::memcpy(row.data(), p, dim * 4);
    releaseAround(image, p, dim * 4);
    return row;
  }
  const uint8_t *p = image.embedding.data + token * dim * 2;
  for (int64_t i = 0; i < dim; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    row[i] = ane::halfBitsToFloat(h);
  }
  releaseAround(image, p, dim * 2);
  return row;
}

} // namespace ane::runtime
