//===- AneSimulatorTest.cpp - the simulated ANE and its limits ------------===//
//
// Each published limit of the hardware that the simulator enforces is
// tripped here once, and the AneBackend's `baked` binding is checked
// against the compile counter.
//
//===----------------------------------------------------------------------===//

#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Ane/AneBackend.h"
#include "lib/Runtime/Ane/CompileCache.h"
#include "lib/Runtime/Ane/Probe.h"
#include "lib/Runtime/Ane/SimulatedAneDevice.h"
#include "lib/Support/Float16.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>
#include <new>

using namespace ane;
using namespace ane::runtime;

namespace {

/// y = x * w: x an fp16 [1, C, 1, S] input, w an fp16 [1, C, 1, S] blob
/// at offset 64 of weight.bin.
std::string scaleProgram(int64_t c, int64_t s, const char *dtype = "fp16",
                         const char *op = "mul") {
  std::string t = fmt::format("tensor<{}, [1, {}, 1, {}]>", dtype, c, s);
  return fmt::format(
      "program(1.3)\n{{\n    func main<ios18>({0} x) {{\n"
      "            {0} w = const()[name = string(\"w\"), val = {0}(BLOBFILE("
      "path = string(\"@model_path/weights/weight.bin\"), offset = "
      "uint64(64)))];\n"
      "            {0} y = {1}(x = x, y = w)[name = string(\"y\")];\n"
      "        }} -> (y);\n}}",
      t, op);
}

std::vector<uint8_t> weights(int64_t n, float v) {
  mil::WeightWriter w;
  std::vector<uint16_t> values(size_t(n), floatToHalfBits(v));
  w.append(mil::BlobDType::Float16, values.data(), values.size() * 2);
  return w.bytes();
}

AneWeightFile weightFile(const std::vector<uint8_t> &bytes) {
  return {mil::kModelWeightPath, {bytes.data(), bytes.size()}};
}

/// Runs program `id` on x = 1, 2, 3, ... and returns y.
std::vector<float> evaluate(AneDevice &device, AneProgramId id, int64_t c,
                            int64_t s) {
  AneSurface x({1, c, 1, s}), y({1, c, 1, s});
  std::vector<float> values;
  for (int64_t k = 0; k < c * s; ++k)
    values.push_back(float(k + 1));
  EXPECT_TRUE(
      x.write(Tensor::floats(mil::DType::FP16, {1, c, 1, s}, values)).ok());
  Status st = device.evaluate(id, {&x}, {&y});
  EXPECT_TRUE(st.ok()) << st.message();
  return y.read().f;
}

TEST(AneSurfaceTest, RowsStartOn64ByteBoundaries) {
  AneSurface s({1, 3, 1, 5});
  EXPECT_EQ(s.rowBytes(), 64u); // 5 fp16 values, padded
  EXPECT_EQ(s.byteSize(), 3u * 64u);
  AneSurface wide({1, 2, 1, 33});
  EXPECT_EQ(wide.rowBytes(), 128u); // 66 bytes round up to 128
  ASSERT_TRUE(wide.write(Tensor::floats(mil::DType::FP32, {1, 2, 1, 33},
                                        std::vector<float>(66, 1.0f / 3)))
                  .ok());
  // The second row starts at byte 128; the padding stays zero.
  const auto *bits = reinterpret_cast<const uint16_t *>(wide.data());
  EXPECT_EQ(bits[64], floatToHalfBits(1.0f / 3));
  EXPECT_EQ(bits[33], 0);
  Tensor back = wide.read();
  EXPECT_EQ(back.dtype, mil::DType::FP16);
  EXPECT_EQ(back.shape, (mil::Shape{1, 2, 1, 33}));
  EXPECT_EQ(back.f[65], roundToHalf(1.0f / 3));
  EXPECT_FALSE(
      wide.write(Tensor::floats(mil::DType::FP32, {5}, {1, 2, 3, 4, 5})).ok());
}

TEST(AneSurfaceTest, EveryWriteGivesANewVersion) {
  AneSurface a({1, 1, 1, 4}), b({1, 1, 1, 4});
  EXPECT_NE(a.version(), b.version());
  uint64_t before = a.version();
  ASSERT_TRUE(
      a.write(Tensor::floats(mil::DType::FP16, {4}, {1, 2, 3, 4})).ok());
  EXPECT_NE(a.version(), before);
}

TEST(SimulatedAneTest, RunsAProgramOnSurfaces) {
  auto device = createSimulatedAneDevice();
  std::vector<uint8_t> w = weights(8, 2.0f);
  auto id = device->compile(scaleProgram(2, 4), {weightFile(w)});
  ASSERT_TRUE(id.ok()) << id.message();
  ASSERT_TRUE(device->load(*id).ok());
  EXPECT_EQ(evaluate(*device, *id, 2, 4),
            (std::vector<float>{2, 4, 6, 8, 10, 12, 14, 16}));
  const AneCounters &c = device->counters();
  EXPECT_EQ(c.compiles, 1);
  EXPECT_EQ(c.loads, 1);
  EXPECT_EQ(c.evaluations, 1);
  EXPECT_EQ(c.bytesIn, 2u * 64u);
  EXPECT_EQ(c.bakedWeightBytes, w.size());
}

TEST(SimulatedAneTest, WeightsAreBakedAtCompile) {
  auto device = createSimulatedAneDevice();
  std::vector<uint8_t> w = weights(4, 2.0f);
  auto id = device->compile(scaleProgram(1, 4), {weightFile(w)});
  ASSERT_TRUE(id.ok()) << id.message();
  ASSERT_TRUE(device->load(*id).ok());
  EXPECT_EQ(evaluate(*device, *id, 1, 4), (std::vector<float>{2, 4, 6, 8}));
  // Rewrite the weight file in place, then unload and load, as the blob
  // binding would on hardware: the program keeps what it compiled.
  w = weights(4, -1.0f);
  ASSERT_TRUE(device->unload(*id).ok());
  ASSERT_TRUE(device->load(*id).ok());
  EXPECT_EQ(evaluate(*device, *id, 1, 4), (std::vector<float>{2, 4, 6, 8}));
  // Only a new compile sees the new weights.
  auto again = device->compile(scaleProgram(1, 4), {weightFile(w)});
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(device->load(*again).ok());
  EXPECT_EQ(evaluate(*device, *again, 1, 4),
            (std::vector<float>{-1, -2, -3, -4}));
}

TEST(SimulatedAneTest, TheCompileBudgetRunsOut) {
  SimulatedAneOptions options;
  EXPECT_EQ(options.compileBudget, 119);
  options.compileBudget = 3;
  auto device = createSimulatedAneDevice(options);
  std::vector<uint8_t> w = weights(4, 1.0f);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(device->compile(scaleProgram(1, 4), {weightFile(w)}).ok());
  auto fourth = device->compile(scaleProgram(1, 4), {weightFile(w)});
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.message().substr(0, 52),
            "the compile budget of this process is spent (3 compi");
  EXPECT_EQ(device->counters().compiles, 3);
}

