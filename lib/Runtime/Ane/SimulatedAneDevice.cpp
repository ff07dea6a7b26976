//===- SimulatedAneDevice.cpp - the ANE's published behaviour -------------===//

#include "lib/Runtime/Ane/SimulatedAneDevice.h"

#include "lib/MIL/Ops.h"
#include "lib/MIL/Text.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/CpuBackend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace ane::runtime {
namespace {

/// The bytes of the distinct blobs `fn` reads from `weightFile` (a weight
/// file holds a whole layer; a program streams only its own blobs).
uint64_t blobBytes(const mil::Function &fn,
                   const std::vector<uint8_t> &weightFile) {
  if (weightFile.empty())
    return 0;
  auto reader = mil::WeightReader::fromBuffer(
      weightFile.data(), weightFile.size(), "baked weights", nullptr);
  if (!reader.ok())
    return weightFile.size();
  std::set<uint64_t> offsets;
  mil::forEachBlobFile(fn, [&](const mil::Value &v, const mil::Statement &) {
    offsets.insert(v.blobOffset());
  });
  uint64_t bytes = 0;
  for (uint64_t offset : offsets)
    if (auto blob = reader->blob(offset); blob.ok())
      bytes += blob->size;
  return bytes;
}

/// The types of `fn`'s named values: parameters and statement outputs.
std::map<std::string, const mil::Type *> typesOf(const mil::Function &fn) {
  std::map<std::string, const mil::Type *> types;
  for (const mil::Param &p : fn.params)
    types[p.name] = &p.type;
  for (const mil::Statement &s : fn.body)
    for (const mil::Statement::Output &o : s.outputs)
      types[o.name] = &o.type;
  return types;
}

/// Multiply-adds times two of the convs and matmuls: output elements times
/// the reduced length. An estimate for the latency model.
double flopsOf(const mil::Function &fn,
               const std::map<std::string, const mil::Type *> &types) {
  auto typeOfArg = [&](const mil::Statement &s,
                       const char *name) -> const mil::Type * {
    const mil::Value *v = s.arg(name);
    if (!v || v->kind != mil::Value::Kind::Ref)
      return nullptr;
    auto it = types.find(v->text);
    return it == types.end() ? nullptr : it->second;
  };
  double flops = 0;
  for (const mil::Statement &s : fn.body) {
    if (s.outputs.empty() || (s.op != "conv" && s.op != "matmul"))
      continue;
    const mil::Type *in = typeOfArg(s, s.op == "conv" ? "weight" : "x");
    if (!in || in->dims.size() < 2)
      continue;
    double outElements = 1;
    for (int64_t d : s.outputs[0].type.dims)
      outElements *= double(std::max<int64_t>(d, 1));
    double reduced = 1;
    if (s.op == "conv")
      for (size_t k = 1; k < in->dims.size(); ++k)
        reduced *= double(in->dims[k]);
    else
      reduced = double(in->dims.back());
    flops += 2 * outElements * reduced;
  }
  return flops;
}

struct SimProgram {
  std::string milText;
  std::unique_ptr<BackendProgram> program;
  std::vector<uint8_t> baked; // the weight file as it was at compile
  Bytes source;               // the caller's, for reloadTakesEffect
  std::vector<mil::Shape> inputs, outputs;
  double flops = 0;
  uint64_t weightBytes = 0; // the blobs the program reads, each call
  bool loaded = false;
  /// The last tensor decoded from each input surface, by surface version.
  std::vector<std::pair<uint64_t, TensorRef>> decoded;
};

class SimulatedAneDevice final : public AneDevice {
public:
  explicit SimulatedAneDevice(SimulatedAneOptions options)
      : options(std::move(options)), cpu(createCpuBackend(/*fast=*/true)) {}

  std::string_view name() const override { return "ane-sim"; }
  std::string target() const override { return "ane-sim/" + options.chip.name; }

