//===- Anepak.cpp - the .anepak model file --------------------------------===//

#include "lib/Runtime/Anepak.h"

#include "lib/Support/FileKinds.h"
#include "lib/Support/MappedFile.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>
#include <limits>

namespace ane::runtime {
namespace {

constexpr uint64_t kHeaderBytes = 64;
constexpr uint64_t kEntryBytes = 48;
constexpr uint64_t kMaxSections = 1 << 20;

uint64_t checksum(const uint8_t *data, uint64_t size) {
  return XXH3_64bits(data, size);
}

/// checksum() of a mapped section, in windows whose pages are released as
/// soon as they are hashed: verifying a 5 GB file then keeps only one
/// window resident, not the file.
uint64_t checksumReleasing(const uint8_t *data, uint64_t size,
                           const MappedFile *mapped) {
  if (!mapped)
    return checksum(data, size);
  constexpr uint64_t kWindow = uint64_t(64) << 20;
  XXH3_state_t *state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (uint64_t at = 0; at < size; at += kWindow) {
    uint64_t n = std::min(kWindow, size - at);
    XXH3_64bits_update(state, data + at, n);
    mapped->release(data + at, n);
  }
  uint64_t sum = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return sum;
}

void put32(std::vector<uint8_t> &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(uint8_t(v >> (8 * i)));
}
void put64(std::vector<uint8_t> &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(uint8_t(v >> (8 * i)));
}
uint32_t get32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= uint32_t(p[i]) << (8 * i);
  return v;
}
uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= uint64_t(p[i]) << (8 * i);
  return v;
}

bool isSegment(SectionKind k) {
  return k == SectionKind::GlobalSegment || k == SectionKind::LayerSegment ||
         k == SectionKind::Embedding;
}

std::string sectionName(SectionKind kind, int64_t index) {
  switch (kind) {
  case SectionKind::Manifest:
    return "manifest";
  case SectionKind::Program:
    return fmt::format("program {}", index);
  case SectionKind::Tokenizer:
    return "tokenizer";
  case SectionKind::Embedding:
    return "embedding";
  case SectionKind::GlobalSegment:
    return "global segment";
  case SectionKind::LayerSegment:
    return fmt::format("layer {} segment", index);
  case SectionKind::ChatTemplate:
    return "chat template";
  }
  return fmt::format("section of kind {}", uint32_t(kind));
}

} // namespace

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

namespace {

/// The partial file being written, for the signal handler to remove: a
/// SIGINT or SIGTERM in the middle of a 7B compile would otherwise leave
/// gigabytes behind. One writer at a time owns it.
char partialPath[4096];
struct sigaction previousInt, previousTerm, previousHup;

void removePartialAndDie(int sig) {
  if (partialPath[0])
    ::unlink(partialPath); // async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void guardPartial(const std::string &temp) {
  if (temp.size() >= sizeof(partialPath))
    return; // a path this long is not removed on a signal
  std::memcpy(partialPath, temp.c_str(), temp.size() + 1);
  struct sigaction sa = {};
  sa.sa_handler = removePartialAndDie;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &previousInt);
  sigaction(SIGTERM, &sa, &previousTerm);
  sigaction(SIGHUP, &sa, &previousHup);
}

void unguardPartial() {
  if (!partialPath[0])
    return;
  sigaction(SIGINT, &previousInt, nullptr);
  sigaction(SIGTERM, &previousTerm, nullptr);
  sigaction(SIGHUP, &previousHup, nullptr);
  partialPath[0] = 0;
}

