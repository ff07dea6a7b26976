//===- CpuBackend.h - kernel programs on the MIL executor -------*- C++ -*-===//
//
// The cpu backend: each program is parsed once and run by the MIL executor,
// whose BLOBFILE constants read the bound weight segment in place.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_CPUBACKEND_H
#define ANE_LIB_RUNTIME_CPU_CPUBACKEND_H

#include "lib/Runtime/Backend.h"

#include <memory>

namespace ane::runtime {

/// `fast`: the vector kernels read conv weights in place ("cpu"); else
/// every op runs the executor's plain loops ("cpu-reference", the oracle).
std::unique_ptr<Backend> createCpuBackend(bool fast);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_CPUBACKEND_H
