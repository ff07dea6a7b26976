//===- SimulatedAneDevice.h - the ANE's published behaviour -----*- C++ -*-===//
//
// An AneDevice that runs everywhere: each program executes on the cpu
// backend, and every limit public reverse engineering measured on the
// hardware is enforced, so code that passes here has met them:
//   - weights are baked at compile: the bytes are copied then, and a later
//     rewrite of the weight file (then unload and load) changes nothing;
//   - a compile budget per process (about 119 compiles on real machines);
//   - inputs and outputs are fp16 [1, C, 1, S] surfaces with 64-byte rows;
//   - no axis longer than the chip's cap (16384 on M1-M3, 65536 on M4);
//   - only ops on the ANE-verified list (lib/MIL/Ops.def) compile;
//   - a program must be loaded to run, and unloaded before it loads again.
// Time is modelled, not measured: compile, load, unload and dispatch costs
// and a roofline of each call's bytes and flops on the chip (ChipSpec,
// shared with `ane-exec plan`).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_SIMULATEDANEDEVICE_H
#define ANE_LIB_RUNTIME_ANE_SIMULATEDANEDEVICE_H

#include "lib/Runtime/Ane/AneDevice.h"
#include "lib/Runtime/Plan.h"

#include <memory>

namespace ane::runtime {

/// The chip the simulator models unless told otherwise: m2.
ChipSpec defaultSimulatedChip();

struct SimulatedAneOptions {
  ChipSpec chip = defaultSimulatedChip();
  /// Compiles one process may make; the hardware fails after about 119.
  int64_t compileBudget = 119;
  /// A hypothetical ANE on which a load re-reads the weight buffer a
  /// program was compiled with (gate G1 open): the caller keeps the buffer
  /// alive. Published measurements say the opposite, the default.
  bool reloadTakesEffect = false;
};

std::unique_ptr<AneDevice>
createSimulatedAneDevice(SimulatedAneOptions options = {});

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANE_SIMULATEDANEDEVICE_H
