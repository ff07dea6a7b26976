//===- AnepakTest.cpp - .anepak round trip and damaged files --------------===//

#include "lib/Runtime/Anepak.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Support/Float16.h"
#include "lib/Support/MappedFile.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include <sys/statvfs.h>
#include <unistd.h>

using namespace ane;
using namespace ane::runtime;

namespace {

/// A two-layer kernel set with one dense slot per segment; the reader checks
/// the manifest and the sections, not the programs, so these stay short.
::ane::abi::KernelSet tinyKernelSet() {
  ::ane::abi::KernelSet ks;
  model::Config &c = ks.config;
  c.dim = 8;
  c.nLayers = 2;
  c.nHeads = 2;
  c.nKvHeads = 1;
  c.headDim = 4;
  c.hiddenDim = 16;
  c.vocabSize = 5;
  c.maxSeqLen = 32;
  ks.dtype = ::ane::abi::DType::FP16;
  ::ane::abi::SlotSpec layer;
  layer.role = "attn_out";
  layer.segment = ::ane::abi::Segment::Layer;
  layer.scheme = ::ane::abi::Scheme::F16;
  layer.shape = {8, 8};
  layer.blobs = {{mil::DType::FP16, {8, 8, 1, 1}, 64}};
  ::ane::abi::SlotSpec global = layer;
  global.role = "output";
  global.segment = ::ane::abi::Segment::Global;
  global.shape = {5, 8};
  global.blobs = {{mil::DType::FP16, {5, 8, 1, 1}, 64}};
  ks.slots = {layer, global};
  ks.layerSegmentBytes = 64 + 64 + 8 * 8 * 2;
  ks.globalSegmentBytes = 64 + 64 + 5 * 8 * 2;
  ks.programs = {"program(1.3)\n[buildInfo = dict<string, string>({})]\n{}\n"};
  ::ane::abi::KernelDesc k;
  k.kernel = ::ane::abi::Kernel::AttnOut;
  k.weights = {"attn_out"};
  ks.kernels = {k};
  return ks;
}

std::vector<uint8_t> segment(int64_t rows, float base) {
  mil::WeightWriter w;
  std::vector<uint16_t> h(rows * 8);
  for (size_t i = 0; i < h.size(); ++i)
    h[i] = uint16_t(0x3C00 + i + uint16_t(base));
  w.append(mil::BlobDType::Float16, h.data(), h.size() * 2);
  return w.bytes();
}

model::TokenizerData tinyTokenizer() {
  model::TokenizerData t;
  t.tokens = {"<unk>", "<s>", "</s>", " a", "b\n\"q\""};
  t.scores = {0, 0, 0, -1.5f, -2.25f};
  t.types = {2, 3, 3, 1, 1};
  return t;
}

/// Writes the tiny model to `path` and returns its bytes.
std::vector<uint8_t> writeTiny(const std::string &path) {
  ::ane::abi::KernelSet ks = tinyKernelSet();
  auto w = AnepakWriter::create(path);
  EXPECT_TRUE(w.ok()) << w.message();
  EXPECT_TRUE(
      w->add(SectionKind::Manifest, 0, ::ane::abi::writeManifest(ks)).ok());
  EXPECT_TRUE(w->add(SectionKind::Program, 0, ks.programs[0]).ok());
  std::vector<uint8_t> tok = encodeTokenizer(tinyTokenizer());
  EXPECT_TRUE(w->add(SectionKind::Tokenizer, 0, tok.data(), tok.size()).ok());
  std::vector<uint8_t> emb(5 * 8 * 2, 7);
  EXPECT_TRUE(w->add(SectionKind::Embedding, 0, emb.data(), emb.size()).ok());
  std::vector<uint8_t> g = segment(5, 0);
  EXPECT_TRUE(w->add(SectionKind::GlobalSegment, 0, g.data(), g.size()).ok());
  for (int l = 0; l < 2; ++l) {
    std::vector<uint8_t> s = segment(8, float(l + 1));
    EXPECT_TRUE(w->add(SectionKind::LayerSegment, l, s.data(), s.size()).ok());
  }
  Status done = w->finish();
  EXPECT_TRUE(done.ok()) << done.message();
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string tempPath(const char *name) { return ::testing::TempDir() + name; }

/// The section table entry `i` of a file's bytes: offset and size.
std::pair<uint64_t, uint64_t> entry(const std::vector<uint8_t> &bytes, int i) {
  uint64_t table = 0, off = 0, size = 0;
  std::memcpy(&table, &bytes[16], 8);
  std::memcpy(&off, &bytes[table + 48 * i + 16], 8);
  std::memcpy(&size, &bytes[table + 48 * i + 24], 8);
  return {off, size};
}

TEST(AnepakTest, RoundTripsEverySection) {
  std::string path = tempPath("tiny.anepak");
  std::vector<uint8_t> bytes = writeTiny(path);
  auto image = openAnepak(path);
  ASSERT_TRUE(image.ok()) << image.message();
  ::ane::abi::KernelSet want = tinyKernelSet();
  EXPECT_EQ(::ane::abi::writeManifest(image->kernels),
            ::ane::abi::writeManifest(want));
  EXPECT_EQ(image->kernels.programs, want.programs);
  ASSERT_TRUE(image->tokenizer);
  EXPECT_EQ(image->tokenizer->tokens, tinyTokenizer().tokens);
  EXPECT_EQ(image->tokenizer->scores, tinyTokenizer().scores);
  EXPECT_EQ(image->tokenizer->types, tinyTokenizer().types);
  ASSERT_EQ(image->layerSegments.size(), 2u);
  std::vector<uint8_t> l1 = segment(8, 2);
  EXPECT_EQ(std::vector<uint8_t>(image->layerSegments[1].data,
                                 image->layerSegments[1].data + l1.size()),
            l1);
  // Segments start on their own 16 KiB pages of the mapping.
  auto base = static_cast<const uint8_t *>(
      std::static_pointer_cast<const MappedFile>(image->owner)->data());
  for (const Bytes &s : image->layerSegments)
    EXPECT_EQ((s.data - base) % kSegmentAlignment, 0u);
  EXPECT_EQ((image->globalSegment.data - base) % kSegmentAlignment, 0u);
  EXPECT_FALSE(std::ifstream(path + ".partial").good());
}

/// An image written back (the pack cache's copy of weights packed in
/// memory) is the file it was read from, byte for byte.
TEST(AnepakTest, AnImageWritesBackToTheSameBytes) {
  std::string path = tempPath("back.anepak");
  std::vector<uint8_t> bytes = writeTiny(path);
  auto image = openAnepak(path);
  ASSERT_TRUE(image.ok()) << image.message();
  std::string again = tempPath("back-again.anepak");
  Status written = writeAnepakImage(again, *image);
  ASSERT_TRUE(written.ok()) << written.message();
  std::ifstream in(again, std::ios::binary);
  EXPECT_EQ(std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {}),
            bytes);
}

TEST(AnepakTest, TruncatedFilesSayWhatIsMissing) {
  std::vector<uint8_t> bytes = writeTiny(tempPath("t.anepak"));
  for (size_t keep : {size_t(0), size_t(10), size_t(64), bytes.size() / 2,
                      bytes.size() - 1}) {
    auto image = readAnepak(bytes.data(), keep, "t.anepak");
    ASSERT_FALSE(image.ok()) << keep;
    EXPECT_NE(image.message().find("truncated"), std::string::npos)
        << image.message();
    EXPECT_EQ(image.message().rfind("t.anepak: ", 0), 0u) << image.message();
  }
}

TEST(AnepakTest, ADamagedSectionIsNamed) {
  std::vector<uint8_t> bytes = writeTiny(tempPath("d.anepak"));
  const char *names[] = {"manifest",       "program 0",      "tokenizer",
                         "embedding",      "global segment", "layer 0 segment",
                         "layer 1 segment"};
  for (int i = 0; i < 7; ++i) {
    std::vector<uint8_t> damaged = bytes;
    auto [off, size] = entry(bytes, i);
    damaged[off + size / 2] ^= 0x40;
    auto image = readAnepak(damaged.data(), damaged.size(), "d");
    ASSERT_FALSE(image.ok()) << names[i];
    EXPECT_EQ(image.message(), std::string("d: ") + names[i] +
                                   ": checksum mismatch (the file is damaged)");
  }
  std::vector<uint8_t> header = bytes;
  header[9] ^= 1; // the version, under the header checksum
  EXPECT_EQ(readAnepak(header.data(), header.size(), "d").message(),
            "d: header: checksum mismatch");
  std::vector<uint8_t> magic = bytes;
  magic[0] = 'X';
  EXPECT_EQ(readAnepak(magic.data(), magic.size(), "d").message(),
            "d: not a .anepak file (bad magic)");
}

/// readAnepakManifest checks the header, the table and the manifest, and
/// reads no weights: damage in a layer segment passes, damage in the
/// manifest does not.
TEST(AnepakTest, TheManifestAloneSkipsTheWeights) {
  std::string path = tempPath("m.anepak");
  std::vector<uint8_t> bytes = writeTiny(path);
  auto kernels = readAnepakManifest(path);
  ASSERT_TRUE(kernels.ok()) << kernels.message();
  EXPECT_EQ(::ane::abi::writeManifest(*kernels),
            ::ane::abi::writeManifest(tinyKernelSet()));

  auto rewrite = [&](int section) {
    std::vector<uint8_t> damaged = bytes;
    auto [off, size] = entry(bytes, section);
    damaged[off + size / 2] ^= 0x40;
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char *>(damaged.data()),
               std::streamsize(damaged.size()));
  };
  rewrite(5); // layer 0 segment
  EXPECT_TRUE(readAnepakManifest(path).ok());
  EXPECT_FALSE(openAnepak(path).ok());
  rewrite(0); // the manifest
  EXPECT_EQ(readAnepakManifest(path).message(),
            path + ": manifest: checksum mismatch (the file is damaged)");
  std::ofstream(path, std::ios::binary | std::ios::trunc).write("ANEPAK", 6);
  EXPECT_NE(readAnepakManifest(path).message().find("truncated"),
            std::string::npos);
}

