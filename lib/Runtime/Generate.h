//===- Generate.h - sampling and the generation loop ------------*- C++ -*-===//
//
// The sampler (greedy, temperature, top-k, top-p, repetition penalty, with a
// seeded generator so a run repeats exactly) and llama2.c's generation loop:
// the prompt with BOS goes in, then sampled tokens until -n new ones or BOS,
// and the text comes out piece by piece as llama2.c prints it.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_GENERATE_H
#define ANE_LIB_RUNTIME_GENERATE_H

#include "lib/Model/Tokenizer.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ane::runtime {

struct SamplerOptions {
  float temperature = 0.0f;   // 0: greedy
  int64_t topK = 0;           // 0: off
  float topP = 1.0f;          // 1: off
  float repeatPenalty = 1.0f; // 1: off (llama.cpp's --repeat-penalty)
  int64_t repeatLastN = 64;   // tokens the penalty looks back over
  uint64_t seed = 0;
};

class Sampler {
public:
  explicit Sampler(SamplerOptions options);
  /// The next token from `logits` given the tokens so far.
  int32_t sample(std::vector<float> logits,
                 const std::vector<int32_t> &history);

private:
  float uniform(); // in [0, 1)

  SamplerOptions options;
  uint64_t state;
};

/// Runs `tokens` at positions pos, pos + 1, ... and returns the logits of
/// the last one (Engine::forward, or the reference one token at a time).
using ForwardFn = std::function<Result<std::vector<float>>(
    const std::vector<int32_t> &tokens, int64_t pos)>;

struct GenerationStats {
  int64_t promptTokens = 0; // BOS included
  int64_t newTokens = 0;
  int64_t decodeSteps = 0;  // forward calls after the prompt's
  double promptSeconds = 0; // the prompt's forward pass
  double decodeSeconds = 0; // the decode steps and sampling after it
};

/// llama2.c's loop with prefill: `prompt` (BOS first) in one forward call,
/// then up to `newTokens` sampled tokens, stopping early at BOS or a token
/// that ends generation (EOS, EOT). With `special`, control tokens spelled
/// in the prompt are those tokens.
/// Each piece goes to `emit` (the prompt's pieces first, a leading space
/// after BOS dropped); the caller applies a print rule such as
/// printablePiece and prints the final newline.
Result<GenerationStats>
generate(const ForwardFn &forward, const model::Tokenizer &tokenizer,
         const std::string &prompt, int64_t newTokens, Sampler &sampler,
         const std::function<void(const std::string &piece)> &emit,
         bool special = false);

/// One forward step: the logits of `token` at `pos`.
using StepFn =
    std::function<Result<std::vector<float>>(int32_t token, int64_t pos)>;

/// llama2.c's `generate` with greedy sampling for `steps` forward steps (the
/// prompt's tokens after BOS count as steps), one token per step. Returns
/// the text llama2.c prints, final newline included.
Result<std::string> generateGreedy(const StepFn &step,
                                   const model::Tokenizer &tokenizer,
                                   const std::string &prompt, int64_t steps);

/// llama2.c's safe_printf rule: a single-byte piece that is neither
/// printable nor whitespace is not printed.
bool printablePiece(const std::string &piece);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_GENERATE_H
