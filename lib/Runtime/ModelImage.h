//===- ModelImage.h - a kernel set with its weights, as views ---*- C++ -*-===//
//
// What the engine runs: the kernel set (lib/Abi) and views of the packed
// weight segments, the embedding table and the tokenizer, wherever they
// live (a mapped .anepak or buffers packed in memory). Plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_MODELIMAGE_H
#define ANE_LIB_RUNTIME_MODELIMAGE_H

#include "lib/Abi/KernelSet.h"
#include "lib/Model/Model.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ane {
class MappedFile;
} // namespace ane

namespace ane::runtime {

/// A byte range owned by someone else (a mapping or a buffer).
struct Bytes {
  const uint8_t *data = nullptr;
  uint64_t size = 0;
};

/// Everything the engine runs, as views: the kernel set, one weight segment
/// per layer, the global segment, the token embedding rows ([vocab, dim] in
/// the kernels' float type) and the tokenizer. `owner` keeps the views alive;
/// `mapped` is the file they point into, when they come from one.
struct ModelImage {
  abi::KernelSet kernels;
  std::vector<Bytes> layerSegments;
  Bytes globalSegment;
  Bytes embedding;
  std::optional<model::TokenizerData> tokenizer;
  std::shared_ptr<const void> owner;
  const MappedFile *mapped = nullptr;
};

/// Row `token` of the embedding as floats; the size was checked at load.
/// From a mapped file, the pages around the row leave the resident set
/// again: a long prompt then does not keep a slice of the table per token.
std::vector<float> embeddingRow(const ModelImage &image, int32_t token);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_MODELIMAGE_H
