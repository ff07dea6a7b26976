//===- KernelNumericsTest.cpp - lowered kernels vs llama semantics --------===//
//
// Compiles synthetic:tiny for one bucket, packs its weights as the manifest
// lays them out, runs every forward kernel in the reference MIL executor on
// random inputs, and compares with plain C++ loops of the llama ops' meaning
// (using the same effective, possibly quantized, weights).
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/AneMil/Export/MILTranslation.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Dialect/AneMil/Transforms/Passes.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "lib/Dialect/Llama/Import/ModelImport.h"
#include "lib/MIL/Text.h"
#include "lib/Model/Model.h"
#include "lib/Pipelines.h"
#include "lib/Runtime/Cpu/Executor.h"
#include "lib/Runtime/Lora.h"
#include "lib/Runtime/Packing.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "test/unittests/Conversion/CompiledKernels.h"

#include "mlir/Pass/PassManager.h"

#include <cmath>
#include <functional>
#include <random>
#include <set>

#include <gtest/gtest.h>

using namespace mlir;
using ::ane::mil::DType;
using ::ane::runtime::Tensor;
namespace model = ::ane::model;
namespace rt = ::ane::runtime;

namespace {

constexpr int64_t kSeq = 3, kCtx = 8, kStart = 4; // positions 4, 5, 6

struct Params {
  const char *scheme;
  const char *dtype;
  double tolerance;
  bool fuse;
  const char *binding = "blob";
  int64_t loraRank = 0; // > 0: adapters on every role they can target
};

/// [S, C] row-major <-> the kernels' [1, C, 1, S].
std::vector<float> toChannels(const std::vector<float> &sc, int64_t s,
                              int64_t c) {
  std::vector<float> out(sc.size());
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j < c; ++j)
      out[j * s + i] = sc[i * c + j];
  return out;
}

std::vector<float> fromChannels(const std::vector<float> &cs, int64_t s,
                                int64_t c) {
  std::vector<float> out(cs.size());
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j < c; ++j)
      out[i * c + j] = cs[j * s + i];
  return out;
}

// -- the llama ops' meaning, in [S, C] row-major ------------------------------

std::vector<float> rmsNorm(const std::vector<float> &x, int64_t s, int64_t d,
                           const std::vector<float> &g, double eps) {
  std::vector<float> y(x.size());
  for (int64_t i = 0; i < s; ++i) {
    double ms = 0;
    for (int64_t j = 0; j < d; ++j)
      ms += double(x[i * d + j]) * x[i * d + j];
    double r = 1.0 / std::sqrt(ms / d + eps);
    for (int64_t j = 0; j < d; ++j)
      y[i * d + j] = float(x[i * d + j] * r * g[j]);
  }
  return y;
}

std::vector<float> linear(const std::vector<float> &x, int64_t s, int64_t in,
                          const std::vector<float> &w, int64_t out) {
  std::vector<float> y(s * out);
  for (int64_t i = 0; i < s; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < in; ++k)
        acc += double(w[o * in + k]) * x[i * in + k];
      y[i * out + o] = float(acc);
    }
  return y;
}

/// llama RoPE at positions kStart + i, which rotates the interleaved pairs
/// (2p, 2p+1) of the checkpoint's rows. The slots hold Q/K rows in
/// rotate-half order, so a projection through them has pair p at
/// (p, p + hd/2): this moves the pair, rotates it, and leaves it there.
std::vector<float> ropeOfSlotRows(std::vector<float> x, int64_t s,
                                  int64_t width, int64_t hd, double theta) {
  for (int64_t i = 0; i < s; ++i)
    for (int64_t h = 0; h < width / hd; ++h)
      for (int64_t p = 0; p < hd / 2; ++p) {
        double a = (kStart + i) * std::pow(theta, -2.0 * p / hd);
        float *head = &x[i * width + h * hd];
        double x0 = head[p], x1 = head[p + hd / 2];
        head[p] = float(x0 * std::cos(a) - x1 * std::sin(a));
        head[p + hd / 2] = float(x0 * std::sin(a) + x1 * std::cos(a));
      }
  return x;
}

/// Causal GQA of kSeq queries at kStart.. over caches [kv, ctx, hd].
std::vector<float> attention(const std::vector<float> &q,
                             const std::vector<float> &k,
                             const std::vector<float> &v, int64_t h, int64_t kv,
                             int64_t hd) {
  std::vector<float> out(kSeq * h * hd, 0);
  for (int64_t i = 0; i < kSeq; ++i)
    for (int64_t head = 0; head < h; ++head) {
      int64_t g = head / (h / kv);
      std::vector<double> sc(kCtx, -1e300);
      double mx = -1e300;
      for (int64_t t = 0; t <= kStart + i; ++t) {
        double acc = 0;
        for (int64_t e = 0; e < hd; ++e)
          acc += double(q[i * h * hd + head * hd + e]) *
                 k[(g * kCtx + t) * hd + e];
        sc[t] = acc / std::sqrt(double(hd));
        mx = std::max(mx, sc[t]);
      }
      double sum = 0;
      for (int64_t t = 0; t <= kStart + i; ++t)
        sum += std::exp(sc[t] - mx);
      for (int64_t e = 0; e < hd; ++e) {
        double acc = 0;
        for (int64_t t = 0; t <= kStart + i; ++t)
          acc += std::exp(sc[t] - mx) / sum * v[(g * kCtx + t) * hd + e];
        out[i * h * hd + head * hd + e] = float(acc);
      }
    }
  return out;
}

using ::ane::test::relativeError;

