//===- OutputFile.cpp - a large file written front to back ----------------===//

#include "lib/Support/OutputFile.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace ane {
namespace {

// Direct I/O wants the file offset, the length and the memory aligned to
// the device's logical block; 4 KiB covers every disk in use.
constexpr uint64_t kBlock = 4096;
constexpr uint64_t kBounceBytes = uint64_t(32) << 20;

} // namespace

void OutputFile::FreeBuffer::operator()(uint8_t *p) const { std::free(p); }

OutputFile OutputFile::adopt(int fd, std::string path, Caching caching) {
  OutputFile f;
  f.fd = fd;
  f.path = std::move(path);
  f.directTried = caching == Caching::PageCache;
  return f;
}

OutputFile::OutputFile(OutputFile &&o) noexcept
    : path(std::move(o.path)), fd(o.fd), directFd(o.directFd),
      directTried(o.directTried), at(o.at), uncached(o.uncached) {
  for (int i = 0; i < 2; ++i)
    bounce[i] = std::move(o.bounce[i]);
  o.fd = o.directFd = -1;
}

OutputFile::~OutputFile() { (void)close(); }

Status OutputFile::close() {
  bool ok = true;
  int error = 0;
  for (int *f : {&directFd, &fd})
    if (*f >= 0) {
      if (::close(*f) != 0 && ok) {
        ok = false;
        error = errno;
      }
      *f = -1;
    }
  return ok ? Status::success()
            : Status::error(fmt::format("{}: close failed: {}", path,
                                        std::strerror(error)));
}

bool OutputFile::openDirect() {
  if (directTried)
    return directFd >= 0;
  directTried = true;
#if defined(__linux__) && defined(O_DIRECT)
  for (auto &b : bounce) {
    void *buffer = nullptr;
    if (::posix_memalign(&buffer, kBlock, kBounceBytes) != 0)
      return false;
    b.reset(static_cast<uint8_t *>(buffer));
  }
  // Refused by file systems without direct I/O (tmpfs before Linux 6.6).
  directFd = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  return directFd >= 0;
#else
  return false;
#endif
}

Status OutputFile::writeCached(const uint8_t *data, uint64_t size,
                               uint64_t offset) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, std::min<uint64_t>(size, 1u << 30), offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return Status::error(
          fmt::format("{}: write failed at offset {}: {}", path, offset,
                      n < 0 ? std::strerror(errno) : "nothing written"));
    data += n;
    size -= uint64_t(n);
    offset += uint64_t(n);
  }
  return Status::success();
}

Result<uint64_t> OutputFile::writeBlocks(const uint8_t *data, uint64_t size,
                                         uint64_t offset, uint8_t *buffer,
                                         int *error) {
  uint64_t done = 0, direct = 0;
  while (done < size) {
    uint64_t chunk = std::min(kBounceBytes, size - done);
    std::memcpy(buffer, data + done, chunk);
    ssize_t n = ::pwrite(directFd, buffer, chunk, offset + done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (error)
        *error = errno;
      return Status::error(fmt::format("{}: write failed at offset {}: {}",
                                       path, offset + done,
                                       std::strerror(errno)));
    }
    // A short direct write: the rest of this chunk goes the cached way.
    if (uint64_t(n) < chunk)
      if (Status s = writeCached(data + done + n, chunk - uint64_t(n),
                                 offset + done + uint64_t(n));
          !s.ok())
        return s;
    done += chunk;
    direct += uint64_t(n);
  }
  return direct;
}

Result<uint64_t> OutputFile::writeUncached(const uint8_t *data, uint64_t size) {
  const uint64_t whole = size / kBlock * kBlock;
  if (at % kBlock != 0 || whole < kUncachedMin || !openDirect())
    return uint64_t(0);
  // The first chunk alone: a file system that took O_DIRECT at open but
  // not the writes themselves says so here, and everything goes cached.
  const uint64_t first = std::min(kBounceBytes, whole);
  int error = 0;
  auto head = writeBlocks(data, first, at, bounce[0].get(), &error);
  if (!head.ok() && error == EINVAL && uncached == 0) {
    ::close(directFd);
    directFd = -1;
    return uint64_t(0);
  }
  if (!head.ok())
    return head;
  // The rest in two halves at once: two writes in flight, and each half's
  // copy into its buffer overlaps the other's write (one stream wrote a
  // 7B's layers at 1.0-1.3 GB/s where the disk takes 1.5-2.8).
  const uint64_t rest = whole - first, half = rest / 2 / kBlock * kBlock;
  Result<uint64_t> second = uint64_t(0);
  std::thread helper;
  if (rest - half > 0)
    helper = std::thread([&] {
      second = writeBlocks(data + first + half, rest - half, at + first + half,
                           bounce[1].get());
    });
  auto firstHalf = writeBlocks(data + first, half, at + first, bounce[0].get());
  if (helper.joinable())
    helper.join();
  for (const Result<uint64_t> *r : {&firstHalf, &second})
    if (!r->ok())
      return r->status();
  uncached += *head + *firstHalf + *second;
  return whole;
}

Status OutputFile::write(const void *data, uint64_t size) {
  if (fd < 0)
    return Status::error(path + ": the file is closed");
  const auto *bytes = static_cast<const uint8_t *>(data);
  auto direct = writeUncached(bytes, size);
  if (!direct.ok())
    return direct.status();
  at += *direct;
  if (Status s = writeCached(bytes + *direct, size - *direct, at); !s.ok())
    return s;
  at += size - *direct;
  return Status::success();
}

Status OutputFile::overwrite(uint64_t offset, const void *data, uint64_t size) {
  if (fd < 0)
    return Status::error(path + ": the file is closed");
  if (offset > at || size > at - offset)
    return Status::error(
        fmt::format("{}: {} bytes at offset {} lie past the {} bytes written",
                    path, size, offset, at));
  return writeCached(static_cast<const uint8_t *>(data), size, offset);
}

} // namespace ane