#if defined(__linux__)
/// Resident kB of this process's mapping that holds p (/proc/self/smaps).
int64_t residentKb(const void *p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo, hi;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2)
      inside = lo <= uintptr_t(p) && uintptr_t(p) < hi;
    else if (inside && line.rfind("Rss:", 0) == 0)
      return std::stoll(line.substr(4));
  }
  return -1;
}

/// The folders the resident-set tests run in: the test temp folder and
/// /dev/shm (tmpfs) where there is one, as their page caches map files in
/// different units (pages, or large folios of up to 2 MiB).
std::vector<std::string> residentTestDirs() {
  std::vector<std::string> dirs = {::testing::TempDir()};
  struct statvfs fs;
  if (::statvfs("/dev/shm", &fs) == 0 &&
      uint64_t(fs.f_bavail) * fs.f_frsize >= (uint64_t(256) << 20))
    dirs.push_back("/dev/shm/");
  else
    std::printf("no /dev/shm with 256 MiB free (a container's is often "
                "64 MiB): the tmpfs case of the resident-set tests does not "
                "run\n");
  return dirs;
}

/// Writes `size` bytes of `value` to `path`; "" if that failed.
std::string writeBytes(const std::string &path, size_t size, uint8_t value) {
  std::vector<uint8_t> bytes(size, value);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            std::streamsize(bytes.size()));
  out.close();
  return out ? path : "";
}

