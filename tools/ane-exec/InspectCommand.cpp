//===- InspectCommand.cpp - ane-exec inspect ------------------------------===//
//
// Prints a model's config, tokenizer and tensor table without reading any
// tensor data (so synthetic:7b costs nothing); for a compiled .anepak, its
// manifest: kernels, buckets, segments and weight slots.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Anepak.h"

#include <chrono>

#include <fmt/format.h>

namespace ane::exec {
namespace {

struct InspectOptions : ModelOptions {
  int readLayer = -1;
};

/// Reads (or generates) every tensor of one layer as fp32, timing it.
int readLayer(const model::ModelSpec &spec, int layer) {
  auto start = std::chrono::steady_clock::now();
  double sum = 0;
  uint64_t bytes = 0;
  for (const model::TensorInfo &t : spec.tensors) {
    if (t.layer != layer)
      continue;
    auto data = spec.load(t);
    if (!data.ok()) {
      fmt::print(stderr, "error: {}\n", data.message());
      return 1;
    }
    for (float v : data->toFloat())
      sum += v;
    bytes += t.numElements() * 4;
  }
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  fmt::print(stderr, "read layer {}: {} as f32 in {:.3f} s (checksum {:.6g})\n",
             layer, humanBytes(bytes), s, sum);
  return 0;
}

void printConfig(const model::Config &c) {
  fmt::print("config:    dim {}, layers {}, heads {}, kv heads {}, head dim "
             "{}, hidden {}, vocab {}, context {}\n",
             c.dim, c.nLayers, c.nHeads, c.nKvHeads, c.headDim, c.hiddenDim,
             c.vocabSize, c.maxSeqLen);
}

/// A compiled .anepak: its kernel set and weight slots, from the manifest
/// alone.
int inspectAnepak(const InspectOptions &o) {
  auto kernels = runtime::readAnepakManifest(o.model);
  if (!kernels.ok()) {
    fmt::print(stderr, "error: {}\n", kernels.message());
    return 1;
  }
  const abi::KernelSet &ks = *kernels;
  const model::Config &c = ks.config;
  fmt::print("model:     {} (anepak)\n", o.model);
  printConfig(c);
  fmt::print("kernels:   {} {}, {} binding, {} kernels in {} programs, seq "
             "{}, ctx {}\n",
             abi::schemeName(ks.scheme), abi::dtypeName(ks.dtype),
             abi::weightBindingName(ks.weightBinding), ks.kernels.size(),
             ks.programs.size(), fmt::join(ks.seqBuckets(), "/"),
             fmt::join(ks.ctxBuckets(), "/"));
  fmt::print("segments:  layer {} x {}, global {}; a decoded token reads {}\n",
             humanBytes(ks.layerSegmentBytes), c.nLayers,
             humanBytes(ks.globalSegmentBytes),
             humanBytes(ks.decodeBytesPerToken()));
  fmt::print("  {:<14} {:<7} {:<6} {:>6} {:<14} {}\n", "slot", "segment",
             "scheme", "group", "shape", "layout");
  for (const abi::SlotSpec &s : ks.slots)
    fmt::print("  {:<14} {:<7} {:<6} {:>6} {:<14} {}\n", s.role,
               abi::segmentName(s.segment), abi::schemeName(s.scheme), s.group,
               fmt::format("[{}]", fmt::join(s.shape, ", ")),
               abi::slotLayoutName(s.layout));
  return 0;
}

int inspect(const InspectOptions &o) {
  if (runtime::hasAnepakMagic(o.model))
    return inspectAnepak(o);
  auto opened = std::chrono::steady_clock::now();
  auto spec = model::openModel(o.model);
  if (!spec.ok()) {
    fmt::print(stderr, "error: {}\n", spec.message());
    return 1;
  }
  double openSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - opened)
          .count();
  const model::Config &c = spec->config;
  fmt::print("model:     {} ({})\n", spec->source, spec->format);
  printConfig(c);
  fmt::print("           rope theta {:g}, norm eps {:g}, classifier {}\n",
             c.ropeTheta, c.normEps,
             c.sharedClassifier ? "shared with the embedding" : "separate");
  if (!c.ropeFreqFactors.empty())
    fmt::print("           rope scaling: frequencies divided by {:g}\n",
               fmt::join(c.ropeFreqFactors, ", "));
  if (c.qkvBias)
    fmt::print("           q, k and v projections with biases\n");
  const model::TensorInfo *q = spec->find(model::Role::AttnQ, 0);
  if (q && q->rotateHalfHead)
    fmt::print("           q/k rows stored in rotate-half order, read as "
               "adjacent pairs\n");
  if (!o.tokenizer.empty() || spec->tokenizer) {
    auto tok = loadTokenizer(*spec, o.tokenizer);
    if (!tok.ok()) {
      fmt::print(stderr, "error: {}\n", tok.message());
      return 1;
    }
    fmt::print("tokenizer: {} tokens, bos {}, eos {}{}\n", tok->size(),
               tok->bos(), tok->eos(),
               o.tokenizer.empty() ? "" : " (from " + o.tokenizer + ")");
  } else {
    fmt::print("tokenizer: none (pass -z tokenizer.bin)\n");
  }
  uint64_t total = 0;
  for (const model::TensorInfo &t : spec->tensors)
    total += t.bytes;
  fmt::print("tensors:   {}, {}\n", spec->tensors.size(), humanBytes(total));
  fmt::print("  {:<28} {:<5} {:<14} {:>12}\n", "name", "type", "shape",
             "bytes");
  for (const model::TensorInfo &t : spec->tensors)
    fmt::print("  {:<28} {:<5} {:<14} {:>12}\n", t.name,
               model::tensorTypeName(t.type),
               fmt::format("[{}]", fmt::join(t.shape, ", ")), t.bytes);
  if (o.readLayer >= 0) {
    if (o.readLayer >= c.nLayers) {
      fmt::print(stderr, "error: --read-layer {}: the model has {} layers\n",
                 o.readLayer, c.nLayers);
      return 1;
    }
    fmt::print(stderr, "opened in {:.3f} s\n", openSeconds);
    return readLayer(*spec, o.readLayer);
  }
  return 0;
}

} // namespace

void addInspectCommand(CLI::App &app) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App *cmd =
      app.add_subcommand("inspect", "print a model's config and tensors");
  addModelOptions(*cmd, *opts);
  cmd->add_option("--read-layer", opts->readLayer,
                  "also read one layer's tensors as f32 and time it");
  cmd->callback([opts] {
    if (int rc = inspect(*opts))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
