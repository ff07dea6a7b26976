//===- Plan.cpp - memory budget and roofline bounds on the ANE ------------===//

#include "lib/Runtime/Plan.h"

#include "lib/Runtime/Packing.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace ane::runtime {
namespace {

/// A program call costs its weight stream or its arithmetic, whichever is
/// longer, plus the dispatch of every call.
double boundTokS(double tokens, double streamBytes, double flops, int64_t calls,
                 const ChipSpec &chip, double dispatchMs) {
  double seconds = std::max(streamBytes / (chip.streamGBs * 1e9),
                            flops / (chip.fp16Tflops * 1e12)) +
                   double(calls) * dispatchMs * 1e-3;
  return seconds > 0 ? tokens / seconds : 0.0;
}

uint64_t tensorBytes(const abi::TensorDesc &t) {
  uint64_t n = 1;
  for (int64_t d : t.shape)
    n *= uint64_t(d);
  return n * uint64_t(mil::dtypeBits(t.dtype)) / 8;
}

/// The smallest compiled context bucket that holds `ctx`.
Result<int64_t> ctxBucket(const abi::KernelSet &ks, int64_t ctx) {
  for (int64_t b : ks.ctxBuckets())
    if (b >= ctx)
      return b;
  std::vector<int64_t> buckets = ks.ctxBuckets();
  return Status::error(fmt::format(
      "a context of {} does not fit the kernel set (largest bucket {})", ctx,
      buckets.empty() ? 0 : buckets.back()));
}

uint64_t timesLayers(const abi::SlotSpec &s, uint64_t bytes, int64_t layers) {
  return s.segment == abi::Segment::Layer ? bytes * uint64_t(layers) : bytes;
}

/// Weights as `input` binding passes them: the ANE's inputs are fp16
/// surfaces, so every scheme travels dequantized, 2 bytes a weight.
uint64_t inputWeightBytes(const std::vector<const abi::SlotSpec *> &slots,
                          int64_t layers) {
  uint64_t total = 0;
  for (const abi::SlotSpec *s : slots) {
    if (s->shape.size() != 2)
      continue; // norm vectors are folded into the projections
    uint64_t rows = uint64_t(s->shape[0]), cols = uint64_t(s->shape[1]);
    total += timesLayers(*s, 2 * rows * cols, layers);
  }
  return total;
}

} // namespace

const std::vector<ChipSpec> &chips() {
  // Weight-stream bandwidth as measured on the ANE (DESIGN.md section 1:
  // about 60 GB/s from M1 to M4, about 120 GB/s on M3 Max and M4 Pro/Max);
  // peak fp16 from Apple's Neural Engine figures (M4's 38 TOPS counts int8,
  // so half of it is fp16). docs/performance.md has the sources.
  static const std::vector<ChipSpec> all = [] {
    std::vector<ChipSpec> v = {
        {"m1", 60, 11.0}, {"m1-pro", 60, 11.0},  {"m1-max", 60, 11.0},
        {"m2", 60, 15.8}, {"m2-pro", 60, 15.8},  {"m2-max", 60, 15.8},
        {"m3", 60, 18.0}, {"m3-pro", 60, 18.0},  {"m3-max", 120, 18.0},
        {"m4", 60, 19.0}, {"m4-pro", 120, 19.0}, {"m4-max", 120, 19.0},
    };
    // M4's axis cap is 65536; M1-M3 keep the default 16384.
    for (ChipSpec &c : v)
      if (c.name.rfind("m4", 0) == 0)
        c.axisCap = 65536;
    return v;
  }();
  return all;
}

