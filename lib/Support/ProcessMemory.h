//===- ProcessMemory.h - this process's resident memory ---------*- C++ -*-===//
//
// The one place that asks the OS how much memory the process holds: the
// figures `run`, `bench` and `compile` print, the server's /metrics and its
// memory guard.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SUPPORT_PROCESSMEMORY_H
#define ANE_LIB_SUPPORT_PROCESSMEMORY_H

#include <cstdint>

namespace ane {

/// The resident set now, in bytes (0 where the OS does not say).
uint64_t residentBytes();

/// The resident set's high-water mark, in bytes.
uint64_t peakResidentBytes();

/// Lowers the high-water mark to the resident set now (Linux's
/// /proc/self/clear_refs); false where that is not possible.
bool resetPeakResident();

} // namespace ane

#endif // ANE_LIB_SUPPORT_PROCESSMEMORY_H
