//===- ModelPacker.cpp - a model's tensors into weight segments -----------===//

#include "lib/Runtime/ModelPacker.h"

#include "lib/Model/Quant.h"
#include "lib/Runtime/HalfFloat.h"
#include "lib/Runtime/Packing.h"
#include "lib/Support/Float16.h"
#include "lib/Support/ProcessMemory.h"

#include <fmt/format.h>

#include <cstring>
#include <future>

namespace ane::runtime {
namespace {

/// The stored tensor of `role` in `layer` (-1: global).
Result<model::TensorData> storedTensor(const model::ModelSpec &spec,
                                       const std::string &role, int64_t layer) {
  auto r = model::parseRole(role);
  if (!r)
    return Status::error(fmt::format("unknown weight role '{}'", role));
  const model::TensorInfo *t = spec.find(*r, int(layer));
  // llama2.c shares the classifier with the embedding.
  if (!t && *r == model::Role::Output && spec.config.sharedClassifier)
    t = spec.find(model::Role::TokenEmbd);
  if (!t)
    return Status::error(
        layer < 0 ? fmt::format("{}: no tensor '{}'", spec.source, role)
                  : fmt::format("{}: no tensor '{}' in layer {}", spec.source,
                                role, layer));
  return spec.load(*t);
}

/// The fp32 tensor of `role` in `layer` (-1: global), dequantized.
Result<std::vector<float>> roleTensor(const model::ModelSpec &spec,
                                      const std::string &role, int64_t layer) {
  auto data = storedTensor(spec, role, layer);
  if (!data.ok())
    return data.status();
  return data->toFloat();
}

/// A slot's stored tensors, for the packer to carry their blocks over
/// where they allow it; nullopt when one is missing (the float path then
/// reports it).
std::optional<std::vector<model::TensorData>>
slotSources(const model::ModelSpec &spec, const abi::SlotSpec &slot,
            int64_t layer) {
  std::vector<model::TensorData> sources;
  std::vector<std::string> roles = slot.fusedFrom;
  if (roles.empty())
    roles.push_back(slot.role);
  for (const std::string &role : roles) {
    auto t = storedTensor(spec, role, layer);
    if (!t.ok())
      return std::nullopt;
    sources.push_back(std::move(*t));
  }
  return sources;
}

Result<std::vector<uint8_t>> packOne(const model::ModelSpec &spec,
                                     const std::vector<abi::SlotSpec> &slots,
                                     int64_t layer, int threads,
                                     std::vector<uint8_t> recycled = {}) {
  // Global slots read global tensors; layer slots read this layer's.
  auto layerOf = [&](const abi::SlotSpec &s) {
    return s.segment == abi::Segment::Global ? int64_t(-1) : layer;
  };
  auto bytes = packSegment(
      slots,
      [&](const abi::SlotSpec &s) {
        return assembleSlotTensor(s, [&](const std::string &role) {
          return roleTensor(spec, role, layerOf(s));
        });
      },
      threads,
      [&](const abi::SlotSpec &s) { return slotSources(spec, s, layerOf(s)); },
      std::move(recycled));
  if (!bytes.ok())
    return Status::error(fmt::format(
        "{}: {}", layer < 0 ? "global segment" : fmt::format("layer {}", layer),
        bytes.message()));
  return bytes;
}

/// The token embedding in the kernels' float type, dequantized row by row
/// straight into the section (a 7B's whole table as fp32 first took
/// seconds of page faults), rows split over `threads`.
Result<std::vector<uint8_t>> packEmbedding(const model::ModelSpec &spec,
                                           abi::DType dtype, int threads) {
  auto e = storedTensor(spec, "token_embd", -1);
  if (!e.ok())
    return e.status();
  const model::Config &c = spec.config;
  std::optional<uint64_t> rowBytes = model::tensorBytes(e->type, c.dim);
  if (e->shape != std::vector<int64_t>{c.vocabSize, c.dim} || !rowBytes ||
      e->size != *rowBytes * uint64_t(c.vocabSize))
    return Status::error("the token embedding is not [vocab, dim]");
  const bool fp32 = dtype == abi::DType::FP32;
  std::vector<uint8_t> out;
  const uint64_t bytes = uint64_t(c.vocabSize * c.dim) * (fp32 ? 4 : 2);
  reserveOnHugePages(out, bytes);
  out.resize(bytes);
  auto rows = [&](int64_t from, int64_t to) {
    std::vector<float> row(c.dim);
    for (int64_t r = from; r < to; ++r) {
      float *dst =
          fp32 ? reinterpret_cast<float *>(out.data()) + r * c.dim : row.data();
      model::dequantize(e->type, e->data + r * *rowBytes, dst, c.dim);
      if (!fp32)
        floatsToHalfs(row.data(),
                      reinterpret_cast<uint16_t *>(out.data()) + r * c.dim,
                      c.dim);
    }
  };
  splitRows(c.vocabSize, threads, rows);
  return out;
}

} // namespace

Status packModel(const model::ModelSpec &spec, const abi::KernelSet &kernels,
                 const SegmentSink &sink, const PackProgress &progress,
                 int threads) {
  const int64_t layers = kernels.config.nLayers;
  if (spec.config.nLayers != layers || spec.config.dim != kernels.config.dim)
    return Status::error(
        fmt::format("{} does not match the kernel set's config", spec.source));
  const int64_t total = layers + 2;
  int64_t done = 0;
  // The source's pages a piece read leave the resident set once it is
  // packed (they stay in the page cache): a 7B's packed copy in memory and
  // its whole GGUF mapped peaked at 7.4 GiB.
  auto finished = [&] {
    if (spec.file)
      spec.file->release(spec.file->data(), spec.file->size());
    if (progress)
      progress(++done, total);
  };
  // The global segment is packed beside the embedding and the layers and
  // sunk after them: a 7B's Q6_K classifier, requantized, is a third of its
  // packing work, while the embedding's fresh pages are zeroed on one core
  // and the layers leave the cores idle while their segments are written.
  std::future<Result<std::vector<uint8_t>>> global =
      std::async(std::launch::async, [&spec, &kernels, threads] {
        return packOne(spec, kernels.slotsOf(abi::Segment::Global), -1,
                       threads);
      });
  auto embedding = packEmbedding(spec, kernels.dtype, threads);
  if (!embedding.ok())
    return embedding.status();
  if (Status s = sink(SectionKind::Embedding, 0, std::move(*embedding));
      !s.ok())
    return s;
  finished();
  std::vector<abi::SlotSpec> layerSlots = kernels.slotsOf(abi::Segment::Layer);
  // A sink that only reads the segment leaves it to the next layer.
  std::vector<uint8_t> recycled;
  for (int64_t l = 0; l < layers; ++l) {
    auto seg = packOne(spec, layerSlots, l, threads, std::move(recycled));
    if (!seg.ok())
      return seg.status();
    if (seg->size() != kernels.layerSegmentBytes)
      return Status::error(
          fmt::format("layer {}: the segment is {} bytes, the manifest says {}",
                      l, seg->size(), kernels.layerSegmentBytes));
    if (Status s = sink(SectionKind::LayerSegment, l, std::move(*seg)); !s.ok())
      return s;
    recycled = std::move(*seg);
    finished();
  }
  auto globalBytes = global.get();
  if (!globalBytes.ok())
    return globalBytes.status();
  if (globalBytes->size() != kernels.globalSegmentBytes)
    return Status::error(fmt::format("the global segment is {} bytes, the "
                                     "manifest says {}",
                                     globalBytes->size(),
                                     kernels.globalSegmentBytes));
  if (Status s = sink(SectionKind::GlobalSegment, 0, std::move(*globalBytes));
      !s.ok())
    return s;
  finished();
  return Status::success();
}

Result<ModelImage> packImage(const model::ModelSpec &spec,
                             abi::KernelSet kernels,
                             const PackProgress &progress, int threads) {
  struct Buffers {
    std::vector<uint8_t> embedding, global;
    std::vector<std::vector<uint8_t>> layers;
  };
  auto buffers = std::make_shared<Buffers>();
  Status s = packModel(
      spec, kernels,
      [&](SectionKind kind, int64_t, std::vector<uint8_t> &&bytes) {
        if (kind == SectionKind::Embedding)
          buffers->embedding = std::move(bytes);
        else if (kind == SectionKind::GlobalSegment)
          buffers->global = std::move(bytes);
        else
          buffers->layers.push_back(std::move(bytes));
        return Status::success();
      },
      progress, threads);
  if (!s.ok())
    return s;
  ModelImage image;
  image.kernels = std::move(kernels);
  auto view = [](const std::vector<uint8_t> &v) {
    return Bytes{v.data(), v.size()};
  };
  for (const auto &l : buffers->layers)
    image.layerSegments.push_back(view(l));
  image.globalSegment = view(buffers->global);
  image.embedding = view(buffers->embedding);
  image.tokenizer = spec.tokenizer;
  image.owner = buffers;
  return image;
}

} // namespace ane::runtime
