//===- KernelSet.cpp - the compiler-runtime contract ----------------------===//

#include "lib/Abi/KernelSet.h"

#include "lib/Support/Json.h"

#include <fmt/format.h>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace ane::abi {

const KernelDesc *KernelSet::find(Kernel kernel, int64_t seq,
                                  int64_t ctx) const {
  for (const KernelDesc &k : kernels)
    if (k.kernel == kernel && k.seq == seq && (k.ctx == 0 || k.ctx == ctx))
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

} // namespace

std::vector<int64_t> KernelSet::seqBuckets() const {
  return distinct(kernels, &KernelDesc::seq);
}

std::vector<int64_t> KernelSet::ctxBuckets() const {
  return distinct(kernels, &KernelDesc::ctx);
}

std::vector<SlotSpec> KernelSet::slotsOf(Segment segment) const {
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
  for (const SlotSpec *s : decodeSlots())
    bytes += s->segment == Segment::Layer
                 ? slotBytes(*s) * uint64_t(config.nLayers)
                 : slotBytes(*s);
  return bytes;
}

bool KernelSet::hasInterleavedSlots() const {
  return std::any_of(slots.begin(), slots.end(), [](const SlotSpec &s) {
    return s.layout == SlotLayout::Interleaved16;
  });
}

void useCpuLayout(KernelSet &set) {
  for (SlotSpec &s : set.slots)
    if (canInterleave(s))
      s.layout = SlotLayout::Interleaved16;
}

