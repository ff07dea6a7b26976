//===- Model.h - a Llama-family model as read from any source ---*- C++ -*-===//
//
// One ModelSpec for every source (GGUF, llama2.c checkpoint, synthetic): the
// hyper-parameters, a table of tensors with their role, layer, type and shape,
// and the tokenizer. Tensor data is read on demand: a zero-copy view into the
// mapped file, or generated for synthetic models. Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_MODEL_H
#define ANE_LIB_MODEL_MODEL_H

#include "lib/Support/MappedFile.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ane::model {

struct Config {
  int64_t dim = 0;
  int64_t nLayers = 0;
  int64_t nHeads = 0;
  int64_t nKvHeads = 0;
  int64_t headDim = 0;
  int64_t hiddenDim = 0;
  int64_t vocabSize = 0;
  int64_t maxSeqLen = 0;
  double ropeTheta = 10000.0;
  double normEps = 1e-5;
  /// The classifier is the token embedding (llama2.c's shared weights).
  bool sharedClassifier = false;
  /// RoPE scaling as per-frequency divisors, one per rotated pair
  /// (head_dim / 2): Llama 3.1's "llama3" scaling, GGUF's rope_freqs.weight.
  /// Empty: none. The host builds the RoPE tables, so the kernels never
  /// see them.
  std::vector<float> ropeFreqFactors;
  /// Mistral's sliding-window attention span (0: none). The kernels attend
  /// to the whole context, so contexts past it are refused.
  int64_t slidingWindow = 0;
  /// Q, K and V projections add a bias (Qwen2): every layer has
  /// attn_q_bias, attn_k_bias and attn_v_bias.
  bool qkvBias = false;

  int64_t kvDim() const { return nKvHeads * headDim; }
  /// The angle per position of rotated pair `p`: theta^(-2p / head_dim),
  /// divided by its scaling factor.
  double ropeFrequency(int64_t p) const;
  /// Checks the rules every later stage relies on; names the offending field.
  Status validate() const;
};

/// Llama 3.1's "llama3" RoPE scaling as per-frequency divisors: wavelengths
/// under original/high_freq_factor keep their frequency, those over
/// original/low_freq_factor are divided by `factor`, and the ones between
/// blend the two.
std::vector<float> llama3RopeFactors(double theta, int64_t headDim,
                                     double factor, double lowFreqFactor,
                                     double highFreqFactor,
                                     double originalContext);

/// The role of a weight; the same names as the llama dialect's roles.
enum class Role {
  TokenEmbd,
  AttnNorm,
  AttnQ,
  AttnK,
  AttnV,
  AttnOut,
  FfnNorm,
  FfnGate,
  FfnUp,
  FfnDown,
  OutputNorm,
  Output,
  // Qwen2's projection biases, [out_features].
  AttnQBias,
  AttnKBias,
  AttnVBias,
};
std::string_view roleName(Role role);
std::optional<Role> parseRole(std::string_view name);
bool isBiasRole(Role role);
/// Whether RoPE rotates the rows of a role's tensor (q, k and their
/// biases): those a rotate-half source stores in another order.
bool isRopeRole(Role role);
/// The GGUF tensor name of a role in a layer (`blk.3.attn_q.weight`,
/// `blk.3.attn_q.bias`).
std::string ggufTensorName(Role role, int layer);
/// The [rows, cols] (or [n]) shape a role must have under `config`.
std::vector<int64_t> expectedShape(const Config &config, Role role);

/// Storage formats of tensor data (GGUF's names).
enum class TensorType { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K };
std::string_view tensorTypeName(TensorType type);
/// Elements per block and bytes per block of a type.
int64_t blockElements(TensorType type);
int64_t blockBytes(TensorType type);
/// Bytes of `count` elements (count must be a multiple of the block size).
std::optional<uint64_t> tensorBytes(TensorType type, int64_t count);

struct TensorInfo {
  std::string name;
  Role role = Role::TokenEmbd;
  int layer = -1; // -1 for global tensors
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape; // [rows, cols] for matrices, row-major
  uint64_t bytes = 0;
  uint64_t fileOffset = 0; // absolute offset in the source file, if any
  /// Non-zero: the rows are stored per head of this size in rotate-half
  /// order (Hugging Face; GGUF's NEOX-RoPE architectures such as qwen2),
  /// and ModelSpec::load returns them in adjacent-pair order.
  int64_t rotateHalfHead = 0;

  int64_t numElements() const;
};

/// Tensor bytes in their storage format, kept alive by `file` when they
/// lie in a mapped file, else by `owner`.
struct TensorData {
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  uint64_t size = 0;
  std::shared_ptr<const void> owner;
  /// copyBytes reads a mapped file with read(2) (MappedFile::copy).
  std::shared_ptr<const MappedFile> file;

  int64_t numElements() const;
  /// Dequantizes to fp32.
  std::vector<float> toFloat() const;
  /// Copies bytes [offset, offset + n) of `data` to `out`.
  void copyBytes(uint64_t offset, uint64_t n, uint8_t *out) const;
};

struct TokenizerData {
  /// tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level
  /// BPE).
  std::string model = "llama";
  std::vector<std::string> tokens;
  std::vector<float> scores;  // SentencePiece's merge scores
  std::vector<int32_t> types; // may be empty; GGUF's token types (below)
  int32_t bos = 1;
  int32_t eos = 2;
  /// Ids that end generation besides EOS (tokenizer.ggml.eot_token_id,
  /// eom; <|eot_id|>, <|im_end|>, ... found by name).
  std::vector<int32_t> endOfGeneration;
  bool addBos = true;  // tokenizer.ggml.add_bos_token
  bool addEos = false; // tokenizer.ggml.add_eos_token
  /// Byte-level BPE: the merges ("left right", by rank), the
  /// pre-tokenizer's GGUF name (tokenizer.ggml.pre) or, from a
  /// tokenizer.json, its regexes, and whether a pre-token that is a token
  /// skips the merges (Llama 3).
  std::vector<std::string> merges;
  std::string pre;
  std::vector<std::string> prePatterns;
  bool ignoreMerges = false;
  std::string chatTemplate; // tokenizer.chat_template (Jinja text), if any
};

/// GGUF's token types (tokenizer.ggml.token_type).
enum TokenType : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

class ModelSpec {
public:
  std::string source; // the path or synthetic:NAME it came from
  std::string format; // "gguf", "llama2c", "synthetic"
  Config config;
  std::vector<TensorInfo> tensors;
  std::optional<TokenizerData> tokenizer;

  const TensorInfo *find(Role role, int layer = -1) const;
  /// Reads (or generates) one tensor's data, its rows in adjacent-pair
  /// order.
  Result<TensorData> load(const TensorInfo &tensor) const;

  /// Backing for file formats: tensor data are views into this mapping.
  std::shared_ptr<MappedFile> file;
  /// Backing for synthetic models: produces a tensor's data on demand.
  std::function<Result<TensorData>(const TensorInfo &)> generate;
};

/// Opens a .gguf file, a llama2.c checkpoint, or `synthetic:NAME[?k=v&...]`.
Result<ModelSpec> openModel(const std::string &spec);

} // namespace ane::model

#endif // ANE_LIB_MODEL_MODEL_H
