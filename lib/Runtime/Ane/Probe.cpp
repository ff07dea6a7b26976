//===- Probe.cpp - what a Neural Engine actually does ---------------------===//

#include "lib/Runtime/Ane/Probe.h"

#include "lib/MIL/WeightFile.h"
#include "lib/Support/Float16.h"
#include "lib/Support/Json.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace ane::runtime {
namespace {

std::string tensorType(int64_t c, int64_t s) {
  return fmt::format("tensor<fp16, [1, {}, 1, {}]>", c, s);
}

/// y = conv(x, W): x [1, channels, 1, 1], W [rows, channels, 1, 1] at
/// offset 64 of weight.bin.
std::string convProgram(int64_t rows, int64_t channels) {
  return fmt::format(
      "program(1.3)\n{{\n    func main<ios18>({0} x) {{\n"
      "            tensor<fp16, [{2}, {3}, 1, 1]> w = const()[name = "
      "string(\"w\"), val = tensor<fp16, [{2}, {3}, 1, 1]>(BLOBFILE(path = "
      "string(\"@model_path/weights/weight.bin\"), offset = uint64(64)))];\n"
      "            string pad = const()[name = string(\"pad\"), val = "
      "string(\"valid\")];\n"
      "            {1} y = conv(pad_type = pad, weight = w, x = x)[name = "
      "string(\"y\")];\n        }} -> (y);\n}}",
      tensorType(channels, 1), tensorType(rows, 1), rows, channels);
}

/// y = sin(x) and z = cos(x) on [1, 1, 1, 16].
std::string trigProgram() {
  std::string t = tensorType(1, 16);
  return fmt::format("program(1.3)\n{{\n    func main<ios18>({0} x) {{\n"
                     "            {0} y = sin(x = x)[name = string(\"y\")];\n"
                     "            {0} z = cos(x = x)[name = string(\"z\")];\n"
                     "        }} -> (y, z);\n}}",
                     t);
}

std::vector<uint8_t> weightFile(int64_t count, float value) {
  mil::WeightWriter writer;
  std::vector<uint16_t> bits(size_t(count), floatToHalfBits(value));
  writer.append(mil::BlobDType::Float16, bits.data(), bits.size() * 2);
  return writer.bytes();
}

/// Seconds `fn` took: the device's model on the simulator, else the clock.
template <typename F> double timed(AneDevice &device, bool simulated, F fn) {
  double modelled = device.counters().modelledSeconds;
  auto start = std::chrono::steady_clock::now();
  fn();
  if (simulated)
    return device.counters().modelledSeconds - modelled;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

Result<AneProgramId> compileAndLoad(AneDevice &device, const std::string &text,
                                    const std::vector<uint8_t> &weights) {
  std::vector<AneWeightFile> files;
  if (!weights.empty())
    files.push_back({mil::kModelWeightPath, {weights.data(), weights.size()}});
  auto id = device.compile(text, files);
  if (!id.ok())
    return id;
  if (Status s = device.load(*id); !s.ok())
    return s;
  return id;
}

/// The first output of a one-input program on x = `value` everywhere.
Result<float> firstOutput(AneDevice &device, AneProgramId id, int64_t inC,
                          int64_t outC, float value) {
  AneSurface x({1, inC, 1, 1}), y({1, outC, 1, 1});
  if (Status s =
          x.write(Tensor::floats(mil::DType::FP16, {1, inC, 1, 1},
                                 std::vector<float>(size_t(inC), value)));
      !s.ok())
    return s;
  if (Status s = device.evaluate(id, {&x}, {&y}); !s.ok())
    return s;
  return y.read().f[0];
}

void probeReload(AneDevice &device, bool simulated, const ProbeOptions &o,
                 ProbeReport &r) {
  // W = 1/channels everywhere: y = x summed / channels, so y = 1 for x = 1.
  const int64_t rows = 64, channels = o.streamChannels;
  std::vector<uint8_t> weights = weightFile(rows * channels, 1.0f / channels);
  r.g1.weightBytes = weights.size();
  auto id = compileAndLoad(device, convProgram(rows, channels), weights);
  if (!id.ok()) {
    r.g1.error = id.message();
    return;
  }
  auto before = firstOutput(device, *id, channels, rows, 1.0f);
  // Rewrite the weights in place (W = 2/channels would give 2), reload.
  std::vector<uint8_t> doubled = weightFile(rows * channels, 2.0f / channels);
  std::copy(doubled.begin(), doubled.end(), weights.begin());
  Status reload = Status::success();
  r.g1.reloadMs = 1e3 * timed(device, simulated, [&] {
                    reload = device.unload(*id);
                    if (reload.ok())
                      reload = device.load(*id);
                  });
  auto after = firstOutput(device, *id, channels, rows, 1.0f);
  if (!reload.ok() || !before.ok() || !after.ok()) {
    r.g1.error = !reload.ok()   ? reload.message()
                 : !before.ok() ? before.message()
                                : after.message();
    return;
  }
  r.g1.takesEffect = std::fabs(*after - 2.0f) < 0.05f;
}

void probeTrig(AneDevice &device, ProbeReport &r) {
  auto id = compileAndLoad(device, trigProgram(), {});
  if (!id.ok()) {
    r.g2.error = id.message();
    return;
  }
  r.g2.compiles = true;
  std::vector<float> xs;
  for (int k = 0; k < 16; ++k)
    xs.push_back(-3.0f + 0.4f * float(k));
  AneSurface x({1, 1, 1, 16}), sin({1, 1, 1, 16}), cos({1, 1, 1, 16});
  Status s = x.write(Tensor::floats(mil::DType::FP16, {1, 1, 1, 16}, xs));
  if (s.ok())
    s = device.evaluate(*id, {&x}, {&sin, &cos});
  if (!s.ok()) {
    r.g2.error = s.message();
    return;
  }
  std::vector<float> ys = sin.read().f, zs = cos.read().f;
  for (int k = 0; k < 16; ++k) {
    float xk = roundToHalf(xs[size_t(k)]);
    r.g2.maxError = std::max<double>(
        r.g2.maxError, std::max(std::fabs(ys[size_t(k)] - std::sin(xk)),
                                std::fabs(zs[size_t(k)] - std::cos(xk))));
  }
  r.g2.correct = r.g2.maxError < 1e-2;
}

void probeLatency(AneDevice &device, bool simulated, const ProbeOptions &o,
                  ProbeReport &r) {
  std::vector<uint8_t> weights = weightFile(64 * 64, 1.0f / 64);
  auto id = compileAndLoad(device, convProgram(64, 64), weights);
  if (!id.ok())
    return;
  AneSurface x({1, 64, 1, 1}), y({1, 64, 1, 1});
  double seconds = timed(device, simulated, [&] {
    for (int i = 0; i < o.latencyCalls; ++i)
      (void)device.evaluate(*id, {&x}, {&y});
  });
  r.evalLatencyMs = 1e3 * seconds / o.latencyCalls;
}

void probeStream(AneDevice &device, bool simulated, const ProbeOptions &o,
                 ProbeReport &r) {
  std::vector<uint8_t> weights =
      weightFile(o.streamRows * o.streamChannels, 1.0f / o.streamChannels);
  auto id = compileAndLoad(device, convProgram(o.streamRows, o.streamChannels),
                           weights);
  if (!id.ok())
    return;
  AneSurface x({1, o.streamChannels, 1, 1}), y({1, o.streamRows, 1, 1});
  double seconds = timed(device, simulated, [&] {
    for (int i = 0; i < o.streamCalls; ++i)
      (void)device.evaluate(*id, {&x}, {&y});
  });
  double bytes = double(o.streamRows * o.streamChannels * 2) * o.streamCalls;
  r.weightStreamGBs = seconds > 0 ? bytes / seconds / 1e9 : 0;
}

void probeCeiling(AneDevice &device, const ProbeOptions &o, ProbeReport &r) {
  std::vector<uint8_t> weights = weightFile(16 * 16, 1.0f);
  std::string text = convProgram(16, 16);
  for (int i = 0; i < o.ceilingCap; ++i) {
    auto id = device.compile(
        text, {{mil::kModelWeightPath, {weights.data(), weights.size()}}});
    if (!id.ok()) {
      r.ceilingReached = true;
      r.ceilingError = id.message();
      break;
    }
  }
  r.compileCeiling = device.counters().compiles;
}

} // namespace

Result<bool> reloadTakesEffect(AneDevice &device) {
  ProbeOptions small;
  small.streamChannels = 64;
  ProbeReport r;
  probeReload(device, /*simulated=*/true, small, r);
  if (!r.g1.error.empty())
    return Status::error("probe G1: " + r.g1.error);
  return r.g1.takesEffect;
}

ProbeReport runAneProbe(AneDevice &device, bool simulated,
                        const ProbeOptions &options) {
  ProbeReport r;
  r.device = std::string(device.name());
  r.simulated = simulated;
  probeReload(device, simulated, options, r);
  probeTrig(device, r);
  probeLatency(device, simulated, options, r);
  probeStream(device, simulated, options, r);
  probeCeiling(device, options, r);
  return r;
}

std::string ProbeReport::toJson() const {
  json::Writer w;
  w.beginObject();
  w.key("device").string(device).key("simulated").boolean(simulated);
  w.key("g1_reload_takes_effect").beginObject();
  w.key("takes_effect").boolean(g1.takesEffect);
  w.key("reload_ms").number(g1.reloadMs);
  w.key("weight_bytes").integer(int64_t(g1.weightBytes));
  w.key("error").string(g1.error).endObject();
  w.key("g2_sin_cos").beginObject();
  w.key("compiles").boolean(g2.compiles).key("correct").boolean(g2.correct);
  w.key("max_error").number(g2.maxError).key("error").string(g2.error);
  w.endObject();
  w.key("eval_latency_ms").number(evalLatencyMs);
  w.key("compile_ceiling").beginObject();
  w.key("compiles").integer(compileCeiling);
  w.key("reached").boolean(ceilingReached);
  w.key("error").string(ceilingError).endObject();
  w.key("weight_stream_gbs").number(weightStreamGBs);
  w.endObject();
  return w.str();
}

} // namespace ane::runtime