class KernelNumericsTest : public ::testing::TestWithParam<Params> {
protected:
  void SetUp() override {
    auto m = model::openModel("synthetic:tiny");
    ASSERT_TRUE(m.ok()) << m.message();
    spec = std::move(*m);
    c = spec.config;
    ctx.loadDialect<anemil::AneMilDialect, llama::LlamaDialect,
                    func::FuncDialect>();
    module = llama::importModel(spec, &ctx);
    ASSERT_TRUE(module);
    PassManager pm(&ctx);
    mlir::ane::CompileOptions options;
    options.scheme = *::ane::abi::parseScheme(GetParam().scheme);
    options.seq = kSeq;
    options.ctx = kCtx;
    options.dtype = *::ane::abi::parseDType(GetParam().dtype);
    options.fuse = GetParam().fuse;
    options.weightBinding = *::ane::abi::parseWeightBinding(GetParam().binding);
    options.backward = true;
    options.loraRank = GetParam().loraRank;
    if (GetParam().loraRank > 0)
      for (std::string_view role : ::ane::abi::kLoraRoles)
        options.loraTargets.push_back(std::string(role));
    mlir::ane::buildCompilePipeline(pm, options);
    ASSERT_TRUE(succeeded(pm.run(*module)));
    compute =
        std::string(GetParam().dtype) == "fp16" ? DType::FP16 : DType::FP32;
    packSegments();
  }

  std::vector<float> tensorOf(const std::string &role, int layer) {
    for (const model::TensorInfo &t : spec.tensors)
      if (model::roleName(t.role) == role && t.layer == layer)
        return spec.load(t)->toFloat();
    ADD_FAILURE() << "no tensor for " << role;
    return {};
  }

  void packSegments() {
    auto kernelSet = anemil::exportKernelSet(*module);
    ASSERT_TRUE(succeeded(kernelSet));
    for (const char *segment : {"layer", "global"}) {
      std::vector<::ane::abi::SlotSpec> list =
          kernelSet->slotsOf(*::ane::abi::parseSegment(segment));
      int layer = std::string(segment) == "layer" ? 0 : -1;
      auto byRole = [&](const std::string &role) {
        // Norms live in the layer or global segment of the same layer.
        return ::ane::Result<std::vector<float>>(tensorOf(role, layer));
      };
      auto slotTensor = [&](const ::ane::abi::SlotSpec &s) {
        return rt::assembleSlotTensor(s, byRole);
      };
      auto bytes = rt::packSegment(list, slotTensor);
      ASSERT_TRUE(bytes.ok()) << bytes.message();
      segments[segment] = std::move(*bytes);
      for (const ::ane::abi::SlotSpec &s : list) {
        effective[s.role] = rt::effectiveWeights(s, *slotTensor(s));
        slotSpecs[s.role] = s;
        slotValues[s.role] = *slotTensor(s);
      }
      for (const ::ane::abi::SlotSpec &s : list)
        if (!s.foldNorm.empty())
          folded.insert(s.foldNorm);
    }
  }

  /// Exports `kernel` as its own program and runs it on `inputs`.
  std::vector<Tensor> run(StringRef kernel, std::vector<Tensor> inputs) {
    auto parsed = ::ane::test::kernelProgram(*module, kernel);
    const std::vector<uint8_t> &seg =
        segments[kernel.starts_with("lm_head") ? "global" : "layer"];
    auto reader = ::ane::mil::WeightReader::fromBuffer(seg.data(), seg.size(),
                                                       "segment", nullptr);
    EXPECT_TRUE(reader.ok()) << reader.message();
    rt::WeightFiles files;
    files.emplace(::ane::mil::kModelWeightPath, *reader);
    // Weight inputs (w_*) may sit anywhere among the others.
    std::vector<Tensor> all;
    size_t next = 0;
    for (const ::ane::mil::Param &p : parsed.functions[0].params)
      if (p.name.rfind("w_", 0) == 0)
        all.push_back(weightInput(p));
      else if (next < inputs.size())
        all.push_back(inputs[next++]);
    inputs = std::move(all);
    auto exec = rt::Executor::create(parsed, "main", files);
    EXPECT_TRUE(exec.ok()) << exec.message();
    if (!exec.ok())
      return {};
    auto out = exec->run(inputs);
    EXPECT_TRUE(out.ok()) << out.message();
    return out.ok() ? *out : std::vector<Tensor>{};
  }

  using Named = std::map<std::string, Tensor>;

  /// Runs `kernel` with its inputs by name; its outputs by name.
  Named runNamed(StringRef kernel, const Named &inputs) {
    ::ane::mil::Program parsed = ::ane::test::kernelProgram(*module, kernel);
    std::vector<Tensor> ordered;
    for (const ::ane::mil::Param &p : parsed.functions[0].params)
      if (p.name.rfind("w_", 0) != 0) {
        auto it = inputs.find(p.name);
        EXPECT_NE(it, inputs.end()) << kernel.str() << " takes " << p.name;
        if (it == inputs.end())
          return {};
        ordered.push_back(it->second);
      }
    std::vector<Tensor> outs = run(kernel, ordered);
    Named named;
    const auto &results = parsed.functions[0].outputs;
    for (size_t i = 0; i < outs.size() && i < results.size(); ++i)
      named[results[i]] = outs[i];
    return named;
  }

  /// The names a kernel takes, weight inputs left out.
  std::vector<std::string> inputNames(StringRef kernel) {
    std::vector<std::string> names;
    for (const ::ane::mil::Param &p :
         ::ane::test::kernelProgram(*module, kernel).functions[0].params)
      if (p.name.rfind("w_", 0) != 0)
        names.push_back(p.name);
    return names;
  }

