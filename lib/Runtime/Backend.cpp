//===- Backend.cpp - the backends this build has --------------------------===//

#include "lib/Runtime/Backend.h"

#include "lib/Runtime/Cpu/CpuBackend.h"

#include <fmt/format.h>

namespace ane::runtime {

Result<std::unique_ptr<Backend>> createBackend(std::string_view name) {
  if (name == "cpu" || name == "cpu-reference")
    return createCpuBackend(/*fast=*/name == "cpu");
  if (name == "ane")
    return Status::error("the ane backend needs macOS; this build has the cpu "
                         "backend only");
  return Status::error(fmt::format(
      "unknown backend '{}' (this build has: cpu, cpu-reference)", name));
}

} // namespace ane::runtime