  Result<AneProgramId>
  compile(const std::string &milText,
          const std::vector<AneWeightFile> &weights) override {
    if (counters_.compiles >= options.compileBudget)
      return Status::error(fmt::format(
          "the compile budget of this process is spent ({} compiles; the "
          "ANE's compiler fails after about 119 per process): compile fewer "
          "programs in one process",
          options.compileBudget));
    std::vector<uint8_t> baked;
    Bytes source;
    for (const AneWeightFile &w : weights) {
      if (w.path != mil::kModelWeightPath)
        return Status::error(
            fmt::format("weight file '{}'; the simulator takes '{}' only",
                        w.path, mil::kModelWeightPath));
      baked.assign(w.data.data, w.data.data + w.data.size);
      source = w.data;
    }
    auto id = build(milText, std::move(baked));
    if (!id.ok())
      return id;
    programs[size_t(*id)]->source = source;
    counters_.compiles += 1;
    counters_.modelledSeconds += options.chip.compileMs * 1e-3;
    return id;
  }

  bool canExportCompiled() const override { return true; }

  /// The form: "ANESIMPG", u32 version 1, u32 zero, u64 MIL bytes, u64
  /// weight bytes, u64 XXH3 of what follows, the MIL text, the weights.
  Result<std::vector<uint8_t>> exportCompiled(AneProgramId id) override {
    auto found = find(id);
    if (!found.ok())
      return found.status();
    const SimProgram &p = **found;
    std::vector<uint8_t> out(kHeaderBytes);
    out.insert(out.end(), p.milText.begin(), p.milText.end());
    out.insert(out.end(), p.baked.begin(), p.baked.end());
    uint64_t header[4] = {
        (uint64_t(0) << 32) | kFormatVersion, p.milText.size(), p.baked.size(),
        XXH3_64bits(out.data() + kHeaderBytes, out.size() - kHeaderBytes)};
    std::memcpy(out.data(), kMagic, 8);
    std::memcpy(out.data() + 8, header, sizeof(header));
    return out;
  }

  Result<AneProgramId> importCompiled(const uint8_t *data, size_t size,
                                      const std::string &name) override {
    if (size < kHeaderBytes || std::memcmp(data, kMagic, 8) != 0)
      return Status::error(
          name + ": not a program compiled by ane-sim (no ANESIMPG header)");
    uint64_t header[4];
    std::memcpy(header, data + 8, sizeof(header));
    if ((header[0] & 0xffffffffu) != kFormatVersion)
      return Status::error(fmt::format("{}: format version {}, expected {}",
                                       name, header[0] & 0xffffffffu,
                                       kFormatVersion));
    uint64_t body = size - kHeaderBytes;
    if (header[1] > body || header[2] != body - header[1])
      return Status::error(
          fmt::format("{}: the header gives {} + {} bytes, the file holds {}",
                      name, header[1], header[2], body));
    if (XXH3_64bits(data + kHeaderBytes, body) != header[3])
      return Status::error(name + ": checksum mismatch (the file is damaged)");
    const char *text = reinterpret_cast<const char *>(data + kHeaderBytes);
    const uint8_t *weights = data + kHeaderBytes + header[1];
    auto id = build(std::string(text, header[1]),
                    std::vector<uint8_t>(weights, weights + header[2]));
    if (!id.ok())
      return Status::error(name + ": " + id.message());
    counters_.imports += 1;
    return id;
  }

  Status load(AneProgramId id) override {
    auto p = find(id);
    if (!p.ok())
      return p.status();
    if ((*p)->loaded)
      return Status::error(
          fmt::format("program {} is already loaded: unload it first", id));
    if (options.reloadTakesEffect && (*p)->source.data)
      if (Status s = rebake(**p); !s.ok())
        return s;
    (*p)->loaded = true;
    counters_.loads += 1;
    counters_.modelledSeconds += options.chip.loadMs * 1e-3;
    return Status::success();
  }

  Status unload(AneProgramId id) override {
    auto p = find(id);
    if (!p.ok())
      return p.status();
    if (!(*p)->loaded)
      return Status::error(fmt::format("program {} is not loaded", id));
    (*p)->loaded = false;
    counters_.unloads += 1;
    counters_.modelledSeconds += options.chip.unloadMs * 1e-3;
    return Status::success();
  }