TEST(SimulatedAneTest, AxesLongerThanTheChipsCapAreRefused) {
  std::vector<uint8_t> w = weights(16385, 1.0f);
  auto m2 = createSimulatedAneDevice();
  auto refused = m2->compile(scaleProgram(1, 16385), {weightFile(w)});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find(
                "'x' has an axis of 16385; the ANE of an m2 takes at most "
                "16384"),
            std::string::npos)
      << refused.message();
  SimulatedAneOptions options;
  options.chip = *findChip("m4");
  auto m4 = createSimulatedAneDevice(options);
  EXPECT_TRUE(m4->compile(scaleProgram(1, 16385), {weightFile(w)}).ok());
  std::vector<uint8_t> exact = weights(16384, 1.0f);
  EXPECT_TRUE(m2->compile(scaleProgram(1, 16384), {weightFile(exact)}).ok());
  // A constant may be longer (it is sliced into tiles, as lm_head's is);
  // only computed values have the cap.
  std::string tiled =
      "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 1, 1, 4]> x) "
      "{\n            tensor<fp16, [1, 1, 1, 16385]> w = const()[name = "
      "string(\"w\"), val = tensor<fp16, [1, 1, 1, 16385]>(BLOBFILE(path = "
      "string(\"@model_path/weights/weight.bin\"), offset = uint64(64)))];\n"
      "            tensor<int32, [4]> b = const()[name = string(\"b\"), val = "
      "tensor<int32, [4]>([0, 0, 0, 0])];\n"
      "            tensor<int32, [4]> n = const()[name = string(\"n\"), val = "
      "tensor<int32, [4]>([1, 1, 1, 4])];\n"
      "            tensor<fp16, [1, 1, 1, 4]> t = slice_by_size(begin = b, "
      "size "
      "= n, x = w)[name = string(\"t\")];\n"
      "            tensor<fp16, [1, 1, 1, 4]> y = mul(x = x, y = t)[name = "
      "string(\"y\")];\n        } -> (y);\n}";
  auto sliced = m2->compile(tiled, {weightFile(w)});
  EXPECT_TRUE(sliced.ok()) << sliced.message();
}

