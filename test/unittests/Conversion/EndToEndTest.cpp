//===- EndToEndTest.cpp - compiled kernels against the reference ----------===//
//
// stories260K through the whole chain: import, ane-compile for the cpu
// backend, one packed weight segment per layer, the engine decoding token by
// token through the emitted MIL, compared with the fp32 reference forward
// and llama2.c's text.
//
//===----------------------------------------------------------------------===//

#include "test/unittests/Conversion/CompiledKernels.h"
#include "test/unittests/SharedData.h"

#include "lib/Compile.h"
#include "lib/Model/Llama2c.h"
#include "lib/Model/Tokenizer.h"
#include "lib/Runtime/Cpu/Executor.h"
#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Generate.h"
#include "lib/Runtime/ModelPacker.h"
#include "lib/Runtime/Packing.h"
#include "lib/Runtime/Reference.h"

#include <cmath>
#include <optional>

namespace rt = ::ane::runtime;
namespace model = ::ane::model;

namespace {

constexpr int64_t kSteps = 200;
constexpr int64_t kContext = 256; // the smallest bucket holding 200 steps

/// Compiles `spec` for the given buckets and packs it into memory.
rt::ModelImage compile(const model::ModelSpec &spec,
                       const std::string &scheme = "f16",
                       const std::string &dtype = "fp32", int64_t group = 0,
                       std::vector<int64_t> seq = {1},
                       std::vector<int64_t> ctx = {kContext},
                       const std::string &binding = "blob") {
  ::ane::KernelSetOptions o;
  o.scheme = *::ane::abi::parseScheme(scheme);
  o.dtype = *::ane::abi::parseDType(dtype);
  o.group = group;
  o.seqBuckets = std::move(seq);
  o.ctxBuckets = std::move(ctx);
  o.weightBinding = *::ane::abi::parseWeightBinding(binding);
  return ::ane::test::compileImage(spec, o);
}

using ::ane::test::Stories;

using rt::argmax;

TEST(EndToEndTest, Fp32KernelsMatchTheReferenceAndLlama2c) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  model::ModelSpec *spec = &stories.spec;
  model::Tokenizer *tokenizer = &*stories.tokenizer;

  // Two context buckets: the caches move to the larger one at position 64.
  rt::ModelImage compiled = compile(*spec, "f16", "fp32", 0, {1}, {64, 256});
  auto engine = rt::Engine::create(compiled);
  ASSERT_TRUE(engine.ok()) << engine.message();
  auto reference = rt::ReferenceModel::load(*spec, kContext);
  ASSERT_TRUE(reference.ok()) << reference.message();

  double worst = 0;
  auto step = [&](int32_t token,
                  int64_t pos) -> ::ane::Result<std::vector<float>> {
    auto got = engine->decode(token, pos);
    auto want = reference->forward(token, pos);
    if (!got.ok() || !want.ok())
      return got.ok() ? want : got;
    worst = std::max(worst, ::ane::test::relativeError(*got, *want));
    return got;
  };
  auto text = rt::generateGreedy(step, *tokenizer, "Once upon a time", kSteps);
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_EQ(*text, ::ane::test::readFile(::ane::test::sharedPath(
                       "golden/stories260K_greedy_once_upon_a_time_n200.txt")));
  EXPECT_LE(worst, 1e-4) << "max relative logit error over the run";
  RecordProperty("max_relative_logit_error", std::to_string(worst));
  std::printf("max relative logit error over %lld steps: %.3g\n",
              (long long)kSteps, worst);
}

