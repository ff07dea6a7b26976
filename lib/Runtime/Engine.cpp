//===- Engine.cpp - a model's kernels run layer by layer ------------------===//

#include "lib/Runtime/Engine.h"

#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/EngineTables.h"
#include "lib/Runtime/HalfFloat.h"
#include "lib/Runtime/Packing.h"
#include "lib/Runtime/ThreadPool.h"
#include "lib/Support/Float16.h"
#include "lib/Support/MappedFile.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <set>

using namespace ane;
using namespace ane::runtime;

std::pair<Tensor, Tensor>
runtime::ropeTablesAt(const model::Config &c, mil::DType dtype,
                      const std::vector<int64_t> &positions) {
  int64_t half = c.headDim / 2, seq = int64_t(positions.size());
  std::vector<float> cosT(half * seq), sinT(half * seq);
  for (int64_t p = 0; p < half; ++p)
    for (int64_t s = 0; s < seq; ++s) {
      double a = double(positions[s]) * c.ropeFrequency(p);
      cosT[p * seq + s] = float(std::cos(a));
      sinT[p * seq + s] = float(std::sin(a));
    }
  return {Tensor::floats(dtype, {1, half, 1, seq}, cosT),
          Tensor::floats(dtype, {1, half, 1, seq}, sinT)};
}

std::pair<Tensor, Tensor> runtime::ropeTables(const model::Config &c,
                                              mil::DType dtype, int64_t pos,
                                              int64_t seq) {
  std::vector<int64_t> positions(seq);
  for (int64_t s = 0; s < seq; ++s)
    positions[s] = pos + s;
  return ropeTablesAt(c, dtype, positions);
}

Tensor runtime::causalMask(mil::DType dtype, int64_t pos, int64_t seq,
                           int64_t ctx) {
  std::vector<float> m(seq * ctx, -1e4f);
  for (int64_t s = 0; s < seq; ++s)
    for (int64_t t = 0; t <= pos + s && t < ctx; ++t)
      m[s * ctx + t] = 0.0f;
  return Tensor::floats(dtype, {1, 1, seq, ctx}, m);
}

