//===- mil-parse-fuzzer.cpp - libFuzzer target for the MIL parser ---------===//
//
// Any input must parse or fail with a message; a successful parse must print
// to text that parses and prints identically.
//
//===----------------------------------------------------------------------===//

#include "lib/MIL/Text.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto program = ane::mil::parseProgram(text, "fuzz.mil");
  if (!program.ok()) {
    if (program.message().empty())
      std::abort();
    return 0;
  }
  std::string printed = ane::mil::printProgram(*program);
  auto again = ane::mil::parseProgram(printed, "printed.mil");
  if (!again.ok() || ane::mil::printProgram(*again) != printed)
    std::abort();
  return 0;
}
