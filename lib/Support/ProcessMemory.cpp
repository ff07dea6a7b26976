//===- ProcessMemory.cpp - this process's resident memory -----------------===//

#include "lib/Support/ProcessMemory.h"

#include <algorithm>
#include <cstdio>

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

namespace ane {

uint64_t residentBytes() {
  // statm's second field: resident pages.
  uint64_t bytes = 0;
  if (std::FILE *f = std::fopen("/proc/self/statm", "r")) {
    unsigned long long total = 0, resident = 0;
    if (std::fscanf(f, "%llu %llu", &total, &resident) == 2)
      bytes = resident * uint64_t(sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  return bytes;
}

uint64_t peakResidentBytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
#if defined(__APPLE__)
  uint64_t peak = uint64_t(usage.ru_maxrss); // macOS reports bytes
#else
  uint64_t peak = uint64_t(usage.ru_maxrss) * 1024; // Linux reports KiB
#endif
  // The kernel updates the mark lazily (and counts pages a little
  // differently from statm): never report a peak below the present.
  return std::max(peak, residentBytes());
}

bool resetPeakResident() {
  std::FILE *f = std::fopen("/proc/self/clear_refs", "w");
  if (!f)
    return false;
  bool ok = std::fputs("5", f) >= 0; // "5": reset the high-water mark
  return std::fclose(f) == 0 && ok;
}

void reserveOnHugePages(std::vector<uint8_t> &v, uint64_t bytes) {
  if (bytes <= v.capacity())
    return;
  std::vector<uint8_t> bigger;
  bigger.reserve(bytes);
#if defined(__linux__)
  // Advice only: without transparent huge pages nothing changes.
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  uintptr_t begin =
      (reinterpret_cast<uintptr_t>(bigger.data()) + kHuge - 1) & ~(kHuge - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(bigger.data()) + bytes;
  if (end > begin)
    ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_HUGEPAGE);
#endif
  bigger.assign(v.begin(), v.end());
  v.swap(bigger);
}

} // namespace ane