namespace {

using Clock = std::chrono::steady_clock;

/// A [1, C, 1, columns] cache of zeros: fp16 ones hold fp16 bits, half the
/// memory and half the bytes attention reads.
Tensor emptyCache(mil::DType dtype, int64_t channels, int64_t columns) {
  mil::Shape shape{1, channels, 1, columns};
  return dtype == mil::DType::FP16 ? Tensor::halfZeros(shape)
                                   : Tensor::zeros(dtype, shape);
}

/// Copies the first `keep` columns of each channel of `from` into `to`.
void copyColumns(const Tensor &from, Tensor &to, int64_t keep) {
  int64_t channels = to.shape[1], src = from.shape[3], dst = to.shape[3];
  for (int64_t ch = 0; ch < channels; ++ch) {
    if (to.halfStored)
      std::copy_n(from.h.data() + ch * src, keep, to.h.data() + ch * dst);
    else
      std::copy_n(from.f.data() + ch * src, keep, to.f.data() + ch * dst);
  }
}

/// Copies columns of a [1, C, 1, seq] kernel output to columns pos.. of a
/// [1, C, 1, columns] cache, for channels [begin, end).
void writeColumnRange(Tensor &cache, const Tensor &out, int64_t pos,
                      int64_t begin, int64_t end) {
  int64_t columns = cache.shape[3], seq = out.shape[3];
  // A decode step writes one value per channel, a row of the cache apart:
  // every store misses, so the rows ahead are prefetched for writing to let
  // the misses overlap.
  constexpr int64_t kAhead = 16;
  for (int64_t ch = begin; ch < end; ++ch) {
    if (ch + kAhead < end) {
      int64_t at = (ch + kAhead) * columns + pos;
      if (cache.halfStored)
        __builtin_prefetch(cache.h.data() + at, 1);
      else
        __builtin_prefetch(cache.f.data() + at, 1);
    }
    const float *src = out.f.data() + ch * seq;
    if (cache.halfStored)
      floatsToHalfs(src, cache.h.data() + ch * columns + pos, seq);
    else
      std::copy_n(src, seq, cache.f.data() + ch * columns + pos);
  }
}

/// Writes a layer's new K and V columns (attn_qkv's outputs 1 and 2) at
/// `pos`, the channels split between the pool's threads: on one core the
/// write misses of a decode step wait on each other.
Status writeKeysAndValues(Tensor &keys, Tensor &values,
                          const std::vector<Tensor> &qkv, int64_t pos) {
  for (int i : {1, 2}) {
    const Tensor &out = qkv[i], &cache = i == 1 ? keys : values;
    int64_t channels = cache.shape[1], columns = cache.shape[3];
    if (out.shape.size() != 4 || out.shape[1] != channels ||
        pos + out.shape[3] > columns || !out.isFloat() ||
        int64_t(out.f.size()) != out.numElements())
      return Status::error(
          fmt::format("a K/V output of shape {} for a cache of {} channels",
                      mil::formatShape(out.shape), channels));
  }
  ThreadPool::global().parallelFor(
      keys.shape[1], 16, [&](int64_t begin, int64_t end) {
        writeColumnRange(keys, qkv[1], pos, begin, end);
        writeColumnRange(values, qkv[2], pos, begin, end);
      });
  return Status::success();
}

/// Column `s` of a [1, C, 1, seq] activation as a [1, C, 1, 1] one.
Tensor column(const Tensor &x, int64_t s) {
  int64_t channels = x.shape[1], seq = x.shape[3];
  std::vector<float> v(channels);
  for (int64_t ch = 0; ch < channels; ++ch)
    v[ch] = x.f[ch * seq + s];
  return Tensor::floats(x.dtype, {1, channels, 1, 1}, v);
}

/// [1, C, 1, seq] from [1, C, 1, 1] columns; columns past theirs are 0.
Tensor joinColumns(const std::vector<Tensor> &columns, int64_t seq) {
  int64_t channels = columns.front().shape[1];
  std::vector<float> v(channels * seq, 0.0f);
  for (size_t s = 0; s < columns.size(); ++s)
    for (int64_t ch = 0; ch < channels; ++ch)
      v[ch * seq + int64_t(s)] = columns[s].f[ch];
  return Tensor::floats(columns.front().dtype, {1, channels, 1, seq},
                        std::move(v));
}

/// Element k of a stored blob as a number: floats widened, integers as
/// packSubByte stored them. The blob's dtype and size were checked by the
/// caller (`readable`).
float blobNumber(const mil::BlobView &b, uint64_t k) {
  switch (b.dtype) {
  case mil::BlobDType::Float16: {
    uint16_t h;
    std::memcpy(&h, b.data + 2 * k, 2);
    return halfBitsToFloat(h);
  }
  case mil::BlobDType::Float32: {
    float f;
    std::memcpy(&f, b.data + 4 * k, 4);
    return f;
  }
  case mil::BlobDType::Int8:
  case mil::BlobDType::Int4:
  case mil::BlobDType::UInt4:
    return float(mil::subByteAt(b.data, k, mil::blobBits(b.dtype),
                                b.dtype != mil::BlobDType::UInt4));
  default:
    return 0; // not `readable`
  }
}

bool readable(const mil::BlobView &b, int64_t count) {
  switch (b.dtype) {
  case mil::BlobDType::Float16:
  case mil::BlobDType::Float32:
  case mil::BlobDType::Int8:
  case mil::BlobDType::Int4:
  case mil::BlobDType::UInt4:
    return int64_t(b.elementCount()) == count;
  default:
    return false;
  }
}

/// A slot's weight as weight-binding=input passes it (KernelLowering::
/// weightInput): in the kernels' float type, a matrix [out, in] as
/// [1, in, 1, out], a vector as [1, n, 1, 1]; quantized slots dequantized
/// as the blob-bound kernels' constexpr ops do. `blobs` are the slot's,
/// read in place.
Result<Tensor> inputWeightOf(const abi::SlotSpec &s,
                             const std::vector<mil::BlobView> &blobs,
                             mil::DType dtype) {
  // Every read below indexes the blobs by the slot's shape: check them.
  auto holds = [&](size_t i, int64_t n) {
    return i < blobs.size() && readable(blobs[i], n);
  };
  if (s.shape.size() == 1) {
    if (!holds(0, s.shape[0]))
      return Status::error("the blob does not hold the slot's vector");
    std::vector<float> values(size_t(s.shape[0]));
    for (size_t k = 0; k < values.size(); ++k)
      values[k] = storeAs(dtype, blobNumber(blobs[0], k));
    return Tensor::floats(dtype, {1, s.shape[0], 1, 1}, std::move(values));
  }
  if (s.shape.size() != 2 || s.effectiveGroup() <= 0 ||
      s.shape[1] % s.effectiveGroup() != 0)
    return Status::error("the slot is not a matrix of whole groups");
  int64_t out = s.shape[0], in = s.shape[1];
  int64_t group = s.effectiveGroup(), groups = in / group;
  bool perChannel = blobs.size() == 3; // int8 with zero points
  bool fits = s.scheme == abi::Scheme::F16 ? holds(0, out * in)
              : s.scheme == abi::Scheme::Lut4
                  ? holds(0, out * in) && holds(1, out * groups * 16)
              : perChannel
                  ? holds(0, out * in) && holds(1, out) && holds(2, out)
                  : holds(0, out * in) && holds(1, out * groups);
  if (!fits)
    return Status::error("its blobs do not hold the slot's shape and scheme");
  const mil::BlobView &data = blobs[0];
  auto weightAt = [&](int64_t r, int64_t c) -> float {
    uint64_t k = uint64_t(r * in + c), g = uint64_t(r * groups + c / group);
    float v = blobNumber(data, k);
    if (s.scheme == abi::Scheme::F16)
      return v;
    if (s.scheme == abi::Scheme::Lut4) // indices are uint4: 0..15
      return blobNumber(blobs[1], g * 16 + uint64_t(v));
    if (perChannel)
      return (v - blobNumber(blobs[2], r)) * blobNumber(blobs[1], r);
    return v * blobNumber(blobs[1], g);
  };
  // Transposed in blocks of rows, so that both the reads (a row each) and
  // the writes (a run of the block's rows per column) stay sequential: row
  // by row, every write missed the cache.
  constexpr int64_t kRows = 64;
  std::vector<float> values(size_t(out * in));
  for (int64_t r0 = 0; r0 < out; r0 += kRows)
    for (int64_t c = 0; c < in; ++c)
      for (int64_t r = r0; r < std::min(out, r0 + kRows); ++r)
        values[size_t(c * out + r)] = storeAs(dtype, weightAt(r, c));
  return Tensor::floats(dtype, {1, in, 1, out}, std::move(values));
}

/// The slots of `segment` some kernel reads; the others (the token
/// embedding, read by row on the host) are not inputs.
std::vector<abi::SlotSpec> inputSlots(const abi::KernelSet &ks,
                                      abi::Segment segment) {
  std::set<std::string> read;
  for (const abi::KernelDesc &d : ks.kernels)
    read.insert(d.weights.begin(), d.weights.end());
  std::vector<abi::SlotSpec> slots;
  for (const abi::SlotSpec &s : ks.slotsOf(segment))
    if (read.count(s.role))
      slots.push_back(s);
  return slots;
}

/// Bytes the input form of `slots` takes: 2 or 4 per weight.
uint64_t inputBytesOf(const std::vector<abi::SlotSpec> &slots, int64_t copies,
                      abi::DType dtype) {
  uint64_t n = 0;
  for (const abi::SlotSpec &s : slots) {
    uint64_t elements = 1;
    for (int64_t d : s.shape)
      elements *= uint64_t(d);
    n += elements;
  }
  return n * uint64_t(copies) * (dtype == abi::DType::FP32 ? 4 : 2);
}

/// Bytes `slots` take as stored, `copies` times.
uint64_t storedBytesOf(const std::vector<abi::SlotSpec> &slots,
                       int64_t copies) {
  uint64_t n = 0;
  for (const abi::SlotSpec &s : slots)
    n += abi::slotBytes(s);
  return n * uint64_t(copies);
}

/// Every slot of `slots` in `segment` in its input form, by role.
Result<std::map<std::string, TensorRef>>
convertSlots(const std::vector<abi::SlotSpec> &slots, Bytes segment,
             const std::string &name, mil::DType dtype) {
  auto reader =
      mil::WeightReader::fromBuffer(segment.data, segment.size, name, nullptr);
  if (!reader.ok())
    return reader.status();
  std::map<std::string, TensorRef> out;
  for (const abi::SlotSpec &s : slots) {
    std::vector<mil::BlobView> blobs;
    for (const abi::BlobSpec &b : s.blobs) {
      auto blob = reader->blob(b.offset);
      if (!blob.ok())
        return Status::error(
            fmt::format("{} slot '{}': {}", name, s.role, blob.message()));
      blobs.push_back(*blob);
    }
    auto w = inputWeightOf(s, blobs, dtype);
    if (!w.ok())
      return Status::error(
          fmt::format("{} slot '{}': {}", name, s.role, w.message()));
    out[s.role] = std::make_shared<const Tensor>(std::move(*w));
  }
  return out;
}

/// The bytes of every weight a decoded token reads (not the packed token
/// embedding, which is read by row), as address ranges merged where they
/// are less than a huge page apart.
std::vector<std::pair<const uint8_t *, const uint8_t *>>
decodeWeightRanges(const ModelImage &image) {
  std::vector<std::pair<const uint8_t *, const uint8_t *>> ranges;
  for (const abi::SlotSpec *slot : image.kernels.decodeSlots()) {
    std::vector<Bytes> segments = slot->segment == abi::Segment::Layer
                                      ? image.layerSegments
                                      : std::vector<Bytes>{image.globalSegment};
    for (const Bytes &segment : segments)
      for (const abi::BlobSpec &b : slot->blobs)
        ranges.emplace_back(segment.data + b.offset,
                            segment.data + abi::blobEnd(b));
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<const uint8_t *, const uint8_t *>> merged;
  constexpr ptrdiff_t kNear = ptrdiff_t(2) << 20;
  for (const auto &r : ranges) {
    if (!merged.empty() && r.first - merged.back().second < kNear)
      merged.back().second = std::max(merged.back().second, r.second);
    else
      merged.push_back(r);
  }
  return merged;
}

/// Makes the weights a decoded token reads resident before the first
/// call. The checksum pass left them unmapped; mapped on first read
/// instead, they made the kernels' prefetches miss the TLB into pages with
/// no entry yet (a one-layer 7B prefill of 16 tokens: 110 tok/s against
/// 195 mapped). Read into huge pages, a 7B decoded 9.2-9.5 tok/s and
/// prefilled 24.5 against 7.6-8.1 and 18.3 mapped from ext4's page cache,
/// where a third of the pages were mapped 2 MiB at a time.
void residentDecodeWeights(const ModelImage &image, bool hugePages,
                           EngineStats &stats) {
  auto start = std::chrono::steady_clock::now();
  for (const auto &[begin, end] : decodeWeightRanges(image)) {
    size_t bytes = size_t(end - begin);
    if (!hugePages) {
      image.mapped->populate(begin, bytes);
      continue;
    }
    auto moved = image.mapped->readIntoHugePages(begin, bytes,
                                                 ThreadPool::global().size());
    if (!moved.ok() && stats.hugePageNote.empty())
      stats.hugePageNote = moved.message();
  }
  stats.hugePageBytes = image.mapped->hugePageBytes();
  if (hugePages)
    stats.hugePageSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
}

/// The logical channels `name` was padded from, or 0.
int64_t logicalChannels(const abi::KernelDesc &d, const std::string &name) {
  for (const auto &[padded, channels] : d.paddedChannels)
    if (padded == name)
      return channels;
  return 0;
}

/// Gives the inputs a family legalization widened (`padded_channels`) the
/// zero channels the program expects after the logical ones.
Status padInputs(const abi::KernelDesc &d,
                 const std::vector<mil::Param> &params,
                 std::vector<TensorRef> &inputs) {
  for (size_t i = 0; i < inputs.size() && i < params.size(); ++i) {
    if (logicalChannels(d, params[i].name) == 0)
      continue;
    const mil::Shape &want = params[i].type.dims;
    const Tensor &t = *inputs[i];
    if (want.size() != 4 || t.shape.size() != 4 || t.shape[1] > want[1] ||
        t.numElements() / std::max<int64_t>(t.shape[1], 1) != want[2] * want[3])
      return Status::error(fmt::format(
          "kernel '{}': input '{}' of {} does not pad to {}", d.name(),
          params[i].name, mil::formatShape(t.shape), mil::formatShape(want)));
    // [1, C, H, S] is channel-major: the zero channels follow the values.
    Tensor logical = t.owned();
    std::vector<float> values(size_t(want[1] * want[2] * want[3]), 0.0f);
    std::copy(logical.f.begin(), logical.f.end(), values.begin());
    inputs[i] = std::make_shared<const Tensor>(
        Tensor::floats(t.dtype, want, std::move(values)));
  }
  return Status::success();
}

/// The outputs as the engine reads them: padded channels cut off, and a
/// classifier tiled over the axis cap ([1, C, T, 1], tile t holding rows
/// t*C ..) laid out as [1, C*T, 1, 1].
void toLogicalOutputs(const abi::KernelDesc &d, std::vector<Tensor> &outs) {
  for (size_t i = 0; i < outs.size() && i < d.outputs.size(); ++i) {
    Tensor &t = outs[i];
    if (t.shape.size() != 4 || t.halfStored)
      continue;
    if (int64_t c = logicalChannels(d, d.outputs[i].name);
        c > 0 && c < t.shape[1]) {
      Tensor owned = t.owned();
      owned.f.resize(size_t(c * t.shape[2] * t.shape[3]));
      owned.shape[1] = c;
      t = std::move(owned);
    }
    if (d.kernel == abi::Kernel::LmHead && t.shape[2] > 1 && t.shape[3] == 1) {
      Tensor owned = t.owned();
      int64_t rows = t.shape[1], tiles = t.shape[2];
      std::vector<float> flat(owned.f.size());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < tiles; ++k)
          flat[size_t(k * rows + r)] = owned.f[size_t(r * tiles + k)];
      t = Tensor::floats(t.dtype, {1, rows * tiles, 1, 1}, std::move(flat));
    }
  }
}

/// Every input before the weight inputs must be one the engine passes:
/// the kernel's activations of lib/Abi (a backward kernel may also re-read
/// its forward kernel's) or an adapter input of a role the set adapts.
Status checkActivations(const abi::KernelSet &ks, const abi::KernelDesc &d,
                        const std::vector<mil::Param> &params,
                        int64_t weightInputs) {
  std::vector<std::string_view> known = abi::kernelInputs(d.kernel);
  for (abi::Kernel f : abi::kAllKernels)
    if (abi::backwardOf(f) == d.kernel)
      for (std::string_view n : abi::kernelInputs(f))
        known.push_back(n);
  bool ok = params.size() >= size_t(weightInputs);
  for (size_t i = 0; ok && i < params.size() - size_t(weightInputs); ++i) {
    const std::string &name = params[i].name;
    auto lora = abi::parseLoraName(name);
    ok = std::find(known.begin(), known.end(), name) != known.end() ||
         (lora && name.rfind("d_", 0) != 0 &&
          std::find(ks.loraTargets.begin(), ks.loraTargets.end(),
                    lora->first) != ks.loraTargets.end());
  }
  if (ok)
    return Status::success();
  std::vector<std::string> names;
  for (const mil::Param &p : params)
    names.push_back(p.name);
  std::string adapters = ks.loraTargets.empty()
                             ? ""
                             : fmt::format(", the adapter inputs of ({})",
                                           fmt::join(ks.loraTargets, ", "));
  return Status::error(fmt::format(
      "kernel '{}' takes ({}); the engine passes ({}){} and {} weight inputs",
      d.name(), fmt::join(names, ", "), fmt::join(known, ", "), adapters,
      weightInputs));
}

/// The blobs in the cpu backend's layout in the segment `d` binds.
std::set<uint64_t> interleavedBlobsOf(const abi::KernelSet &ks,
                                      const abi::KernelDesc &d) {
  std::set<uint64_t> offsets;
  abi::Segment segment = abi::readsGlobalWeights(d.kernel)
                             ? abi::Segment::Global
                             : abi::Segment::Layer;
  for (const abi::SlotSpec &s : ks.slots)
    if (s.segment == segment && s.layout == abi::SlotLayout::Interleaved16)
      for (const abi::BlobSpec &b : s.blobs)
        offsets.insert(b.offset);
  return offsets;
}

} // namespace

