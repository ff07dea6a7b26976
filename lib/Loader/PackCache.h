//===- PackCache.h - packed weights kept between runs -----------*- C++ -*-===//
//
// Packing a 7B GGUF takes 10-20 s; opening a .anepak of it takes a few. So a
// run on a model file (not a .anepak) keeps what it packed as a .anepak in
// the cache folder and the next run of the same file with the same kernels
// opens that instead. The name holds a hash of everything the bytes depend
// on: the model's files (path, device, inode, size, modification time), the
// kernel set (manifest and programs) and the code that packed them (the
// binary's own file), so a changed model, other flags or a rebuilt tool
// never meet a stale pack.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_LOADER_PACKCACHE_H
#define ANE_LIB_LOADER_PACKCACHE_H

#include "lib/Abi/KernelSet.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ane::loader {

/// When a run on a model file keeps its packed weights (--pack-cache).
enum class PackCachePolicy { Auto, Always, Never };
std::string_view packCachePolicyName(PackCachePolicy p);

/// Under Auto, weights smaller than this are packed in memory: that takes
/// well under a second, less than writing them out.
inline constexpr uint64_t kPackCacheMinBytes = uint64_t(256) << 20;
/// How many packs the folder keeps; writing one removes the least recently
/// used beyond these (a 7B's is 3.8 GB).
inline constexpr size_t kPackCacheKeep = 2;

/// What identifies the files behind `model`: for a file, its path, device,
/// inode, size and modification time; for a folder (Hugging Face), those of
/// each file in it. None when `model` names no file (synthetic:NAME).
std::optional<std::string> sourceIdentity(const std::string &model);

/// The same for the binary or library this code was loaded from: packs
/// written by another build are not reused.
std::string packerIdentity();

/// The bytes of the weights `kernels` packs: embedding and segments.
uint64_t packedWeightBytes(const abi::KernelSet &kernels);

/// Where in `dir` the pack of the files `identity` names, compiled as
/// `kernels`, is kept: "<model name>-<32 hex digits>.anepak".
std::string packCachePath(const std::string &dir, const std::string &model,
                          const std::string &identity,
                          const abi::KernelSet &kernels);

/// Marks the pack at `path` as just used.
void touchPack(const std::string &path);

/// A partly written pack untouched this long is a dead writer's.
inline constexpr long kStalePartialSeconds = 600;

/// Removes the .anepak files in `dir` beyond the `keep` most recently used,
/// and parts of packs left by writers that died; returns their paths.
std::vector<std::string> trimPackCache(const std::string &dir, size_t keep);

} // namespace ane::loader

#endif // ANE_LIB_LOADER_PACKCACHE_H