TEST(SimulatedAneTest, SurfacesAreFp16OfRankFour) {
  auto device = createSimulatedAneDevice();
  mil::WeightWriter writer;
  std::vector<float> values(4, 1.0f);
  writer.append(mil::BlobDType::Float32, values.data(), 16);
  std::vector<uint8_t> w = writer.bytes();
  auto fp32 = device->compile(scaleProgram(1, 4, "fp32"), {weightFile(w)});
  ASSERT_FALSE(fp32.ok());
  EXPECT_NE(fp32.message().find("input 'x' is tensor<fp32, [1, 1, 1, 4]>; "
                                "the ANE takes fp16 surfaces of rank 4"),
            std::string::npos)
      << fp32.message();
  // A surface of another shape is refused at evaluate.
  std::vector<uint8_t> w16 = weights(4, 1.0f);
  auto id = device->compile(scaleProgram(1, 4), {weightFile(w16)});
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(device->load(*id).ok());
  AneSurface x({1, 2, 1, 2}), y({1, 1, 1, 4});
  Status st = device->evaluate(*id, {&x}, {&y});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "input 0 must be a [1, 1, 1, 4] surface");
}

TEST(SimulatedAneTest, OpsOffTheVerifiedListAreRefused) {
  auto device = createSimulatedAneDevice();
  std::string text =
      "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 1, 1, 4]> x) "
      "{\n            tensor<fp16, [1, 1, 1, 4]> y = identity(x = x)[name = "
      "string(\"y\")];\n        } -> (y);\n}";
  auto id = device->compile(text, {});
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.message(), "line 4: op 'identity' does not run on the ANE (it "
                          "is not on the ANE-verified list)");
  EXPECT_EQ(device->counters().compiles, 0);
}

TEST(SimulatedAneTest, ProgramsRunOnlyWhileLoaded) {
  auto device = createSimulatedAneDevice();
  std::vector<uint8_t> w = weights(4, 1.0f);
  auto id = device->compile(scaleProgram(1, 4), {weightFile(w)});
  ASSERT_TRUE(id.ok());
  AneSurface x({1, 1, 1, 4}), y({1, 1, 1, 4});
  EXPECT_EQ(device->evaluate(*id, {&x}, {&y}).message(),
            "program 0 is not loaded: load it first");
  EXPECT_FALSE(device->unload(*id).ok());
  ASSERT_TRUE(device->load(*id).ok());
  EXPECT_FALSE(device->load(*id).ok());
  EXPECT_FALSE(device->load(7).ok());
}

