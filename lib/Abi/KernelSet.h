//===- KernelSet.h - the compiler-runtime contract --------------*- C++ -*-===//
//
// What the compiler hands the runtime (DESIGN.md section 2): the model
// config, the MIL program of every kernel in every shape bucket, each
// kernel's inputs and outputs, and the weight slots with the exact layout of
// the per-layer and global segments. One manifest format carries it, in a
// .anepak and in a kernel directory written by `ane-translate --kernel-dir`;
// this file has its one writer and one reader. Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_ABI_KERNELSET_H
#define ANE_LIB_ABI_KERNELSET_H

#include "lib/Abi/Kernels.h"
#include "lib/Abi/Schemes.h"
#include "lib/Abi/Slots.h"
#include "lib/MIL/Program.h"
#include "lib/Model/Model.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ane::abi {

struct TensorDesc {
  std::string name;
  mil::DType dtype = mil::DType::FP16;
  std::vector<int64_t> shape;
};

/// One input's place in the single packed input of a kernel
/// (anemil-pack-inputs): input element f goes to channel f / columns,
/// column offset + f % columns.
struct PackedPart {
  std::string name;
  int64_t offset = 0;  ///< first column
  int64_t columns = 0; ///< its width in columns
  std::vector<int64_t> shape;
};

/// One kernel compiled for one shape bucket.
struct KernelDesc {
  Kernel kernel = Kernel::AttnQkv;
  int64_t seq = 1;     ///< tokens per call
  int64_t ctx = 0;     ///< KV cache columns (takesCtx kernels; 0 otherwise)
  int64_t program = 0; ///< index into KernelSet::programs
  std::vector<TensorDesc> inputs, outputs;
  std::vector<std::string> weights; ///< roles of the slots it reads
  /// Logical channels of inputs and outputs padded to 64-byte rows for an
  /// ANE family (anemil-legalize-ane).
  std::vector<std::pair<std::string, int64_t>> paddedChannels;
  std::vector<PackedPart> packing; ///< empty unless inputs were packed

  std::string_view name() const { return kernelName(kernel); }
};

struct KernelSet {
  model::Config config;
  DType dtype = DType::FP16; ///< compute type of every kernel
  Scheme scheme = Scheme::F16;
  WeightBinding weightBinding = WeightBinding::Blob;
  /// Adapters the kernels take as inputs (Kernels.h): rank 0 for none.
  int64_t loraRank = 0;
  std::vector<std::string> loraTargets;
  std::vector<SlotSpec> slots; ///< layer slots, then global ones
  uint64_t layerSegmentBytes = 0, globalSegmentBytes = 0;
  std::vector<std::string> programs; ///< MIL texts, shared by equal kernels
  /// In a kernel directory, the file of each program (beside the manifest).
  std::vector<std::string> programFiles;
  std::vector<KernelDesc> kernels;

  /// The kernel for `seq` tokens per call; `ctx` selects the cache bucket
  /// of kernels that have one.
  const KernelDesc *find(Kernel kernel, int64_t seq, int64_t ctx = 0) const;
  /// Sorted distinct buckets over all kernels.
  std::vector<int64_t> seqBuckets() const;
  std::vector<int64_t> ctxBuckets() const;
  std::vector<SlotSpec> slotsOf(Segment segment) const;
  /// The slots the single-token kernels name: what a decoded token reads.
  /// Slots no such kernel reads (the token embedding, looked up by row) are
  /// not among them.
  std::vector<const SlotSpec *> decodeSlots() const;
  /// Their weight bytes, layer slots once per layer.
  uint64_t decodeBytesPerToken() const;
  /// Whether some slot holds the cpu backend's layout, which only it reads.
  bool hasInterleavedSlots() const;
  /// Checks the cross-references a reader cannot trust: program indices,
  /// slot roles, blob layouts inside the segment sizes.
  Status validate() const;
};

/// Puts every slot that can take it (canInterleave) in the cpu backend's
/// interleaved layout: what a model packed for the cpu backend holds. Only
/// for the blob binding, and only when every kernel reads the slots as conv
/// weights (not the backward kernels, which read W^T).
void useCpuLayout(KernelSet &set);

/// The manifest JSON of a kernel set (program texts are not included).
std::string writeManifest(const KernelSet &set);
/// Reads a manifest; `programs` gets one empty string per program, which
/// the caller fills. Errors name `source` and the field's path.
Result<KernelSet> readManifest(std::string_view json,
                               const std::string &source);

/// Reads a kernel directory (`ane-translate --kernel-dir`): manifest.json
/// and the program files it names, each a plain file beside it.
Result<KernelSet> readKernelDir(const std::string &dir);

} // namespace ane::abi

#endif // ANE_LIB_ABI_KERNELSET_H