/// The kB one read byte maps in, measured: a page, or a whole folio.
int64_t residentGrainKb(const std::string &dir) {
  std::string path = writeBytes(dir + "ane-grain.bin", 8 << 20, 1);
  EXPECT_FALSE(path.empty()) << "cannot write to " << dir;
  if (path.empty())
    return -1;
  auto file = MappedFile::open(path);
  EXPECT_TRUE(file.ok()) << file.message();
  if (!file.ok())
    return -1;
  int64_t before = residentKb((*file)->data());
  (void)*reinterpret_cast<const volatile uint8_t *>((*file)->data() +
                                                    (3 << 20) + 1);
  int64_t grain = residentKb((*file)->data()) - before;
  ::unlink(path.c_str());
  return std::max<int64_t>(grain, 4);
}

/// Rows looked up from a mapped table come out right and leave the
/// resident set as they go: a prompt that touches every row of a 64 MiB
/// table keeps no more than a couple of folios of it mapped (all of it
/// without the release). Folios of 2 MiB were measured on ext4 here, and
/// 64 KB of fault-around on tmpfs.
TEST(AnepakTest, EmbeddingRowsLeaveTheResidentSet) {
  const int64_t dim = 1024, vocab = 32768, tableKb = dim * vocab * 2 / 1024;
  std::vector<uint16_t> table(dim * vocab);
  for (size_t i = 0; i < table.size(); ++i)
    table[i] = floatToHalfBits(float(i % 977) / 8);
  for (const std::string &dir : residentTestDirs()) {
    int64_t grain = residentGrainKb(dir);
    ASSERT_GT(grain, 0) << dir;
    int64_t bound = std::max<int64_t>(256, 2 * grain);
    ASSERT_LT(bound, tableKb / 4) << dir << ": folios too large to tell";
    std::string path = dir + "ane-table.bin";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(table.data()),
              std::streamsize(table.size() * 2));
    out.close();
    ASSERT_TRUE(out) << "cannot write " << path;
    auto file = MappedFile::open(path);
    ASSERT_TRUE(file.ok()) << file.message();
    ModelImage image;
    image.kernels.config.dim = dim;
    image.kernels.dtype = ::ane::abi::DType::FP16;
    image.embedding = {(*file)->data(), (*file)->size()};
    image.mapped = file->get();
    int64_t before = residentKb((*file)->data());
    ASSERT_GE(before, 0);
    for (int32_t t = 0; t < vocab; ++t) {
      std::vector<float> row = embeddingRow(image, t);
      ASSERT_EQ(row.size(), size_t(dim));
      ASSERT_EQ(row[t % dim], halfBitsToFloat(table[t * dim + t % dim])) << t;
    }
    EXPECT_LT(residentKb((*file)->data()) - before, bound)
        << dir << " (a read maps " << grain << " kB)";
    ::unlink(path.c_str());
  }
}