/// fp16 kernels keep fp16 K/V caches (stored as half bits); growing them
/// into the next context bucket at position 64 copies every column.
TEST(EndToEndTest, Fp16CachesGrowAcrossContextBuckets) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  rt::ModelImage compiled =
      compile(stories.spec, "f16", "fp16", 0, {1}, {64, 256});
  auto engine = rt::Engine::create(compiled);
  ASSERT_TRUE(engine.ok()) << engine.message();
  auto reference = rt::ReferenceModel::load(stories.spec, kContext);
  ASSERT_TRUE(reference.ok()) << reference.message();
  double before = 0, after = 0; // worst error below and past position 64
  int64_t pos = 0;
  auto step = [&](int32_t token,
                  int64_t at) -> ::ane::Result<std::vector<float>> {
    auto got = engine->decode(token, at);
    auto want = reference->forward(token, at);
    if (!got.ok() || !want.ok())
      return got.ok() ? want : got;
    double err = ::ane::test::relativeError(*got, *want);
    (at < 64 ? before : after) = std::max(at < 64 ? before : after, err);
    pos = at;
    return got;
  };
  auto text =
      rt::generateGreedy(step, *stories.tokenizer, "Once upon a time", kSteps);
  ASSERT_TRUE(text.ok()) << text.message();
  ASSERT_GE(pos, 128) << "the run must go well past the first bucket";
  EXPECT_EQ(*text, ::ane::test::readFile(::ane::test::sharedPath(
                       "golden/stories260K_greedy_once_upon_a_time_n200.txt")));
  // fp16 rounding, no worse after the move than before it.
  EXPECT_LE(before, 2e-2);
  EXPECT_LE(after, 2e-2);
}

/// The prompt through the prefill bucket (chunks of 4, then single tokens)
/// gives the logits the reference gets token by token.
TEST(EndToEndTest, PrefillChunksMatchTheReference) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  std::vector<int32_t> tokens = stories.tokenizer->encode(
      "Once upon a time, there was a little girl named Lily.", true, false);
  ASSERT_GT(tokens.size(), 9u);
  rt::ModelImage compiled =
      compile(stories.spec, "f16", "fp32", 0, {1, 4}, {kContext});
  auto engine = rt::Engine::create(compiled);
  ASSERT_TRUE(engine.ok()) << engine.message();
  EXPECT_EQ(engine->prefillChunk(), 4);
  auto reference = rt::ReferenceModel::load(stories.spec, kContext);
  ASSERT_TRUE(reference.ok()) << reference.message();
  std::vector<float> want;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    auto logits = reference->forward(tokens[pos], int64_t(pos));
    ASSERT_TRUE(logits.ok()) << logits.message();
    want = *logits;
  }
  auto got = engine->forward(tokens, 0);
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_LE(::ane::test::relativeError(*got, want), 1e-4);
  // Decoding continues from the prefilled caches.
  auto next = engine->decode(argmax(*got), int64_t(tokens.size()));
  auto nextWant = reference->forward(argmax(want), int64_t(tokens.size()));
  ASSERT_TRUE(next.ok() && nextWant.ok());
  EXPECT_LE(::ane::test::relativeError(*next, *nextWant), 1e-4);
}

/// Qwen2's q/k/v biases through fused kernels, prefill and decode, both
/// weight bindings: the reference's logits with biases, which differ from
/// those of the same weights without.
TEST(EndToEndTest, QkvBiasesMatchTheReference) {
  auto biased = model::openModel("synthetic:tiny?layers=2&qkv_bias=1");
  auto plain = model::openModel("synthetic:tiny?layers=2");
  ASSERT_TRUE(biased.ok() && plain.ok()) << biased.message();
  std::vector<int32_t> prompt = {1, 40, 41, 42, 43, 44, 45};
  auto last = [&](const model::ModelSpec &spec) {
    auto ref = rt::ReferenceModel::load(spec, kContext);
    std::vector<float> logits;
    for (size_t pos = 0; ref.ok() && pos < prompt.size(); ++pos)
      logits = *ref->forward(prompt[pos], int64_t(pos));
    return logits;
  };
  std::vector<float> want = last(*biased);
  ASSERT_FALSE(want.empty());
  EXPECT_GT(::ane::test::relativeError(last(*plain), want), 1e-2)
      << "the biases must matter to the logits";
  for (const char *binding : {"blob", "input"}) {
    rt::ModelImage compiled =
        compile(*biased, "f16", "fp32", 0, {1, 4}, {kContext}, binding);
    auto engine = rt::Engine::create(compiled);
    ASSERT_TRUE(engine.ok()) << engine.message();
    auto got = engine->forward(prompt, 0);
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_LE(::ane::test::relativeError(*got, want), 1e-4) << binding;
  }
}