  /// Random [S, C] activations, rounded to the compute type.
  std::vector<float> random(int64_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float &x : v)
      x = rt::storeAs(compute, d(rng));
    return v;
  }

  Tensor input(const std::vector<float> &sc, int64_t s, int64_t ch) {
    return Tensor::floats(compute, {1, ch, 1, s}, toChannels(sc, s, ch));
  }

  void expectClose(const Tensor &got, const std::vector<float> &wantSC,
                   int64_t s, int64_t ch, const char *what) {
    ASSERT_EQ(got.shape, (::ane::mil::Shape{1, ch, 1, s})) << what;
    double err = relativeError(fromChannels(got.f, s, ch), wantSC);
    EXPECT_LE(err, GetParam().tolerance)
        << what << " (" << GetParam().scheme << ", " << GetParam().dtype << ")";
  }

  model::ModelSpec spec;
  model::Config c;
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module;
  DType compute = DType::FP16;
  std::map<std::string, std::vector<uint8_t>> segments;
  std::map<std::string, std::vector<float>> effective;
  std::map<std::string, ::ane::abi::SlotSpec> slotSpecs;
  std::map<std::string, std::vector<float>> slotValues;
  std::set<std::string> folded;

  /// The value of a weight input `w_<role>` as the runtime passes it under
  /// weight-binding=input: the slot's effective (dequantized) values in the
  /// compute type, a matrix [out, in] as [1, in, 1, out].
  Tensor weightInput(const ::ane::mil::Param &p) {
    const ::ane::abi::SlotSpec &s = slotSpecs.at(p.name.substr(2));
    std::vector<float> w = rt::effectiveWeights(s, slotValues.at(s.role));
    // Zero channels after the logical ones when a family padded them.
    std::vector<float> t(size_t(p.type.numElements()), 0.0f);
    int64_t out = s.shape[0], in = s.shape.size() == 2 ? s.shape[1] : 1;
    for (int64_t r = 0; r < out; ++r)
      for (int64_t c = 0; c < in; ++c)
        t[size_t(c * out + r)] =
            rt::storeAs(p.type.dtype, w[size_t(r * in + c)]);
    return Tensor::floats(p.type.dtype, p.type.dims, std::move(t));
  }

  /// The norm scale a kernel applies itself: ones once it is folded away.
  std::vector<float> normScale(const std::string &role) {
    if (folded.count(role))
      return std::vector<float>(c.dim, 1.0f);
    return effective.at(role);
  }

  /// Projections of `n` by `roles`, through the fused slot when there is one.
  std::vector<std::vector<float>> project(const std::vector<float> &n,
                                          const std::string &fused,
                                          std::vector<std::string> roles,
                                          std::vector<int64_t> widths) {
    std::vector<std::vector<float>> out;
    if (!effective.count(fused)) {
      for (size_t i = 0; i < roles.size(); ++i)
        out.push_back(linear(n, kSeq, c.dim, effective[roles[i]], widths[i]));
      return out;
    }
    int64_t total = 0;
    for (int64_t w : widths)
      total += w;
    std::vector<float> all = linear(n, kSeq, c.dim, effective[fused], total);
    int64_t at = 0;
    for (int64_t w : widths) {
      std::vector<float> part(kSeq * w);
      for (int64_t i = 0; i < kSeq; ++i)
        for (int64_t j = 0; j < w; ++j)
          part[i * w + j] = all[i * total + at + j];
      out.push_back(part);
      at += w;
    }
    return out;
  }
};

TEST_P(KernelNumericsTest, AttnQkv) {
  int64_t d = c.dim, qd = c.nHeads * c.headDim, kvd = c.kvDim(),
          half = c.headDim / 2;
  std::vector<float> x = random(kSeq * d, 1);
  std::vector<float> cosT(half * kSeq), sinT(half * kSeq);
  for (int64_t p = 0; p < half; ++p)
    for (int64_t i = 0; i < kSeq; ++i) {
      double a = (kStart + i) * std::pow(c.ropeTheta, -2.0 * p / c.headDim);
      cosT[p * kSeq + i] = rt::storeAs(compute, float(std::cos(a)));
      sinT[p * kSeq + i] = rt::storeAs(compute, float(std::sin(a)));
    }
  auto out =
      run("attn_qkv",
          {input(x, kSeq, d), Tensor::floats(compute, {1, half, 1, kSeq}, cosT),
           Tensor::floats(compute, {1, half, 1, kSeq}, sinT)});
  ASSERT_EQ(out.size(), 3u);
  std::vector<float> n = rmsNorm(x, kSeq, d, normScale("attn_norm"), c.normEps);
  auto qkv =
      project(n, "attn_qkv", {"attn_q", "attn_k", "attn_v"}, {qd, kvd, kvd});
  expectClose(out[0], ropeOfSlotRows(qkv[0], kSeq, qd, c.headDim, c.ropeTheta),
              kSeq, qd, "q");
  expectClose(out[1], ropeOfSlotRows(qkv[1], kSeq, kvd, c.headDim, c.ropeTheta),
              kSeq, kvd, "k");
  expectClose(out[2], qkv[2], kSeq, kvd, "v");
}

