//===- AneDevice.h - the Neural Engine as the runtime sees it ---*- C++ -*-===//
//
// The calls Apple's private AppleNeuralEngine framework makes possible
// (docs/ane.md): compile a MIL text with its weight files, load the result,
// evaluate it on I/O surfaces, unload it. Two implementations: the macOS
// shim over the framework, and SimulatedAneDevice, which runs everywhere and
// enforces the hardware's published limits. AneBackend drives either.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_ANEDEVICE_H
#define ANE_LIB_RUNTIME_ANE_ANEDEVICE_H

#include "lib/Runtime/Ane/AneSurface.h"
#include "lib/Runtime/ModelImage.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ane::runtime {

/// One weight file of a program, by the path its BLOBFILE constants name
/// ("@model_path/weights/weight.bin"). The bytes are read during compile
/// and not after: the device bakes them into the program.
struct AneWeightFile {
  std::string path;
  Bytes data;
};

/// A compiled program on a device.
using AneProgramId = int64_t;

/// What a device did, for `bench` and the tests. `modelledSeconds` is the
/// simulator's latency model (zero on hardware, which measures instead).
struct AneCounters {
  int64_t compiles = 0;
  int64_t loads = 0;
  int64_t unloads = 0;
  int64_t evaluations = 0;
  uint64_t bytesIn = 0;          // input surfaces read by evaluations
  uint64_t bytesOut = 0;         // output surfaces written
  uint64_t bakedWeightBytes = 0; // weights compiled into programs
  int64_t imports = 0;           // programs loaded from a compiled form
  double modelledSeconds = 0;
};

class AneDevice {
public:
  virtual ~AneDevice() = default;
  /// "ane" or "ane-sim"; what messages call the device.
  virtual std::string_view name() const = 0;
  /// What compiled programs are for: the device and its chip when known
  /// ("ane-sim/m2"); compile-cache keys and workers use it.
  virtual std::string target() const { return std::string(name()); }
  /// Compiles `milText` (function `main`) with its weight files.
  virtual Result<AneProgramId>
  compile(const std::string &milText,
          const std::vector<AneWeightFile> &weights) = 0;
  virtual Status load(AneProgramId program) = 0;
  /// Runs a loaded program: one surface per input and per output, in the
  /// order of the function's parameters and results.
  virtual Status evaluate(AneProgramId program,
                          const std::vector<const AneSurface *> &inputs,
                          const std::vector<AneSurface *> &outputs) = 0;
  virtual Status unload(AneProgramId program) = 0;
  /// Whether exportCompiled works, so programs can be compiled in other
  /// processes and kept on disk.
  virtual bool canExportCompiled() const { return false; }
  /// The compiled form of `program`, to keep on disk and import in another
  /// process without compiling again; an error if the device has none.
  virtual Result<std::vector<uint8_t>> exportCompiled(AneProgramId program) {
    (void)program;
    return Status::error(std::string(name()) +
                         " cannot export compiled programs");
  }
  /// A program from exportCompiled's bytes (checked: they come from a
  /// file). Importing is not compiling: it spends none of the budget.
  virtual Result<AneProgramId> importCompiled(const uint8_t *data, size_t size,
                                              const std::string &name) {
    (void)data;
    (void)size;
    return Status::error(name + ": " + std::string(this->name()) +
                         " cannot import compiled programs");
  }
  virtual const AneCounters &counters() const = 0;
};

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANE_ANEDEVICE_H
