//===- TokenizerBenchmarks.cpp - BPE encoding of long prompts -------------===//
//
// Bytes per second of Tokenizer::encode on prompts of growing length, with
// the synthetic 32000-piece vocabulary: a rate that holds as the prompt
// grows shows the merging is not quadratic.
//
//===----------------------------------------------------------------------===//

#include "lib/Model/Synthetic.h"
#include "lib/Model/Tokenizer.h"

#include <benchmark/benchmark.h>

namespace {

void EncodePrompt(benchmark::State &state) {
  auto tokenizer = ane::model::Tokenizer::create(
      ane::model::syntheticTokenizer(32000));
  std::string text;
  while (int64_t(text.size()) < state.range(0))
    text += "ab ab once upon a time there was ";
  for (auto _ : state)
    benchmark::DoNotOptimize(tokenizer->encode(text, true, false));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(EncodePrompt)
    ->RangeMultiplier(8)
    ->Range(1 << 10, 1 << 20)
    ->Unit(benchmark::kMillisecond);

} // namespace