TEST_P(KernelNumericsTest, AttnCore) {
  int64_t h = c.nHeads, kv = c.nKvHeads, hd = c.headDim;
  std::vector<float> q = random(kSeq * h * hd, 2);
  std::vector<float> k = random(kv * kCtx * hd, 3),
                     v = random(kv * kCtx * hd, 4);
  // Caches [kv, ctx, hd] enter as [1, kv*hd, 1, ctx].
  auto cacheInput = [&](const std::vector<float> &cache) {
    std::vector<float> cs(cache.size());
    for (int64_t g = 0; g < kv; ++g)
      for (int64_t t = 0; t < kCtx; ++t)
        for (int64_t e = 0; e < hd; ++e)
          cs[(g * hd + e) * kCtx + t] = cache[(g * kCtx + t) * hd + e];
    return Tensor::floats(compute, {1, kv * hd, 1, kCtx}, cs);
  };
  std::vector<float> mask(kSeq * kCtx);
  for (int64_t i = 0; i < kSeq; ++i)
    for (int64_t t = 0; t < kCtx; ++t)
      mask[i * kCtx + t] = t <= kStart + i ? 0.0f : -1e4f;
  auto out =
      run("attn_core", {input(q, kSeq, h * hd), cacheInput(k), cacheInput(v),
                        Tensor::floats(compute, {1, 1, kSeq, kCtx}, mask)});
  ASSERT_EQ(out.size(), 1u);
  expectClose(out[0], attention(q, k, v, h, kv, hd), kSeq, h * hd, "attn");
}

TEST_P(KernelNumericsTest, AttnOutFfnAndHead) {
  int64_t d = c.dim, qd = c.nHeads * c.headDim, f = c.hiddenDim,
          vocab = c.vocabSize;
  std::vector<float> a = random(kSeq * qd, 5), x = random(kSeq * d, 6);
  auto o = run("attn_out", {input(a, kSeq, qd), input(x, kSeq, d)});
  ASSERT_EQ(o.size(), 1u);
  std::vector<float> want = linear(a, kSeq, qd, effective["attn_out"], d);
  for (size_t i = 0; i < want.size(); ++i)
    want[i] += x[i];
  expectClose(o[0], want, kSeq, d, "attn_out");

  auto up = run("ffn_up", {input(x, kSeq, d)});
  ASSERT_EQ(up.size(), 1u);
  std::vector<float> n = rmsNorm(x, kSeq, d, normScale("ffn_norm"), c.normEps);
  auto gu = project(n, "ffn_gate_up", {"ffn_gate", "ffn_up"}, {f, f});
  std::vector<float> g = gu[0], u = gu[1];
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  expectClose(up[0], g, kSeq, f, "ffn_up");

  std::vector<float> hid = random(kSeq * f, 7);
  auto down = run("ffn_down", {input(hid, kSeq, f), input(x, kSeq, d)});
  ASSERT_EQ(down.size(), 1u);
  want = linear(hid, kSeq, f, effective["ffn_down"], d);
  for (size_t i = 0; i < want.size(); ++i)
    want[i] += x[i];
  expectClose(down[0], want, kSeq, d, "ffn_down");

  auto logits = run("lm_head", {input(x, kSeq, d)});
  ASSERT_EQ(logits.size(), 1u);
  expectClose(logits[0],
              linear(rmsNorm(x, kSeq, d, normScale("output_norm"), c.normEps),
                     kSeq, d, effective["output"], vocab),
              kSeq, vocab, "lm_head");
}

/// anemil-legalize-ane tiles the classifier: [1, V, 1, S] becomes
/// [1, V/T, T, S] holding vocabulary index t * (V/T) + c.
TEST_P(KernelNumericsTest, TiledLmHead) {
  int64_t d = c.dim, vocab = c.vocabSize, tile = 171, tiles = 3;
  std::vector<float> x = random(kSeq * d, 8);
  std::vector<float> dLogits = random(kSeq * vocab, 9);
  auto plainBwd =
      run("lm_head_bwd", {input(x, kSeq, d), input(dLogits, kSeq, vocab)});
  ASSERT_EQ(plainBwd.size(), 1u);

  PassManager pm(&ctx);
  anemil::AneMilLegalizeAnePassOptions legalize;
  legalize.axisLimit = 200;     // 512 -> 3 tiles of 171, the last one padded
  legalize.padChannels = false; // PaddedChannels covers that
  pm.addPass(anemil::createAneMilLegalizeAnePass(legalize));
  if (std::string(GetParam().binding) == "input") {
    // The classifier's weight (and ffn_gate_up's, of 352 columns) is an
    // input, which no pass can split: the host passes it whole.
    std::string diagnostics;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
      diagnostics += diag.str();
      return success();
    });
    ASSERT_TRUE(failed(pm.run(*module)));
    EXPECT_NE(diagnostics.find("input 'w_"), std::string::npos) << diagnostics;
    EXPECT_NE(diagnostics.find("has an axis of"), std::string::npos)
        << diagnostics;
    EXPECT_NE(diagnostics.find("weight inputs are not tiled"),
              std::string::npos)
        << diagnostics;
    return;
  }
  ASSERT_TRUE(succeeded(pm.run(*module)));
  auto logits = run("lm_head", {input(x, kSeq, d)});
  ASSERT_EQ(logits.size(), 1u);
  ASSERT_EQ(logits[0].shape, (::ane::mil::Shape{1, tile, tiles, kSeq}));
  std::vector<float> got(kSeq * vocab);
  for (int64_t ch = 0; ch < tile; ++ch)
    for (int64_t t = 0; t < tiles; ++t)
      for (int64_t i = 0; i < kSeq; ++i) {
        float v = logits[0].f[(ch * tiles + t) * kSeq + i];
        int64_t token = t * tile + ch;
        if (token < vocab)
          got[i * vocab + token] = v;
        else
          EXPECT_EQ(v, 0.0f) << "padding";
      }
  std::vector<float> want =
      linear(rmsNorm(x, kSeq, d, normScale("output_norm"), c.normEps), kSeq, d,
             effective["output"], vocab);
  EXPECT_LE(relativeError(got, want), GetParam().tolerance);

  // lm_head_bwd takes d_logits in the same tiled layout, padding ignored.
  std::vector<float> tiled(tile * tiles * kSeq, 1e3f);
  for (int64_t token = 0; token < vocab; ++token)
    for (int64_t i = 0; i < kSeq; ++i)
      tiled[((token % tile) * tiles + token / tile) * kSeq + i] =
          dLogits[i * vocab + token];
  auto bwd = run("lm_head_bwd",
                 {input(x, kSeq, d),
                  Tensor::floats(compute, {1, tile, tiles, kSeq}, tiled)});
  ASSERT_EQ(bwd.size(), 1u);
  EXPECT_LE(relativeError(bwd[0].f, plainBwd[0].f), GetParam().tolerance);

  // A fused gate/up (352 channels) over the limit becomes two convs.
  auto up = run("ffn_up", {input(x, kSeq, d)});
  ASSERT_EQ(up.size(), 1u);
  int64_t f = c.hiddenDim;
  std::vector<float> n = rmsNorm(x, kSeq, d, normScale("ffn_norm"), c.normEps);
  auto gu = project(n, "ffn_gate_up", {"ffn_gate", "ffn_up"}, {f, f});
  for (size_t i = 0; i < gu[0].size(); ++i)
    gu[0][i] = gu[0][i] / (1.0f + std::exp(-gu[0][i])) * gu[1][i];
  expectClose(up[0], gu[0], kSeq, f, "legalized ffn_up");
}

