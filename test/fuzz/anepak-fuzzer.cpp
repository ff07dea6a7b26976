//===- anepak-fuzzer.cpp - libFuzzer target for .anepak files -------------===//
//
// Inputs whose last byte is odd get every checksum recomputed first, so
// that mutations reach the manifest JSON and tokenizer readers instead of
// stopping at a checksum mismatch.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Anepak.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size && (data[size - 1] & 1))
    ane::runtime::resealAnepak(bytes.data(), bytes.size());
  auto image = ane::runtime::readAnepak(bytes.data(), bytes.size(), "fuzz");
  if (!image.ok())
    return 0;
  const uint8_t *end = bytes.data() + bytes.size();
  auto inside = [&](const ane::runtime::Bytes &b) {
    return b.data >= bytes.data() && b.size <= uint64_t(end - b.data);
  };
  for (const ane::runtime::Bytes &s : image->layerSegments)
    if (!inside(s))
      std::abort();
  if (!inside(image->globalSegment) || !inside(image->embedding))
    std::abort();
  return 0;
}
