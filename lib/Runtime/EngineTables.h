//===- EngineTables.h - the host-made inputs of the kernels -----*- C++ -*-===//
//
// What the engine computes on the host for every chunk: the RoPE tables and
// the causal mask. Shared by inference (Engine.cpp) and training
// (Training.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ENGINETABLES_H
#define ANE_LIB_RUNTIME_ENGINETABLES_H

#include "lib/Model/Model.h"
#include "lib/Runtime/Tensor.h"

#include <utility>
#include <vector>

namespace ane::runtime {

/// cos and sin of (pos + s) * theta^(-2p/hd) as [1, hd/2, 1, seq] tables.
std::pair<Tensor, Tensor> ropeTables(const model::Config &c, mil::DType dtype,
                                     int64_t pos, int64_t seq);
/// The same for column s at positions[s] (a batch of sequences).
std::pair<Tensor, Tensor> ropeTablesAt(const model::Config &c, mil::DType dtype,
                                       const std::vector<int64_t> &positions);

/// Row s of the [1, 1, seq, ctx] mask lets token pos + s see columns up to
/// pos + s. -1e4 rather than -inf keeps fp16 softmax finite.
Tensor causalMask(mil::DType dtype, int64_t pos, int64_t seq, int64_t ctx);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ENGINETABLES_H
