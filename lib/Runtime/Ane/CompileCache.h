//===- CompileCache.h - compiled ANE programs on disk -----------*- C++ -*-===//
//
// The baked binding compiles one program per layer and kernel: more than
// one process may compile (the budget) and nobody wants to compile twice.
// Programs are kept in a folder under the content hash of what was compiled
// (the device, the MIL text and the weight file), written atomically, and
// read back through the device's import, which checks them. Each entry is
// "ANECACHE", the 32-digit key, the length and XXH3 of the device's bytes,
// then those bytes: a renamed or damaged entry is refused, not run.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_COMPILECACHE_H
#define ANE_LIB_RUNTIME_ANE_COMPILECACHE_H

#include "lib/Runtime/Ane/AneDevice.h"

#include <optional>
#include <string>
#include <vector>

namespace ane::runtime {

/// The key of a compile: 32 hex digits of XXH3-128 over the device name,
/// the MIL text and the weight bytes.
std::string compileKey(std::string_view device, const std::string &milText,
                       Bytes weights);

class AneCompileCache {
public:
  /// A cache in `dir` (created when first written).
  explicit AneCompileCache(std::string dir) : dir_(std::move(dir)) {}
  const std::string &dir() const { return dir_; }

  /// Where the program of `key` is kept.
  std::string pathOf(const std::string &key) const;
  /// The bytes kept under `key`: none when there is no entry, an error
  /// when the entry is damaged or was written for another key.
  std::optional<Result<std::vector<uint8_t>>>
  find(const std::string &key) const;
  /// Keeps `bytes` under `key`: written beside, renamed into place.
  Status store(const std::string &key, const std::vector<uint8_t> &bytes);

private:
  std::string dir_;
};

/// Creates `path` and the folders above it that are missing.
Status makeDirs(const std::string &path);

/// The default cache folder: $ANE_CACHE_DIR, else $XDG_CACHE_HOME/ane-mlir,
/// else ~/.cache/ane-mlir; empty when none can be named.
std::string defaultCompileCacheDir();

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANE_COMPILECACHE_H