/// populate maps a range's pages in up front (the engine does it for the
/// weights decode reads), release takes them out again, and ranges outside
/// the mapping are ignored. A range maps in whole, with at most a folio
/// more at each end.
TEST(AnepakTest, PopulateMapsARangeAndReleaseUnmapsIt) {
  for (const std::string &dir : residentTestDirs()) {
    int64_t grain = residentGrainKb(dir);
    ASSERT_GT(grain, 0) << dir;
    int64_t bound = std::max<int64_t>(256, 2 * grain);
    std::string path = writeBytes(dir + "ane-populate.bin", 8 << 20, 7);
    ASSERT_FALSE(path.empty()) << "cannot write to " << dir;
    auto file = MappedFile::open(path);
    ASSERT_TRUE(file.ok()) << file.message();
    const MappedFile &f = **file;
    int64_t before = residentKb(f.data());
    ASSERT_GE(before, 0);
    EXPECT_LT(before, bound) << dir << ": nothing is read yet";
    f.populate(f.data() + (3 << 20), 1 << 20);
    int64_t populated = residentKb(f.data()) - before;
    EXPECT_GE(populated, 1024) << dir;
    EXPECT_LE(populated, 1024 + 2 * grain)
        << dir << ": only the range and its folios";
    f.release(f.data(), f.size());
    EXPECT_LT(residentKb(f.data()), bound) << dir;
    uint8_t outside[64] = {};
    f.populate(outside, sizeof outside);
    f.populate(f.data() + f.size() - 10, 20);
    EXPECT_LT(residentKb(f.data()), bound) << dir;
    ::unlink(path.c_str());
  }
}

/// readIntoHugePages moves the 2 MiB pages inside a range into anonymous
/// memory with the file's bytes, at the same addresses; release() then
/// leaves them alone (dropping anonymous pages would zero them), and a
/// file that shrank is named in the error with the range left mapped.
TEST(AnepakTest, HugePagesHoldTheFilesBytesAndSurviveRelease) {
  const size_t size = (9 << 20) + 4321;
  std::vector<uint8_t> bytes(size);
  uint64_t state = 7;
  for (uint8_t &b : bytes)
    b = uint8_t((state = state * 6364136223846793005ull + 1) >> 56);
  std::string path = ::testing::TempDir() + "ane-huge.bin";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()),
              std::streamsize(size));
    ASSERT_TRUE(out) << "cannot write " << path;
  }
  auto file = MappedFile::open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  const MappedFile &f = **file;
  auto moved = f.readIntoHugePages(f.data() + 1000, size - 3000, 3);
  ASSERT_TRUE(moved.ok()) << moved.message();
  // At least the 2 MiB pages wholly inside the range, whatever its start.
  EXPECT_GE(*moved, size_t(4) << 20);
  EXPECT_EQ(*moved % (size_t(2) << 20), 0u);
  EXPECT_EQ(f.hugePageBytes(), *moved);
  EXPECT_EQ(std::memcmp(f.data(), bytes.data(), size), 0);
  f.release(f.data(), f.size());
  EXPECT_EQ(std::memcmp(f.data(), bytes.data(), size), 0)
      << "release() dropped anonymous pages";
  auto outside = f.readIntoHugePages(bytes.data(), 100, 1);
  ASSERT_TRUE(outside.ok());
  EXPECT_EQ(*outside, 0u);

  auto shrinking = MappedFile::open(path);
  ASSERT_TRUE(shrinking.ok()) << shrinking.message();
  ASSERT_EQ(::truncate(path.c_str(), 1 << 20), 0);
  // Nothing past the new end is touched here: it would raise SIGBUS.
  auto failed =
      (*shrinking)
          ->readIntoHugePages((*shrinking)->data() + (4 << 20), 4 << 20, 2);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find(path), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find("shorter"), std::string::npos)
      << failed.message();
  EXPECT_EQ((*shrinking)->hugePageBytes(), 0u);
  ::unlink(path.c_str());
}
#endif

