//===- Backend.cpp - the backends this build has --------------------------===//

#include "lib/Runtime/Backend.h"

#include "lib/Runtime/Ane/AneBackend.h"
#include "lib/Runtime/Ane/SimulatedAneDevice.h"
#include "lib/Runtime/Cpu/CpuBackend.h"

#include <fmt/format.h>

namespace ane::runtime {

Result<std::unique_ptr<Backend>> createBackend(std::string_view name,
                                               const BackendOptions &options) {
  if (name == "cpu" || name == "cpu-reference")
    return createCpuBackend(/*fast=*/name == "cpu");
  if (name == "ane-sim") {
    SimulatedAneOptions sim;
    sim.compileBudget = options.compileBudget;
    return createAneBackend(createSimulatedAneDevice(sim), options);
  }
  if (name == "ane")
    return Status::error("the ane backend needs macOS; this build has cpu, "
                         "cpu-reference and ane-sim (the ANE simulator)");
  return Status::error(fmt::format(
      "unknown backend '{}' (this build has: cpu, cpu-reference, ane-sim)",
      name));
}

} // namespace ane::runtime
