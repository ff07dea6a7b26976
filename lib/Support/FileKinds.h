//===- FileKinds.h - what a file is, by its first bytes ---------*- C++ -*-===//
//
// The magics of the formats the tools read, in one place, and a short
// rendering of a file's first bytes for messages about files that are none
// of them. Header-only, plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SUPPORT_FILEKINDS_H
#define ANE_LIB_SUPPORT_FILEKINDS_H

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace ane {

inline constexpr char kGgufMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr char kAnepakMagic[8] = {'A', 'N', 'E',  'P',
                                         'A', 'K', '\r', '\n'};

inline bool startsWith(const uint8_t *data, uint64_t size, const char *magic,
                       size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

/// Up to the first 8 bytes, as text where printable and as hex:
/// `"prog" (70 72 6f 67)`.
inline std::string describeStart(const uint8_t *data, uint64_t size) {
  if (size == 0)
    return "nothing (the file is empty)";
  std::string text, hex;
  for (uint64_t i = 0; i < size && i < 8; ++i) {
    char c = char(data[i]);
    text += c >= 0x20 && c < 0x7f ? c : '.';
    char h[4];
    std::snprintf(h, sizeof(h), "%s%02x", i ? " " : "", data[i]);
    hex += h;
  }
  return "\"" + text + "\" (" + hex + ")";
}

inline bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

} // namespace ane

#endif // ANE_LIB_SUPPORT_FILEKINDS_H