TEST(AnepakTest, ManifestErrorsNameTheField) {
  ::ane::abi::KernelSet ks = tinyKernelSet();
  std::string good = ::ane::abi::writeManifest(ks);
  auto ok = ::ane::abi::readManifest(good, "m");
  ASSERT_TRUE(ok.ok()) << ok.message();
  struct Case {
    std::string from, to, message;
  } cases[] = {
      {"\"dtype\":\"fp16\",\"scheme\"", "\"dtype\":\"fp13\",\"scheme\"",
       "m.dtype: unknown dtype 'fp13'"},
      {"\"n_heads\":2", "\"n_heads\":3",
       "m: config: n_heads 3 does not divide dim 8"},
      {"\"offset\":64,\"dtype\":\"fp16\",\"shape\":[5",
       "\"offset\":4096,\"dtype\":\"fp16\",\"shape\":[5",
       "m: weight slot 'output': blob at 4096 ends past the 208-byte segment"},
      {"\"program\":0", "\"program\":1",
       "m: kernel 'attn_out': program 1 of 1"},
      {"\"weights\":[\"attn_out\"]", "\"weights\":[\"ffn_up\"]",
       "m: kernel 'attn_out' reads unknown weight 'ffn_up'"},
      {"\"version\":2", "\"version\":7",
       "m.version: version 7 is not supported"},
      {"\"shape\":[8,8,1,1]", "\"shape\":[8,\"8\",1,1]",
       "m.slots[0].blobs[0].shape: expected an array of integers"},
  };
  for (const Case &c : cases) {
    std::string text = good;
    size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto bad = ::ane::abi::readManifest(text, "m");
    ASSERT_FALSE(bad.ok()) << c.to;
    EXPECT_EQ(bad.message(), c.message);
  }
}

TEST(AnepakTest, TokenizerSectionRejectsBadLengths) {
  std::vector<uint8_t> good = encodeTokenizer(tinyTokenizer());
  for (size_t keep = 0; keep < good.size(); ++keep)
    EXPECT_FALSE(decodeTokenizer(good.data(), keep).ok()) << keep;
  std::vector<uint8_t> huge = good;
  huge[4 + 5 + 8] = 0xFF; // the token count
  huge[4 + 5 + 9] = 0xFF;
  EXPECT_NE(decodeTokenizer(huge.data(), huge.size())
                .message()
                .find("cannot "
                      "fit"),
            std::string::npos);
}

/// Random damage inside the sections. Without resealing, the checksums
/// catch every case; with every checksum recomputed, the damage reaches the
/// manifest, program and tokenizer readers, which must end in a clean error
/// or a valid image, never a crash (ASan runs this too).
TEST(AnepakTest, RandomDamageNeverCrashes) {
  std::vector<uint8_t> bytes = writeTiny(tempPath("r.anepak"));
  std::mt19937 rng(1234);
  int caught = 0, resealedRejected = 0;
  const int iterations = 3000;
  for (int iter = 0; iter < iterations; ++iter) {
    std::vector<uint8_t> d = bytes;
    bool reseal = iter % 2 == 1;
    // Resealed damage goes to the first three sections (manifest, program,
    // tokenizer); the others are bytes the engine checks on use.
    auto [off, size] = entry(bytes, int(rng() % (reseal ? 3 : 7)));
    for (int f = 0, flips = 1 + int(rng() % 4); f < flips; ++f)
      d[off + rng() % size] ^= uint8_t(1 + rng() % 255);
    if (reseal)
      resealAnepak(d.data(), d.size());
    auto image = readAnepak(d.data(), d.size(), "r");
    if (!reseal)
      caught += !image.ok();
    else
      resealedRejected += !image.ok();
  }
  EXPECT_EQ(caught, iterations / 2);
  EXPECT_GT(resealedRejected, 0);
}

} // namespace
