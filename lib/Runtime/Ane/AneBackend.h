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
//     known to take effect (ane-exec probe, gate G1); with aneBlobReload
//     they compile once and a new layer is written into their weight
//     buffer and reloaded, on a device where G1 holds (refused otherwise).
// Baked programs are planned before the first run (prepareBindings): those
// in the compile cache are imported; the rest compile in this process while
// the compile budget lasts, and beyond it in worker processes of at most a
// budget each, which leave them in the cache for this process to import.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_ANEBACKEND_H
#define ANE_LIB_RUNTIME_ANE_ANEBACKEND_H

#include "lib/Runtime/Ane/AneDevice.h"
#include "lib/Runtime/Backend.h"

#include <memory>
#include <string>
#include <vector>

namespace ane::runtime {

/// How the programs of a run came to be.
struct AneBackendStats {
  int64_t compiledHere = 0; // compiled in this process
  int64_t fromCache = 0;    // imported from the compile cache
  int64_t compiledByWorkers = 0;
  int64_t workerProcesses = 0;
  int64_t reloads = 0; // weight rewrites + unload/load (aneBlobReload)
};

/// A backend named after `device` that runs every program on it.
std::unique_ptr<Backend> createAneBackend(std::unique_ptr<AneDevice> device,
                                          const BackendOptions &options);

/// The device under `backend` when it is an ANE backend, else null.
const AneDevice *aneDeviceOf(const Backend &backend);
AneDevice *aneDeviceOf(Backend &backend);
const AneBackendStats *aneBackendStatsOf(const Backend &backend);

/// The worker process: `args` are the device name, the cache folder and the
/// keys of the requests there to compile. Returns the exit status.
int aneCompileWorkerMain(const std::vector<std::string> &args);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANE_ANEBACKEND_H