/// anemil-legalize-ane pads kernel inputs and outputs to 64-byte rows: the
/// logical channels are unchanged, padded outputs are zero and padded
/// inputs are never read.
TEST_P(KernelNumericsTest, PaddedChannels) {
  int64_t d = c.dim, f = c.hiddenDim;
  std::vector<float> x = random(kSeq * d, 14), hid = random(kSeq * f, 15);
  auto up = run("ffn_up", {input(x, kSeq, d)});
  auto down = run("ffn_down", {input(hid, kSeq, f), input(x, kSeq, d)});
  ASSERT_EQ(up.size(), 1u);
  ASSERT_EQ(down.size(), 1u);

  PassManager pm(&ctx);
  anemil::AneMilLegalizeAnePassOptions legalize;
  legalize.family = "m2";
  pm.addPass(anemil::createAneMilLegalizeAnePass(legalize));
  ASSERT_TRUE(succeeded(pm.run(*module)));
  int64_t per = std::string(GetParam().dtype) == "fp16" ? 32 : 16;
  int64_t fp = (f + per - 1) / per * per;
  auto fn = module->lookupSymbol<func::FuncOp>("ffn_up");
  auto padded = fn->getAttrOfType<DictionaryAttr>("anemil.padded_channels");
  if (fp == f) { // 176 fp32 channels are 704-byte rows already
    EXPECT_FALSE(padded);
    EXPECT_EQ(run("ffn_up", {input(x, kSeq, d)})[0].f, up[0].f);
    return;
  }
  ASSERT_TRUE(padded);
  EXPECT_EQ(padded.getAs<IntegerAttr>("h").getInt(), f);

  auto upPadded = run("ffn_up", {input(x, kSeq, d)});
  ASSERT_EQ(upPadded.size(), 1u);
  ASSERT_EQ(upPadded[0].shape, (::ane::mil::Shape{1, fp, 1, kSeq}));
  for (int64_t ch = 0; ch < fp; ++ch)
    for (int64_t i = 0; i < kSeq; ++i) {
      float v = upPadded[0].f[ch * kSeq + i];
      if (ch < f)
        EXPECT_EQ(v, up[0].f[ch * kSeq + i]) << "channel " << ch;
      else
        EXPECT_EQ(v, 0.0f) << "padding channel " << ch;
    }

  std::vector<float> hidPadded(fp * kSeq, 1e3f);
  Tensor hidLogical = input(hid, kSeq, f);
  std::copy(hidLogical.f.begin(), hidLogical.f.end(), hidPadded.begin());
  auto downPadded =
      run("ffn_down", {Tensor::floats(compute, {1, fp, 1, kSeq}, hidPadded),
                       input(x, kSeq, d)});
  ASSERT_EQ(downPadded.size(), 1u);
  EXPECT_EQ(downPadded[0].f, down[0].f);
}

/// L = sum_i <upstream_i, out_i> of a forward run, in double.
double lossOf(const std::vector<Tensor> &outs,
              const std::vector<std::vector<float>> &upstream) {
  double l = 0;
  for (size_t i = 0; i < upstream.size(); ++i)
    for (size_t k = 0; k < upstream[i].size(); ++k)
      l += double(outs[i].f[k]) * upstream[i][k];
  return l;
}

/// Compares an analytic gradient with central differences of `loss` on a
/// few coordinates of input `which` (an index or a name).
template <typename Loss, typename Inputs, typename Key>
void checkGradient(const Loss &loss, Inputs inputs, Key which,
                   const Tensor &grad, const std::string &what) {
  ASSERT_EQ(grad.f.size(), inputs[which].f.size()) << what;
  double scale = 1e-3;
  for (float g : grad.f)
    scale = std::max(scale, double(std::fabs(g)));
  const float h = 1e-2f;
  size_t n = inputs[which].f.size();
  for (size_t k = 0; k < 6; ++k) {
    size_t at = (k * 7919 + 13) % n;
    Inputs plus = inputs, minus = inputs;
    plus[which].f[at] += h;
    minus[which].f[at] -= h;
    double numeric = (loss(plus) - loss(minus)) / (2 * h);
    EXPECT_NEAR(grad.f[at], numeric, 2e-2 * scale)
        << what << " coordinate " << at;
  }
}

