//===- MappedFile.h - read-only memory-mapped files -------------*- C++ -*-===//

#ifndef ANE_LIB_SUPPORT_MAPPEDFILE_H
#define ANE_LIB_SUPPORT_MAPPEDFILE_H

#include "lib/Support/Result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ane {

/// A whole file mapped read-only. Moves, never copies; unmaps on destruction.
class MappedFile {
public:
  static Result<std::shared_ptr<MappedFile>> open(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }
  /// Drops the whole pages inside [begin, begin + bytes) from this
  /// process's resident set; they stay in the page cache and come back on
  /// the next read. `begin` must point into the mapping.
  void release(const uint8_t *begin, size_t bytes) const;
  /// Maps the pages of [begin, begin + bytes) into this process now, from
  /// the page cache (read from disk if they are not there), so the first
  /// reads do not fault. `begin` must point into the mapping.
  void populate(const uint8_t *begin, size_t bytes) const;
  /// Copies [begin, begin + bytes) to `out` with read(2), from the mapping
  /// where that fails. Streaming a file once: on a VM that shadows the
  /// guest's page tables, faulting a mapping in cost ~2 us per 4 KiB page
  /// (3.8 GB in 1.8 s) where read(2) took 0.4 s. `begin` must point into
  /// the mapping.
  void copy(const uint8_t *begin, size_t bytes, uint8_t *out) const;
  /// Reads [begin, begin + bytes) into anonymous memory on transparent huge
  /// pages at the same addresses, `threads` slices at a time: the 2 MiB
  /// pages inside the range (its ends stay mapped from the file, and are
  /// populated). Kernels that stream the range then miss the TLB once per
  /// 2 MiB, not per 4 KiB page-cache page where the kernel did not map a
  /// whole folio. A slice that cannot be read stays mapped from the file,
  /// so the contents never change; the error names the first. Returns the
  /// bytes moved. release() leaves such pages alone.
  Result<size_t> readIntoHugePages(const uint8_t *begin, size_t bytes,
                                   int threads) const;
  /// Bytes readIntoHugePages moved so far.
  size_t hugePageBytes() const;
  /// Whether the system backs anonymous memory that asks for it with
  /// transparent huge pages (Linux, THP "always" or "madvise").
  static bool transparentHugePages();

private:
  MappedFile() = default;
  /// Whether [begin, begin + bytes) lies inside the mapping.
  bool holds(const uint8_t *begin, size_t bytes) const;
  /// Moves the 2 MiB-aligned [at, at + bytes) into anonymous memory.
  Status readSlice(uintptr_t at, size_t bytes) const;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  int fd_ = -1; // kept for readIntoHugePages
  // The [begin, end) address ranges now anonymous, which release() skips.
  mutable std::mutex mu_;
  mutable std::vector<std::pair<uintptr_t, uintptr_t>> anonymous_;
};

} // namespace ane

#endif // ANE_LIB_SUPPORT_MAPPEDFILE_H
