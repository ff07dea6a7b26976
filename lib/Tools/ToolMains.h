//===- ToolMains.h - the mains of ane-opt and ane-translate -----*- C++ -*-===//
//
// MLIR's MlirOptMain and mlirTranslateMain, with our input rules in front:
// the input must be a regular file (or - for stdin) of sane size and
// nesting, and parsing runs on a large stack whose overflow is an error.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_TOOLS_TOOLMAINS_H
#define ANE_LIB_TOOLS_TOOLMAINS_H

#include "mlir/IR/DialectRegistry.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <functional>
#include <memory>

namespace mlir::ane {

/// The stack the tools parse and transform on.
inline constexpr size_t kToolStackBytes = size_t(256) << 20;

/// `path`'s text as a buffer named like MLIR names its inputs, or null after
/// printing why it is refused.
std::unique_ptr<llvm::MemoryBuffer> openCheckedInput(llvm::StringRef path);

/// Runs `work` (which parses `path`) on the tools' large stack; a stack
/// overflow exits with an error naming `path`.
int runParsing(llvm::StringRef path, const std::function<int()> &work);

int aneOptMain(int argc, char **argv, llvm::StringRef toolName,
               DialectRegistry &registry);
int aneTranslateMain(int argc, char **argv, llvm::StringRef toolName);

} // namespace mlir::ane

#endif // ANE_LIB_TOOLS_TOOLMAINS_H
