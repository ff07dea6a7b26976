//===- TextStream.cpp - generated pieces to text a client is sent ---------===//

#include "lib/Serve/TextStream.h"

#include <algorithm>

namespace ane::serve {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

/// The length of the character a lead byte starts (0: not a lead byte).
size_t charLength(unsigned char b) {
  if (b < 0x80)
    return 1;
  if (b >= 0xC2 && b <= 0xDF)
    return 2;
  if (b >= 0xE0 && b <= 0xEF)
    return 3;
  if (b >= 0xF0 && b <= 0xF4)
    return 4;
  return 0;
}

bool continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

/// Whether s[i..i+n) is a well-formed character (no overlong forms,
/// surrogates or code points past U+10FFFF), given its lead byte's length.
bool wellFormed(std::string_view s, size_t i, size_t n) {
  if (i + n > s.size())
    return false;
  for (size_t k = 1; k < n; ++k)
    if (!continuation(s[i + k]))
      return false;
  unsigned char b0 = s[i], b1 = n > 1 ? s[i + 1] : 0;
  if (n == 3 && ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0)))
    return false;
  if (n == 4 && ((b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 >= 0x90)))
    return false;
  return true;
}

} // namespace

size_t incompleteTail(std::string_view s) {
  // A character is at most 4 bytes: look back at most 3 for its lead.
  for (size_t back = 1; back <= std::min<size_t>(3, s.size()); ++back) {
    unsigned char b = s[s.size() - back];
    if (continuation(b))
      continue;
    size_t n = charLength(b);
    if (n <= back)
      return 0; // complete, or not a lead byte at all
    // The second byte, if here, must be one a well-formed character has.
    if (back >= 2) {
      unsigned char b1 = s[s.size() - back + 1];
      if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 >= 0xA0) ||
          (b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 >= 0x90))
        return 0;
    }
    return back;
  }
  return 0;
}

std::string validUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = charLength(s[i]);
    if (n > 0 && wellFormed(s, i, n)) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

TextStream::TextStream(std::vector<std::string> stopStrings)
    : stops(std::move(stopStrings)) {
  stops.erase(std::remove(stops.begin(), stops.end(), std::string()),
              stops.end());
}

std::string TextStream::push(std::string_view piece) {
  if (stopped_)
    return {};
  pending.append(piece);
  size_t first = std::string::npos;
  for (const std::string &stop : stops)
    first = std::min(first, pending.find(stop));
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = validUtf8(pending.substr(0, first));
    pending.clear();
    return out;
  }
  // Hold back the longest end of the text that begins a stop string.
  size_t hold = 0;
  for (const std::string &stop : stops)
    for (size_t n = std::min(stop.size() - 1, pending.size()); n > hold; --n)
      if (pending.compare(pending.size() - n, n, stop, 0, n) == 0) {
        hold = n;
        break;
      }
  size_t send = pending.size() - hold;
  send -= incompleteTail(std::string_view(pending).substr(0, send));
  std::string out = validUtf8(std::string_view(pending).substr(0, send));
  pending.erase(0, send);
  return out;
}

std::string TextStream::finish() {
  std::string out = stopped_ ? std::string() : validUtf8(pending);
  pending.clear();
  return out;
}

} // namespace ane::serve
