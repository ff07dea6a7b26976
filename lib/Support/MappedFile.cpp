//===- MappedFile.cpp - read-only memory-mapped files ---------------------===//

#include "lib/Support/MappedFile.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <thread>

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
  file->fd_ = fd;
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
  auto drop = [](uintptr_t a, uintptr_t b) {
    if (a < b)
      ::madvise(reinterpret_cast<void *>(a), b - a, MADV_DONTNEED);
  };
  // Dropping anonymous pages would zero them: only the file's are dropped.
  std::lock_guard lk(mu_);
  for (const auto &[a, b] : anonymous_) {
    if (b <= from || a >= to)
      continue;
    drop(from, a);
    from = std::max(from, b);
  }
  drop(from, to);
}

void MappedFile::populate(const uint8_t *begin, size_t bytes) const {
  if (!holds(begin, bytes) || bytes == 0)
    return;
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  uintptr_t from = uintptr_t(begin) / page * page;
  uintptr_t to = uintptr_t(begin) + bytes;
#ifdef MADV_POPULATE_READ
  if (::madvise(reinterpret_cast<void *>(from), to - from,
                MADV_POPULATE_READ) == 0 ||
      errno != EINVAL)
    return; // EFAULT: pages past the end of a file that shrank
#endif
  // Kernels before Linux 5.14: a read per page faults them in (the mapping
  // starts on a page, so `from` is inside it).
  for (uintptr_t p = from; p < to; p += page)
    (void)*reinterpret_cast<const volatile uint8_t *>(p);
}

namespace {

constexpr uintptr_t kHugePage = uintptr_t(2) << 20;

uintptr_t alignUp(uintptr_t v, uintptr_t to) { return (v + to - 1) / to * to; }

} // namespace

Result<size_t> MappedFile::readIntoHugePages(const uint8_t *begin, size_t bytes,
                                             int threads) const {
  if (!holds(begin, bytes) || bytes == 0)
    return size_t(0);
  uintptr_t first = uintptr_t(begin), last = first + bytes;
  uintptr_t from = alignUp(first, kHugePage), to = last / kHugePage * kHugePage;
#if !defined(__linux__)
  from = to = last; // no mremap: the range stays mapped from the file
#endif
  if (from >= to) {
    populate(begin, bytes);
    return size_t(0);
  }
  populate(begin, from - first);
  populate(reinterpret_cast<const uint8_t *>(to), last - to);
  // Slices of 32 MiB: each thread holds one slice twice at most (its
  // anonymous copy and the file pages it replaces).
  constexpr uintptr_t kSlice = uintptr_t(32) << 20;
  const size_t slices = (to - from + kSlice - 1) / kSlice;
  std::atomic<size_t> next{0}, moved{0};
  std::mutex errorMu;
  std::string firstError;
  auto work = [&] {
    for (size_t i; (i = next++) < slices;) {
      uintptr_t at = from + i * kSlice;
      size_t n = size_t(std::min(kSlice, to - at));
      Status s = readSlice(at, n);
      if (s.ok()) {
        moved += n;
        continue;
      }
      std::lock_guard lk(errorMu);
      if (firstError.empty())
        firstError = s.message();
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < std::min(size_t(std::max(threads, 1)), slices); ++t) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error &) {
      break; // the slices left are read by the threads there are
    }
  }
  work();
  for (std::thread &t : helpers)
    t.join();
  if (!firstError.empty())
    return Result<size_t>::error(path_ + ": " + firstError);
  return moved.load();
}

void MappedFile::copy(const uint8_t *begin, size_t bytes, uint8_t *out) const {
  if (!holds(begin, bytes)) {
    std::memcpy(out, begin, bytes);
    return;
  }
  const off_t offset = off_t(begin - data_);
  size_t done = 0;
  while (done < bytes) {
    ssize_t got = ::pread(fd_, out + done, bytes - done, offset + off_t(done));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    done += size_t(got);
  }
  if (done < bytes)
    std::memcpy(out + done, begin + done, bytes - done);
}

Status MappedFile::readSlice(uintptr_t at, size_t bytes) const {
#if defined(__linux__)
  // A fresh aligned anonymous region is filled, made read-only and then
  // moved over the file's pages in one mremap: the addresses hold the
  // file's bytes at every moment, and a failure leaves the file mapped.
  void *raw = ::mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return Status::error(fmt::format("cannot allocate {} bytes: {}", bytes,
                                     std::strerror(errno)));
  uintptr_t r = uintptr_t(raw), a = alignUp(r, kHugePage);
  if (a > r)
    ::munmap(raw, a - r);
  if (r + kHugePage > a)
    ::munmap(reinterpret_cast<void *>(a + bytes), r + kHugePage - a);
  void *copy = reinterpret_cast<void *>(a);
  ::madvise(copy, bytes, MADV_HUGEPAGE); // advice: 4 KiB pages still work
  const off_t offset = off_t(at - uintptr_t(data_));
  size_t done = 0;
  while (done < bytes) {
    ssize_t got = ::pread(fd_, static_cast<uint8_t *>(copy) + done,
                          bytes - done, offset + off_t(done));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      std::string why = got == 0 ? "the file is shorter than when it was "
                                   "mapped"
                                 : std::strerror(errno);
      ::munmap(copy, bytes);
      return Status::error(fmt::format("cannot read bytes {}..{}: {}",
                                       uint64_t(offset) + done,
                                       uint64_t(offset) + bytes, why));
    }
    done += size_t(got);
  }
  if (::mprotect(copy, bytes, PROT_READ) != 0 ||
      ::mremap(copy, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED,
               reinterpret_cast<void *>(at)) == MAP_FAILED) {
    std::string why = std::strerror(errno);
    ::munmap(copy, bytes);
    return Status::error(fmt::format("cannot move bytes {}..{} into place: {}",
                                     uint64_t(offset), uint64_t(offset) + bytes,
                                     why));
  }
  std::lock_guard lk(mu_);
  anonymous_.emplace_back(at, at + bytes);
  std::sort(anonymous_.begin(), anonymous_.end());
  return Status::success();
#else
  (void)at;
  (void)bytes;
  return Status::error("huge pages are read in on Linux only");
#endif
}

bool MappedFile::transparentHugePages() {
#if defined(__linux__)
  std::FILE *f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f)
    return false;
  char line[128] = {};
  bool on = std::fgets(line, sizeof(line), f) &&
            (std::strstr(line, "[always]") || std::strstr(line, "[madvise]"));
  std::fclose(f);
  return on;
#else
  return false;
#endif
}

size_t MappedFile::hugePageBytes() const {
  std::lock_guard lk(mu_);
  size_t total = 0;
  for (const auto &[a, b] : anonymous_)
    total += b - a;
  return total;
}

MappedFile::~MappedFile() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
  if (fd_ >= 0)
    ::close(fd_);
}

} // namespace ane
