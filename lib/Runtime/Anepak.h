//===- Anepak.h - the .anepak model file ------------------------*- C++ -*-===//
//
// One file holds a compiled model (DESIGN.md section 3): a 64-byte header
// (magic, version, section count, table offset, file size, checksums), the
// sections, then the section table. Sections: the JSON manifest (the
// abi::KernelSet), one MIL program text each, the tokenizer, the embedding
// rows, the global weight segment and one weight segment per layer. Weight
// segments start on 16 KiB boundaries (the Apple silicon page) so that each
// maps as its own pages; every section has an XXH3-64 checksum.
//
// Byte layout, little-endian:
//   header  "ANEPAK\r\n" | u32 version | u32 sections | u64 table offset |
//           u64 file bytes | u64 table checksum | u64 0 |
//           u64 header checksum (of the 48 bytes before it) | u64 0
//   table   per section: u32 kind | u32 0 | i64 index | u64 offset |
//           u64 bytes | u64 checksum | u64 0
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANEPAK_H
#define ANE_LIB_RUNTIME_ANEPAK_H

#include "lib/Model/Model.h"
#include "lib/Runtime/ModelImage.h"
#include "lib/Runtime/ModelPacker.h"
#include "lib/Support/OutputFile.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ane::runtime {

inline constexpr uint32_t kAnepakVersion = 1;
inline constexpr uint64_t kSegmentAlignment = 16384;

/// Writes a .anepak section by section; the file appears under its name
/// only when finish() succeeds.
class AnepakWriter {
public:
  static Result<AnepakWriter> create(const std::string &path);
  AnepakWriter(AnepakWriter &&other) noexcept;
  AnepakWriter &operator=(AnepakWriter &&) = delete;
  ~AnepakWriter();

  Status add(SectionKind kind, int64_t index, const uint8_t *data,
             uint64_t size);
  Status add(SectionKind kind, int64_t index, const std::string &text) {
    return add(kind, index, reinterpret_cast<const uint8_t *>(text.data()),
               text.size());
  }
  /// Writes the table and the header, then renames the file into place.
  Status finish();

private:
  AnepakWriter() = default;
  struct Entry {
    SectionKind kind;
    int64_t index;
    uint64_t offset, size, checksum;
  };
  Status write(const void *data, uint64_t size);

  std::string path, tempPath;
  std::optional<OutputFile> file; // empty once finished
  std::vector<Entry> entries;
};

/// Compiled kernels plus the model's packed weights, streamed into `path`.
Status writeAnepak(const std::string &path, const model::ModelSpec &spec,
                   const abi::KernelSet &kernels,
                   const PackProgress &progress = {}, int threads = 1);

/// A packed image (packImage) written as the .anepak writeAnepak gives for
/// the model it came from.
Status writeAnepakImage(const std::string &path, const ModelImage &image);

/// Whether the file at `path` starts with the .anepak magic.
bool hasAnepakMagic(const std::string &path);

/// Maps and checks a .anepak: every section's bounds and checksum, the
/// manifest, and that the sections match it. Errors name the file and the
/// section.
Result<ModelImage> openAnepak(const std::string &path);
/// Only the kernel set of a .anepak: the header, the table and the
/// manifest are checked, the weights are not read (`ane-exec plan`).
Result<abi::KernelSet> readAnepakManifest(const std::string &path);
/// The same checks as openAnepak on bytes in memory (the caller keeps them
/// alive).
Result<ModelImage> readAnepak(const uint8_t *data, uint64_t size,
                              const std::string &name);

/// Recomputes every checksum that lies inside `size` bytes: sections, the
/// table, the header. For the fuzzer and the damage tests, which must get
/// past the checksums to reach the readers behind them.
void resealAnepak(uint8_t *data, uint64_t size);

/// The tokenizer section's bytes, and back.
std::vector<uint8_t> encodeTokenizer(const model::TokenizerData &t);
Result<model::TokenizerData> decodeTokenizer(const uint8_t *data,
                                             uint64_t size);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANEPAK_H
