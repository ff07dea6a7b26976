//===- TextInput.h - reading IR and MIL text from careless users -*- C++
//-*-===//
//
// ane-opt and ane-translate read text a user names. These helpers refuse what
// would hang or crash a parser before the parser sees it: devices, FIFOs and
// endless streams (read with a size cap), and brackets nested deeper than any
// real program needs (the MLIR parser recurses once per level).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SUPPORT_TEXTINPUT_H
#define ANE_LIB_SUPPORT_TEXTINPUT_H

#include "lib/Support/Result.h"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ane {

/// The largest IR or MIL text the tools read (1 GiB): weights live outside.
inline constexpr size_t kMaxTextInputBytes = size_t(1) << 30;
/// The deepest bracket nesting the tools parse; our kernels nest under 10.
inline constexpr int kMaxTextNesting = 256;

/// The whole of `path` ("-" is standard input). Refuses what is not a
/// regular file (a device, FIFO or folder) and text over `maxBytes`.
Result<std::string> readTextInput(const std::string &path,
                                  size_t maxBytes = kMaxTextInputBytes);

/// Refuses `text` whose (, [, { and < nest deeper than `maxDepth`, naming
/// the line and column where the limit is passed. Quoted strings and `//`
/// comments are skipped; `->`, `<=` and `>=` are not brackets.
Status checkNesting(std::string_view text, std::string_view name,
                    int maxDepth = kMaxTextNesting);

/// Runs `fn` on a thread with a stack of `stackBytes` (reserved, touched as
/// used). A stack overflow there, which no check before parsing can rule
/// out (the MLIR parser also recurses along `- - - x` and `a + b + ...`),
/// prints `overflowMessage` and exits with status 1 instead of crashing.
int runOnLargeStack(size_t stackBytes, const std::string &overflowMessage,
                    const std::function<int()> &fn);

} // namespace ane

#endif // ANE_LIB_SUPPORT_TEXTINPUT_H
