//===- ModelLoader.h - a model file made ready for the engine ---*- C++ -*-===//
//
// Opens a model as the runtime will run it: a .anepak is mapped as is; any
// other model (GGUF, llama2.c, synthetic:NAME) is compiled by ane-compile for
// the requested buckets and packed, in memory or through the pack cache
// (PackCache.h). ane-exec's commands and the C API (libane) share it; its
// notes and progress go to stderr unless quiet.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_LOADER_MODELLOADER_H
#define ANE_LIB_LOADER_MODELLOADER_H

#include "lib/Compile.h"
#include "lib/Loader/PackCache.h"
#include "lib/Model/LoraAdapter.h"
#include "lib/Model/Tokenizer.h"
#include "lib/Runtime/Backend.h"
#include "lib/Runtime/Engine.h"
#include "lib/Runtime/ModelImage.h"

#include <functional>
#include <optional>
#include <string>

namespace ane::loader {

/// argv[1] of a compile worker process (AneBackend's workerCommand).
inline constexpr const char *kCompileWorkerCommand = "__ane-compile-worker";

/// Which model, and the tokenizer for checkpoints that carry none.
struct ModelOptions {
  std::string model;     // .anepak, .gguf, llama2.c .bin or synthetic:NAME
  std::string tokenizer; // a llama2.c tokenizer.bin
};

/// How a model file becomes kernels and packed weights.
struct BuildOptions {
  std::optional<abi::Scheme> quant; // none: follow the source's own storage
  int64_t group = 0;
  abi::DType dtype = abi::DType::FP16;
  abi::WeightBinding binding = abi::WeightBinding::Blob;
  int64_t ctx = 0; // 0: what the command needs (or, with fullContext,
                   // the model's max_seq_len)
  bool fullContext = false;
  /// Prompt tokens per prefill call; 0: the backend's default
  /// (prefillChunk).
  int64_t prefill = 0;
  int threads = 0; // 0: every core
  std::string backend = "cpu";
  std::string family;   // --family: legalize for an ANE family
  std::string aneCache; // --ane-cache (empty: the default folder)
  int64_t aneCompileBudget = 119;
  bool aneBlobReload = false;
  std::string aneChip; // --ane-chip; empty: --family's, else m2
  /// A kernel directory from `ane-translate --kernel-dir` to run instead of
  /// compiling in process.
  std::string kernelDir;
  /// Adapters (--lora, --lora-scaled FILE S), merged into the weights
  /// before packing (--lora-merge) or passed to the kernels as inputs.
  std::vector<std::string> loraFiles;
  std::vector<std::pair<std::string, double>> loraScaled;
  bool loraMerge = false;
  /// Kernels that take adapters of this rank for these roles (compile
  /// --lora-rank, finetune); adapters given here raise them as needed.
  int64_t loraRank = 0;
  std::vector<std::string> loraTargets;
  bool backward = false; // the backward kernels too (finetune)
  /// Seq buckets 2, 4, ... up to this many, for decode steps of several
  /// sequences at once (serve --parallel); 1: none.
  int64_t decodeBatch = 1;
  bool exactContext = false; // one ctx bucket of exactly --ctx (finetune)
  bool quiet = false;        // no notes or progress on stderr
  /// Leave a .anepak's weights mapped from the page cache (--mmap).
  bool mapWeights = false;
  /// Whether a model file's packed weights are kept for the next run
  /// (--pack-cache; PackCache.h).
  PackCachePolicy packCache = PackCachePolicy::Auto;
  /// Whether the user asked for `flag` (e.g. "--dtype") rather than taking
  /// its default: a .anepak refuses only what was asked for. None: nothing
  /// was.
  std::function<bool(const std::string &flag)> givenFlag;

