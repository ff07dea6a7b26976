//===- AneBackend.h - kernel programs on an AneDevice -----------*- C++ -*-===//
//
// The runtime's Backend over any AneDevice (the simulator everywhere, the
// macOS shim on a Mac). How a layer's weights reach a program depends on
// how it was compiled:
//   - `input` binding (no BLOBFILE constants): one compile per kernel and
//     bucket; the weights are inputs, each layer's packed once into
//     surfaces of their own that later calls pass again;
//   - weight-file kernels (`blob` binding) run `baked`: one program per
//     layer, compiled with that layer's segment as its weight.bin, since the
//     ANE bakes weights in at compile and a rewrite plus reload is not
//     known to take effect (ane-exec probe, gate G1).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_ANEBACKEND_H
#define ANE_LIB_RUNTIME_ANE_ANEBACKEND_H

#include "lib/Runtime/Ane/AneDevice.h"
#include "lib/Runtime/Backend.h"

#include <memory>
#include <string>

namespace ane::runtime {

/// A backend called `name` that runs every program on `device`.
std::unique_ptr<Backend> createAneBackend(std::unique_ptr<AneDevice> device,
                                          std::string name);

/// The device under `backend` when it is an ANE backend, else null.
const AneDevice *aneDeviceOf(const Backend &backend);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANE_ANEBACKEND_H