Result<Engine> Engine::create(const ModelImage &image,
                              std::string_view backendName,
                              const BackendOptions &options,
                              uint64_t residentInputBytes) {
  const abi::KernelSet &ks = image.kernels;
  bool inputBinding = ks.weightBinding == abi::WeightBinding::Input;
  const model::Config &c = ks.config;
  if (Status s = ks.validate(); !s.ok())
    return s;
  if (int64_t(image.layerSegments.size()) != c.nLayers)
    return Status::error(fmt::format("{} layer segments for {} layers",
                                     image.layerSegments.size(), c.nLayers));
  uint64_t rowBytes = uint64_t(c.dim) * (ks.dtype == abi::DType::FP32 ? 4 : 2);
  if (image.embedding.size != uint64_t(c.vocabSize) * rowBytes)
    return Status::error("the embedding table is not [vocab, dim] of the "
                         "kernels' float type");
  Engine e;
  e.image = &image;
  auto backend = createBackend(backendName, options);
  if (!backend.ok())
    return backend.status();
  e.backend = std::move(*backend);
  if (ks.hasInterleavedSlots() && !e.backend->readsInterleavedWeights())
    return Status::error(fmt::format(
        "the weights are packed for the cpu backend (interleaved16 slots); "
        "backend '{}' reads Core ML's row-major layout: pack the model for it "
        "(ane-exec compile --backend {})",
        backendName, backendName));
  e.seqBuckets = ks.seqBuckets();
  e.ctxBuckets = ks.ctxBuckets();
  if (e.seqBuckets.empty() || e.seqBuckets.front() != 1 || e.ctxBuckets.empty())
    return Status::error("the kernel set has no decode (seq 1) bucket");

  for (const abi::KernelDesc &d : ks.kernels) {
    if (!d.packing.empty())
      return Status::error(fmt::format(
          "kernel '{}' takes its inputs packed into one (anemil-pack-inputs); "
          "the engine passes them one by one",
          d.name()));
    auto program = e.backend->compile(ks.programs[d.program]);
    if (!program.ok())
      return Status::error(fmt::format("kernel '{}' (seq {}): {}", d.name(),
                                       d.seq, program.message()));
    if (Status s = (*program)->setInterleavedBlobs(interleavedBlobsOf(ks, d));
        !s.ok())
      return Status::error(fmt::format("kernel '{}' (seq {}): {}", d.name(),
                                       d.seq, s.message()));
    // The weight inputs (input binding) follow the activations, one a role.
    int64_t weightInputs = inputBinding ? int64_t(d.weights.size()) : 0;
    if (Status s = checkActivations(ks, d, (*program)->params(), weightInputs);
        !s.ok())
      return s;
    if (weightInputs > 0)
      (*program)->setConstantInputs((*program)->params().size() -
                                    size_t(weightInputs));
    e.kernels.emplace(Key{d.kernel, d.seq, d.ctx},
                      LoadedKernel{&d, std::move(*program)});
  }
  for (abi::Kernel kernel : abi::kLayerKernels)
    for (int64_t seq : e.seqBuckets)
      for (int64_t ctx : e.ctxBuckets)
        if (!ks.find(kernel, seq, ctx))
          return Status::error(
              fmt::format("the kernel set has no '{}' for seq {}, ctx {}",
                          abi::kernelName(kernel), seq, ctx));
  if (!ks.find(abi::Kernel::LmHead, 1))
    return Status::error("the kernel set has no lm_head for seq 1");
  if (ks.loraRank > 0)
    if (Status s = e.setLora(nullptr); !s.ok())
      return s;

  if (inputBinding) {
    e.inputLayerSlots = inputSlots(ks, abi::Segment::Layer);
    e.inputGlobalSlots = inputSlots(ks, abi::Segment::Global);
    e.stats_.inputWeightBytes =
        inputBytesOf(e.inputLayerSlots, c.nLayers, ks.dtype) +
        inputBytesOf(e.inputGlobalSlots, 1, ks.dtype);
    e.stats_.inputStoredBytes = storedBytesOf(e.inputLayerSlots, c.nLayers) +
                                storedBytesOf(e.inputGlobalSlots, 1);
    e.stats_.inputWeightsResident =
        e.stats_.inputWeightBytes <= residentInputBytes;
    // Convert one layer now, so a bad segment fails here and not mid-run.
    if (auto first = e.inputWeightsOf(0); !first.ok())
      return first.status();
  } else {
    if (Status s = e.backend->prepareBindings(e.plannedBindings()); !s.ok())
      return s;
    if (image.mapped && e.backend->readsWeightsInPlace())
      // Once the kernel set is known to be good.
      residentDecodeWeights(
          image, !options.mapWeights && MappedFile::transparentHugePages(),
          e.stats_);
  }
  return e;
}