/// Each step binds every layer's segment to the four kernels with weights
/// (attn_core has none); lm_head keeps the global segment bound. The logits
/// match the reference's, so each swap brought the right layer in.
TEST(EndToEndTest, EveryStepSwapsEachLayersWeightsIn) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  rt::ModelImage compiled = compile(stories.spec, "f16", "fp32");
  auto engine = rt::Engine::create(compiled);
  ASSERT_TRUE(engine.ok()) << engine.message();
  auto reference = rt::ReferenceModel::load(stories.spec, kContext);
  ASSERT_TRUE(reference.ok()) << reference.message();
  int64_t layers = stories.spec.config.nLayers;
  int32_t token = 1;
  for (int64_t pos = 0; pos < 2; ++pos) {
    auto got = engine->decode(token, pos);
    auto want = reference->forward(token, pos);
    ASSERT_TRUE(got.ok() && want.ok()) << got.message() << want.message();
    EXPECT_LE(::ane::test::relativeError(*got, *want), 1e-4) << pos;
    EXPECT_EQ(engine->stats().swaps, (pos + 1) * 4 * layers + 1);
    token = argmax(*want);
  }
  EXPECT_EQ(engine->stats().kernelCalls, 2 * (5 * layers + 1));
}

/// Five sequences at different positions decode together: in a seq-4
/// bucket and then one alone, each on its own K/V cache (one of them
/// growing into the next context bucket on the way), with the logits the
/// reference gets for each sequence alone; a batch reads each layer's
/// weights once, as one sequence's step does.
TEST(EndToEndTest, BatchedDecodeMatchesEachSequenceAlone) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  rt::ModelImage compiled =
      compile(stories.spec, "f16", "fp32", 0, {1, 4}, {64, 256});
  auto engine = rt::Engine::create(compiled);
  ASSERT_TRUE(engine.ok()) << engine.message();
  const char *prompts[] = {"Once upon a time", "The cat",
                           "Lily and Ben went to the park to play with a big "
                           "red ball and they laughed",
                           "One day", "Tom"};
  constexpr int kSeqs = 5;
  std::vector<rt::KvCache> caches(kSeqs);
  std::vector<rt::ReferenceModel> references;
  std::vector<int32_t> next(kSeqs);
  std::vector<int64_t> pos(kSeqs);
  for (int i = 0; i < kSeqs; ++i) {
    auto ref = rt::ReferenceModel::load(stories.spec, kContext);
    ASSERT_TRUE(ref.ok()) << ref.message();
    references.push_back(std::move(*ref));
    std::vector<int32_t> tokens =
        stories.tokenizer->encode(prompts[i], true, false);
    // The long prompt starts near the end of the 64-column bucket.
    if (i == 2)
      while (tokens.size() < 60)
        tokens.push_back(tokens[tokens.size() % 20 + 1]);
    auto got = engine->forward(caches[i], tokens, 0);
    ASSERT_TRUE(got.ok()) << got.message();
    std::vector<float> want;
    for (size_t p = 0; p < tokens.size(); ++p)
      want = *references[i].forward(tokens[p], int64_t(p));
    EXPECT_LE(::ane::test::relativeError(*got, want), 1e-4) << i;
    next[i] = argmax(want);
    pos[i] = int64_t(tokens.size());
  }
  int64_t layers = stories.spec.config.nLayers;
  for (int step = 0; step < 8; ++step) {
    std::vector<rt::Engine::BatchStep> batch;
    for (int i = 0; i < kSeqs; ++i)
      batch.push_back({&caches[i], next[i], pos[i]});
    int64_t before = engine->stats().swaps;
    auto got = engine->decodeBatch(batch);
    ASSERT_TRUE(got.ok()) << got.message();
    ASSERT_EQ(got->size(), size_t(kSeqs));
    // Each layer's segment bound to its four kernels once for the four
    // and once for the fifth; the seq-4 lm_head takes the global segment
    // the first time.
    if (step == 0) {
      EXPECT_EQ(engine->stats().swaps - before, 2 * 4 * layers + 1);
    }
    for (int i = 0; i < kSeqs; ++i) {
      auto want = references[i].forward(next[i], pos[i]);
      ASSERT_TRUE(want.ok()) << want.message();
      EXPECT_LE(::ane::test::relativeError((*got)[i], *want), 1e-4)
          << "sequence " << i << " at " << pos[i];
      next[i] = argmax(*want);
      ++pos[i];
    }
  }
  EXPECT_EQ(caches[2].columns(), 256) << "the long one moved bucket";
  EXPECT_EQ(caches[0].columns(), 64);
  EXPECT_EQ(caches[0].bytes(), engine->cacheBytes(pos[0]));
  // A batch must not name one cache twice, nor run past the context.
  EXPECT_FALSE(
      engine
          ->decodeBatch({{&caches[0], 1, pos[0]}, {&caches[0], 1, pos[0] + 1}})
          .ok());
  EXPECT_FALSE(engine->decodeBatch({{&caches[1], 1, kContext}}).ok());
  EXPECT_FALSE(engine->decodeBatch({{&caches[1], -1, pos[1]}}).ok());
}