/// A .anepak is renamed over its target at the end, so the target must be
/// a regular file or nothing: a device, FIFO, folder or symbolic link
/// would be replaced by a regular file.
Status checkOutputPath(const std::string &path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status::success()
                           : Status::error(fmt::format("{}: {}", path,
                                                       std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return Status::error(fmt::format(
        "{}: exists and is not a regular file ({}); a .anepak is written to a "
        "file and renamed into place",
        path,
        S_ISLNK(st.st_mode)                          ? "a symbolic link"
        : S_ISDIR(st.st_mode)                        ? "a folder"
        : S_ISFIFO(st.st_mode)                       ? "a FIFO"
        : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                     : "not a file"));
  return Status::success();
}

} // namespace

Result<AnepakWriter> AnepakWriter::create(const std::string &path) {
  if (Status s = checkOutputPath(path); !s.ok())
    return s;
  AnepakWriter w;
  w.path = path;
  // A new name of our own in the same folder (so the rename stays on one
  // file system), created exclusively: nothing already there is followed.
  std::string temp = path + ".partial-XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0)
    return Status::error(fmt::format("{}: cannot create a file beside it: {}",
                                     path, std::strerror(errno)));
  w.tempPath = temp;
  ::fchmod(fd, 0644);
  w.file.emplace(OutputFile::adopt(fd, temp));
  guardPartial(temp);
  std::vector<uint8_t> placeholder(kHeaderBytes, 0);
  if (Status s = w.write(placeholder.data(), placeholder.size()); !s.ok())
    return s;
  return w;
}

AnepakWriter::AnepakWriter(AnepakWriter &&o) noexcept
    : path(std::move(o.path)), tempPath(std::move(o.tempPath)),
      file(std::move(o.file)), entries(std::move(o.entries)) {
  o.file.reset();
}

AnepakWriter::~AnepakWriter() {
  if (file) { // not finished: leave nothing behind
    file.reset();
    std::remove(tempPath.c_str());
    unguardPartial();
  }
}

Status AnepakWriter::write(const void *data, uint64_t size) {
  return file->write(data, size);
}

Status AnepakWriter::add(SectionKind kind, int64_t index, const uint8_t *data,
                         uint64_t size) {
  if (!file)
    return Status::error(path + ": the writer is finished");
  uint64_t align = isSegment(kind) ? kSegmentAlignment : 64;
  uint64_t at = file->position();
  std::vector<uint8_t> pad((align - at % align) % align, 0);
  if (Status s = write(pad.data(), pad.size()); !s.ok())
    return s;
  entries.push_back(
      {kind, index, file->position(), size, checksum(data, size)});
  return write(data, size);
}

Status AnepakWriter::finish() {
  if (!file)
    return Status::error(path + ": the writer is finished");
  std::vector<uint8_t> pad((64 - file->position() % 64) % 64, 0);
  if (Status s = write(pad.data(), pad.size()); !s.ok())
    return s;
  std::vector<uint8_t> table;
  for (const Entry &e : entries) {
    put32(table, uint32_t(e.kind));
    put32(table, 0);
    put64(table, uint64_t(e.index));
    put64(table, e.offset);
    put64(table, e.size);
    put64(table, e.checksum);
    put64(table, 0);
  }
  uint64_t tableOffset = file->position();
  if (Status s = write(table.data(), table.size()); !s.ok())
    return s;
  std::vector<uint8_t> header(kAnepakMagic, kAnepakMagic + 8);
  put32(header, kAnepakVersion);
  put32(header, uint32_t(entries.size()));
  put64(header, tableOffset);
  put64(header, file->position());
  put64(header, checksum(table.data(), table.size()));
  put64(header, 0);
  put64(header, checksum(header.data(), header.size()));
  put64(header, 0);
  Status written = file->overwrite(0, header.data(), header.size());
  Status closed = file->close();
  file.reset();
  // Checked again: the target may have changed while the layers packed.
  Status target = checkOutputPath(path);
  bool renamed = written.ok() && closed.ok() && target.ok() &&
                 std::rename(tempPath.c_str(), path.c_str()) == 0;
  if (!renamed) {
    int error = errno;
    std::remove(tempPath.c_str());
    unguardPartial();
    for (const Status &s : {written, closed, target})
      if (!s.ok())
        return s;
    return Status::error(
        fmt::format("{}: cannot finish: {}", path, std::strerror(error)));
  }
  unguardPartial();
  return Status::success();
}

std::vector<uint8_t> encodeTokenizer(const model::TokenizerData &t) {
  std::vector<uint8_t> out;
  auto putBytes = [&](const std::string &s) {
    put32(out, uint32_t(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  };
  putBytes(t.model);
  put32(out, uint32_t(t.bos));
  put32(out, uint32_t(t.eos));
  put32(out, uint32_t(t.tokens.size()));
  put32(out, t.types.empty() ? 0 : 1);
  for (size_t i = 0; i < t.tokens.size(); ++i) {
    uint32_t score;
    float f = i < t.scores.size() ? t.scores[i] : 0.0f;
    std::memcpy(&score, &f, 4);
    put32(out, score);
    if (!t.types.empty())
      put32(out, uint32_t(t.types[i]));
    putBytes(t.tokens[i]);
  }
  return out;
}

Result<model::TokenizerData> decodeTokenizer(const uint8_t *data,
                                             uint64_t size) {
  uint64_t at = 0;
  auto need = [&](uint64_t n) { return n <= size - at; };
  auto u32 = [&](uint32_t &v) {
    if (!need(4))
      return false;
    v = get32(data + at);
    at += 4;
    return true;
  };
  auto bytes = [&](std::string &s) {
    uint32_t n;
    if (!u32(n) || !need(n))
      return false;
    s.assign(reinterpret_cast<const char *>(data + at), n);
    at += n;
    return true;
  };
  model::TokenizerData t;
  uint32_t bos, eos, count, hasTypes;
  if (!bytes(t.model) || !u32(bos) || !u32(eos) || !u32(count) ||
      !u32(hasTypes) || hasTypes > 1)
    return Status::error("tokenizer: truncated or malformed header");
  // Each token takes at least 8 bytes, which bounds `count` by the size.
  if (count > (size - at) / 8)
    return Status::error(fmt::format(
        "tokenizer: {} tokens cannot fit in {} bytes", count, size));
  t.bos = int32_t(bos);
  t.eos = int32_t(eos);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t score, type = 0;
    std::string token;
    if (!u32(score) || (hasTypes && !u32(type)) || !bytes(token))
      return Status::error(
          fmt::format("tokenizer: token {} runs past the section", i));
    float f;
    std::memcpy(&f, &score, 4);
    t.scores.push_back(f);
    if (hasTypes)
      t.types.push_back(int32_t(type));
    t.tokens.push_back(std::move(token));
  }
  if (at != size)
    return Status::error("tokenizer: bytes after the last token");
  if (t.bos < 0 || t.bos >= int32_t(count) || t.eos < 0 ||
      t.eos >= int32_t(count))
    return Status::error("tokenizer: BOS or EOS is not a token");
  return t;
}

namespace {

/// The sections before the weights: manifest, programs, tokenizer.
Status addHead(AnepakWriter &writer, const abi::KernelSet &kernels,
               const std::optional<model::TokenizerData> &tokenizer) {
  if (Status s =
          writer.add(SectionKind::Manifest, 0, abi::writeManifest(kernels));
      !s.ok())
    return s;
  for (size_t i = 0; i < kernels.programs.size(); ++i)
    if (Status s =
            writer.add(SectionKind::Program, int64_t(i), kernels.programs[i]);
        !s.ok())
      return s;
  if (!tokenizer)
    return Status::success();
  std::vector<uint8_t> tok = encodeTokenizer(*tokenizer);
  if (Status s = writer.add(SectionKind::Tokenizer, 0, tok.data(), tok.size());
      !s.ok())
    return s;
  if (tokenizer->chatTemplate.empty())
    return Status::success();
  return writer.add(SectionKind::ChatTemplate, 0, tokenizer->chatTemplate);
}

} // namespace

Status writeAnepakImage(const std::string &path, const ModelImage &image) {
  auto writer = AnepakWriter::create(path);
  if (!writer.ok())
    return writer.status();
  if (Status s = addHead(*writer, image.kernels, image.tokenizer); !s.ok())
    return s;
  auto add = [&](SectionKind kind, int64_t index, Bytes b) {
    return writer->add(kind, index, b.data, b.size);
  };
  if (Status s = add(SectionKind::Embedding, 0, image.embedding); !s.ok())
    return s;
  if (Status s = add(SectionKind::GlobalSegment, 0, image.globalSegment);
      !s.ok())
    return s;
  for (size_t l = 0; l < image.layerSegments.size(); ++l)
    if (Status s =
            add(SectionKind::LayerSegment, int64_t(l), image.layerSegments[l]);
        !s.ok())
      return s;
  return writer->finish();
}

Status writeAnepak(const std::string &path, const model::ModelSpec &spec,
                   const abi::KernelSet &kernels, const PackProgress &progress,
                   int threads) {
  auto writer = AnepakWriter::create(path);
  if (!writer.ok())
    return writer.status();
  if (Status s = addHead(*writer, kernels, spec.tokenizer); !s.ok())
    return s;
  // Each piece is written (checksummed and copied into the page cache) on a
  // thread of its own while the next one is packed; the sink hands back the
  // buffer written before, which the packer reuses. Writing took a third of
  // a 7B's packing time, all of it on the packer's critical path.
  std::vector<uint8_t> writing;
  std::future<Status> written;
  auto finishWrite = [&] {
    return written.valid() ? written.get() : Status::success();
  };
  Status packed = packModel(
      spec, kernels,
      [&](SectionKind kind, int64_t index, std::vector<uint8_t> &&bytes) {
        if (Status s = finishWrite(); !s.ok())
          return s;
        std::swap(writing, bytes);
        written =
            std::async(std::launch::async, [&writer, &writing, kind, index] {
              return writer->add(kind, index, writing.data(), writing.size());
            });
        return Status::success();
      },
      progress, threads);
  Status last = finishWrite();
  if (!packed.ok())
    return packed;
  if (!last.ok())
    return last;
  return writer->finish();
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

namespace {

struct Section {
  SectionKind kind;
  int64_t index;
  const uint8_t *data;
  uint64_t size;
};

/// The header and section table, checked, with every section's checksum
/// (only the manifest's with `manifestOnly`).
Result<std::vector<Section>> readTable(const uint8_t *data, uint64_t size,
                                       const std::string &name,
                                       const MappedFile *mapped,
                                       bool manifestOnly = false) {
  auto fail = [&](const std::string &what) {
    return Status::error(fmt::format("{}: {}", name, what));
  };
  if (size < kHeaderBytes)
    return fail(
        fmt::format("truncated: {} bytes is less than the header", size));
  if (std::memcmp(data, kAnepakMagic, 8) != 0)
    return fail("not a .anepak file (bad magic)");
  if (checksum(data, 48) != get64(data + 48))
    return fail("header: checksum mismatch");
  uint32_t version = get32(data + 8);
  if (version != kAnepakVersion)
    return fail(fmt::format("header: version {} is not supported (this "
                            "build reads version {})",
                            version, kAnepakVersion));
  uint64_t count = get32(data + 12), tableOffset = get64(data + 16),
           fileBytes = get64(data + 24);
  if (fileBytes != size)
    return fail(fmt::format("truncated or padded: the header says {} bytes, "
                            "the file has {}",
                            fileBytes, size));
  if (count > kMaxSections || tableOffset < kHeaderBytes ||
      tableOffset > size || count * kEntryBytes > size - tableOffset)
    return fail(fmt::format("header: a table of {} sections at offset {} "
                            "does not fit",
                            count, tableOffset));
  const uint8_t *table = data + tableOffset;
  if (checksum(table, count * kEntryBytes) != get64(data + 32))
    return fail("section table: checksum mismatch");
  std::vector<Section> sections;
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t *e = table + i * kEntryBytes;
    auto kind = SectionKind(get32(e));
    auto index = int64_t(get64(e + 8));
    uint64_t offset = get64(e + 16), bytes = get64(e + 24);
    std::string what = sectionName(kind, index);
    if (get32(e) < uint32_t(SectionKind::Manifest) ||
        get32(e) > uint32_t(SectionKind::ChatTemplate))
      return fail(
          fmt::format("section table entry {}: unknown kind {}", i, get32(e)));
    if (offset < kHeaderBytes || offset > tableOffset ||
        bytes > tableOffset - offset)
      return fail(fmt::format("{}: {} bytes at offset {} run outside the "
                              "section area",
                              what, bytes, offset));
    if (isSegment(kind) && offset % kSegmentAlignment != 0)
      return fail(
          fmt::format("{}: offset {} is not page-aligned", what, offset));
    bool verify = !manifestOnly || kind == SectionKind::Manifest;
    if (verify &&
        checksumReleasing(data + offset, bytes, mapped) != get64(e + 32))
      return fail(
          fmt::format("{}: checksum mismatch (the file is damaged)", what));
    sections.push_back({kind, index, data + offset, bytes});
  }
  return sections;
}

/// The kernel set the one manifest section holds.
Result<abi::KernelSet> manifestOf(const std::vector<Section> &table,
                                  const std::string &name) {
  const Section *manifest = nullptr;
  for (const Section &s : table)
    if (s.kind == SectionKind::Manifest)
      manifest = manifest ? nullptr : &s;
  if (!manifest)
    return Status::error(
        fmt::format("{}: there must be exactly one manifest section", name));
  return abi::readManifest(
      std::string_view(reinterpret_cast<const char *>(manifest->data),
                       manifest->size),
      name + ": manifest");
}

/// readAnepak; `mapped`, when `data` is that file's mapping, lets the
/// checksum pass release the pages it reads.
Result<ModelImage> readImage(const uint8_t *data, uint64_t size,
                             const std::string &name,
                             const MappedFile *mapped) {
  auto table = readTable(data, size, name, mapped);
  if (!table.ok())
    return table.status();
  auto fail = [&](const std::string &what) {
    return Status::error(fmt::format("{}: {}", name, what));
  };
  auto kernels = manifestOf(*table, name);
  if (!kernels.ok())
    return kernels.status();
  ModelImage image;
  image.kernels = std::move(*kernels);
  const abi::KernelSet &ks = image.kernels;
  const model::Config &c = ks.config;
  std::vector<bool> programSeen(ks.programs.size(), false);
  image.layerSegments.assign(size_t(c.nLayers), Bytes{});
  std::vector<bool> layerSeen(size_t(c.nLayers), false);
  bool globalSeen = false, embeddingSeen = false;
  std::optional<std::string> chatTemplate;
  uint64_t rowBytes = uint64_t(c.dim) * (ks.dtype == abi::DType::FP32 ? 4 : 2);
  for (const Section &s : *table) {
    std::string what = sectionName(s.kind, s.index);
    switch (s.kind) {
    case SectionKind::Manifest:
      break;
    case SectionKind::Program:
      if (s.index < 0 || s.index >= int64_t(ks.programs.size()) ||
          programSeen[s.index])
        return fail(what + ": not a program the manifest lists, or repeated");
      programSeen[s.index] = true;
      image.kernels.programs[s.index].assign(
          reinterpret_cast<const char *>(s.data), s.size);
      break;
    case SectionKind::Tokenizer: {
      auto t = decodeTokenizer(s.data, s.size);
      if (!t.ok())
        return fail(t.message());
      image.tokenizer = std::move(*t);
      break;
    }
    case SectionKind::ChatTemplate:
      if (chatTemplate)
        return fail("two chat templates");
      chatTemplate.emplace(reinterpret_cast<const char *>(s.data), s.size);
      break;
    case SectionKind::Embedding:
      if (embeddingSeen || s.size != uint64_t(c.vocabSize) * rowBytes)
        return fail(fmt::format("{}: {} bytes, the manifest needs {} x {}",
                                what, s.size, c.vocabSize, rowBytes));
      embeddingSeen = true;
      image.embedding = {s.data, s.size};
      break;
    case SectionKind::GlobalSegment:
      if (globalSeen || s.size != ks.globalSegmentBytes)
        return fail(fmt::format("{}: {} bytes, the manifest says {}", what,
                                s.size, ks.globalSegmentBytes));
      globalSeen = true;
      image.globalSegment = {s.data, s.size};
      break;
    case SectionKind::LayerSegment:
      if (s.index < 0 || s.index >= c.nLayers || layerSeen[s.index] ||
          s.size != ks.layerSegmentBytes)
        return fail(fmt::format("{}: not a layer of the model, repeated, or "
                                "not {} bytes",
                                what, ks.layerSegmentBytes));
      layerSeen[s.index] = true;
      image.layerSegments[s.index] = {s.data, s.size};
      break;
    }
  }
  for (size_t i = 0; i < programSeen.size(); ++i)
    if (!programSeen[i])
      return fail(fmt::format("program {} is missing", i));
  for (size_t l = 0; l < layerSeen.size(); ++l)
    if (!layerSeen[l])
      return fail(fmt::format("layer {} segment is missing", l));
  if (!globalSeen || !embeddingSeen)
    return fail("the global segment or the embedding is missing");
  if (chatTemplate) {
    if (!image.tokenizer)
      return fail("a chat template without a tokenizer");
    image.tokenizer->chatTemplate = std::move(*chatTemplate);
  }
  return image;
}

} // namespace

Result<ModelImage> readAnepak(const uint8_t *data, uint64_t size,
                              const std::string &name) {
  return readImage(data, size, name, nullptr);
}

void resealAnepak(uint8_t *data, uint64_t size) {
  if (size < kHeaderBytes)
    return;
  uint64_t count = get32(data + 12), table = get64(data + 16);
  if (table <= size && count <= (size - table) / kEntryBytes) {
    for (uint64_t i = 0; i < count; ++i) {
      uint8_t *e = data + table + i * kEntryBytes;
      uint64_t offset = get64(e + 16), bytes = get64(e + 24);
      if (offset <= size && bytes <= size - offset) {
        uint64_t sum = checksum(data + offset, bytes);
        std::memcpy(e + 32, &sum, 8);
      }
    }
    uint64_t sum = checksum(data + table, count * kEntryBytes);
    std::memcpy(data + 32, &sum, 8);
  }
  uint64_t sum = checksum(data, 48);
  std::memcpy(data + 48, &sum, 8);
}

bool hasAnepakMagic(const std::string &path) {
  // Only regular files: opening a FIFO would block, a device read forever.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return false;
  char magic[8] = {};
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return false;
  bool yes =
      std::fread(magic, 1, 8, f) == 8 && !std::memcmp(magic, kAnepakMagic, 8);
  std::fclose(f);
  return yes;
}

Result<abi::KernelSet> readAnepakManifest(const std::string &path) {
  auto file = MappedFile::open(path);
  if (!file.ok())
    return file.status();
  auto table = readTable((*file)->data(), (*file)->size(), path, file->get(),
                         /*manifestOnly=*/true);
  if (!table.ok())
    return table.status();
  return manifestOf(*table, path);
}

Result<ModelImage> openAnepak(const std::string &path) {
  auto file = MappedFile::open(path);
  if (!file.ok())
    return file.status();
  // The checksums read every page once; what a run reads again (weights,
  // a few embedding rows) comes back as it is read.
  auto image = readImage((*file)->data(), (*file)->size(), path, file->get());
  if (!image.ok())
    return image.status();
  image->owner = *file;
  image->mapped = file->get();
  return image;
}

} // namespace ane::runtime
