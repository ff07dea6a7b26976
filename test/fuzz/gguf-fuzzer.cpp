//===- gguf-fuzzer.cpp - libFuzzer target for the GGUF reader -------------===//

#include "lib/Model/GGUF.h"
#include "lib/Model/LoraAdapter.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The reader maps files, so go through one.
  static const std::string path =
      "/tmp/gguf-fuzz-" + std::to_string(::getpid()) + ".gguf";
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto gguf = ane::model::GGUFFile::open(path);
  if (!gguf.ok())
    return 0;
  // The same bytes as a LoRA adapter for a small model.
  ane::model::Config c;
  c.dim = 16;
  c.nLayers = 2;
  c.nHeads = 2;
  c.nKvHeads = 1;
  c.headDim = 8;
  c.hiddenDim = 24;
  c.vocabSize = 32;
  c.maxSeqLen = 64;
  (void)ane::model::readLoraAdapter(path, c);
  auto model = ane::model::modelFromGGUF(*gguf);
  if (!model.ok())
    return 0;
  for (const ane::model::TensorInfo &t : model->tensors) {
    auto d = model->load(t);
    if (!d.ok())
      continue;
    if (d->numElements() <= (1 << 20))
      d->toFloat();
  }
  return 0;
}