TEST(SimulatedAneTest, TimeIsModelledFromTheChip) {
  auto device = createSimulatedAneDevice();
  ChipSpec m2 = defaultSimulatedChip();
  std::vector<uint8_t> w = weights(4, 1.0f);
  auto id = device->compile(scaleProgram(1, 4), {weightFile(w)});
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(device->load(*id).ok());
  double setup = (m2.compileMs + m2.loadMs) * 1e-3;
  EXPECT_DOUBLE_EQ(device->counters().modelledSeconds, setup);
  evaluate(*device, *id, 1, 4);
  double call = device->counters().modelledSeconds - setup;
  // A tiny call costs its dispatch, a little more for its bytes.
  EXPECT_GT(call, m2.dispatchMs[0] * 1e-3);
  EXPECT_LT(call, m2.dispatchMs[1] * 1e-3);

  // A call streams only the blobs its program reads, not the whole file
  // (a layer's segment holds every kernel's weights): 32 MB more in the
  // file would add 0.5 ms at 60 GB/s.
  mil::WeightWriter big;
  std::vector<uint16_t> used(4, floatToHalfBits(1.0f));
  big.append(mil::BlobDType::Float16, used.data(), 8);
  std::vector<uint16_t> unused(size_t(16) << 20, 0);
  big.append(mil::BlobDType::Float16, unused.data(), unused.size() * 2);
  std::vector<uint8_t> file = big.bytes();
  auto device2 = createSimulatedAneDevice();
  auto id2 = device2->compile(scaleProgram(1, 4), {weightFile(file)});
  ASSERT_TRUE(id2.ok());
  ASSERT_TRUE(device2->load(*id2).ok());
  double before = device2->counters().modelledSeconds;
  evaluate(*device2, *id2, 1, 4);
  EXPECT_LT(device2->counters().modelledSeconds - before,
            m2.dispatchMs[1] * 1e-3);
}

/// Binds two layers' weights (x 2 and x -1) to a scale program in turn,
/// twice, and checks that each call computes with the layer just bound.
void alternateLayers(BackendProgram &program) {
  std::vector<uint8_t> layer0 = weights(4, 2.0f), layer1 = weights(4, -1.0f);
  auto x = std::make_shared<const Tensor>(
      Tensor::floats(mil::DType::FP16, {1, 1, 1, 4}, {1, 2, 3, 4}));
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(program.bindWeights({layer0.data(), layer0.size()}, "l0").ok());
    auto y0 = program.run({x});
    ASSERT_TRUE(y0.ok()) << y0.message();
    EXPECT_EQ((*y0)[0].f, (std::vector<float>{2, 4, 6, 8}));
    ASSERT_TRUE(program.bindWeights({layer1.data(), layer1.size()}, "l1").ok());
    auto y1 = program.run({x});
    ASSERT_TRUE(y1.ok()) << y1.message();
    EXPECT_EQ((*y1)[0].f, (std::vector<float>{-1, -2, -3, -4}));
  }
}

/// The backend compiles a weight-file program once per distinct segment
/// (baked) and selects it again when the segment comes back.
TEST(AneBackendTest, BakedBindingCompilesOncePerSegment) {
  auto backend = createBackend("ane-sim");
  ASSERT_TRUE(backend.ok()) << backend.message();
  const AneDevice *device = aneDeviceOf(**backend);
  ASSERT_NE(device, nullptr);
  auto program = (*backend)->compile(scaleProgram(1, 4));
  ASSERT_TRUE(program.ok()) << program.message();
  EXPECT_EQ(device->counters().compiles, 0); // no weights yet
  ASSERT_NO_FATAL_FAILURE(alternateLayers(**program));
  EXPECT_EQ(device->counters().compiles, 2);
  EXPECT_EQ(device->counters().evaluations, 4);
  EXPECT_EQ(aneDeviceOf(**createBackend("cpu")), nullptr);
}

/// A baked program keeps only the blobs it reads: a layer's segment holds
/// every kernel's weights, and the device copies what it is given.
TEST(AneBackendTest, BakedProgramsKeepOnlyTheBlobsTheyRead) {
  mil::WeightWriter segment;
  std::vector<uint16_t> other(size_t(1) << 20, 0), used(4, floatToHalfBits(3));
  segment.append(mil::BlobDType::Float16, other.data(), other.size() * 2);
  uint64_t at = segment.append(mil::BlobDType::Float16, used.data(), 8);
  std::string text = scaleProgram(1, 4);
  text.replace(text.find("uint64(64)"), 10, fmt::format("uint64({})", at));
  auto backend = createBackend("ane-sim");
  ASSERT_TRUE(backend.ok());
  auto program = (*backend)->compile(text);
  ASSERT_TRUE(program.ok()) << program.message();
  const std::vector<uint8_t> &bytes = segment.bytes();
  Status bound = (*program)->bindWeights({bytes.data(), bytes.size()}, "l0");
  ASSERT_TRUE(bound.ok()) << bound.message();
  auto x = std::make_shared<const Tensor>(
      Tensor::floats(mil::DType::FP16, {1, 1, 1, 4}, {1, 2, 3, 4}));
  auto y = (*program)->run({x});
  ASSERT_TRUE(y.ok()) << y.message();
  EXPECT_EQ((*y)[0].f, (std::vector<float>{3, 6, 9, 12}));
  // Header, one metadata record and 8 bytes, not the 2 MB segment.
  EXPECT_EQ(aneDeviceOf(**backend)->counters().bakedWeightBytes, 136u);
}

