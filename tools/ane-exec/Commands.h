//===- Commands.h - ane-exec subcommands ------------------------*- C++ -*-===//

#ifndef ANE_TOOLS_ANE_EXEC_COMMANDS_H
#define ANE_TOOLS_ANE_EXEC_COMMANDS_H

#include "lib/Loader/ModelLoader.h"
#include "lib/Model/Tokenizer.h"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace ane::exec {

/// Options every model-reading subcommand shares.
using loader::loadTokenizer;
using loader::ModelOptions;
using loader::readTokenizerFile;
/// -m and -z; without -m, commands that allow it run the built-in default.
enum class ModelFlag { Required, DefaultModel };
void addModelOptions(CLI::App &app, ModelOptions &model,
                     ModelFlag modelFlag = ModelFlag::Required);

/// Checks for numeric flags that say what is wrong in words: "must be >= 0"
/// instead of CLI11's range up to 1.79e308 written out in 309 digits.
CLI::Validator atLeast(double low);
CLI::Validator greaterThan(double low);
CLI::Validator between(double low, double high);
/// A seed: a whole number from 0 to 2^64 - 1, nothing that wraps.
CLI::Validator seedNumber();

void addBenchCommand(CLI::App &app);
void addCompileCommand(CLI::App &app);
void addEvalCommand(CLI::App &app);
void addFinetuneCommand(CLI::App &app);
void addInspectCommand(CLI::App &app);
void addPerplexityCommand(CLI::App &app);
void addPlanCommand(CLI::App &app);
void addProbeCommand(CLI::App &app);
void addRunCommand(CLI::App &app);
void addServeCommand(CLI::App &app);
void addTokenizeCommand(CLI::App &app);

} // namespace ane::exec

#endif // ANE_TOOLS_ANE_EXEC_COMMANDS_H