std::vector<PlannedBinding> Engine::plannedBindings() const {
  std::vector<PlannedBinding> plan;
  for (const auto &[key, k] : kernels) {
    if (k.desc->weights.empty())
      continue;
    PlannedBinding b{k.program.get(), {}, {}};
    if (abi::readsGlobalWeights(k.desc->kernel)) {
      b.segments.push_back(image->globalSegment);
      b.names.push_back("global segment");
    } else {
      b.segments = image->layerSegments;
      for (size_t l = 0; l < b.segments.size(); ++l)
        b.names.push_back(fmt::format("layer {}", l));
    }
    plan.push_back(std::move(b));
  }
  return plan;
}

void Engine::profileInto(OpProfile *profile) {
  profile_ = profile;
  for (auto &[key, k] : kernels)
    k.program->profileInto(profile, std::string(k.desc->name()));
}

Result<Engine::LoadedKernel *> Engine::kernel(abi::Kernel kernel, int64_t seq,
                                              int64_t ctx) {
  const abi::KernelDesc *d = image->kernels.find(kernel, seq, ctx);
  if (!d)
    return Status::error(fmt::format("no '{}' kernel for seq {}, ctx {}",
                                     abi::kernelName(kernel), seq, ctx));
  return &kernels.at(Key{d->kernel, d->seq, d->ctx});
}

