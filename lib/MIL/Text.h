//===- Text.h - MIL text parser and printer ---------------------*- C++ -*-===//

#ifndef ANE_LIB_MIL_TEXT_H
#define ANE_LIB_MIL_TEXT_H

#include "lib/MIL/Program.h"
#include "lib/Support/Result.h"

#include <string>
#include <string_view>

namespace ane::mil {

/// Parses MIL text: the Core ML compiler's output (program 1.0 and 1.3
/// spellings) and loose hand-written text. Errors read
/// "<file>:<line>:<col>: expected X, found Y".
Result<Program> parseProgram(std::string_view text,
                             std::string_view fileName = "<input>");

/// The function `main` of a program text: what a backend compiles.
Result<Function> parseMainFunction(std::string_view text);

/// Prints in the Core ML compiler's canonical style: its indentation,
/// arguments and attributes sorted by name, hex floats, rank-0 spelling by
/// opset, no trailing newline unless the program asks for one.
std::string printProgram(const Program &program);

/// `bareScalars` selects the ios18 spelling of rank-0 types (`int32`) over
/// the older one (`tensor<int32, []>`).
std::string printType(const Type &type, bool bareScalars);
std::string printValue(const Value &value, bool bareScalars);

/// C99 hex float as the compiler writes it: `0x1.8p+0`, `-inf`, `nan`.
std::string formatHexFloat(double value);

} // namespace ane::mil

#endif // ANE_LIB_MIL_TEXT_H
