//===- gguf-fuzzer.cpp - libFuzzer target for the GGUF reader -------------===//

#include "lib/Model/GGUF.h"

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