Status KernelSet::validate() const {
  if (Status s = config.validate(); !s.ok())
    return Status::error("config: " + s.message());
  for (const SlotSpec &s : slots) {
    Status st =
        validateSlot(s, s.segment == Segment::Layer ? layerSegmentBytes
                                                    : globalSegmentBytes);
    if (!st.ok())
      return st;
  }
  if (!programFiles.empty() && programFiles.size() != programs.size())
    return Status::error(fmt::format("{} program files for {} programs",
                                     programFiles.size(), programs.size()));
  if (loraRank < 0 || loraRank > 4096 || (loraRank == 0) != loraTargets.empty())
    return Status::error(fmt::format("lora: rank {} with {} targets", loraRank,
                                     loraTargets.size()));
  for (const std::string &t : loraTargets)
    if (!isLoraRole(t))
      return Status::error(
          fmt::format("lora: '{}' is not a role adapters can target", t));
  if (weightBinding == WeightBinding::Input && hasInterleavedSlots())
    return Status::error("interleaved16 slots are read in place: the input "
                         "binding reads row-major blobs");
  for (const KernelDesc &k : kernels) {
    if (k.program < 0 || k.program >= int64_t(programs.size()))
      return Status::error(fmt::format("kernel '{}': program {} of {}",
                                       k.name(), k.program, programs.size()));
    if (k.seq <= 0 || k.ctx < 0 || (k.ctx > 0) != takesCtx(k.kernel))
      return Status::error(fmt::format("kernel '{}': bad bucket", k.name()));
    for (const std::string &role : k.weights)
      if (std::none_of(slots.begin(), slots.end(),
                       [&](const SlotSpec &s) { return s.role == role; }))
        return Status::error(fmt::format(
            "kernel '{}' reads unknown weight '{}'", k.name(), role));
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

namespace {

/// Version 2 names unquantized slots "f16" and may list program files,
/// padded channels and packed inputs; version 1 files still read.
constexpr int64_t kManifestVersion = 2;

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
  w.key("segment").string(segmentName(s.segment));
  w.key("scheme").string(schemeName(s.scheme));
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
  if (s.layout != SlotLayout::RowMajor)
    w.key("layout").string(slotLayoutName(s.layout));
  w.endObject();
}

void writeConfig(json::Writer &w, const model::Config &c) {
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
  if (!c.ropeFreqFactors.empty()) {
    w.key("rope_freq_factors").beginArray();
    for (float f : c.ropeFreqFactors)
      w.number(f);
    w.endArray();
  }
  w.endObject();
}

void writeKernel(json::Writer &w, const KernelDesc &k) {
  w.beginObject();
  w.key("name").string(k.name());
  w.key("seq").integer(k.seq);
  w.key("ctx").integer(k.ctx);
  w.key("program").integer(k.program);
  writeTensors(w, "inputs", k.inputs);
  writeTensors(w, "outputs", k.outputs);
  w.key("weights").beginArray();
  for (const std::string &r : k.weights)
    w.string(r);
  w.endArray();
  if (!k.paddedChannels.empty()) {
    w.key("padded_channels").beginObject();
    for (const auto &[name, channels] : k.paddedChannels)
      w.key(name).integer(channels);
    w.endObject();
  }
  if (!k.packing.empty()) {
    w.key("packing").beginArray();
    for (const PackedPart &p : k.packing) {
      w.beginObject();
      w.key("name").string(p.name);
      w.key("offset").integer(p.offset);
      w.key("columns").integer(p.columns);
      w.key("shape").integers(p.shape);
      w.endObject();
    }
    w.endArray();
  }
  w.endObject();
}

} // namespace

std::string writeManifest(const KernelSet &set) {
  json::Writer w;
  w.beginObject();
  w.key("format").string("ane-kernel-set");
  w.key("version").integer(kManifestVersion);
  writeConfig(w, set.config);
  w.key("dtype").string(dtypeName(set.dtype));
  w.key("scheme").string(schemeName(set.scheme));
  w.key("weight_binding").string(weightBindingName(set.weightBinding));
  if (set.loraRank > 0) {
    w.key("lora").beginObject();
    w.key("rank").integer(set.loraRank);
    w.key("targets").beginArray();
    for (const std::string &t : set.loraTargets)
      w.string(t);
    w.endArray();
    w.endObject();
  }
  w.key("segments").beginObject();
  w.key("layer").integer(int64_t(set.layerSegmentBytes));
  w.key("global").integer(int64_t(set.globalSegmentBytes));
  w.endObject();
  w.key("slots").beginArray();
  for (const SlotSpec &s : set.slots)
    writeSlot(w, s);
  w.endArray();
  w.key("programs").integer(int64_t(set.programs.size()));
  if (!set.programFiles.empty()) {
    w.key("program_files").beginArray();
    for (const std::string &f : set.programFiles)
      w.string(f);
    w.endArray();
  }
  w.key("kernels").beginArray();
  for (const KernelDesc &k : set.kernels)
    writeKernel(w, k);
  w.endArray();
  w.endObject();
  return w.str();
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

namespace {

/// Reads string field `key` through `parse`; `what` names the kind in the
/// error. Errors are recorded in `f`.
template <typename T, typename Parse>
T readEnum(json::Fields &f, const char *key, Parse parse, const char *what,
           T fallback) {
  std::string name = f.string(key);
  if (!f.status().ok())
    return fallback;
  std::optional<T> v = parse(name);
  if (!v) {
    f.fail(key, fmt::format("unknown {} '{}'", what, name));
    return fallback;
  }
  return *v;
}

mil::DType readMilDType(json::Fields &f, const char *key) {
  return readEnum(f, key, mil::parseDType, "dtype", mil::DType::FP32);
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
    d.dtype = readMilDType(t, "dtype");
    d.shape = t.integers("shape");
    out.push_back(d);
    return t.status();
  });
}

Result<SlotSpec> readSlot(const json::Value &v, const std::string &path) {
  json::Fields f(v, path);
  SlotSpec s;
  s.role = f.string("role");
  s.segment = readEnum(f, "segment", parseSegment, "segment", Segment::Layer);
  s.scheme = readEnum(f, "scheme", parseScheme, "scheme", Scheme::F16);
  s.group = f.integer("group");
  s.shape = f.integers("shape");
  forEach(f, "blobs", [&](const json::Value &b, const std::string &p) {
    json::Fields bf(b, p);
    BlobSpec blob;
    int64_t offset = bf.integer("offset");
    if (offset < 0)
      bf.fail("offset", "negative");
    blob.offset = uint64_t(offset);
    blob.dtype = readMilDType(bf, "dtype");
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
  if (f.has("layout"))
    s.layout = readEnum(f, "layout", parseSlotLayout, "slot layout",
                        SlotLayout::RowMajor);
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
  if (f.has("rope_freq_factors"))
    if (const json::Value *a = f.array("rope_freq_factors"))
      for (const json::Value &x : a->array) {
        if (x.kind != json::Value::Kind::Number) {
          f.fail("rope_freq_factors", "must hold numbers");
          break;
        }
        c.ropeFreqFactors.push_back(float(x.number));
      }
  return f.status();
}

/// The optional padded_channels object and packing array of a kernel.
void readLegalization(json::Fields &kf, KernelDesc &k) {
  if (kf.has("padded_channels"))
    if (const json::Value *padded = kf.object("padded_channels"))
      for (const auto &[name, v] : padded->object) {
        if (!v.integral || v.integer <= 0) {
          kf.fail("padded_channels",
                  fmt::format("'{}' must be a positive integer", name));
          return;
        }
        k.paddedChannels.emplace_back(name, v.integer);
      }
  if (kf.has("packing"))
    forEach(kf, "packing", [&](const json::Value &v, const std::string &path) {
      json::Fields pf(v, path);
      PackedPart p;
      p.name = pf.string("name");
      p.offset = pf.integer("offset");
      p.columns = pf.integer("columns");
      p.shape = pf.integers("shape");
      if (pf.status().ok() && (p.offset < 0 || p.columns <= 0))
        pf.fail("columns", "offset and columns must be in range");
      k.packing.push_back(std::move(p));
      return pf.status();
    });
}

Result<KernelDesc> readKernel(const json::Value &v, const std::string &path) {
  json::Fields kf(v, path);
  KernelDesc k;
  k.kernel = readEnum(kf, "name", parseKernel, "kernel", Kernel::AttnQkv);
  k.seq = kf.integer("seq");
  k.ctx = kf.integer("ctx");
  k.program = kf.integer("program");
  readTensors(kf, "inputs", k.inputs);
  readTensors(kf, "outputs", k.outputs);
  k.weights = kf.strings("weights");
  readLegalization(kf, k);
  if (!kf.status().ok())
    return kf.status();
  return k;
}

} // namespace

Result<KernelSet> readManifest(std::string_view text,
                               const std::string &source) {
  auto doc = json::parse(text, source);
  if (!doc.ok())
    return doc.status();
  json::Fields f(*doc, source);
  KernelSet set;
  if (f.string("format") != "ane-kernel-set" && f.status().ok())
    f.fail("format", "not an ane-kernel-set manifest");
  if (int64_t v = f.integer("version");
      f.status().ok() && (v < 1 || v > kManifestVersion))
    f.fail("version", fmt::format("version {} is not supported", v));
  if (Status s = readConfig(f, set.config); !s.ok())
    return s;
  set.dtype = readEnum(f, "dtype", parseDType, "dtype", DType::FP16);
  set.scheme = readEnum(f, "scheme", parseScheme, "scheme", Scheme::F16);
  set.weightBinding = readEnum(f, "weight_binding", parseWeightBinding,
                               "weight binding", WeightBinding::Blob);
  if (f.has("lora"))
    if (const json::Value *lora = f.object("lora")) {
      json::Fields lf(*lora, f.pathOf("lora"));
      set.loraRank = lf.integer("rank");
      set.loraTargets = lf.strings("targets");
      if (!lf.status().ok())
        return lf.status();
    }
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
    return slot.status();
  });
  int64_t programs = f.integer("programs");
  if (f.status().ok() && (programs < 0 || programs > 4096))
    f.fail("programs", fmt::format("{} programs is out of range", programs));
  if (f.has("program_files"))
    set.programFiles = f.strings("program_files");
  forEach(f, "kernels", [&](const json::Value &v, const std::string &path) {
    auto kernel = readKernel(v, path);
    if (kernel.ok())
      set.kernels.push_back(std::move(*kernel));
    return kernel.status();
  });
  if (!f.status().ok())
    return f.status();
  set.programs.assign(size_t(programs), std::string());
  if (Status s = set.validate(); !s.ok())
    return Status::error(source + ": " + s.message());
  return set;
}

