//===- AneShimTest.mm - the private-API shim against stand-ins ------------===//
//
// Every call of the macOS shim runs here, on Linux, against stand-ins of the
// private classes and IOSurface built over the simulator (StandIns.mm). What
// the hardware does with the same calls is unknown: nothing of this has run
// on a Mac.
//
//===----------------------------------------------------------------------===//

#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Ane/AneBackend.h"
#include "lib/Runtime/Ane/Shim/PrivateAneDevice.h"
#include "lib/Support/Float16.h"
#include "test/unittests/AneShim/StandIns.h"

#include <gtest/gtest.h>

using namespace ane;
using namespace ane::runtime;

namespace {

std::string scaleProgram(const std::string &op = "mul") {
  const std::string t = "tensor<fp16, [1, 2, 1, 3]>";
  return "program(1.3)\n{\n    func main<ios18>(" + t + " x) {\n" +
         "            " + t + " w = const()[name = string(\"w\"), val = " + t +
         "(BLOBFILE(path = string(\"@model_path/weights/weight.bin\"), "
         "offset = uint64(64)))];\n            " +
         t + " y = " + op + "(x = x, y = w)[name = string(\"y\")];\n" +
         "        } -> (y);\n}";
}

std::vector<uint8_t> weights(float v) {
  mil::WeightWriter w;
  std::vector<uint16_t> values(6, floatToHalfBits(v));
  w.append(mil::BlobDType::Float16, values.data(), values.size() * 2);
  return w.bytes();
}

std::unique_ptr<AneDevice> shimDevice() {
  standin::reset();
  PrivateAneOptions options;
  options.frameworkPath = ""; // the stand-ins are linked in
  options.retryDelayMs = 1;
  auto device = createPrivateAneDevice(options);
  EXPECT_TRUE(device.ok()) << device.message();
  return device.ok() ? std::move(*device) : nullptr;
}

std::vector<float> run(AneDevice &device, AneProgramId id) {
  AneSurface x({1, 2, 1, 3}), y({1, 2, 1, 3});
  EXPECT_TRUE(x.write(Tensor::floats(mil::DType::FP16, {1, 2, 1, 3},
                                     {1, 2, 3, 4, 5, 6}))
                  .ok());
  Status s = device.evaluate(id, {&x}, {&y});
  EXPECT_TRUE(s.ok()) << s.message();
  return y.read().f;
}

TEST(AneShimTest, EveryPrivateCallRunsAndResultsComeBack) {
  auto device = shimDevice();
  ASSERT_TRUE(device);
  EXPECT_EQ(device->name(), "ane");
  std::vector<uint8_t> w = weights(2.0f);
  auto id = device->compile(scaleProgram(),
                            {{mil::kModelWeightPath, {w.data(), w.size()}}});
  ASSERT_TRUE(id.ok()) << id.message();
  ASSERT_TRUE(device->load(*id).ok());
  // Rows travel through 128-byte IOSurface rows and back to 64-byte ones.
  EXPECT_EQ(run(*device, *id), (std::vector<float>{2, 4, 6, 8, 10, 12}));
  ASSERT_TRUE(device->unload(*id).ok());
  EXPECT_EQ(device->counters().compiles, 1);
  EXPECT_EQ(device->counters().evaluations, 1);
  // The calls reached the simulator behind the stand-ins.
  EXPECT_EQ(standin::counters().compiles, 1);
  EXPECT_EQ(standin::counters().loads, 1);
  EXPECT_EQ(standin::counters().unloads, 1);
  EXPECT_EQ(standin::counters().evaluations, 1);
  EXPECT_EQ(standin::liveSurfaces(), 0);
  EXPECT_EQ(standin::heldLocks(), 0);
  EXPECT_EQ(standin::wrongQoS(), 0);
}

TEST(AneShimTest, WeightsStayBakedThroughTheShim) {
  auto device = shimDevice();
  ASSERT_TRUE(device);
  std::vector<uint8_t> w = weights(2.0f);
  auto id = device->compile(scaleProgram(),
                            {{mil::kModelWeightPath, {w.data(), w.size()}}});
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(device->load(*id).ok());
  w = weights(-1.0f);
  ASSERT_TRUE(device->unload(*id).ok());
  ASSERT_TRUE(device->load(*id).ok());
  EXPECT_EQ(run(*device, *id), (std::vector<float>{2, 4, 6, 8, 10, 12}));
}

TEST(AneShimTest, AFailedLoadIsRetriedOnce) {
  auto device = shimDevice();
  ASSERT_TRUE(device);
  std::vector<uint8_t> w = weights(1.0f);
  auto id = device->compile(scaleProgram(),
                            {{mil::kModelWeightPath, {w.data(), w.size()}}});
  ASSERT_TRUE(id.ok());
  standin::failNextLoads(1);
  ASSERT_TRUE(device->load(*id).ok());
  ASSERT_TRUE(device->unload(*id).ok());
  standin::failNextLoads(2);
  Status s = device->load(*id);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "the ANE did not load the program: ANE busy");
}

