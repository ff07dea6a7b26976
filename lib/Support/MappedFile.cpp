//===- MappedFile.cpp - read-only memory-mapped files ---------------------===//

#include "lib/Support/MappedFile.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ane {

Result<std::shared_ptr<MappedFile>> MappedFile::open(const std::string &path) {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever;
  // it is refused below, and has no effect on a regular file.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return Result<std::shared_ptr<MappedFile>>::error(
        path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Result<std::shared_ptr<MappedFile>>::error(path +
                                                      ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void *p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return Result<std::shared_ptr<MappedFile>>::error(
          path + ": cannot map: " + std::strerror(errno));
    }
    file->data_ = static_cast<const uint8_t *>(p);
  }
  ::close(fd);
  return file;
}

bool MappedFile::holds(const uint8_t *begin, size_t bytes) const {
  return data_ && uintptr_t(begin) >= uintptr_t(data_) &&
         uintptr_t(begin) + bytes <= uintptr_t(data_) + size_;
}

void MappedFile::release(const uint8_t *begin, size_t bytes) const {
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  uintptr_t from = (uintptr_t(begin) + page - 1) / page * page;
  uintptr_t to = (uintptr_t(begin) + bytes) / page * page;
  if (!holds(begin, bytes) || from >= to)
    return;
  ::madvise(reinterpret_cast<void *>(from), to - from, MADV_DONTNEED);
}

void MappedFile::populate(const uint8_t *begin, size_t bytes) const {
  if (!holds(begin, bytes) || bytes == 0)
    return;
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  uintptr_t from = uintptr_t(begin) / page * page;
  uintptr_t to = uintptr_t(begin) + bytes;
#ifdef MADV_POPULATE_READ
  if (::madvise(reinterpret_cast<void *>(from), to - from,
                MADV_POPULATE_READ) == 0)
    return;
#endif
  // Kernels before Linux 5.14: a read per page faults them in (the mapping
  // starts on a page, so `from` is inside it).
  for (uintptr_t p = from; p < to; p += page)
    (void)*reinterpret_cast<const volatile uint8_t *>(p);
}

MappedFile::~MappedFile() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

} // namespace ane