Status Engine::bindLayer(LoadedKernel &k, int64_t layer) {
  if (image->kernels.weightBinding == abi::WeightBinding::Input ||
      k.desc->weights.empty() || k.boundLayer == layer)
    return Status::success(); // weights arrive as inputs, or are in place
  auto start = Clock::now();
  Bytes segment =
      layer < 0 ? image->globalSegment : image->layerSegments[layer];
  Status bound = k.program->bindWeights(
      segment, layer < 0 ? "global segment" : fmt::format("layer {}", layer));
  if (!bound.ok())
    return bound;
  k.boundLayer = layer;
  stats_.swaps += 1;
  stats_.swapSeconds += secondsSince(start);
  return Status::success();
}

Result<const Engine::InputWeights *> Engine::inputWeightsOf(int64_t layer) {
  auto it = inputWeights.find(layer);
  if (it != inputWeights.end())
    return &it->second;
  const abi::KernelSet &ks = image->kernels;
  auto start = Clock::now();
  auto converted =
      layer < 0
          ? convertSlots(inputGlobalSlots, image->globalSegment,
                         "global segment", abi::toMil(ks.dtype))
          : convertSlots(inputLayerSlots, image->layerSegments[size_t(layer)],
                         fmt::format("layer {}", layer), abi::toMil(ks.dtype));
  if (!converted.ok())
    return converted.status();
  if (!stats_.inputWeightsResident && layer >= 0) // one layer at a time
    inputWeights.erase(inputWeights.lower_bound(0), inputWeights.end());
  stats_.inputConversions += 1;
  stats_.inputConversionSeconds += secondsSince(start);
  return &inputWeights.emplace(layer, std::move(*converted)).first->second;
}

Result<std::vector<Tensor>> Engine::run(LoadedKernel &k, int64_t layer,
                                        std::vector<TensorRef> activations) {
  const auto &names = abi::kernelInputs(k.desc->kernel);
  Named named;
  for (size_t i = 0; i < names.size() && i < activations.size(); ++i)
    named.emplace(std::string(names[i]), std::move(activations[i]));
  auto outs = runNamed(k, layer, named);
  if (!outs.ok())
    return outs.status();
  std::vector<Tensor> ordered;
  for (const abi::TensorDesc &o : k.desc->outputs)
    ordered.push_back(std::move(outs->at(o.name)));
  return ordered;
}

Result<TensorRef> Engine::loraInput(int64_t layer, const std::string &name) {
  if (layer >= 0 && size_t(layer) < loraInputs.size()) {
    auto it = loraInputs[size_t(layer)].find(name);
    if (it != loraInputs[size_t(layer)].end())
      return it->second;
  }
  return Status::error(
      fmt::format("the kernel takes '{}', which the engine does not pass for "
                  "layer {}",
                  name, layer));
}

