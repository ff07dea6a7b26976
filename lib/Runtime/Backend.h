//===- Backend.h - where kernel programs run --------------------*- C++ -*-===//
//
// DESIGN.md section 3: a backend compiles each MIL program once (per kernel
// and shape bucket), binds a layer's weights to it, and runs it. `cpu`
// executes the MIL text itself and is built everywhere; `ane` drives Apple's
// Neural Engine and is built only on macOS.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_BACKEND_H
#define ANE_LIB_RUNTIME_BACKEND_H

#include "lib/MIL/Program.h"
#include "lib/Runtime/ModelImage.h"
#include "lib/Runtime/Profile.h"
#include "lib/Runtime/Tensor.h"
#include "lib/Support/Result.h"

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ane::runtime {

/// One kernel program, compiled for one shape bucket.
class BackendProgram {
public:
  virtual ~BackendProgram() = default;
  /// The program's inputs, in order.
  virtual const std::vector<mil::Param> &params() const = 0;
  /// Presents `segment` as the program's weight.bin (the `blob` binding);
  /// `name` is what errors call it.
  virtual Status bindWeights(Bytes segment, const std::string &name) = 0;
  /// Runs on inputs in parameter order (only read, and not kept); returns
  /// the outputs in order.
  virtual Result<std::vector<Tensor>>
  run(const std::vector<TensorRef> &inputs) = 0;
  /// Tells the program which blobs of every segment it will be bound to
  /// hold the cpu backend's interleaved int4 layout (abi::SlotLayout::
  /// Interleaved16), by the offset of their metadata record. A program
  /// that cannot read them says so.
  virtual Status setInterleavedBlobs(std::set<uint64_t> offsets) {
    if (offsets.empty())
      return Status::success();
    return Status::error("this backend reads row-major weights only");
  }
  /// Tells the program that inputs from index `first` on (the weights of
  /// the `input` binding) keep their values for as long as their tensors
  /// live, so it may convert each once. By default nothing is kept.
  virtual void setConstantInputs(size_t first) { (void)first; }
  /// Adds the time of each op the program runs to `profile`, under `kernel`,
  /// from now on (nullptr stops it). A backend that cannot see its ops
  /// adds nothing.
  virtual void profileInto(OpProfile *profile, const std::string &kernel) {
    (void)profile;
    (void)kernel;
  }
};

/// A program and every weight segment the engine will bind to it.
struct PlannedBinding {
  BackendProgram *program = nullptr;
  std::vector<Bytes> segments;
  std::vector<std::string> names; // what errors call each segment
};

/// Settings of the backends that need them (the ANE's).
struct BackendOptions {
  /// Where compiled programs are kept between runs (empty: nowhere).
  std::string compileCacheDir;
  /// Compiles one process may make (the ANE's compiler fails after ~119).
  int64_t compileBudget = 119;
  /// The command that runs a compile worker process, followed by its
  /// arguments (empty: everything compiles in this process).
  std::vector<std::string> workerCommand;
  /// The chip ane-sim models (empty: m2), as `plan` names them.
  std::string aneChip;
  /// Weight-file kernels as one program each, whose weight buffer is
  /// rewritten and reloaded per layer instead of one baked program per
  /// layer: only on a device where gate G1 (ane-exec probe) holds.
  bool aneBlobReload = false;
  /// Leave a mapped image's weights in the page cache's pages (--mmap)
  /// instead of reading the ones the kernels stream into huge pages.
  bool mapWeights = false;
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  /// Whether every call reads its layer's weights straight from the bound
  /// segment (so the engine maps their pages in before the first call).
  virtual bool readsWeightsInPlace() const { return false; }
  /// Whether its programs read the cpu backend's interleaved int4 layout.
  virtual bool readsInterleavedWeights() const { return false; }
  /// Compiles a MIL program text whose function is `main`.
  virtual Result<std::unique_ptr<BackendProgram>>
  compile(const std::string &milText) = 0;
  /// Every binding the engine will make, before its first run: a backend
  /// that compiles per segment (the ANE's baked binding) prepares them all
  /// here, where it can plan. By default nothing is done.
  virtual Status prepareBindings(const std::vector<PlannedBinding> &plan) {
    (void)plan;
    return Status::success();
  }
};

/// "cpu" (vector kernels reading weights in place), "cpu-reference" (the
/// MIL executor's plain loops, the oracle), "ane-sim" (the ANE simulator,
/// lib/Runtime/Ane), or "ane" where this build has it (macOS); otherwise an
/// error that says which backends there are.
Result<std::unique_ptr<Backend>>
createBackend(std::string_view name, const BackendOptions &options = {});

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_BACKEND_H