  int threadCount() const;
  /// --prefill, or by default 64 on the cpu backend (16 elsewhere): a 7B's
  /// prefill ran 15-25% faster in chunks of 64 than of 16 on the
  /// interleaved kernels. A default of 64 also compiles a bucket of 16, so
  /// that what is left of a prompt after its 64s still runs in chunks.
  int64_t prefillChunk() const;
  bool given(const std::string &flag) const {
    return givenFlag && givenFlag(flag);
  }
  /// The backend's settings: the compile cache, budget and worker command.
  runtime::BackendOptions backendOptions() const;
};

/// This executable's path (/proc/self/exe, or dyld's on macOS); empty if
/// unknown.
std::string executablePath();

struct LoadedModel {
  std::optional<model::ModelSpec> spec; // none for a .anepak
  runtime::ModelImage image;
  /// --lora and --lora-scaled as one adapter, merged or not.
  std::optional<model::LoraAdapter> adapter;
  /// Each of them with its scale, in the order given (serve's adapter ids).
  std::vector<std::pair<model::LoraAdapter, double>> adapterList;
  /// The adapters the kernels take as inputs (unmerged --lora).
  std::shared_ptr<runtime::KernelLora> lora;
  std::optional<model::Tokenizer> tokenizer;
  double compileSeconds = 0, packSeconds = 0;
  /// The pack cache's copy of the weights, written on a thread of its own
  /// while the model runs; the last copy of this waits for it.
  std::shared_ptr<const void> packWrite;
};

/// A llama2.c tokenizer.bin or a Hugging Face tokenizer.json (-z), checked
/// against the model's vocabulary.
Result<model::TokenizerData> readTokenizerFile(const std::string &path,
                                               int64_t vocabSize);

/// The tokenizer of the model, or of `tokenizerPath` when given.
Result<model::Tokenizer> loadTokenizer(const model::ModelSpec &spec,
                                       const std::string &tokenizerPath);

/// --lora and --lora-scaled for a model of `config`, each with its scale,
/// in the order given (serve's adapter ids).
Result<std::vector<std::pair<model::LoraAdapter, double>>>
readAdapterList(const BuildOptions &build, const model::Config &config);

/// --lora and --lora-scaled as one adapter for a model of `config`; none
/// when no adapter is given.
Result<std::optional<model::LoraAdapter>>
readAdapters(const BuildOptions &build, const model::Config &config);

/// An engine on the loaded model's image with its adapters set.
Result<runtime::Engine> createEngine(const LoadedModel &model,
                                     const BuildOptions &build);

/// `given`, or when it names no model, stories260K beside the repository
/// when ../shared is there, else synthetic:tiny (which carries its own
/// tokenizer); says so on stderr unless `quiet`.
ModelOptions withDefaultModel(const ModelOptions &given, bool quiet = false);

/// The model (the built-in default when empty), ready for an engine whose
/// context holds at least `minContext` positions.
Result<LoadedModel> loadModel(const ModelOptions &model,
                              const BuildOptions &build, int64_t minContext);
/// The positions a run needs, from its text once the tokenizer is known
/// (or an error, e.g. a prompt that does not fit).
using ContextNeed = std::function<Result<int64_t>(const model::Tokenizer &)>;
/// loadModel for a context known only after tokenizing: the model's own
/// context bounds it unless --ctx goes past it, checked before compiling.
Result<LoadedModel> loadModel(const ModelOptions &model,
                              const BuildOptions &build,
                              const ContextNeed &contextNeed);

/// The kernel set options for `spec`: quantization from the flag or the
/// source, seq buckets {1, prefill}, ctx buckets four per octave (256, 320,
/// 384, 448, 512, 640, ...) up to the first that holds `minContext`.
Result<KernelSetOptions> kernelSetOptions(const model::ModelSpec &spec,
                                          const BuildOptions &build,
                                          int64_t minContext);

/// compileKernelSet, timed, with a one-line summary on stderr unless
/// `quiet`.
Result<abi::KernelSet> compileAndReport(const model::ModelSpec &spec,
                                        const KernelSetOptions &options,
                                        double &seconds, bool quiet = false);

/// Draws "label [=====     ] 3/10" on stderr (redrawn in place on a
/// terminal, printed once at the end otherwise; nothing unless `shown`).
class Progress {
public:
  explicit Progress(std::string label, bool shown = true);
  void update(int64_t done, int64_t total);

private:
  std::string label;
  bool terminal;
  bool shown;
};

/// "attn_qkv, ..., lm_head for seq 1/16, ctx 256/512".
std::string describeKernels(const abi::KernelSet &kernels);
std::string humanBytes(uint64_t bytes);

} // namespace ane::loader

#endif // ANE_LIB_LOADER_MODELLOADER_H