  Status evaluate(AneProgramId id,
                  const std::vector<const AneSurface *> &inputs,
                  const std::vector<AneSurface *> &outputs) override {
    auto found = find(id);
    if (!found.ok())
      return found.status();
    SimProgram &p = **found;
    if (!p.loaded)
      return Status::error(
          fmt::format("program {} is not loaded: load it first", id));
    if (Status s = checkSurfaces(p, inputs, outputs); !s.ok())
      return s;
    std::vector<TensorRef> tensors;
    uint64_t bytes = p.weightBytes;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto &[version, tensor] = p.decoded[i];
      if (!tensor || version != inputs[i]->version()) {
        tensor = std::make_shared<const Tensor>(inputs[i]->read());
        version = inputs[i]->version();
      }
      tensors.push_back(tensor);
      bytes += inputs[i]->byteSize();
      counters_.bytesIn += inputs[i]->byteSize();
    }
    auto results = p.program->run(tensors);
    if (!results.ok())
      return results.status();
    if (results->size() != outputs.size())
      return Status::error("the program returned a different output count");
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (Status s = outputs[i]->write((*results)[i]); !s.ok())
        return s;
      bytes += outputs[i]->byteSize();
      counters_.bytesOut += outputs[i]->byteSize();
    }
    counters_.evaluations += 1;
    counters_.modelledSeconds += callSeconds(bytes, p.flops);
    return Status::success();
  }

  const AneCounters &counters() const override { return counters_; }

