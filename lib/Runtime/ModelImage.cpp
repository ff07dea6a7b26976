//===- ModelImage.cpp - a kernel set with its weights, as views -----------===//

#include "lib/Runtime/ModelImage.h"

#include "lib/Support/Float16.h"
#include "lib/Support/MappedFile.h"

#include <algorithm>
#include <cstring>

namespace ane::runtime {

namespace {

/// Drops the embedding's pages in the 2 MiB windows (file offsets) around
/// [row, row + bytes), and in the windows either side, from the resident
/// set. Reading a row maps the whole page-cache folio it lies in, and with
/// ext4's large folios that measured 350 KB per looked-up token; folios are
/// at most 2 MiB and aligned in the file, so the window covers them. The
/// neighbours are for fault-around, which maps up to 64 KB aligned in
/// memory, not in the file, and so reaches across a window's edge: on tmpfs
/// that left 50 KB a window behind. Weights outside the table stay mapped.
void releaseAround(const ModelImage &image, const uint8_t *row,
                   uint64_t bytes) {
  if (!image.mapped)
    return;
  constexpr uint64_t kWindow = uint64_t(2) << 20;
  const uint8_t *base = image.mapped->data();
  uint64_t at = uint64_t(row - base);
  uint64_t first = at / kWindow * kWindow;
  const uint8_t *from = std::max(
      base + (first >= kWindow ? first - kWindow : 0), image.embedding.data);
  const uint8_t *to =
      std::min(base + (at + bytes + kWindow - 1) / kWindow * kWindow + kWindow,
               image.embedding.data + image.embedding.size);
  image.mapped->release(from, uint64_t(to - from));
}

} // namespace

std::vector<float> embeddingRow(const ModelImage &image, int32_t token) {
  int64_t dim = image.kernels.config.dim;
  std::vector<float> row(dim);
  if (image.kernels.dtype == abi::DType::FP32) {
    const uint8_t *p = image.embedding.data + token * dim * 4;
    std::memcpy(row.data(), p, dim * 4);
    releaseAround(image, p, dim * 4);
    return row;
  }
  const uint8_t *p = image.embedding.data + token * dim * 2;
  for (int64_t i = 0; i < dim; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    row[i] = ane::halfBitsToFloat(h);
  }
  releaseAround(image, p, dim * 2);
  return row;
}

} // namespace ane::runtime
