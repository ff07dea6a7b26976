//===- ProcessMemory.h - this process's resident memory ---------*- C++ -*-===//
//
// The one place that asks the OS how much memory the process holds: the
// figures `run`, `bench` and `compile` print, the server's /metrics and its
// memory guard; and the huge-page advice for the packer's large buffers.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SUPPORT_PROCESSMEMORY_H
#define ANE_LIB_SUPPORT_PROCESSMEMORY_H

#include <cstdint>
#include <vector>

namespace ane {

/// The resident set now, in bytes (0 where the OS does not say).
uint64_t residentBytes();

/// The resident set's high-water mark, in bytes.
uint64_t peakResidentBytes();

/// Lowers the high-water mark to the resident set now (Linux's
/// /proc/self/clear_refs); false where that is not possible.
bool resetPeakResident();

/// Grows `v`'s capacity to `bytes` (keeping its contents), on Linux in
/// transparent huge pages where the kernel has them: a buffer of hundreds
/// of megabytes in 4 KiB pages spends most of its first write in page
/// faults (~2 us each on a paravirtualized guest).
void reserveOnHugePages(std::vector<uint8_t> &v, uint64_t bytes);

} // namespace ane

#endif // ANE_LIB_SUPPORT_PROCESSMEMORY_H
