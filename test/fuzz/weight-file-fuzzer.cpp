//===- weight-file-fuzzer.cpp - libFuzzer target for weight.bin -----------===//

#include "lib/MIL/WeightFile.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto reader =
      ane::mil::WeightReader::fromBuffer(data, size, "fuzz.bin", nullptr);
  if (!reader.ok())
    return 0;
  auto blobs = reader->blobs();
  if (!blobs.ok())
    return 0;
  for (const ane::mil::BlobView &b : *blobs) {
    if (b.dataOffset + b.size > size)
      std::abort();
    int bits = ane::mil::blobBits(b.dtype);
    if (bits < 8)
      ane::mil::unpackSubByte(b.data, b.elementCount(), bits, false);
  }
  return 0;
}