namespace {

/// Manifests and programs are text of at most a few MB; the caps keep a
/// wrong path (a device, a huge file) from being read whole.
constexpr uint64_t kMaxManifestBytes = uint64_t(16) << 20;
constexpr uint64_t kMaxProgramBytes = uint64_t(64) << 20;

Result<std::string> readSmallFile(const std::string &path, uint64_t cap) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Status::error(path + ": no such file");
  if (!S_ISREG(st.st_mode))
    return Status::error(path + ": not a regular file");
  if (uint64_t(st.st_size) > cap)
    return Status::error(fmt::format("{}: {} bytes is more than the {} a "
                                     "kernel directory file may have",
                                     path, uint64_t(st.st_size), cap));
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof())
    return Status::error(path + ": cannot read");
  return text.str();
}

/// A program file is named by the manifest: a plain name beside it.
bool isPlainName(const std::string &name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

} // namespace

Result<KernelSet> readKernelDir(const std::string &dir) {
  std::string manifestPath = dir + "/manifest.json";
  auto text = readSmallFile(manifestPath, kMaxManifestBytes);
  if (!text.ok())
    return text.status();
  auto set = readManifest(*text, manifestPath);
  if (!set.ok())
    return set.status();
  // validate() checked the count of a non-empty list.
  if (set->programFiles.empty() && !set->programs.empty())
    return Status::error(manifestPath + ": program_files must name the " +
                         std::to_string(set->programs.size()) + " programs");
  for (size_t i = 0; i < set->programs.size(); ++i) {
    const std::string &name = set->programFiles[i];
    if (!isPlainName(name))
      return Status::error(fmt::format(
          "{}: program_files[{}] '{}' is not a file name beside the manifest",
          manifestPath, i, name));
    auto program = readSmallFile(dir + "/" + name, kMaxProgramBytes);
    if (!program.ok())
      return program.status();
    set->programs[i] = std::move(*program);
  }
  return set;
}

} // namespace ane::abi
