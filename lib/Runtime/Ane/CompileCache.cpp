//===- CompileCache.cpp - compiled ANE programs on disk -------------------===//

#include "lib/Runtime/Ane/CompileCache.h"

#include "lib/Support/MappedFile.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sys/stat.h>
#include <unistd.h>

namespace ane::runtime {

std::string compileKey(std::string_view device, const std::string &milText,
                       Bytes weights) {
  XXH3_state_t *state = XXH3_createState();
  XXH3_128bits_reset(state);
  uint64_t lengths[3] = {device.size(), milText.size(), weights.size};
  XXH3_128bits_update(state, lengths, sizeof(lengths));
  XXH3_128bits_update(state, device.data(), device.size());
  XXH3_128bits_update(state, milText.data(), milText.size());
  if (weights.size)
    XXH3_128bits_update(state, weights.data, weights.size);
  XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

Status makeDirs(const std::string &path) {
  for (size_t at = 1; at <= path.size(); ++at)
    if (at == path.size() || path[at] == '/') {
      std::string prefix = path.substr(0, at);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
        return Status::error(
            fmt::format("cannot create {}: {}", prefix, std::strerror(errno)));
    }
  return Status::success();
}

std::string AneCompileCache::pathOf(const std::string &key) const {
  return dir_ + "/" + key + ".aneprog";
}

namespace {

constexpr char kMagic[8] = {'A', 'N', 'E', 'C', 'A', 'C', 'H', 'E'};
constexpr size_t kKeyDigits = 32;
constexpr size_t kHeaderBytes = 8 + kKeyDigits + 8 + 8;

bool writeAll(int fd, const uint8_t *data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    size -= size_t(n);
  }
  return true;
}

} // namespace

std::optional<Result<std::vector<uint8_t>>>
AneCompileCache::find(const std::string &key) const {
  std::string path = pathOf(key);
  if (::access(path.c_str(), F_OK) != 0)
    return std::nullopt;
  using R = Result<std::vector<uint8_t>>;
  auto mapped = MappedFile::open(path);
  if (!mapped.ok())
    return R(mapped.status());
  // Checked in the mapping; only the device's bytes are copied.
  const uint8_t *f = (*mapped)->data();
  const size_t n = (*mapped)->size();
  if (n < kHeaderBytes || std::memcmp(f, kMagic, 8) != 0)
    return R::error(path + ": not a compile cache entry (no ANECACHE header)");
  if (std::string(reinterpret_cast<const char *>(f + 8), kKeyDigits) != key)
    return R::error(path + ": the entry was written for another key");
  uint64_t length, sum;
  std::memcpy(&length, f + 8 + kKeyDigits, 8);
  std::memcpy(&sum, f + 16 + kKeyDigits, 8);
  if (length != n - kHeaderBytes)
    return R::error(fmt::format("{}: {} bytes after the header, {} expected",
                                path, n - kHeaderBytes, length));
  if (XXH3_64bits(f + kHeaderBytes, length) != sum)
    return R::error(path + ": checksum mismatch (the entry is damaged)");
  return R(std::vector<uint8_t>(f + kHeaderBytes, f + n));
}

Status AneCompileCache::store(const std::string &key,
                              const std::vector<uint8_t> &bytes) {
  if (key.size() != kKeyDigits)
    return Status::error("a compile cache key has 32 hex digits: " + key);
  if (Status s = makeDirs(dir_); !s.ok())
    return s;
  uint8_t header[kHeaderBytes];
  uint64_t length = bytes.size(), sum = XXH3_64bits(bytes.data(), bytes.size());
  std::memcpy(header, kMagic, 8);
  std::memcpy(header + 8, key.data(), kKeyDigits);
  std::memcpy(header + 8 + kKeyDigits, &length, 8);
  std::memcpy(header + 16 + kKeyDigits, &sum, 8);
  std::string temp = pathOf(key) + ".partial-XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0)
    return Status::error(fmt::format("cannot write to the compile cache {}: {}",
                                     dir_, std::strerror(errno)));
  bool ok = writeAll(fd, header, kHeaderBytes) &&
            writeAll(fd, bytes.data(), bytes.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(temp.c_str(), pathOf(key).c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return Status::error(
        fmt::format("cannot write {}: {}", pathOf(key), std::strerror(err)));
  }
  return Status::success();
}

std::string defaultCompileCacheDir() {
  if (const char *dir = std::getenv("ANE_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/ane-mlir";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/ane-mlir";
  return "";
}

} // namespace ane::runtime