/// --ane-blob-reload compiles a weight-file program once and rewrites and
/// reloads its buffer per layer, but only where gate G1 holds: on the
/// simulator, as on the hardware measured so far, it is refused; on a
/// simulated chip whose loads re-read the buffer, every layer's weights
/// take effect with one compile (and the probe's).
TEST(AneBackendTest, BlobReloadOnlyWhereGateG1Holds) {
  BackendOptions options;
  options.aneBlobReload = true;
  std::vector<uint8_t> layer0 = weights(4, 2.0f);

  auto refusing = createAneBackend(createSimulatedAneDevice(), options);
  auto stale = refusing->compile(scaleProgram(1, 4));
  ASSERT_TRUE(stale.ok()) << stale.message();
  Status refused = (*stale)->bindWeights({layer0.data(), layer0.size()}, "l0");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("does not take a rewritten weight buffer "
                                   "at reload (ane-exec probe, gate G1"),
            std::string::npos)
      << refused.message();
  EXPECT_FALSE(refusing->prepareBindings({}).ok());

  SimulatedAneOptions open;
  open.reloadTakesEffect = true;
  auto backend = createAneBackend(createSimulatedAneDevice(open), options);
  ASSERT_TRUE(backend->prepareBindings({}).ok());
  auto program = backend->compile(scaleProgram(1, 4));
  ASSERT_TRUE(program.ok()) << program.message();
  ASSERT_NO_FATAL_FAILURE(alternateLayers(**program));
  const AneCounters &c = aneDeviceOf(*backend)->counters();
  EXPECT_EQ(c.compiles, 2); // the G1 probe's and this program's
  EXPECT_EQ(aneBackendStatsOf(*backend)->reloads, 3);
  EXPECT_EQ(aneBackendStatsOf(*backend)->compiledHere, 1);
}

/// Constant inputs (input-bound weights) keep a surface per tensor: a
/// second layer's tensor, or a new tensor where a freed one was, is packed
/// anew rather than served from a stale surface.
TEST(AneBackendTest, ConstantInputsFollowTheirTensor) {
  auto backend = createBackend("ane-sim");
  ASSERT_TRUE(backend.ok());
  std::string text =
      "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 1, 1, 4]> x, "
      "tensor<fp16, [1, 1, 1, 4]> w) {\n            tensor<fp16, [1, 1, 1, "
      "4]> y = mul(x = x, y = w)[name = string(\"y\")];\n        } -> "
      "(y);\n}";
  auto program = (*backend)->compile(text);
  ASSERT_TRUE(program.ok()) << program.message();
  (*program)->setConstantInputs(1);
  auto w = std::make_shared<const Tensor>(
      Tensor::floats(mil::DType::FP16, {1, 1, 1, 4}, {1, 1, 1, 1}));
  for (float v : {1.0f, 2.0f}) {
    auto x = std::make_shared<const Tensor>(
        Tensor::floats(mil::DType::FP16, {1, 1, 1, 4}, {v, v, v, v}));
    auto y = (*program)->run({x, w});
    ASSERT_TRUE(y.ok()) << y.message();
    EXPECT_EQ((*y)[0].f, (std::vector<float>{v, v, v, v}));
  }
  // Another weight tensor (another layer) gets a surface of its own.
  auto w2 = std::make_shared<const Tensor>(
      Tensor::floats(mil::DType::FP16, {1, 1, 1, 4}, {3, 3, 3, 3}));
  auto x = std::make_shared<const Tensor>(
      Tensor::floats(mil::DType::FP16, {1, 1, 1, 4}, {1, 1, 1, 1}));
  auto y = (*program)->run({x, w2});
  ASSERT_TRUE(y.ok());
  EXPECT_EQ((*y)[0].f, (std::vector<float>{3, 3, 3, 3}));
  // Tensors built one after another at the same address.
  alignas(Tensor) unsigned char storage[sizeof(Tensor)];
  auto at = [&](float v) {
    const Tensor *t = new (storage)
        Tensor(Tensor::floats(mil::DType::FP16, {1, 1, 1, 4}, {v, v, v, v}));
    return TensorRef(t, [](const Tensor *p) { p->~Tensor(); });
  };
  for (float v : {5.0f, 7.0f}) {
    w.reset();
    w = at(v);
    auto again = (*program)->run({x, w});
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)[0].f, (std::vector<float>{v, v, v, v}));
  }
  w.reset(); // it lives in `storage`, which goes out of scope before `w`
}

