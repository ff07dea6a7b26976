//===- Executor.h - reference MIL executor ----------------------*- C++ -*-===//
//
// Runs one function of a parsed MIL program with MIL's semantics: NumPy
// broadcasting, fp16 storage with fp32 accumulation, fp32 programs in fp32.
// Constants and constexpr_* ops are materialised ahead of the statements:
// those that read no weight file once, those that do (directly or through
// other constants) once per weight binding, at creation or on the first run
// after bindWeights.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_EXECUTOR_H
#define ANE_LIB_RUNTIME_CPU_EXECUTOR_H

#include "lib/MIL/Program.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/PackedWeights.h"
#include "lib/Runtime/Cpu/Tensor.h"
#include "lib/Runtime/Profile.h"
#include "lib/Support/Result.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ane::runtime {

/// BLOBFILE paths (as written in the text, e.g.
/// "@model_path/weights/weight.bin") to the files they name.
using WeightFiles = std::map<std::string, mil::WeightReader>;

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

  /// Adds each statement's wall time to `profile` under (`kernel`, op) on
  /// every run from now on; nullptr stops it.
  void profileInto(OpProfile *profile, std::string kernel);

  /// Sets or reads the tensor behind a state parameter.
  Status setState(const std::string &param, Tensor value);
  const Tensor *state(const std::string &param) const;

  const mil::Function &function() const { return *fn; }

private:
  using Env = std::map<std::string, std::shared_ptr<const Tensor>>;
  Status materialise(const WeightFiles &weights);

  std::shared_ptr<const mil::Program> program;
  const mil::Function *fn = nullptr;
  Env constants; // const and constexpr_* results, computed once per binding
  bool constantsStale = true;
  // The constants that read no weight file, computed once; by statement,
  // whether it is a constant that does.
  Env fixedConstants;
  bool fixedReady = false;
  std::vector<bool> readsWeights;
  bool fastKernels = false;
  OpProfile *profile = nullptr;
  std::string profileKernel;
  std::map<std::string, PackedWeightSource> packedSources;
  std::map<std::string, PackedWeight> packed; // bound, by weight name
  WeightFiles weights;
  std::map<std::string, Tensor> states;
  std::vector<std::vector<std::string>> dead; // by statement, see lastUses
};

/// Decodes a typed MIL literal (inline or BLOBFILE) into a tensor.
Result<Tensor> decodeLiteral(const mil::Value &typed,
                             const WeightFiles &weights);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_EXECUTOR_H
