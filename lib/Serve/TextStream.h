//===- TextStream.h - generated pieces to text a client is sent -*- C++ -*-===//
//
// A token can end inside a multi-byte character (byte-fallback tokens carry
// one byte each), and a stop string can span tokens. The stream sends only
// whole characters, holds back what could be the start of a stop string,
// and ends at the first stop string, which is not sent.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SERVE_TEXTSTREAM_H
#define ANE_LIB_SERVE_TEXTSTREAM_H

#include <string>
#include <string_view>
#include <vector>

namespace ane::serve {

/// The bytes at the end of `s` that begin a character not yet complete
/// (0 to 3).
size_t incompleteTail(std::string_view s);
/// `s` with every byte that is not part of a well-formed UTF-8 character
/// replaced by U+FFFD.
std::string validUtf8(std::string_view s);

class TextStream {
public:
  explicit TextStream(std::vector<std::string> stops = {});
  /// Takes the next piece; returns the text that may be sent now.
  std::string push(std::string_view piece);
  /// At the end: what was held back (an unfinished character as U+FFFD).
  std::string finish();
  /// Whether a stop string has appeared (nothing after it is sent).
  bool stopped() const { return stopped_; }

private:
  std::vector<std::string> stops;
  std::string pending;
  bool stopped_ = false;
};

} // namespace ane::serve

#endif // ANE_LIB_SERVE_TEXTSTREAM_H
