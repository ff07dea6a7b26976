//===- llama2c-fuzzer.cpp - libFuzzer target for llama2.c checkpoints ----===//
//
// Any input must load or fail with a message; every tensor of a loaded model
// must read. Inputs whose last byte is odd are first cut or zero-padded to
// the size their header implies (when that is at most 1 MiB), so mutations
// of the header reach the tensor table instead of stopping at the exact
// size check.
//
//===----------------------------------------------------------------------===//

#include "lib/Model/Llama2c.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

using namespace ane;
using namespace ane::model;

namespace {

/// The size llama2.c's run.c expects for this header, or 0.
uint64_t impliedSize(const std::vector<uint8_t> &bytes) {
  if (bytes.size() < 28)
    return 0;
  int32_t h[7];
  std::memcpy(h, bytes.data(), sizeof(h));
  for (int32_t v : h)
    if (v == 0 || v < -(1 << 12) || v > (1 << 12))
      return 0;
  if (h[0] < 0 || h[1] < 0 || h[2] < 0 || h[3] <= 0 || h[4] <= 0 || h[6] < 0)
    return 0;
  uint64_t dim = h[0], hidden = h[1], layers = h[2], vocab = std::abs(h[5]);
  uint64_t headDim = dim / uint64_t(h[3]), kvDim = headDim * uint64_t(h[4]);
  uint64_t perLayer =
      2 * dim + 2 * dim * dim + 2 * dim * kvDim + 3 * dim * hidden;
  uint64_t floats = vocab * dim + layers * perLayer + dim +
                    uint64_t(h[6]) * headDim + (h[5] < 0 ? vocab * dim : 0);
  return 28 + 4 * floats;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size && (data[size - 1] & 1))
    if (uint64_t n = impliedSize(bytes); n && n <= (1 << 20))
      bytes.resize(n, 0);
  static const std::string path =
      "/tmp/llama2c-fuzz-" + std::to_string(::getpid()) + ".bin";
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return 0;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  auto mapped = MappedFile::open(path);
  if (!mapped.ok())
    return 0;
  auto model = modelFromLlama2c(*mapped);
  if (!model.ok()) {
    if (model.message().empty())
      std::abort();
    return 0;
  }
  for (const TensorInfo &t : model->tensors) {
    auto d = model->load(t);
    if (!d.ok())
      std::abort(); // the reader checked every tensor's bytes
    d->toFloat();
  }
  return 0;
}