/// Every backward kernel against finite differences of its forward kernel.
/// Finite differences need fp32 resolution: fp32 instances only.
class KernelGradientTest : public KernelNumericsTest {};

TEST_P(KernelGradientTest, BackwardMatchesFiniteDifferences) {
  int64_t d = c.dim, h = c.nHeads, kv = c.nKvHeads, hd = c.headDim,
          f = c.hiddenDim, vocab = c.vocabSize, half = hd / 2;
  auto t = [&](std::vector<int64_t> shape, unsigned seed, float scale = 1.0f) {
    int64_t n = 1;
    for (int64_t v : shape)
      n *= v;
    return Tensor::floats(compute, shape, random(n, seed, scale));
  };
  auto act = [&](int64_t ch, unsigned seed) {
    return t({1, ch, 1, kSeq}, seed);
  };

  // lm_head: d_x from d_logits.
  {
    std::vector<Tensor> in = {act(d, 21)};
    Tensor up = act(vocab, 22);
    auto g = run("lm_head_bwd", {in[0], up});
    ASSERT_EQ(g.size(), 1u);
    checkGradient(
        [&](std::vector<Tensor> x) {
          return lossOf(run("lm_head", x), {up.f});
        },
        in, 0, g[0], "lm_head_bwd");
  }
  // ffn_down: d_h from d_x_out.
  {
    std::vector<Tensor> in = {act(f, 23), act(d, 24)};
    Tensor up = act(d, 25);
    auto g = run("ffn_down_bwd", {up});
    ASSERT_EQ(g.size(), 1u);
    checkGradient(
        [&](std::vector<Tensor> x) {
          return lossOf(run("ffn_down", x), {up.f});
        },
        in, 0, g[0], "ffn_down_bwd");
  }
  // ffn_up: d_x from d_h (RMSNorm, gate/up, SwiGLU).
  {
    std::vector<Tensor> in = {act(d, 26)};
    Tensor up = act(f, 27);
    auto g = run("ffn_up_bwd", {in[0], up});
    ASSERT_EQ(g.size(), 1u);
    checkGradient(
        [&](std::vector<Tensor> x) { return lossOf(run("ffn_up", x), {up.f}); },
        in, 0, g[0], "ffn_up_bwd");
  }
  // attn_qkv: d_x from d_q, d_k, d_v (RoPE^T, projections^T, RMSNorm).
  {
    std::vector<float> cosT(half * kSeq), sinT(half * kSeq);
    for (int64_t p = 0; p < half; ++p)
      for (int64_t i = 0; i < kSeq; ++i) {
        double a = (kStart + i) * std::pow(c.ropeTheta, -2.0 * p / hd);
        cosT[p * kSeq + i] = float(std::cos(a));
        sinT[p * kSeq + i] = float(std::sin(a));
      }
    std::vector<Tensor> in = {
        act(d, 28), Tensor::floats(compute, {1, half, 1, kSeq}, cosT),
        Tensor::floats(compute, {1, half, 1, kSeq}, sinT)};
    Tensor dq = act(h * hd, 29), dk = act(kv * hd, 30), dv = act(kv * hd, 31);
    auto g = run("attn_qkv_bwd", {in[0], in[1], in[2], dq, dk, dv});
    ASSERT_EQ(g.size(), 1u);
    checkGradient(
        [&](std::vector<Tensor> x) {
          return lossOf(run("attn_qkv", x), {dq.f, dk.f, dv.f});
        },
        in, 0, g[0], "attn_qkv_bwd");
  }
  // attn_core with attn_out's Wo: d_q, d_k_cache, d_v_cache from d_x_out.
  {
    std::vector<float> mask(kSeq * kCtx);
    for (int64_t i = 0; i < kSeq; ++i)
      for (int64_t j = 0; j < kCtx; ++j)
        mask[i * kCtx + j] = j <= kStart + i ? 0.0f : -1e4f;
    std::vector<Tensor> in = {
        act(h * hd, 32), t({1, kv * hd, 1, kCtx}, 33),
        t({1, kv * hd, 1, kCtx}, 34),
        Tensor::floats(compute, {1, 1, kSeq, kCtx}, mask)};
    Tensor x0 = act(d, 35), up = act(d, 36);
    auto g = run("attn_core_bwd", {in[0], in[1], in[2], in[3], up});
    ASSERT_EQ(g.size(), 3u);
    auto loss = [&](std::vector<Tensor> x) {
      auto a = run("attn_core", x);
      return lossOf(run("attn_out", {a.at(0), x0}), {up.f});
    };
    checkGradient(loss, in, 0, g[0], "attn_core_bwd d_q");
    checkGradient(loss, in, 1, g[1], "attn_core_bwd d_k_cache");
    checkGradient(loss, in, 2, g[2], "attn_core_bwd d_v_cache");
  }
}

/// anemil-pack-inputs: one packed input gives bit-identical results.
/// Blob-bound instances only: weight inputs are not packed with the
/// activations.
class PackedInputsTest : public KernelNumericsTest {};

