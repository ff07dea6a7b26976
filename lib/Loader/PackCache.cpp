//===- PackCache.cpp - packed weights kept between runs -------------------===//

#include "lib/Loader/PackCache.h"

#include "lib/Runtime/Anepak.h"
#include "lib/Support/FileKinds.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <utility>
#include <vector>

namespace ane::loader {
namespace {

const struct timespec &modified(const struct stat &st) {
#if defined(__APPLE__)
  return st.st_mtimespec;
#else
  return st.st_mtim;
#endif
}

/// "path dev ino size mtime" of a regular file; none for anything else.
std::optional<std::string> fileIdentity(const std::string &path,
                                        const struct stat &st) {
  if (!S_ISREG(st.st_mode))
    return std::nullopt;
  const struct timespec &m = modified(st);
  return fmt::format("{} {} {} {} {}.{:09}\n", path, uint64_t(st.st_dev),
                     uint64_t(st.st_ino), int64_t(st.st_size),
                     int64_t(m.tv_sec), int64_t(m.tv_nsec));
}

std::string absolutePath(const std::string &path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

/// The regular files directly in `dir`, sorted.
std::vector<std::string> filesIn(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (const dirent *e = ::readdir(d))
      if (e->d_name[0] != '.')
        names.push_back(dir + "/" + e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// "llama-7b" for "/models/llama-7b.Q4_0.gguf" or "/models/llama-7b/".
std::string stemOf(const std::string &model) {
  std::string name = model;
  while (name.size() > 1 && name.back() == '/')
    name.pop_back();
  if (size_t slash = name.rfind('/'); slash != std::string::npos)
    name = name.substr(slash + 1);
  if (size_t dot = name.find('.'); dot != std::string::npos && dot > 0)
    name = name.substr(0, dot);
  // Only what is safe in a file name, and not too much of it.
  for (char &c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      c = '_';
  return name.empty() ? "model" : name.substr(0, 64);
}

} // namespace

std::string_view packCachePolicyName(PackCachePolicy p) {
  switch (p) {
  case PackCachePolicy::Auto:
    return "auto";
  case PackCachePolicy::Always:
    return "always";
  case PackCachePolicy::Never:
    return "never";
  }
  return "auto";
}

std::optional<std::string> sourceIdentity(const std::string &model) {
  struct stat st;
  if (model.rfind("synthetic:", 0) == 0 || ::stat(model.c_str(), &st) != 0)
    return std::nullopt;
  std::string path = absolutePath(model);
  if (!S_ISDIR(st.st_mode))
    return fileIdentity(path, st);
  std::string identity;
  for (const std::string &file : filesIn(path)) {
    struct stat f;
    if (::stat(file.c_str(), &f) != 0)
      return std::nullopt;
    if (auto id = fileIdentity(file, f))
      identity += *id;
  }
  if (identity.empty())
    return std::nullopt;
  return identity;
}

std::string packerIdentity() {
  Dl_info info;
  struct stat st;
  if (::dladdr(reinterpret_cast<void *>(&packerIdentity), &info) == 0 ||
      !info.dli_fname || ::stat(info.dli_fname, &st) != 0)
    return "unknown packer\n";
  return fileIdentity(absolutePath(info.dli_fname), st)
      .value_or("unknown packer\n");
}

uint64_t packedWeightBytes(const abi::KernelSet &kernels) {
  const model::Config &c = kernels.config;
  uint64_t embedding = uint64_t(c.vocabSize) * uint64_t(c.dim) *
                       (kernels.dtype == abi::DType::FP32 ? 4 : 2);
  return embedding + kernels.globalSegmentBytes +
         uint64_t(c.nLayers) * kernels.layerSegmentBytes;
}

std::string packCachePath(const std::string &dir, const std::string &model,
                          const std::string &identity,
                          const abi::KernelSet &kernels) {
  XXH3_state_t *state = XXH3_createState();
  XXH3_128bits_reset(state);
  auto add = [&](const std::string &s) {
    uint64_t n = s.size();
    XXH3_128bits_update(state, &n, sizeof n);
    XXH3_128bits_update(state, s.data(), s.size());
  };
  add(fmt::format(".anepak version {}", runtime::kAnepakVersion));
  add(identity);
  add(abi::writeManifest(kernels));
  for (const std::string &program : kernels.programs)
    add(program);
  XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return fmt::format("{}/{}-{:016x}{:016x}.anepak", dir, stemOf(model),
                     h.high64, h.low64);
}

void touchPack(const std::string &path) {
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
}

std::vector<std::string> trimPackCache(const std::string &dir, size_t keep) {
  std::vector<std::pair<struct timespec, std::string>> packs;
  std::vector<std::string> removed;
  const time_t now = ::time(nullptr);
  for (const std::string &file : filesIn(dir)) {
    struct stat st;
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    const struct timespec &m = modified(st);
    // A writer that died (killed outright, or a process that exited before
    // its pack was done) left its part; live writers touch theirs often.
    if (file.find(".anepak.partial-") != std::string::npos &&
        now - m.tv_sec > kStalePartialSeconds && ::unlink(file.c_str()) == 0)
      removed.push_back(file);
    if (endsWith(file, ".anepak"))
      packs.emplace_back(m, file);
  }
  std::sort(packs.begin(), packs.end(), [](const auto &a, const auto &b) {
    if (a.first.tv_sec != b.first.tv_sec)
      return a.first.tv_sec > b.first.tv_sec;
    return a.first.tv_nsec > b.first.tv_nsec;
  });
  for (size_t i = keep; i < packs.size(); ++i)
    if (::unlink(packs[i].second.c_str()) == 0)
      removed.push_back(packs[i].second);
  return removed;
}

} // namespace ane::loader