/// Weights passed as kernel inputs compute what blob constants compute,
/// whatever the slots store: the engine dequantizes them into the inputs'
/// [1, in, 1, out] form, once, or per layer use when they do not all fit.
TEST(EndToEndTest, InputBindingMatchesBlobBinding) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  const int64_t layers = stories.spec.config.nLayers;
  for (const char *scheme : {"f16", "q8", "q4", "q3", "lut4"}) {
    rt::ModelImage blob = compile(stories.spec, scheme, "fp32");
    rt::ModelImage input =
        compile(stories.spec, scheme, "fp32", 0, {1}, {kContext}, "input");
    auto a = rt::Engine::create(blob);
    auto b = rt::Engine::create(input);
    auto c = rt::Engine::create(input, "cpu", {}, /*residentInputBytes=*/0);
    ASSERT_TRUE(a.ok()) << a.message();
    ASSERT_TRUE(b.ok()) << b.message();
    ASSERT_TRUE(c.ok()) << c.message();
    int32_t token = 1;
    for (int64_t pos = 0; pos < 16; ++pos) {
      auto x = a->decode(token, pos);
      auto y = b->decode(token, pos);
      auto z = c->decode(token, pos);
      ASSERT_TRUE(x.ok() && y.ok() && z.ok())
          << x.message() << y.message() << z.message();
      EXPECT_LE(::ane::test::relativeError(*y, *x), 1e-5) << scheme << pos;
      EXPECT_EQ(*z, *y) << scheme << pos;
      token = argmax(*x);
    }
    EXPECT_EQ(b->stats().swaps, 0) << "input binding passes buffers";
    // 4 bytes a weight (fp32 kernels), every slot's: each layer's and the
    // global ones (the host reads the token embedding by row, from no slot).
    uint64_t params = 0;
    for (const auto &s : input.kernels.slots)
      params += uint64_t(s.shape[0]) * (s.shape.size() == 2 ? s.shape[1] : 1) *
                (s.segment == ::ane::abi::Segment::Layer ? layers : 1);
    EXPECT_EQ(b->stats().inputWeightBytes, 4 * params) << scheme;
    EXPECT_TRUE(b->stats().inputWeightsResident);
    EXPECT_EQ(b->stats().inputConversions, layers + 1) << scheme;
    EXPECT_FALSE(c->stats().inputWeightsResident);
    EXPECT_EQ(c->stats().inputConversions, 16 * layers + 1) << scheme;
  }
}

/// The packer hands over the embedding, each layer's segment in order, then
/// the global segment (packed beside the layers), each of the manifest's
/// size, as it finishes them; a model that does not match the kernel set is
/// refused.
TEST(EndToEndTest, PackerStreamsTheSegmentsInOrder) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  ::ane::KernelSetOptions o;
  o.scheme = ::ane::abi::Scheme::Q4;
  auto kernels = ::ane::compileKernelSet(stories.spec, o);
  ASSERT_TRUE(kernels.ok()) << kernels.message();
  std::vector<std::pair<rt::SectionKind, int64_t>> order;
  std::vector<int64_t> progress;
  ::ane::Status s = rt::packModel(
      stories.spec, *kernels,
      [&](rt::SectionKind kind, int64_t index, std::vector<uint8_t> &&bytes) {
        order.emplace_back(kind, index);
        if (kind == rt::SectionKind::LayerSegment) {
          EXPECT_EQ(bytes.size(), kernels->layerSegmentBytes);
        }
        if (kind == rt::SectionKind::GlobalSegment) {
          EXPECT_EQ(bytes.size(), kernels->globalSegmentBytes);
        }
        return ::ane::Status::success();
      },
      [&](int64_t done, int64_t total) {
        progress.push_back(done);
        EXPECT_EQ(total, stories.spec.config.nLayers + 2);
      });
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(int64_t(order.size()), stories.spec.config.nLayers + 2);
  EXPECT_EQ(order[0].first, rt::SectionKind::Embedding);
  for (int64_t l = 0; l < stories.spec.config.nLayers; ++l)
    EXPECT_EQ(order[1 + l], std::make_pair(rt::SectionKind::LayerSegment, l));
  EXPECT_EQ(order.back().first, rt::SectionKind::GlobalSegment);
  EXPECT_EQ(progress.back(), stories.spec.config.nLayers + 2);

  auto tiny = model::openModel("synthetic:tiny");
  ASSERT_TRUE(tiny.ok());
  ::ane::Status wrong = rt::packModel(
      *tiny, *kernels, [](rt::SectionKind, int64_t, std::vector<uint8_t> &&) {
        return ::ane::Status::success();
      });
  EXPECT_EQ(wrong.message(),
            "synthetic:tiny does not match the kernel set's config");
}

