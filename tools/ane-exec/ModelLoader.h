//===- ModelLoader.h - the loader's command-line flags ----------*- C++ -*-===//
//
// lib/Loader opens models for run, compile, eval, bench and serve; this adds
// the flags that fill its options and the summaries the commands print.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_TOOLS_ANE_EXEC_MODELLOADER_H
#define ANE_TOOLS_ANE_EXEC_MODELLOADER_H

#include "tools/ane-exec/Commands.h"

#include "lib/Loader/ModelLoader.h"

#include <optional>
#include <string>

namespace ane::exec {

using loader::BuildOptions;
using loader::compileAndReport;
using loader::createEngine;
using loader::describeKernels;
using loader::executablePath;
using loader::humanBytes;
using loader::kCompileWorkerCommand;
using loader::kernelSetOptions;
using loader::LoadedModel;
using loader::loadModel;
using loader::Progress;
using loader::readAdapterList;
using loader::readAdapters;
using loader::withDefaultModel;

/// The flags of BuildOptions; `build.given` then answers from `app`.
void addBuildOptions(CLI::App &app, BuildOptions &build);

/// After a run on ane or ane-sim: where its programs came from, how many
/// evaluations ran, and the modelled device time. Nothing for other
/// backends.
void printAneSummary(const runtime::Backend &backend);

/// After a run with weight-binding=input: what the weights cost as inputs
/// next to what the image stores, and their conversions. Nothing otherwise.
void printInputBindingSummary(const runtime::ModelImage &image,
                              const runtime::EngineStats &stats);

/// `--quant`: its words are parsed into the contract's enum here, so the
/// string stops at the command line.
CLI::Option *addSchemeOption(CLI::App &app, std::optional<abi::Scheme> &scheme,
                             const std::string &description);

/// Prints "error: <message>" to stderr and returns 1.
int fail(const std::string &message);

} // namespace ane::exec

#endif // ANE_TOOLS_ANE_EXEC_MODELLOADER_H
