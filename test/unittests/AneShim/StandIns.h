//===- StandIns.h - test stand-ins of the private ANE API -------*- C++ -*-===//
//
// StandIns.mm defines, for Linux, the Objective-C classes and IOSurface
// functions the shim calls (lib/Runtime/Ane/Shim), over the simulator. These
// hooks let a test set the simulator up and see what the shim did.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_TEST_UNITTESTS_ANESHIM_STANDINS_H
#define ANE_TEST_UNITTESTS_ANESHIM_STANDINS_H

#include "lib/Runtime/Ane/SimulatedAneDevice.h"

namespace ane::runtime::standin {

/// A fresh simulator behind the stand-in classes.
void reset(SimulatedAneOptions options = {});
const AneCounters &counters();
/// The next `n` loads fail, as the hardware's sometimes do.
void failNextLoads(int n);
/// IOSurfaces created and not yet released, and locks not yet unlocked.
int liveSurfaces();
int heldLocks();
/// Calls that came with another quality of service than the shim's 21.
int wrongQoS();

} // namespace ane::runtime::standin

#endif // ANE_TEST_UNITTESTS_ANESHIM_STANDINS_H