/// The cpu backend's vector kernels read the packed weights in place; they
/// compute what the executor's plain loops compute on the dequantized
/// weights, up to fp16 rounding of the weights and float accumulation
/// (bound 1e-2). int4 and int8 products in groups of 32 also quantize
/// activations to int8 (up to 0.4% per element and projection, 20
/// projections deep): 3e-2.
TEST(EndToEndTest, VectorKernelsMatchTheOracleBackend) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  for (auto [scheme, bound] :
       {std::pair{"f16", 1e-2}, std::pair{"q8", 3e-2}, std::pair{"q4", 3e-2}}) {
    rt::ModelImage image = compile(stories.spec, scheme, "fp16", 32);
    auto fast = rt::Engine::create(image, "cpu");
    auto oracle = rt::Engine::create(image, "cpu-reference");
    ASSERT_TRUE(fast.ok() && oracle.ok());
    int32_t token = 1;
    double worst = 0;
    for (int64_t pos = 0; pos < 24; ++pos) {
      auto a = fast->decode(token, pos);
      auto b = oracle->decode(token, pos);
      ASSERT_TRUE(a.ok() && b.ok()) << a.message() << b.message();
      worst = std::max(worst, ::ane::test::relativeError(*a, *b));
      token = argmax(*b);
    }
    std::printf("%s: cpu vs cpu-reference max relative logit error %.3g\n",
                scheme, worst);
    EXPECT_LE(worst, bound) << scheme;
  }
}

/// Packed for the cpu backend, stories260K's q4 slots of whole 16-row
/// blocks take the interleaved layout (the others stay row-major, so both
/// kinds run in one model); its kernels compute the row-major kernels'
/// integer products, so the logits agree up to float summation order, which
/// can flip an fp16 rounding of an activation (2^-11 relative) now and then:
/// 2e-3, in decode and in a 16-token prefill. A misplaced code or scale is
/// off by its whole size. No other backend takes such an image.
TEST(EndToEndTest, TheCpuLayoutComputesWhatTheRowMajorOneDoes) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  ::ane::KernelSetOptions o;
  o.scheme = ::ane::abi::Scheme::Q4;
  o.group = 32;
  o.seqBuckets = {1, 16};
  o.ctxBuckets = {kContext};
  rt::ModelImage rowMajor = ::ane::test::compileImage(stories.spec, o);
  o.cpuLayout = true;
  rt::ModelImage cpu = ::ane::test::compileImage(stories.spec, o);
  int interleaved = 0, kept = 0;
  for (const ::ane::abi::SlotSpec &s : cpu.kernels.slots)
    if (s.scheme == ::ane::abi::Scheme::Q4)
      ++(s.layout == ::ane::abi::SlotLayout::Interleaved16 ? interleaved
                                                           : kept);
  EXPECT_GT(interleaved, 0);
  EXPECT_GT(kept, 0);
  EXPECT_FALSE(rowMajor.kernels.hasInterleavedSlots());

  auto a = rt::Engine::create(rowMajor, "cpu");
  auto b = rt::Engine::create(cpu, "cpu");
  ASSERT_TRUE(a.ok() && b.ok()) << a.message() << b.message();
  std::vector<int32_t> prompt(16);
  for (size_t i = 0; i < prompt.size(); ++i)
    prompt[i] = int32_t(1 + 7 * i);
  auto pa = a->forward(prompt, 0);
  auto pb = b->forward(prompt, 0);
  ASSERT_TRUE(pa.ok() && pb.ok()) << pa.message() << pb.message();
  EXPECT_LE(::ane::test::relativeError(*pa, *pb), 2e-3);
  int32_t token = argmax(*pa);
  for (int64_t pos = 16; pos < 32; ++pos) {
    auto da = a->decode(token, pos);
    auto db = b->decode(token, pos);
    ASSERT_TRUE(da.ok() && db.ok()) << da.message() << db.message();
    ASSERT_LE(::ane::test::relativeError(*da, *db), 2e-3) << pos;
    token = argmax(*da);
  }
  for (const char *backend : {"cpu-reference", "ane-sim"}) {
    auto refused = rt::Engine::create(cpu, backend);
    ASSERT_FALSE(refused.ok()) << backend;
    EXPECT_NE(refused.message().find("packed for the cpu backend"),
              std::string::npos)
        << refused.message();
  }
}

} // namespace