TEST(AneShimTest, DeviceErrorsArriveAsMessages) {
  auto device = shimDevice();
  ASSERT_TRUE(device);
  auto id = device->compile(scaleProgram("identity"), {});
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.message().find("the ANE compiler failed: line 5: op "
                              "'identity' does not run on the ANE"),
            std::string::npos)
      << id.message();
  AneSurface x({1, 2, 1, 3}), y({1, 2, 1, 3});
  EXPECT_EQ(device->evaluate(3, {&x}, {&y}).message(),
            "no program 3 on the ANE");
}

TEST(AneShimTest, AMissingFrameworkOrClassIsNamed) {
  PrivateAneOptions options;
  options.frameworkPath = "/nonexistent/AppleNeuralEngine";
  auto device = createPrivateAneDevice(options);
  ASSERT_FALSE(device.ok());
  EXPECT_NE(device.message().find("cannot load the AppleNeuralEngine framework "
                                  "/nonexistent/AppleNeuralEngine"),
            std::string::npos);
  EXPECT_NE(device.message().find("run with --backend cpu"), std::string::npos);
  Status missing = requireAneClass("_ANENoSuchClass");
  EXPECT_EQ(missing.message(),
            "the AppleNeuralEngine framework has no class _ANENoSuchClass "
            "(this macOS may not have the API this backend uses): run with "
            "--backend cpu");
  EXPECT_TRUE(requireAneClass("_ANERequest").ok());
}

/// The runtime's backend over the shim: a baked program per segment.
TEST(AneShimTest, TheAneBackendRunsOverTheShim) {
  auto device = shimDevice();
  ASSERT_TRUE(device);
  auto backend = createAneBackend(std::move(device), {});
  EXPECT_EQ(backend->name(), "ane");
  auto program = backend->compile(scaleProgram());
  ASSERT_TRUE(program.ok()) << program.message();
  std::vector<uint8_t> a = weights(2.0f), b = weights(3.0f);
  auto x = std::make_shared<const Tensor>(
      Tensor::floats(mil::DType::FP16, {1, 2, 1, 3}, {1, 2, 3, 4, 5, 6}));
  ASSERT_TRUE((*program)->bindWeights({a.data(), a.size()}, "a").ok());
  auto ya = (*program)->run({x});
  ASSERT_TRUE(ya.ok()) << ya.message();
  EXPECT_EQ((*ya)[0].f, (std::vector<float>{2, 4, 6, 8, 10, 12}));
  ASSERT_TRUE((*program)->bindWeights({b.data(), b.size()}, "b").ok());
  auto yb = (*program)->run({x});
  ASSERT_TRUE(yb.ok());
  EXPECT_EQ((*yb)[0].f, (std::vector<float>{3, 6, 9, 12, 15, 18}));
  EXPECT_EQ(standin::counters().compiles, 2);
}

/// The shim cannot export compiled programs, so a model needing more than
/// one budget of programs cannot spread them over processes: said plainly.
TEST(AneShimTest, BeyondOneBudgetTheShimSaysWhy) {
  auto device = shimDevice();
  ASSERT_TRUE(device);
  EXPECT_FALSE(device->canExportCompiled());
  BackendOptions options;
  options.compileBudget = 1;
  options.compileCacheDir = ::testing::TempDir() + "/AneShimCache";
  options.workerCommand = {"/bin/false"};
  auto backend = createAneBackend(std::move(device), options);
  auto program = backend->compile(scaleProgram());
  ASSERT_TRUE(program.ok());
  std::vector<uint8_t> a = weights(1.0f), b = weights(2.0f);
  Status s = backend->prepareBindings(
      {{program->get(), {{a.data(), a.size()}, {b.data(), b.size()}}, {}}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "2 programs must compile and this process may "
                         "compile 1; ane cannot keep compiled programs, so "
                         "no other process can compile them");
}

} // namespace
