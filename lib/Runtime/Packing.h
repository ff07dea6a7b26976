//===- Packing.h - weight slots to weight.bin segments ----------*- C++ -*-===//
//
// The compiler lays out weight slots (role, storage scheme, blob types and
// offsets) and lists them in the kernel manifest; packing writes a model's
// tensors into segments with exactly that layout. Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_PACKING_H
#define ANE_LIB_RUNTIME_PACKING_H

#include "lib/Abi/KernelSet.h"
#include "lib/MIL/Program.h"
#include "lib/Model/Model.h"
#include "lib/Runtime/Tensor.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ane::runtime {

/// The fp32 tensor a slot holds, from the model's tensors by role: the
/// fused roles stacked by rows, the first `ropeRows` rows reordered per head
/// for rotate-half RoPE, then each column scaled by the folded norm.
Result<std::vector<float>> assembleSlotTensor(
    const abi::SlotSpec &slot,
    const std::function<Result<std::vector<float>>(const std::string &role)>
        &roleTensor);

/// Runs work(from, to) over [0, rows) in `threads` contiguous parts, on
/// threads of its own (packing runs beside the kernels' pool).
void splitRows(int64_t rows, int threads,
               const std::function<void(int64_t, int64_t)> &work);

/// Symmetric per-group quantization of a row-major [rows, cols] matrix to
/// `bits`-bit integers: scale = max|w| / (2^(bits-1) - 1) per group.
/// The squared error of `n` weights quantized with `scale` into codes
/// [-qmax-1, qmax], which the scale search minimises; the codes go to
/// `codes` when it is given. By the host's vectors where it has them.
double groupError(const float *p, int64_t n, float scale, int64_t qmax,
                  int8_t *codes = nullptr);
/// The same by plain loops: the oracle, whose bits groupError keeps.
double groupErrorScalar(const float *p, int64_t n, float scale, int64_t qmax,
                        int8_t *codes = nullptr);

struct QuantizedMatrix {
  std::vector<int8_t> values; // rows * cols
  std::vector<float> scales;  // rows * (cols / group)
};
/// `threads` split the rows.
QuantizedMatrix quantizeSymmetric(const float *w, int64_t rows, int64_t cols,
                                  int64_t group, int bits, int threads = 1);

/// A 16-entry palette per group (uniform between the group's min and max)
/// and the nearest palette index of each weight.
struct PalettizedMatrix {
  std::vector<int64_t> indices;
  std::vector<float> palettes; // rows * (cols / group) * 16
};
PalettizedMatrix palettize(const float *w, int64_t rows, int64_t cols,
                           int64_t group);

/// The fp32 values a kernel computes with for `slot` after packing `w`:
/// the dequantized weights (or `w` rounded to the blob's float type).
std::vector<float> effectiveWeights(const abi::SlotSpec &slot,
                                    const std::vector<float> &w);

/// Whether `slot` can take its sources' blocks as they are: a q4 slot of
/// GGUF Q4_0 tensors or a q8 slot of Q8_0 ones, in groups of 32 (the
/// blocks), with no folded norm. Fusing and the RoPE row order move whole
/// rows, so every block keeps its codes and its scale.
bool canCarryBlocks(const abi::SlotSpec &slot,
                    const std::vector<model::TensorData> &sources);

/// Writes the slot's two blobs from its sources' blocks (canCarryBlocks
/// must hold): `codes` gets the int4 (LSB first) or int8 codes, row-major,
/// and `scales` one fp16 scale per block, or both in the cpu layout for a
/// slot that has it. No float on the way: the dequantized values are bit
/// for bit the source's. `threads` split the rows.
Status carryBlocks(const abi::SlotSpec &slot,
                   const std::vector<model::TensorData> &sources,
                   uint8_t *codes, uint16_t *scales, int threads = 1);

/// A slot's stored tensors (its fused roles in order), or nullopt when
/// the packer should only use floats for it.
using SlotSources = std::function<std::optional<std::vector<model::TensorData>>(
    const abi::SlotSpec &)>;

/// Writes the slots of one segment, in order, from fp32 tensors, or from
/// the blocks `sources` gives where canCarryBlocks holds, checking that
/// every blob lands at the offset the compiler assigned. `recycled` (a
/// previous segment's buffer) saves allocating and faulting in the pages
/// of a new one.
Result<std::vector<uint8_t>> packSegment(
    const std::vector<abi::SlotSpec> &slots,
    const std::function<Result<std::vector<float>>(const abi::SlotSpec &)>
        &tensor,
    int threads = 1, const SlotSources &sources = {},
    std::vector<uint8_t> recycled = {});

/// Builds the packed [1, channels, 1, S_total] input: input i's element f
/// goes to channel f / columns_i, column offset_i + f % columns_i.
Result<Tensor> packInputs(const std::vector<abi::PackedPart> &parts,
                          int64_t channels,
                          const std::vector<const Tensor *> &inputs);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_PACKING_H