TEST_P(PackedInputsTest, PackedInputs) {
  int64_t h = c.nHeads, kv = c.nKvHeads, hd = c.headDim;
  std::vector<Tensor> inputs = {
      input(random(kSeq * h * hd, 11), kSeq, h * hd),
      Tensor::floats(compute, {1, kv * hd, 1, kCtx},
                     random(kv * hd * kCtx, 12)),
      Tensor::floats(compute, {1, kv * hd, 1, kCtx},
                     random(kv * hd * kCtx, 13)),
      Tensor::floats(compute, {1, 1, kSeq, kCtx},
                     std::vector<float>(kSeq * kCtx, 0.0f))};
  auto plain = run("attn_core", inputs);
  ASSERT_EQ(plain.size(), 1u);
  PassManager pm(&ctx);
  pm.addPass(anemil::createAneMilPackInputsPass());
  ASSERT_TRUE(succeeded(pm.run(*module)));
  auto fn = module->lookupSymbol<func::FuncOp>("attn_core");
  ASSERT_EQ(fn.getNumArguments(), 1u);
  std::vector<::ane::abi::PackedPart> parts;
  for (Attribute a : fn->getAttrOfType<ArrayAttr>("anemil.packed_inputs")) {
    auto d = cast<DictionaryAttr>(a);
    parts.push_back({d.getAs<StringAttr>("name").str(),
                     d.getAs<IntegerAttr>("offset").getInt(),
                     d.getAs<IntegerAttr>("columns").getInt()});
  }
  int64_t channels =
      cast<RankedTensorType>(fn.getArgumentTypes()[0]).getDimSize(1);
  auto packed = rt::packInputs(
      parts, channels, {&inputs[0], &inputs[1], &inputs[2], &inputs[3]});
  ASSERT_TRUE(packed.ok()) << packed.message();
  auto out = run("attn_core", {*packed});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].f, plain[0].f);
}

const Params kParams[] = {
    {"f16", "fp32", 1e-5, false},        {"f16", "fp32", 1e-5, true},
    {"f16", "fp16", 1e-2, true},         {"q8", "fp32", 1e-5, true},
    {"q4", "fp32", 1e-5, false},         {"q4", "fp32", 1e-5, true},
    {"q4", "fp16", 1e-2, true},          {"q3", "fp32", 1e-5, true},
    {"lut4", "fp16", 1e-2, true},        {"f16", "fp16", 1e-2, true, "input"},
    {"q8", "fp32", 1e-5, true, "input"},
};

std::vector<Params> paramsWhere(bool (*keep)(const Params &)) {
  std::vector<Params> out;
  for (const Params &p : kParams)
    if (keep(p))
      out.push_back(p);
  return out;
}

std::string paramName(const ::testing::TestParamInfo<Params> &p) {
  return std::string(p.param.scheme) + "_" + p.param.dtype +
         (p.param.fuse ? "_fused" : "") + "_" + p.param.binding;
}

INSTANTIATE_TEST_SUITE_P(Schemes, KernelNumericsTest,
                         ::testing::ValuesIn(kParams), paramName);
INSTANTIATE_TEST_SUITE_P(Schemes, KernelGradientTest,
                         ::testing::ValuesIn(paramsWhere([](const Params &p) {
                           return std::string(p.dtype) == "fp32";
                         })),
                         paramName);
/// Adapters on every role: each backward kernel's gradients (of its
/// activations and of every lora_a/lora_b input) against central
/// differences of its forward kernel, all inputs by name.
class LoraGradientTest : public KernelNumericsTest {};

TEST_P(LoraGradientTest, AdapterGradientsMatchFiniteDifferences) {
  int64_t d = c.dim, h = c.nHeads, kv = c.nKvHeads, hd = c.headDim,
          f = c.hiddenDim, half = hd / 2, r = GetParam().loraRank;
  unsigned seed = 100;
  auto t = [&](std::vector<int64_t> shape, float scale = 1.0f) {
    int64_t n = 1;
    for (int64_t v : shape)
      n *= v;
    return Tensor::floats(compute, shape, random(n, ++seed, scale));
  };
  Named in;
  in["x"] = t({1, d, 1, kSeq});
  in["h"] = t({1, f, 1, kSeq});
  in["q"] = t({1, h * hd, 1, kSeq});
  in["k_cache"] = t({1, kv * hd, 1, kCtx});
  in["v_cache"] = t({1, kv * hd, 1, kCtx});
  std::vector<float> mask(kSeq * kCtx), cosT(half * kSeq), sinT(half * kSeq);
  for (int64_t i = 0; i < kSeq; ++i) {
    for (int64_t j = 0; j < kCtx; ++j)
      mask[i * kCtx + j] = j <= kStart + i ? 0.0f : -1e4f;
    for (int64_t p = 0; p < half; ++p) {
      double a = (kStart + i) * std::pow(c.ropeTheta, -2.0 * p / hd);
      cosT[p * kSeq + i] = float(std::cos(a));
      sinT[p * kSeq + i] = float(std::sin(a));
    }
  }
  in["mask"] = Tensor::floats(compute, {1, 1, kSeq, kCtx}, mask);
  in["rope_cos"] = Tensor::floats(compute, {1, half, 1, kSeq}, cosT);
  in["rope_sin"] = Tensor::floats(compute, {1, half, 1, kSeq}, sinT);
  // A^T [1, in, 1, r] and B^T [1, r, 1, out] of every role.
  for (std::string_view role : ::ane::abi::kLoraRoles) {
    auto [inDim, outDim] = rt::loraDims(c, std::string(role));
    in[::ane::abi::loraInputA(role)] = t({1, inDim, 1, r}, 0.3f);
    in[::ane::abi::loraInputB(role)] = t({1, r, 1, outDim}, 0.3f);
  }
  auto dot = [](const Tensor &a, const Tensor &b) {
    double l = 0;
    for (size_t i = 0; i < a.f.size(); ++i)
      l += double(a.f[i]) * b.f[i];
    return l;
  };
  Tensor upD = t({1, d, 1, kSeq}), upF = t({1, f, 1, kSeq});
  Tensor upQ = t({1, h * hd, 1, kSeq}), upK = t({1, kv * hd, 1, kSeq}),
         upV = t({1, kv * hd, 1, kSeq});
  struct Case {
    const char *backward;
    Named upstream;
    std::function<double(Named)> loss;
  };
  std::vector<Case> cases = {
      {"ffn_down_bwd",
       {{"d_x_out", upD}},
       [&](Named x) { return dot(runNamed("ffn_down", x)["x_out"], upD); }},
      {"ffn_up_bwd",
       {{"d_h", upF}},
       [&](Named x) { return dot(runNamed("ffn_up", x)["h"], upF); }},
      {"attn_qkv_bwd",
       {{"d_q", upQ}, {"d_k", upK}, {"d_v", upV}},
       [&](Named x) {
         Named o = runNamed("attn_qkv", x);
         return dot(o["q"], upQ) + dot(o["k"], upK) + dot(o["v"], upV);
       }},
      {"attn_core_bwd",
       {{"d_x_out", upD}},
       [&](Named x) {
         x["attn"] = runNamed("attn_core", x)["attn"];
         return dot(runNamed("attn_out", x)["x_out"], upD);
       }},
  };
  int checked = 0;
  for (const Case &k : cases) {
    Named all = in;
    all.insert(k.upstream.begin(), k.upstream.end());
    Named grads = runNamed(k.backward, all);
    for (auto &[name, g] : grads) {
      ASSERT_EQ(name.rfind("d_", 0), 0u) << name;
      ASSERT_TRUE(in.count(name.substr(2))) << name;
      checkGradient(k.loss, in, name.substr(2), g,
                    std::string(k.backward) + " " + name);
      ++checked;
    }
  }
  // d_x + 6, d_q + 2 caches + 2, d_x + 4, d_h + 2.
  EXPECT_EQ(checked, 20);
}

