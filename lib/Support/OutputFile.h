//===- OutputFile.h - a large file written front to back --------*- C++ -*-===//

#ifndef ANE_LIB_SUPPORT_OUTPUTFILE_H
#define ANE_LIB_SUPPORT_OUTPUTFILE_H

#include "lib/Support/Result.h"

#include <cstdint>
#include <memory>
#include <string>

namespace ane {

/// A file written front to back at positions of its own. Long runs that
/// start on a block boundary go around the page cache (O_DIRECT on Linux),
/// in four parts at once through aligned buffers; the rest, and everything
/// on file systems that refuse direct I/O, through the page cache. On a
/// paravirtualized guest the kernel copied into fresh page-cache pages at
/// 0.6-0.75 GB/s with all of a core, while direct writes ran at 1.0-2.8
/// GB/s with almost none; a model file is read back by mapping it, which
/// is coherent with both.
class OutputFile {
public:
  /// Smallest run written around the page cache.
  static constexpr uint64_t kUncachedMin = uint64_t(1) << 20;

  enum class Caching { Bypass, PageCache };
  /// Takes ownership of `fd`, open for writing and empty; `path` names it
  /// in errors and is opened again for the direct writes. PageCache writes
  /// everything through the page cache.
  static OutputFile adopt(int fd, std::string path,
                          Caching caching = Caching::Bypass);
  OutputFile(OutputFile &&other) noexcept;
  OutputFile &operator=(OutputFile &&other) = delete;
  ~OutputFile();

  /// Appends `size` bytes at position().
  Status write(const void *data, uint64_t size);
  /// Overwrites bytes already written (a header filled in at the end).
  Status overwrite(uint64_t offset, const void *data, uint64_t size);
  uint64_t position() const { return at; }
  /// Bytes that went around the page cache so far.
  uint64_t uncachedBytes() const { return uncached; }
  /// Closes the file; errors a close reports (a full disk on NFS) count.
  Status close();

private:
  OutputFile() = default;
  Status writeCached(const uint8_t *data, uint64_t size, uint64_t offset);
  /// Writes the whole blocks at the front of [data, data + size) at
  /// position() around the page cache; returns how many bytes, 0 where
  /// direct I/O is not to be had.
  Result<uint64_t> writeUncached(const uint8_t *data, uint64_t size);
  /// Writes [data, data + size) at `offset` directly through `buffer`, a
  /// bounce buffer at a time; returns the bytes that went direct (a short
  /// write's rest goes cached). A failed write's errno goes to `error`.
  Result<uint64_t> writeBlocks(const uint8_t *data, uint64_t size,
                               uint64_t offset, uint8_t *buffer,
                               int *error = nullptr);
  bool openDirect();
  /// Writes everything through the page cache from now on.
  void dropDirect();

  std::string path;
  int fd = -1;
  int directFd = -1;
  bool directTried = false;
  struct FreeBuffer {
    void operator()(uint8_t *p) const;
  };
  static constexpr int kStreams = 4;
  std::unique_ptr<uint8_t, FreeBuffer> bounce[kStreams];
  uint64_t at = 0, uncached = 0;
};

} // namespace ane

#endif // ANE_LIB_SUPPORT_OUTPUTFILE_H
