//===- MappedFile.h - read-only memory-mapped files -------------*- C++ -*-===//

#ifndef ANE_LIB_SUPPORT_MAPPEDFILE_H
#define ANE_LIB_SUPPORT_MAPPEDFILE_H

#include "lib/Support/Result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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

private:
  MappedFile() = default;
  /// Whether [begin, begin + bytes) lies inside the mapping.
  bool holds(const uint8_t *begin, size_t bytes) const;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

} // namespace ane

#endif // ANE_LIB_SUPPORT_MAPPEDFILE_H