/// A hand-built adapter, B zero but for entry (j, o): the output moves in
/// channel o alone, by B[o][j] (A x)_j, for the additive ffn_down and for
/// attn_v (no RoPE after it).
TEST_P(LoraGradientTest, OneEntryOfBMovesOneChannel) {
  int64_t d = c.dim, f = c.hiddenDim, kvd = c.kvDim(), r = GetParam().loraRank;
  int64_t half = c.headDim / 2;
  struct Case {
    const char *kernel, *role, *output;
    int64_t in, out;
  } cases[] = {{"ffn_down", "ffn_down", "x_out", f, d},
               {"attn_qkv", "attn_v", "v", d, kvd}};
  for (const Case &k : cases) {
    Named in;
    in["x"] = input(random(kSeq * d, 41), kSeq, d);
    in["h"] = input(random(kSeq * f, 42), kSeq, f);
    in["rope_cos"] = Tensor::floats(compute, {1, half, 1, kSeq},
                                    std::vector<float>(half * kSeq, 1.0f));
    in["rope_sin"] = Tensor::floats(compute, {1, half, 1, kSeq},
                                    std::vector<float>(half * kSeq, 0.0f));
    for (std::string_view role : ::ane::abi::kLoraRoles) {
      auto [inDim, outDim] = rt::loraDims(c, std::string(role));
      in[::ane::abi::loraInputA(role)] =
          Tensor::zeros(compute, {1, inDim, 1, r});
      in[::ane::abi::loraInputB(role)] =
          Tensor::zeros(compute, {1, r, 1, outDim});
    }
    Tensor base = runNamed(k.kernel, in)[k.output];
    const int64_t j = r - 1, o = 5;
    std::vector<float> a = random(k.in * r, 43, 0.5f);
    std::vector<float> b(size_t(r * k.out), 0.0f);
    b[size_t(j * k.out + o)] = 2.0f;
    in[::ane::abi::loraInputA(k.role)] =
        Tensor::floats(compute, {1, k.in, 1, r}, a);
    in[::ane::abi::loraInputB(k.role)] =
        Tensor::floats(compute, {1, r, 1, k.out}, b);
    Tensor moved = runNamed(k.kernel, in)[k.output];
    ASSERT_EQ(moved.f.size(), base.f.size());
    // What the projection reads, [S, in]: h, or x through the RMSNorm.
    std::vector<float> x = k.in == f
                               ? fromChannels(in["h"].f, kSeq, f)
                               : rmsNorm(fromChannels(in["x"].f, kSeq, d), kSeq,
                                         d, normScale("attn_norm"), c.normEps);
    for (int64_t ch = 0; ch < k.out; ++ch)
      for (int64_t s = 0; s < kSeq; ++s) {
        double want = 0;
        if (ch == o)
          for (int64_t i = 0; i < k.in; ++i)
            want += 2.0 * a[size_t(i * r + j)] * x[size_t(s * k.in + i)];
        EXPECT_NEAR(moved.f[size_t(ch * kSeq + s)] -
                        base.f[size_t(ch * kSeq + s)],
                    want, 1e-4 * (1 + std::fabs(want)))
            << k.kernel << " channel " << ch << " column " << s;
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Schemes, PackedInputsTest,
                         ::testing::ValuesIn(paramsWhere([](const Params &p) {
                           return std::string(p.binding) == "blob";
                         })),
                         paramName);
const Params kLoraParams[] = {
    {"f16", "fp32", 1e-5, false, "blob", 3},
    {"q4", "fp32", 1e-5, true, "blob", 3},
    {"q8", "fp32", 1e-5, true, "input", 2},
};
INSTANTIATE_TEST_SUITE_P(Adapters, LoraGradientTest,
                         ::testing::ValuesIn(kLoraParams), paramName);

} // namespace
