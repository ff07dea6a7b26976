//===- CheckedInput.cpp - the tools' input rules --------------------------===//

#include "lib/Support/TextInput.h"
#include "lib/Tools/ToolMains.h"

#include "llvm/Support/raw_ostream.h"

using namespace mlir;

std::unique_ptr<llvm::MemoryBuffer>
mlir::ane::openCheckedInput(llvm::StringRef path) {
  std::string name = path == "-" ? "<stdin>" : path.str();
  ::ane::Result<std::string> text = ::ane::readTextInput(path.str());
  if (!text.ok()) {
    llvm::errs() << "error: " << text.message() << "\n";
    return nullptr;
  }
  if (::ane::Status s = ::ane::checkNesting(*text, name); !s.ok()) {
    llvm::errs() << "error: " << s.message() << "\n";
    return nullptr;
  }
  return llvm::MemoryBuffer::getMemBufferCopy(*text, name);
}

int mlir::ane::runParsing(llvm::StringRef path,
                          const std::function<int()> &work) {
  std::string message =
      "error: " + (path == "-" ? std::string("<stdin>") : path.str()) +
      ": the input nests too deeply: parsing it used up the tool's " +
      std::to_string(kToolStackBytes >> 20) + " MiB stack\n";
  return ::ane::runOnLargeStack(kToolStackBytes, message, work);
}