Result<std::map<std::string, Tensor>>
Engine::runNamed(LoadedKernel &k, int64_t layer, const Named &inputs) {
  if (Status bound = bindLayer(k, layer); !bound.ok())
    return bound;
  bool inputBinding = image->kernels.weightBinding == abi::WeightBinding::Input;
  const std::vector<mil::Param> &params = k.program->params();
  size_t weightInputs = inputBinding ? k.desc->weights.size() : 0;
  std::vector<TensorRef> ordered;
  for (size_t i = 0; i + weightInputs < params.size(); ++i) {
    auto it = inputs.find(params[i].name);
    if (it != inputs.end()) {
      ordered.push_back(it->second);
      continue;
    }
    auto lora = loraInput(layer, params[i].name);
    if (!lora.ok())
      return lora.status();
    ordered.push_back(*lora);
  }
  if (inputBinding && !k.desc->weights.empty()) {
    auto bound = inputWeightsOf(layer);
    if (!bound.ok())
      return bound.status();
    for (const std::string &role : k.desc->weights) {
      auto it = (*bound)->find(role);
      if (it == (*bound)->end())
        return Status::error(fmt::format("kernel '{}' reads weight '{}', "
                                         "which no slot holds",
                                         k.desc->name(), role));
      ordered.push_back(it->second);
    }
  }
  if (!k.desc->paddedChannels.empty())
    if (Status s = padInputs(*k.desc, k.program->params(), ordered); !s.ok())
      return s;
  auto started = Clock::now();
  auto outs = k.program->run(ordered);
  stats_.kernelCalls += 1;
  stats_.kernelSeconds[std::string(k.desc->name())] += secondsSince(started);
  if (!outs.ok())
    return outs.status();
  if (outs->empty() || outs->size() != k.desc->outputs.size())
    return Status::error("wrong number of outputs");
  toLogicalOutputs(*k.desc, *outs);
  std::map<std::string, Tensor> named;
  for (size_t i = 0; i < outs->size(); ++i)
    named[k.desc->outputs[i].name] = std::move((*outs)[i]);
  return named;
}

uint64_t KvCache::bytes() const {
  uint64_t total = 0;
  for (const auto *side : {&keys, &values})
    for (const auto &t : *side)
      total += t->halfStored ? t->h.size() * 2 : t->f.size() * 4;
  return total;
}

void KvCache::clear() {
  keys.clear();
  values.clear();
  columns_ = 0;
}

int64_t Engine::cacheColumnsFor(int64_t positions) const {
  for (int64_t b : ctxBuckets)
    if (b >= positions)
      return b;
  return 0;
}

uint64_t Engine::cacheBytes(int64_t positions) const {
  const model::Config &c = image->kernels.config;
  // Caches of an fp16 kernel set hold fp16 bits (emptyCache).
  uint64_t element = image->kernels.dtype == abi::DType::FP16 ? 2 : 4;
  return 2 * uint64_t(c.nLayers) * uint64_t(c.kvDim()) *
         uint64_t(cacheColumnsFor(positions)) * element;
}

Status Engine::growCaches(KvCache &cache, int64_t needed) {
  const model::Config &c = image->kernels.config;
  int64_t columns = cacheColumnsFor(needed);
  if (columns == 0)
    return Status::error(
        fmt::format("{} positions do not fit the largest context bucket {}",
                    needed, ctxBuckets.back()));
  if (columns == cache.columns_)
    return Status::success();
  mil::DType dt = abi::toMil(image->kernels.dtype);
  bool fresh = cache.columns_ == 0;
  for (int64_t l = 0; l < c.nLayers; ++l) {
    auto k = std::make_shared<Tensor>(emptyCache(dt, c.kvDim(), columns));
    auto v = std::make_shared<Tensor>(emptyCache(dt, c.kvDim(), columns));
    if (!fresh) {
      int64_t keep = std::min(cache.columns_, columns);
      copyColumns(*cache.keys[l], *k, keep);
      copyColumns(*cache.values[l], *v, keep);
      cache.keys[l] = std::move(k);
      cache.values[l] = std::move(v);
    } else {
      cache.keys.push_back(std::move(k));
      cache.values.push_back(std::move(v));
    }
  }
  cache.columns_ = columns;
  return Status::success();
}

Result<std::vector<Tensor>> Engine::runLayerKernel(LoadedKernel &k,
                                                   int64_t layer,
                                                   std::vector<TensorRef> in) {
  auto out = run(k, layer, std::move(in));
  if (!out.ok())
    return Status::error(fmt::format("{} of layer {}: {}", k.desc->name(),
                                     layer, out.message()));
  return out;
}

