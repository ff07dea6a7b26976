//===- HostFamilies.h - run a test once per kernel family -------*- C++ -*-===//

#ifndef ANE_TEST_UNITTESTS_RUNTIME_HOSTFAMILIES_H
#define ANE_TEST_UNITTESTS_RUNTIME_HOSTFAMILIES_H

#include "lib/Runtime/Cpu/CpuIsa.h"

#include <gtest/gtest.h>

namespace ane::test {

/// Runs `body` once with each kernel family this CPU has selected, then
/// restores the default.
template <typename Body> void forEachHostFamily(Body body) {
  using namespace ::ane::runtime;
  KernelIsa saved = kernelIsa();
  for (KernelIsa isa : hostKernelIsas()) {
    ASSERT_TRUE(setKernelIsa(isa));
    SCOPED_TRACE(kernelIsaName(isa));
    body();
  }
  setKernelIsa(saved);
}

} // namespace ane::test

#endif // ANE_TEST_UNITTESTS_RUNTIME_HOSTFAMILIES_H
