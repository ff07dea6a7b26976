//===- KernelSet.h - compiled kernels and where their weights live -*- C++ -*-//
//
// What the compiler hands the runtime (DESIGN.md section 2): the model
// config, the MIL program of every kernel in every shape bucket, each
// kernel's inputs and outputs, and the weight slots with the exact layout of
// the per-layer and global segments. It is serialised as the JSON manifest
// of a .anepak. Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_KERNELSET_H
#define ANE_LIB_RUNTIME_KERNELSET_H

#include "lib/MIL/Program.h"
#include "lib/Model/Model.h"
#include "lib/Runtime/Packing.h"
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

struct TensorDesc {
  std::string name;
  mil::DType dtype = mil::DType::FP16;
  std::vector<int64_t> shape;
};

/// One kernel compiled for one shape bucket.
struct KernelDesc {
  std::string name;    // "attn_qkv", ...
  int64_t seq = 1;     // tokens per call
  int64_t ctx = 0;     // KV cache columns (attn_core only; 0 otherwise)
  int64_t program = 0; // index into KernelSet::programs
  std::vector<TensorDesc> inputs, outputs;
  std::vector<std::string> weights; // roles of the slots it reads
};

struct KernelSet {
  model::Config config;
  mil::DType dtype = mil::DType::FP16; // compute type of every kernel
  std::string scheme = "f16";          // weight storage scheme
  std::string weightBinding = "blob";  // "blob" or "input"
  std::vector<SlotSpec> slots;         // layer slots, then global ones
  uint64_t layerSegmentBytes = 0, globalSegmentBytes = 0;
  std::vector<std::string> programs; // MIL texts, shared by equal kernels
  std::vector<KernelDesc> kernels;

  /// The kernel `name` for `seq` tokens per call; `ctx` selects the cache
  /// bucket of kernels that have one.
  const KernelDesc *find(std::string_view name, int64_t seq,
                         int64_t ctx = 0) const;
  /// Sorted distinct buckets over all kernels.
  std::vector<int64_t> seqBuckets() const;
  std::vector<int64_t> ctxBuckets() const;
  std::vector<SlotSpec> slotsOf(std::string_view segment) const;
  /// The slots the single-token kernels name: what a decoded token reads.
  /// Slots no such kernel reads (the token embedding, looked up by row) are
  /// not among them.
  std::vector<const SlotSpec *> decodeSlots() const;
  /// Their weight bytes, layer slots once per layer.
  uint64_t decodeBytesPerToken() const;
  /// Checks the cross-references a reader cannot trust: program indices,
  /// slot roles, blob layouts inside the segment sizes.
  Status validate() const;
};

/// The manifest JSON of a kernel set (program texts are not included).
std::string writeManifest(const KernelSet &set);
/// Reads a manifest; `programs` gets one empty string per program, which
/// the caller fills. Errors name `source` and the field's path.
Result<KernelSet> readManifest(std::string_view json,
                               const std::string &source);

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
  KernelSet kernels;
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

#endif // ANE_LIB_RUNTIME_KERNELSET_H
