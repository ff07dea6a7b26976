//===- CpuBackend.cpp - kernel programs on the MIL executor ---------------===//

#include "lib/Runtime/Cpu/CpuBackend.h"

#include "lib/MIL/Text.h"
#include "lib/Runtime/Cpu/Executor.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ane::runtime {
namespace {

/// The cpu backend's program: the MIL executor, whose BLOBFILE constants
/// read the bound segment in place.
class CpuProgram final : public BackendProgram {
public:
  explicit CpuProgram(Executor exec) : exec(std::move(exec)) {}

  const std::vector<mil::Param> &params() const override {
    return exec.function().params;
  }

  Status bindWeights(Bytes segment, const std::string &name) override {
    auto reader = mil::WeightReader::fromBuffer(segment.data, segment.size,
                                                name, nullptr);
    if (!reader.ok())
      return reader.status();
    WeightFiles files;
    files.emplace(mil::kModelWeightPath, std::move(*reader));
    exec.bindWeights(std::move(files));
    return Status::success();
  }

  Status setInterleavedBlobs(std::set<uint64_t> offsets) override {
    exec.setInterleavedBlobs(std::move(offsets));
    return Status::success();
  }

  Result<std::vector<Tensor>>
  run(const std::vector<TensorRef> &inputs) override {
    return exec.run(inputs);
  }

  void profileInto(OpProfile *profile, const std::string &kernel) override {
    exec.profileInto(profile, kernel);
  }

private:
  Executor exec;
};

/// "cpu" runs conv weights in place with the vector kernels; "cpu-reference"
/// runs every op with the executor's plain loops (the oracle).
class CpuBackend final : public Backend {
public:
  explicit CpuBackend(bool fast) : fast(fast) {}
  std::string_view name() const override {
    return fast ? "cpu" : "cpu-reference";
  }
  bool readsWeightsInPlace() const override { return fast; }
  /// The interleaved layout is the vector kernels' own: the plain loops of
  /// cpu-reference read Core ML's.
  bool readsInterleavedWeights() const override { return fast; }

  Result<std::unique_ptr<BackendProgram>>
  compile(const std::string &milText) override {
    auto program = mil::parseProgram(milText);
    if (!program.ok())
      return program.status();
    auto exec = Executor::createUnbound(*program, "main");
    if (!exec.ok())
      return exec.status();
    exec->useFastKernels(fast);
    return std::unique_ptr<BackendProgram>(
        std::make_unique<CpuProgram>(std::move(*exec)));
  }

private:
  bool fast;
};

/// Every kernel call allocates its activations anew. glibc serves blocks
/// from 128 KiB up with fresh mmaps, so each call would fault in zeroed
/// pages and unmap them again (10% of a 7B decode); kept in the heap below
/// 32 MiB, freed blocks are reused at once.
void keepActivationsInTheHeap() {
#if defined(__GLIBC__)
  static const bool once = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    return true;
  }();
  (void)once;
#endif
}

} // namespace

std::unique_ptr<Backend> createCpuBackend(bool fast) {
  keepActivationsInTheHeap();
  return std::make_unique<CpuBackend>(fast);
}

} // namespace ane::runtime
