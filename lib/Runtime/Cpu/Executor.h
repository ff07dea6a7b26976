//===- Executor.h - reference MIL executor ----------------------*- C++ -*-===//
//
// Runs one function of a parsed MIL program with MIL's semantics: NumPy
// broadcasting, fp16 storage with fp32 accumulation, fp32 programs in fp32.
// Constants and constexpr_* ops are materialised ahead of the statements:
// those that read no weight file once, those that do (directly or through
// other constants) once per weight binding, at creation or on the first run
// after bindWeights. Ops are resolved to their kernels, and values to slots
// of a vector, when the program is loaded: a run looks nothing up by name.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_EXECUTOR_H
#define ANE_LIB_RUNTIME_CPU_EXECUTOR_H

#include "lib/MIL/Ops.h"
#include "lib/MIL/Program.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/PackedWeights.h"
#include "lib/Runtime/Literal.h"
#include "lib/Runtime/Profile.h"
#include "lib/Runtime/Tensor.h"
#include "lib/Support/Result.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ane::runtime {

class Executor {
public:
  static Result<Executor> create(const mil::Program &program,
                                 const std::string &functionName,
                                 const WeightFiles &weights);
  /// An executor whose constants wait for bindWeights and the next run.
  static Result<Executor> createUnbound(const mil::Program &program,
                                        const std::string &functionName);

  /// Points BLOBFILE constants at other files (a layer's weight swap). Only
  /// pointers change here; the constants that read them are rebuilt by the
  /// next run, and the previous ones are freed now.
  void bindWeights(WeightFiles files);

  /// Runs the function on inputs given in parameter order; returns the
  /// function outputs in order. State parameters take no input here. The
  /// inputs are only read, and no reference to them outlives the call.
  Result<std::vector<Tensor>> run(const std::vector<TensorRef> &inputs);
  /// The same on copies of `inputs`.
  Result<std::vector<Tensor>> run(const std::vector<Tensor> &inputs);

  /// Runs 1x1 convs whose weight lives in weight.bin (fp16/fp32, int8 or
  /// int4 with scales) with the vector kernels of QuantMatMul.h, straight
  /// from the bound blobs, on the global thread pool. Off, every constant is
  /// materialised and every op runs the plain loops (the oracle).
  void useFastKernels(bool on);

  /// Which blobs of the bound weight files hold the cpu backend's
  /// interleaved int4 layout (lib/Runtime/Interleaved.h), by the offset of
  /// their metadata record. Packed conv weights over them run the
  /// interleaved kernels; any other read of them fails when it would
  /// happen, naming the op.
  void setInterleavedBlobs(std::set<uint64_t> offsets);

  /// Adds each statement's wall time to `profile` under (`kernel`, op) on
  /// every run from now on; nullptr stops it.
  void profileInto(OpProfile *profile, std::string kernel);

  /// Sets or reads the tensor behind a state parameter.
  Status setState(const std::string &param, Tensor value);
  const Tensor *state(const std::string &param) const;

  const mil::Function &function() const { return *fn; }

  /// Whether the executor runs ops of `kind` (every op of lib/MIL/Ops.def).
  static bool runs(mil::OpKind kind);

private:
  using Env = std::vector<std::shared_ptr<const Tensor>>;
  /// A statement as resolved when the program is loaded: its op, and the
  /// value slots it writes, reads and is the last reader of.
  struct Step {
    const mil::Statement *st = nullptr;
    mil::OpKind kind = mil::OpKind::Const;
    bool constant = false;     // const or constexpr_*: run ahead of time
    bool readsWeights = false; // a constant reading a weight file
    std::vector<int32_t> outs;
    std::vector<int32_t> reads; // the Refs of its arguments
    std::vector<int32_t> dead;  // values no later statement reads
    int32_t convWeight = -1;    // conv: its weight's slot
  };
  /// A conv weight the vector kernels read in place.
  struct PackedSlot {
    int32_t slot = -1;
    std::string name;
    PackedWeightSource source;
  };

  /// Resolves every op and gives every value a slot (Refs are annotated in
  /// the executor's copy of the program).
  Status load();
  Status materialise(const WeightFiles &weights);
  Status runStep(const Step &step, Env &env, const WeightFiles &weights);
  /// A step whose one output is a packed weight: nothing to run.
  bool packedOutput(const Step &step) const {
    return step.outs.size() == 1 && packed[step.outs[0]].has_value();
  }
  bool packedConv(const Step &step) const {
    return step.kind == mil::OpKind::Conv && step.convWeight >= 0 &&
           packed[step.convWeight].has_value();
  }

  std::shared_ptr<mil::Program> program;
  const mil::Function *fn = nullptr;
  std::vector<Step> steps;
  std::vector<int32_t> paramSlots; // by parameter; -1 for state parameters
  std::vector<int32_t> outputSlots;
  size_t numSlots = 0;
  Env constants; // const and constexpr_* results, computed once per binding
  bool constantsStale = true;
  // The constants that read no weight file, computed once.
  Env fixedConstants;
  bool fixedReady = false;
  bool fastKernels = false;
  OpProfile *profile = nullptr;
  std::string profileKernel;
  std::vector<PackedSlot> packedSources;
  /// Slots of the weights read only through packed row ranges: never
  /// materialised while their ranges stay packed.
  std::vector<int32_t> viewBases;
  std::vector<std::optional<PackedWeight>> packed; // bound, by slot
  std::set<uint64_t> interleavedBlobs;
  WeightFiles weights;
  std::map<std::string, Tensor> states;
};

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_EXECUTOR_H
