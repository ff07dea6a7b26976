//===- ModelPacker.h - a model's tensors into weight segments ---*- C++ -*-===//
//
// The weight packer of DESIGN.md section 2: streams a ModelSpec's tensors
// through the kernel set's slot transforms (fusion, norm folding, RoPE row
// order, quantization) into one weight.bin segment per layer, a global one
// and the host's embedding table. It holds one layer's tensors at a time.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_MODELPACKER_H
#define ANE_LIB_RUNTIME_MODELPACKER_H

#include "lib/Model/Model.h"
#include "lib/Runtime/ModelImage.h"
#include "lib/Support/Result.h"

#include <functional>
#include <vector>

namespace ane::runtime {

enum class SectionKind : uint32_t {
  Manifest = 1,
  Program = 2,
  Tokenizer = 3,
  Embedding = 4,
  GlobalSegment = 5,
  LayerSegment = 6,
  ChatTemplate = 7, // the tokenizer's chat template, as text
};

/// Receives each finished piece: the embedding, the layers in order
/// (`index` is the layer), then the global segment (packed beside the
/// layers, see packModel). A sink that keeps a piece moves it out; a
/// buffer it leaves is reused for the next layer.
using SegmentSink = std::function<Status(SectionKind kind, int64_t index,
                                         std::vector<uint8_t> &&bytes)>;
/// Called after each piece with (pieces done, pieces in all).
using PackProgress = std::function<void(int64_t done, int64_t total)>;

/// Packs `spec` for `kernels`. `threads` quantize rows in parallel.
Status packModel(const model::ModelSpec &spec, const abi::KernelSet &kernels,
                 const SegmentSink &sink, const PackProgress &progress = {},
                 int threads = 1);

/// packModel into memory: an image whose owner holds the packed buffers,
/// with the model's tokenizer.
Result<ModelImage> packImage(const model::ModelSpec &spec,
                             abi::KernelSet kernels,
                             const PackProgress &progress = {},
                             int threads = 1);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_MODELPACKER_H