TEST(SimulatedAneTest, ExportedProgramsImportWithoutCompiling) {
  auto device = createSimulatedAneDevice();
  std::vector<uint8_t> w = weights(4, 3.0f);
  auto id = device->compile(scaleProgram(1, 4), {weightFile(w)});
  ASSERT_TRUE(id.ok());
  auto bytes = device->exportCompiled(*id);
  ASSERT_TRUE(bytes.ok()) << bytes.message();

  auto other = createSimulatedAneDevice();
  auto imported = other->importCompiled(bytes->data(), bytes->size(), "p");
  ASSERT_TRUE(imported.ok()) << imported.message();
  ASSERT_TRUE(other->load(*imported).ok());
  EXPECT_EQ(evaluate(*other, *imported, 1, 4),
            (std::vector<float>{3, 6, 9, 12}));
  EXPECT_EQ(other->counters().compiles, 0);
  EXPECT_EQ(other->counters().imports, 1);

  std::vector<uint8_t> damaged = *bytes;
  damaged.back() ^= 1;
  EXPECT_EQ(
      other->importCompiled(damaged.data(), damaged.size(), "p").message(),
      "p: checksum mismatch (the file is damaged)");
  EXPECT_FALSE(
      other->importCompiled(bytes->data(), bytes->size() - 1, "p").ok());
  EXPECT_FALSE(other->importCompiled(bytes->data(), 10, "p").ok());
}

TEST(CompileCacheTest, EntriesRoundTripUnderTheirKey) {
  std::string dir = ::testing::TempDir() + "/CompileCacheTest";
  std::vector<uint8_t> w = weights(4, 1.0f);
  Bytes segment{w.data(), w.size()};
  std::string key = compileKey("ane-sim", "text", segment);
  EXPECT_EQ(key.size(), 32u);
  EXPECT_NE(key, compileKey("ane", "text", segment));
  EXPECT_NE(key, compileKey("ane-sim", "text2", segment));
  EXPECT_NE(key, compileKey("ane-sim", "text", Bytes{w.data(), w.size() - 1}));

  AneCompileCache cache(dir + "/a/b"); // folders are created as needed
  EXPECT_FALSE(cache.find(key).has_value());
  std::vector<uint8_t> program = {1, 2, 3, 4, 5};
  ASSERT_TRUE(cache.store(key, program).ok());
  auto found = cache.find(key);
  ASSERT_TRUE(found && found->ok());
  EXPECT_EQ(**found, program);

  // The same file under another key's name is refused.
  std::string other = compileKey("ane-sim", "other", segment);
  ASSERT_EQ(std::rename(cache.pathOf(key).c_str(), cache.pathOf(other).c_str()),
            0);
  auto renamed = cache.find(other);
  ASSERT_TRUE(renamed && !renamed->ok());
  EXPECT_NE(renamed->message().find("written for another key"),
            std::string::npos);
}

