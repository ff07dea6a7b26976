//===- Backend.cpp - the backends this build has --------------------------===//

#include "lib/Runtime/Backend.h"

#include "lib/Runtime/Ane/AneBackend.h"
#include "lib/Runtime/Ane/SimulatedAneDevice.h"
#if defined(ANE_HAVE_PRIVATE_ANE)
#include "lib/Runtime/Ane/Shim/PrivateAneDevice.h"
#endif
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
    if (!options.aneChip.empty()) {
      auto chip = findChip(options.aneChip);
      if (!chip.ok())
        return chip.status();
      sim.chip = *chip;
    }
    return createAneBackend(createSimulatedAneDevice(sim), options);
  }
#if defined(ANE_HAVE_PRIVATE_ANE)
  if (name == "ane") {
    auto device = createPrivateAneDevice();
    if (!device.ok())
      return device.status();
    return createAneBackend(std::move(*device), options);
  }
#endif
  if (name == "ane")
    return Status::error("the ane backend needs macOS; this build has cpu, "
                         "cpu-reference and ane-sim (the ANE simulator)");
  return Status::error(fmt::format(
      "unknown backend '{}' (this build has: cpu, cpu-reference, ane-sim)",
      name));
}

} // namespace ane::runtime