Result<Tensor> Engine::runChunk(KvCache &cache,
                                const std::vector<int32_t> &tokens,
                                size_t first, int64_t seq, int64_t pos,
                                std::vector<Saved> *saved) {
  const model::Config &c = image->kernels.config;
  mil::DType dt = abi::toMil(image->kernels.dtype);
  std::vector<float> xs(c.dim * seq);
  for (int64_t s = 0; s < seq; ++s) {
    std::vector<float> row = embeddingRow(*image, tokens[first + s]);
    for (int64_t ch = 0; ch < c.dim; ++ch)
      xs[ch * seq + s] = row[ch];
  }
  TensorRef x = std::make_shared<const Tensor>(
      Tensor::floats(dt, {1, c.dim, 1, seq}, std::move(xs)));
  if (Status s = growCaches(cache, pos + seq); !s.ok())
    return s;
  int64_t cacheColumns = cache.columns_;
  auto [cosTable, sinTable] = ropeTables(c, dt, pos, seq);
  TensorRef cosT = std::make_shared<const Tensor>(std::move(cosTable));
  TensorRef sinT = std::make_shared<const Tensor>(std::move(sinTable));
  TensorRef mask =
      std::make_shared<const Tensor>(causalMask(dt, pos, seq, cacheColumns));

  LoadedKernel *ks[5];
  for (int i = 0; i < 5; ++i) {
    auto k = kernel(abi::kLayerKernels[i], seq, cacheColumns);
    if (!k.ok())
      return k.status();
    ks[i] = *k;
  }
  auto share = [](Tensor &t) {
    return std::make_shared<const Tensor>(std::move(t));
  };
  for (int64_t l = 0; l < c.nLayers; ++l) {
    // Inputs in the order of abi::kernelInputs.
    auto step = [&](int i, std::vector<TensorRef> in) {
      return runLayerKernel(*ks[i], l, std::move(in));
    };
    Saved keep;
    keep.x = x;
    auto qkv = step(0, {x, cosT, sinT});
    if (!qkv.ok())
      return qkv.status();
    if (qkv->size() != 3)
      return Status::error("attn_qkv must return q, k, v");
    auto written = Clock::now();
    Status kv = writeKeysAndValues(*cache.keys[l], *cache.values[l], *qkv, pos);
    if (!kv.ok())
      return Status::error(fmt::format("layer {}: {}", l, kv.message()));
    if (profile_)
      profile_->add("(engine)", "write_kv", secondsSince(written));
    keep.q = share((*qkv)[0]);
    auto attn = step(1, {keep.q, cache.keys[l], cache.values[l], mask});
    if (!attn.ok())
      return attn.status();
    auto out = step(2, {share((*attn)[0]), x});
    if (!out.ok())
      return out.status();
    x = keep.mid = share((*out)[0]);
    auto h = step(3, {x});
    if (!h.ok())
      return h.status();
    keep.h = share((*h)[0]);
    auto down = step(4, {keep.h, x});
    if (!down.ok())
      return down.status();
    x = share((*down)[0]);
    if (saved)
      saved->push_back(std::move(keep));
  }
  return *x;
}

Status Engine::checkTokens(const std::vector<int32_t> &tokens) const {
  for (int32_t t : tokens)
    if (t < 0 || t >= image->kernels.config.vocabSize)
      return Status::error(
          fmt::format("token {} is outside the vocabulary", t));
  return Status::success();
}

Result<std::vector<float>> Engine::forward(const std::vector<int32_t> &tokens,
                                           int64_t pos) {
  return forward(ownCache, tokens, pos);
}

Status
Engine::runChunks(KvCache &cache, const std::vector<int32_t> &tokens,
                  int64_t pos,
                  const std::function<Status(Tensor &x, int64_t seq)> &each) {
  const model::Config &c = image->kernels.config;
  if (tokens.empty())
    return Status::error("no tokens to run");
  if (Status s = checkTokens(tokens); !s.ok())
    return s;
  if (pos < 0 || pos + int64_t(tokens.size()) > maxContext())
    return Status::error(
        fmt::format("positions {}..{} are outside the context of {}", pos,
                    pos + int64_t(tokens.size()) - 1, maxContext()));
  size_t done = 0;
  while (done < tokens.size()) {
    int64_t seq = 1;
    for (int64_t b : seqBuckets)
      if (b <= int64_t(tokens.size() - done))
        seq = b;
    auto x = runChunk(cache, tokens, done, seq, pos + int64_t(done));
    if (!x.ok())
      return x.status();
    if (x->shape != mil::Shape{1, c.dim, 1, seq} || !x->isFloat())
      return Status::error(
          fmt::format("the last layer returned {}, not [1, {}, 1, {}]",
                      mil::formatShape(x->shape), c.dim, seq));
    if (Status s = each(*x, seq); !s.ok())
      return s;
    done += size_t(seq);
  }
  return Status::success();
}

Result<std::vector<std::vector<float>>>
Engine::forwardAll(KvCache &cache, const std::vector<int32_t> &tokens,
                   int64_t pos) {
  std::vector<std::vector<float>> logits;
  Status s = runChunks(cache, tokens, pos, [&](Tensor &x, int64_t seq) {
    return headLogits(x, seq, seq, logits);
  });
  if (!s.ok())
    return s;
  return logits;
}

Status Engine::fill(KvCache &cache, const std::vector<int32_t> &tokens,
                    int64_t pos) {
  return runChunks(cache, tokens, pos,
                   [](Tensor &, int64_t) { return Status::success(); });
}

Result<std::vector<float>> Engine::forward(KvCache &cache,
                                           const std::vector<int32_t> &tokens,
                                           int64_t pos) {
  const model::Config &c = image->kernels.config;
  Tensor last;
  Status s = runChunks(cache, tokens, pos, [&](Tensor &x, int64_t seq) {
    last = column(x, seq - 1);
    return Status::success();
  });
  if (!s.ok())
    return s;
  auto head = kernel(abi::Kernel::LmHead, 1, 0);
  if (!head.ok())
    return head.status();
  auto logits =
      run(**head, -1, {std::make_shared<const Tensor>(std::move(last))});
  if (!logits.ok())
    return Status::error("lm_head: " + logits.message());
  if (int64_t((*logits)[0].f.size()) != c.vocabSize)
    return Status::error(fmt::format("lm_head returned {} values for a "
                                     "vocabulary of {}",
                                     (*logits)[0].f.size(), c.vocabSize));
  return (*logits)[0].f;
}