private:
  static constexpr char kMagic[8] = {'A', 'N', 'E', 'S', 'I', 'M', 'P', 'G'};
  static constexpr uint32_t kFormatVersion = 1;
  static constexpr size_t kHeaderBytes = 8 + 4 * 8;

  /// A program from its text and the weight file baked into it, checked
  /// against every limit of the chip.
  Result<AneProgramId> build(const std::string &milText,
                             std::vector<uint8_t> baked) {
    auto main = mil::parseMainFunction(milText);
    if (!main.ok())
      return main.status();
    const mil::Function *fn = &*main;
    auto prog = std::make_unique<SimProgram>();
    auto types = typesOf(*fn);
    for (Status s : {checkOps(*fn), checkAxes(*fn), checkWeightPaths(*fn),
                     surfacesOf(*fn, types, *prog)})
      if (!s.ok())
        return s;
    auto program = cpu->compile(milText);
    if (!program.ok())
      return program.status();
    prog->milText = milText;
    prog->baked = std::move(baked);
    prog->program = std::move(*program);
    if (!prog->baked.empty())
      if (Status s = prog->program->bindWeights(
              Bytes{prog->baked.data(), prog->baked.size()}, "baked weights");
          !s.ok())
        return s;
    prog->flops = flopsOf(*fn, types);
    prog->weightBytes = blobBytes(*fn, prog->baked);
    prog->decoded.resize(prog->inputs.size());
    counters_.bakedWeightBytes += prog->baked.size();
    programs.push_back(std::move(prog));
    return AneProgramId(programs.size() - 1);
  }

  /// Takes the caller's weight buffer again (reloadTakesEffect).
  static Status rebake(SimProgram &p) {
    if (p.source.size != p.baked.size())
      return Status::error("the weight buffer changed size since compile");
    std::copy(p.source.data, p.source.data + p.source.size, p.baked.begin());
    return p.program->bindWeights(Bytes{p.baked.data(), p.baked.size()},
                                  "baked weights");
  }

  Result<SimProgram *> find(AneProgramId id) {
    if (id < 0 || size_t(id) >= programs.size())
      return Status::error(fmt::format("no program {} on ane-sim", id));
    return programs[size_t(id)].get();
  }

  /// A roofline call: dispatch plus the longer of streaming `bytes` and
  /// computing `flops`. Dispatch is the middle of the published range.
  double callSeconds(uint64_t bytes, double flops) const {
    const ChipSpec &c = options.chip;
    double dispatch = 0.5 * (c.dispatchMs[0] + c.dispatchMs[1]) * 1e-3;
    double stream = double(bytes) / (c.streamGBs * 1e9);
    double compute = flops / (c.fp16Tflops * 1e12);
    return dispatch + std::max(stream, compute);
  }

  static Status checkOps(const mil::Function &fn) {
    for (const mil::Statement &s : fn.body) {
      std::optional<mil::OpKind> kind = mil::parseOpKind(s.op);
      if (!kind || !mil::runsOnAne(*kind))
        return Status::error(
            fmt::format("line {}: op '{}' does not run on the ANE (it is not "
                        "on the ANE-verified list)",
                        s.line, s.op));
    }
    return Status::success();
  }

  Status checkAxes(const mil::Function &fn) const {
    auto check = [&](const mil::Type &t, const std::string &name,
                     int line) -> Status {
      for (int64_t d : t.dims)
        if (d > options.chip.axisCap)
          return Status::error(fmt::format(
              "line {}: '{}' has an axis of {}; the ANE of an {} takes at "
              "most {}",
              line, name, d, options.chip.name, options.chip.axisCap));
      return Status::success();
    };
    for (const mil::Param &p : fn.params)
      if (Status s = check(p.type, p.name, 0); !s.ok())
        return s;
    // Constants are compile-time data (tiled by slicing), as
    // anemil-verify-ane has it: only computed values have the cap.
    for (const mil::Statement &st : fn.body) {
      std::optional<mil::OpKind> kind = mil::parseOpKind(st.op);
      if (kind && mil::isConstantOp(*kind))
        continue;
      for (const mil::Statement::Output &o : st.outputs)
        if (Status s = check(o.type, o.name, st.line); !s.ok())
          return s;
    }
    return Status::success();
  }

  static Status
  surfacesOf(const mil::Function &fn,
             const std::map<std::string, const mil::Type *> &types,
             SimProgram &p) {
    for (const mil::Param &param : fn.params) {
      auto shape = aneSurfaceShape(param.type, "input '" + param.name + "'");
      if (!shape.ok())
        return shape.status();
      p.inputs.push_back(*shape);
    }
    for (const std::string &out : fn.outputs) {
      auto it = types.find(out);
      if (it == types.end())
        return Status::error("output '" + out + "' is never defined");
      auto shape = aneSurfaceShape(*it->second, "output '" + out + "'");
      if (!shape.ok())
        return shape.status();
      p.outputs.push_back(*shape);
    }
    return Status::success();
  }

  static Status checkWeightPaths(const mil::Function &fn) {
    Status status = Status::success();
    mil::forEachBlobFile(
        fn, [&](const mil::Value &v, const mil::Statement &st) {
          if (status.ok() && v.blobPath() != mil::kModelWeightPath)
            status = Status::error(fmt::format(
                "line {}: weight file '{}'; the simulator takes '{}' only",
                st.line, v.blobPath(), mil::kModelWeightPath));
        });
    return status;
  }

  static Status checkSurfaces(const SimProgram &p,
                              const std::vector<const AneSurface *> &inputs,
                              const std::vector<AneSurface *> &outputs) {
    if (inputs.size() != p.inputs.size() || outputs.size() != p.outputs.size())
      return Status::error(fmt::format(
          "the program takes {} inputs and {} outputs; given {} and {}",
          p.inputs.size(), p.outputs.size(), inputs.size(), outputs.size()));
    auto check = [](const AneSurface *s, const mil::Shape &want,
                    const char *what, size_t i) -> Status {
      if (!s || s->shape() != want)
        return Status::error(fmt::format("{} {} must be a [{}] surface", what,
                                         i, fmt::join(want, ", ")));
      return Status::success();
    };
    for (size_t i = 0; i < inputs.size(); ++i)
      if (Status s = check(inputs[i], p.inputs[i], "input", i); !s.ok())
        return s;
    for (size_t i = 0; i < outputs.size(); ++i)
      if (Status s = check(outputs[i], p.outputs[i], "output", i); !s.ok())
        return s;
    return Status::success();
  }

  SimulatedAneOptions options;
  std::unique_ptr<Backend> cpu;
  std::vector<std::unique_ptr<SimProgram>> programs;
  AneCounters counters_;
};

} // namespace

ChipSpec defaultSimulatedChip() {
  auto chip = findChip("m2");
  return chip.ok() ? *chip : ChipSpec{"m2", 60, 15.8};
}

std::unique_ptr<AneDevice>
createSimulatedAneDevice(SimulatedAneOptions options) {
  return std::make_unique<SimulatedAneDevice>(std::move(options));
}

} // namespace ane::runtime