TEST(CompileCacheTest, DamagedEntriesAreRefused) {
  std::string dir = ::testing::TempDir() + "/CompileCacheDamage";
  AneCompileCache cache(dir);
  std::string key(32, 'a');
  ASSERT_TRUE(cache.store(key, std::vector<uint8_t>(100, 7)).ok());
  std::string path = cache.pathOf(key);
  std::vector<uint8_t> entry;
  {
    std::FILE *f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    entry.resize(200);
    entry.resize(std::fread(entry.data(), 1, entry.size(), f));
    std::fclose(f);
  }
  auto rewrite = [&](std::vector<uint8_t> bytes) {
    std::FILE *f = std::fopen(path.c_str(), "wb");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    auto found = cache.find(key);
    return found && !found->ok() ? found->message() : std::string("ok");
  };
  std::vector<uint8_t> flipped = entry;
  flipped.back() ^= 0x10;
  EXPECT_NE(rewrite(flipped).find("checksum mismatch"), std::string::npos);
  EXPECT_NE(rewrite({entry.begin(), entry.end() - 1}).find("99 bytes after"),
            std::string::npos);
  EXPECT_NE(rewrite({entry.begin(), entry.begin() + 20}).find("no ANECACHE"),
            std::string::npos);
  EXPECT_FALSE(cache.store("short", {1}).ok());
}

TEST(AneBackendTest, WithoutACacheTheBudgetIsAHardLimit) {
  BackendOptions options;
  options.compileBudget = 1;
  auto backend = createBackend("ane-sim", options);
  ASSERT_TRUE(backend.ok());
  auto program = (*backend)->compile(scaleProgram(1, 4));
  ASSERT_TRUE(program.ok());
  std::vector<uint8_t> a = weights(4, 1.0f), b = weights(4, 2.0f);
  Status s = (*backend)->prepareBindings(
      {{program->get(), {{a.data(), a.size()}, {b.data(), b.size()}}}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "2 programs must compile and this process may "
                         "compile 1: give a compile cache (--ane-cache DIR) "
                         "so worker processes compile the rest");
  EXPECT_EQ(aneDeviceOf(**backend)->counters().compiles, 0);
}

/// A device on which a reload does take effect: load compiles again from
/// the caller's weight buffer. What G1 would find if the seed's hypothesis
/// held on hardware.
class ReloadingDevice final : public AneDevice {
public:
  std::string_view name() const override { return "reloading"; }
  Result<AneProgramId>
  compile(const std::string &text,
          const std::vector<AneWeightFile> &weights) override {
    sources.push_back({text, weights});
    current.push_back(-1);
    return AneProgramId(sources.size() - 1);
  }
  Status load(AneProgramId id) override {
    auto inner =
        sim->compile(sources[size_t(id)].first, sources[size_t(id)].second);
    if (!inner.ok())
      return inner.status();
    current[size_t(id)] = *inner;
    return sim->load(*inner);
  }
  Status evaluate(AneProgramId id, const std::vector<const AneSurface *> &in,
                  const std::vector<AneSurface *> &out) override {
    return sim->evaluate(current[size_t(id)], in, out);
  }
  Status unload(AneProgramId id) override {
    return sim->unload(current[size_t(id)]);
  }
  const AneCounters &counters() const override { return sim->counters(); }

private:
  std::unique_ptr<AneDevice> sim = createSimulatedAneDevice();
  std::vector<std::pair<std::string, std::vector<AneWeightFile>>> sources;
  std::vector<AneProgramId> current;
};

TEST(AneProbeTest, ReportsWhatTheDeviceDoes) {
  ProbeOptions options;
  options.streamRows = options.streamChannels = 256;
  options.latencyCalls = 4;
  options.streamCalls = 2;
  auto sim = createSimulatedAneDevice();
  ProbeReport baked = runAneProbe(*sim, true, options);
  EXPECT_FALSE(baked.g1.takesEffect);
  EXPECT_EQ(baked.g1.error, "");
  EXPECT_FALSE(baked.g2.compiles);
  EXPECT_EQ(baked.compileCeiling, 119);
  EXPECT_TRUE(baked.ceilingReached);
  EXPECT_GT(baked.weightStreamGBs, 0);

  ReloadingDevice reloading;
  ProbeReport reloads = runAneProbe(reloading, true, options);
  EXPECT_TRUE(reloads.g1.takesEffect) << reloads.g1.error;
}

} // namespace