namespace {

/// Slot `s` of a packed segment as floats: codes times their group scale.
std::vector<float> unpackSlot(const ::ane::abi::SlotSpec &s,
                              rt::Bytes segment) {
  auto reader = ane::mil::WeightReader::fromBuffer(segment.data, segment.size,
                                                   "segment", nullptr);
  EXPECT_TRUE(reader.ok()) << reader.message();
  rt::WeightFiles files;
  files.emplace(ane::mil::kModelWeightPath, std::move(*reader));
  auto blob = [&](const ::ane::abi::BlobSpec &b) {
    ane::mil::Type type;
    type.dtype = b.dtype;
    type.dims = b.shape;
    auto t = rt::decodeLiteral(ane::mil::Value::makeBlobFile(
                                   type, ane::mil::kModelWeightPath, b.offset),
                               files);
    EXPECT_TRUE(t.ok()) << t.message();
    return t.ok() ? std::move(*t) : rt::Tensor();
  };
  rt::Tensor codes = blob(s.blobs.at(0)), scales = blob(s.blobs.at(1));
  int64_t cols = s.shape[1], groups = cols / s.group;
  std::vector<float> out(codes.i.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = scales.f[(i / cols) * groups + (i % cols) / s.group] *
             float(codes.i[i]);
  return out;
}

} // namespace

/// llama.cpp's Q4_0 and Q8_0 blocks (32 values, an fp16 scale) are the q4
/// and q8 schemes with a group of 32: packed with the source's options,
/// every layer weight comes out exactly as the GGUF dequantizes it.
TEST(EndToEndTest, GgufQ4_0AndQ8_0BlocksPackUnchanged) {
  for (const char *file : {"models/tiny-random-gqa-q4_0.gguf",
                           "models/tiny-random-gqa-q8_0.gguf"}) {
    auto spec = model::openModel(::ane::test::sharedPath(file));
    ASSERT_TRUE(spec.ok()) << spec.message();
    ::ane::KernelSetOptions o = ::ane::sourceOptions(*spec);
    EXPECT_EQ(o.group, 32) << file;
    EXPECT_FALSE(o.fuse) << file;
    auto kernels = ::ane::compileKernelSet(*spec, o);
    ASSERT_TRUE(kernels.ok()) << kernels.message();
    auto image = rt::packImage(*spec, *kernels);
    ASSERT_TRUE(image.ok()) << image.message();
    int64_t compared = 0;
    for (const ::ane::abi::SlotSpec &s :
         kernels->slotsOf(::ane::abi::Segment::Layer))
      for (int64_t l = 0;
           l < spec->config.nLayers && s.scheme != ::ane::abi::Scheme::F16;
           ++l) {
        auto want = rt::assembleSlotTensor(s, [&](const std::string &role) {
          auto r = model::parseRole(role);
          const model::TensorInfo *t = r ? spec->find(*r, int(l)) : nullptr;
          if (!t)
            return ane::Result<std::vector<float>>::error("no " + role);
          auto data = spec->load(*t);
          if (!data.ok())
            return ane::Result<std::vector<float>>(data.status());
          return ane::Result<std::vector<float>>(data->toFloat());
        });
        ASSERT_TRUE(want.ok()) << want.message();
        std::vector<float> got = unpackSlot(s, image->layerSegments[l]);
        ASSERT_EQ(got.size(), want->size()) << s.role;
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_EQ(got[i], (*want)[i])
              << file << " layer " << l << " " << s.role << " element " << i;
        ++compared;
      }
    EXPECT_EQ(compared, 7 * spec->config.nLayers) << file;
  }
}