Status Engine::headLogits(const Tensor &x, int64_t seq, int64_t n,
                          std::vector<std::vector<float>> &logits) {
  const model::Config &c = image->kernels.config;
  auto share = [](Tensor t) {
    return std::make_shared<const Tensor>(std::move(t));
  };
  // lm_head in the batch's bucket reads the classifier once; a kernel set
  // without one there runs it per column.
  auto head = kernel(abi::Kernel::LmHead, seq, 0);
  if (!head.ok() || seq == 1) {
    if (!(head = kernel(abi::Kernel::LmHead, 1, 0)).ok())
      return head.status();
    for (int64_t s = 0; s < n; ++s) {
      auto out = run(**head, -1, {share(column(x, s))});
      if (!out.ok())
        return Status::error("lm_head: " + out.message());
      if (int64_t((*out)[0].f.size()) != c.vocabSize)
        return Status::error(
            fmt::format("lm_head returned {} values for a vocabulary of {}",
                        (*out)[0].f.size(), c.vocabSize));
      logits.push_back(std::move((*out)[0].f));
    }
    return Status::success();
  }
  auto out = run(**head, -1, {share(x)});
  if (!out.ok())
    return Status::error("lm_head: " + out.message());
  const Tensor &all = (*out)[0];
  if (all.shape != mil::Shape{1, c.vocabSize, 1, seq} ||
      int64_t(all.f.size()) != c.vocabSize * seq)
    return Status::error(fmt::format("lm_head returned {}, not [1, {}, 1, {}]",
                                     mil::formatShape(all.shape), c.vocabSize,
                                     seq));
  for (int64_t s = 0; s < n; ++s) {
    std::vector<float> v(c.vocabSize);
    for (int64_t t = 0; t < c.vocabSize; ++t)
      v[t] = all.f[t * seq + s];
    logits.push_back(std::move(v));
  }
  return Status::success();
}

Status Engine::decodeColumns(const BatchStep *steps, int64_t n,
                             std::vector<std::vector<float>> &logits) {
  const model::Config &c = image->kernels.config;
  mil::DType dt = abi::toMil(image->kernels.dtype);
  int64_t seq = seqBuckets.back();
  for (int64_t b : seqBuckets)
    if (b >= n) {
      seq = b;
      break;
    }
  auto share = [](Tensor t) {
    return std::make_shared<const Tensor>(std::move(t));
  };
  std::vector<float> xs(c.dim * seq, 0.0f);
  std::vector<int64_t> positions(seq, 0);
  std::vector<TensorRef> masks;
  std::vector<LoadedKernel *> cores;
  for (int64_t j = 0; j < n; ++j) {
    const BatchStep &s = steps[j];
    std::vector<float> row = embeddingRow(*image, s.token);
    for (int64_t ch = 0; ch < c.dim; ++ch)
      xs[ch * seq + j] = row[ch];
    positions[j] = s.pos;
    if (Status g = growCaches(*s.cache, s.pos + 1); !g.ok())
      return g;
    masks.push_back(share(causalMask(dt, s.pos, 1, s.cache->columns_)));
    auto core = kernel(abi::Kernel::AttnCore, 1, s.cache->columns_);
    if (!core.ok())
      return core.status();
    cores.push_back(*core);
  }
  TensorRef x = share(Tensor::floats(dt, {1, c.dim, 1, seq}, std::move(xs)));
  auto [cosTable, sinTable] = ropeTablesAt(c, dt, positions);
  TensorRef cosT = share(std::move(cosTable)),
            sinT = share(std::move(sinTable));
  // The position-wise kernels do not depend on the context bucket.
  LoadedKernel *wise[4];
  abi::Kernel wiseKinds[4] = {abi::Kernel::AttnQkv, abi::Kernel::AttnOut,
                              abi::Kernel::FfnUp, abi::Kernel::FfnDown};
  for (int i = 0; i < 4; ++i) {
    auto k = kernel(wiseKinds[i], seq, ctxBuckets.front());
    if (!k.ok())
      return k.status();
    wise[i] = *k;
  }
  for (int64_t l = 0; l < c.nLayers; ++l) {
    auto qkv = runLayerKernel(*wise[0], l, {x, cosT, sinT});
    if (!qkv.ok())
      return qkv.status();
    if (qkv->size() != 3)
      return Status::error("attn_qkv must return q, k, v");
    std::vector<Tensor> attns;
    for (int64_t j = 0; j < n; ++j) {
      KvCache &cache = *steps[j].cache;
      std::vector<Tensor> mine = {Tensor(), column((*qkv)[1], j),
                                  column((*qkv)[2], j)};
      Status kv = writeKeysAndValues(*cache.keys[l], *cache.values[l], mine,
                                     steps[j].pos);
      if (!kv.ok())
        return Status::error(fmt::format("layer {}: {}", l, kv.message()));
      auto attn = runLayerKernel(*cores[j], l,
                                 {share(column((*qkv)[0], j)), cache.keys[l],
                                  cache.values[l], masks[j]});
      if (!attn.ok())
        return attn.status();
      attns.push_back(std::move((*attn)[0]));
    }
    auto out = runLayerKernel(*wise[1], l, {share(joinColumns(attns, seq)), x});
    if (!out.ok())
      return out.status();
    x = share(std::move((*out)[0]));
    auto h = runLayerKernel(*wise[2], l, {x});
    if (!h.ok())
      return h.status();
    auto down = runLayerKernel(*wise[3], l, {share(std::move((*h)[0])), x});
    if (!down.ok())
      return down.status();
    x = share(std::move((*down)[0]));
  }
  if (x->shape != mil::Shape{1, c.dim, 1, seq} || !x->isFloat())
    return Status::error(
        fmt::format("the last layer returned {}, not [1, {}, 1, {}]",
                    mil::formatShape(x->shape), c.dim, seq));
  return headLogits(*x, seq, n, logits);
}

Result<std::vector<std::vector<float>>>
Engine::decodeBatch(const std::vector<BatchStep> &steps) {
  std::set<const KvCache *> seen;
  for (const BatchStep &s : steps) {
    if (!s.cache)
      return Status::error("a batch step without a cache");
    if (!seen.insert(s.cache).second)
      return Status::error("two steps of one batch share a cache");
    if (Status t = checkTokens({s.token}); !t.ok())
      return t;
    if (s.pos < 0 || s.pos >= maxContext())
      return Status::error(fmt::format(
          "position {} is outside the context of {}", s.pos, maxContext()));
  }
  std::vector<std::vector<float>> logits;
  int64_t widest = seqBuckets.back();
  for (size_t done = 0; done < steps.size();) {
    int64_t n = std::min<int64_t>(widest, int64_t(steps.size() - done));
    if (Status s = decodeColumns(steps.data() + done, n, logits); !s.ok())
      return s;
    done += size_t(n);
  }
  return logits;
}