Result<ChipSpec> findChip(std::string_view name) {
  std::string known;
  for (const ChipSpec &c : chips()) {
    if (c.name == name)
      return c;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  return Status::error(
      fmt::format("unknown chip '{}' (known: {})", name, known));
}

Result<Plan> planKernelSet(const abi::KernelSet &ks, const ChipSpec &chip,
                           int64_t ctx, uint64_t machineBytes) {
  const model::Config &c = ks.config;
  if (ctx <= 0)
    return Status::error(fmt::format("a context of {} is out of range", ctx));
  auto bucket = ctxBucket(ks, ctx);
  if (!bucket.ok())
    return bucket.status();
  Plan plan;
  plan.chip = chip;
  plan.ctx = ctx;
  plan.machineBytes = machineBytes;
  std::vector<int64_t> seqs = ks.seqBuckets();
  plan.prefillSeq = seqs.empty() ? 1 : seqs.back();

  std::vector<const abi::SlotSpec *> slots = ks.decodeSlots();
  for (const abi::SlotSpec *s : slots)
    if (s->shape.size() == 2)
      plan.parameters += timesLayers(
          *s, uint64_t(s->shape[0]) * uint64_t(s->shape[1]), c.nLayers);
  // Attention reads the whole cache: q.k and p.v, 2 flops per product.
  plan.flopsPerToken = 2.0 * double(plan.parameters) +
                       4.0 * double(c.nLayers) * double(c.nHeads) *
                           double(c.headDim) * double(ctx);

  // Calls and programs per decode step: layer kernels run once per layer.
  std::set<abi::Kernel> seen;
  int64_t calls = 0, bakedPrograms = 0;
  for (const abi::KernelDesc &k : ks.kernels) {
    bool perLayer = !abi::readsGlobalWeights(k.kernel);
    if (k.seq == 1 && !abi::isBackward(k.kernel) &&
        seen.insert(k.kernel).second)
      calls += perLayer ? c.nLayers : 1;
    bool layerWeights = false;
    for (const abi::SlotSpec *s : slots)
      if (s->segment == abi::Segment::Layer &&
          std::count(k.weights.begin(), k.weights.end(), s->role))
        layerWeights = true;
    bakedPrograms += layerWeights ? c.nLayers : 1;
  }

  // Training adds the four backward programs of a layer and lm_head_bwd,
  // whether or not this set carries them.
  plan.trainCallsPerSequence = calls + 4 * c.nLayers + 1;

  uint64_t dtypeBytes = ks.dtype == abi::DType::FP32 ? 4 : 2;
  uint64_t kv = 2 * uint64_t(c.nLayers) * uint64_t(c.kvDim()) * uint64_t(ctx) *
                dtypeBytes;
  uint64_t scratch = 0;
  for (const abi::KernelDesc &k : ks.kernels) {
    if (k.ctx != 0 && k.ctx != *bucket)
      continue;
    for (const abi::TensorDesc &t : k.inputs)
      if (!abi::isCacheInput(t.name)) // counted in kv
        scratch += tensorBytes(t);
    for (const abi::TensorDesc &t : k.outputs)
      scratch += tensorBytes(t);
  }
  uint64_t embedding = uint64_t(c.vocabSize) * uint64_t(c.dim) * dtypeBytes;

  auto strategy = [&](std::string name, uint64_t weights, int64_t programs,
                      std::string note) {
    StrategyPlan p;
    p.strategy = std::move(name);
    p.note = std::move(note);
    p.weightBytes = weights;
    p.embeddingBytes = embedding;
    p.kvCacheBytes = kv;
    p.scratchBytes = scratch;
    p.totalBytes = weights + embedding + kv + scratch;
    p.headroomBytes = int64_t(machineBytes) - int64_t(p.totalBytes);
    p.streamBytesPerToken = weights;
    p.callsPerToken = calls;
    p.programs = programs;
    for (int i = 0; i < 2; ++i) {
      p.decodeTokS[i] = boundTokS(1, double(weights), plan.flopsPerToken, calls,
                                  chip, chip.dispatchMs[i]);
      double seq = double(plan.prefillSeq);
      p.prefillTokS[i] =
          boundTokS(seq, double(weights), seq * plan.flopsPerToken, calls, chip,
                    chip.dispatchMs[i]);
      // A training sequence predicts seq tokens.
      p.trainTokS[i] =
          boundTokS(seq, 2.0 * double(weights), 3.0 * seq * plan.flopsPerToken,
                    plan.trainCallsPerSequence, chip, chip.dispatchMs[i]);
    }
    plan.strategies.push_back(std::move(p));
  };

  uint64_t packed = ks.decodeBytesPerToken();
  strategy("blob", packed, int64_t(ks.programs.size()), "");
  strategy("input", inputWeightBytes(slots, c.nLayers),
           int64_t(ks.programs.size()),
           abi::isQuantized(ks.scheme)
               ? fmt::format("the ANE's inputs are fp16 surfaces: {} weights "
                             "travel dequantized, 2 bytes each",
                             abi::schemeName(ks.scheme))
               : "");
  strategy("baked", packed, bakedPrograms,
           bakedPrograms > 119
               ? fmt::format("{} programs exceed the ~119 compiles a "
                             "process gets: compiled over several, cached "
                             "on disk",
                             bakedPrograms)
               : "");
  return plan;
}

} // namespace ane::runtime
