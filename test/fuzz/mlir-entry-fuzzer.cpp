//===- mlir-entry-fuzzer.cpp - libFuzzer target for ane-opt's entry -------===//
//
// What ane-opt does before its passes: the nesting check, then the MLIR
// parser on the tools' large stack. Any input must be refused with a
// message or parse (or fail with a diagnostic); an input that passes the
// check and still exhausts the stack ends the run through the overflow
// handler, which libFuzzer reports as a finding.
//
//===----------------------------------------------------------------------===//

#include "lib/Support/TextInput.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

/// The tools' stack (lib/Tools/ToolMains.h).
constexpr size_t kStackBytes = size_t(256) << 20;

int parse(const std::string &text) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);
  context.allowUnregisteredDialects();
  context.getDiagEngine().registerHandler([](mlir::Diagnostic &) {});
  mlir::ParserConfig config(&context);
  (void)mlir::parseSourceString<mlir::ModuleOp>(text, config, "fuzz.mlir");
  return 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  ane::Status nesting = ane::checkNesting(text, "fuzz.mlir");
  if (!nesting.ok()) {
    if (nesting.message().empty())
      std::abort();
    return 0;
  }
  return ane::runOnLargeStack(kStackBytes, "stack overflow past the check\n",
                              [&] { return parse(text); });
}
