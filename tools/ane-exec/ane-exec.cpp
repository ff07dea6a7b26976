//===- ane-exec.cpp - ane-mlir's user-facing driver -----------------------===//

#include "tools/ane-exec/Commands.h"

#include "lib/Model/Llama2c.h"

#include <iostream>

namespace ane::exec {

void ModelOptions::add(CLI::App &app) {
  app.add_option("-m,--model", model,
                 "model: .gguf, llama2.c .bin, or synthetic:NAME[?layers=N]")
      ->required();
  app.add_option("-z,--tokenizer", tokenizer,
                 "llama2.c tokenizer.bin, for checkpoints that carry none");
}

Result<model::TokenizerData> readTokenizerFile(const std::string &path,
                                               int64_t vocabSize) {
  auto data = model::readLlama2cTokenizer(path);
  if (!data.ok())
    return data.status();
  if (static_cast<int64_t>(data->tokens.size()) != vocabSize)
    return Status::error(path + ": " + std::to_string(data->tokens.size()) +
                         " tokens, the model's vocabulary has " +
                         std::to_string(vocabSize));
  return data;
}

Result<model::Tokenizer> loadTokenizer(const model::ModelSpec &spec,
                                       const std::string &path) {
  if (!path.empty()) {
    auto data = readTokenizerFile(path, spec.config.vocabSize);
    if (!data.ok())
      return data.status();
    return model::Tokenizer::create(*data);
  }
  if (!spec.tokenizer)
    return Result<model::Tokenizer>::error(
        spec.source + " carries no tokenizer: pass -z tokenizer.bin");
  return model::Tokenizer::create(*spec.tokenizer);
}

} // namespace ane::exec

int main(int argc, char **argv) {
  CLI::App app{"ane-exec: run Llama-family models compiled by ane-mlir"};
  app.require_subcommand(1);
  ane::exec::addRunCommand(app);
  ane::exec::addCompileCommand(app);
  ane::exec::addEvalCommand(app);
  ane::exec::addBenchCommand(app);
  ane::exec::addPlanCommand(app);
  ane::exec::addInspectCommand(app);
  ane::exec::addTokenizeCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  return 0;
}
