//===- SimulatedAneDevice.cpp - the ANE's published behaviour -------------===//

#include "lib/Runtime/Ane/SimulatedAneDevice.h"

#include "lib/MIL/Ops.h"
#include "lib/MIL/Text.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/CpuBackend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

namespace ane::runtime {
namespace {

/// Calls `f(path, line)` for every BLOBFILE constant of `fn`.
template <typename F> void forEachBlob(const mil::Function &fn, F f) {
  std::function<void(const mil::Value &, int)> visit = [&](const mil::Value &v,
                                                           int line) {
    if (v.isBlobFile())
      f(v.blobPath(), line);
    for (const mil::Value &item : v.items)
      visit(item, line);
  };
  for (const mil::Statement &s : fn.body) {
    for (const mil::Argument &a : s.args)
      visit(a.value, s.line);
    for (const mil::Argument &a : s.attrs)
      visit(a.value, s.line);
  }
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
  std::unique_ptr<BackendProgram> program;
  std::vector<uint8_t> baked; // the weight file as it was at compile
  std::vector<mil::Shape> inputs, outputs;
  double flops = 0;
  bool loaded = false;
  /// The last tensor decoded from each input surface, by surface version.
  std::vector<std::pair<uint64_t, TensorRef>> decoded;
};

class SimulatedAneDevice final : public AneDevice {
public:
  explicit SimulatedAneDevice(SimulatedAneOptions options)
      : options(std::move(options)), cpu(createCpuBackend(/*fast=*/true)) {}

  std::string_view name() const override { return "ane-sim"; }

  Result<AneProgramId>
  compile(const std::string &milText,
          const std::vector<AneWeightFile> &weights) override {
    if (counters_.compiles >= options.compileBudget)
      return Status::error(fmt::format(
          "the compile budget of this process is spent ({} compiles; the "
          "ANE's compiler fails after about 119 per process): compile fewer "
          "programs in one process",
          options.compileBudget));
    auto parsed = mil::parseProgram(milText);
    if (!parsed.ok())
      return parsed.status();
    const mil::Function *fn = parsed->function("main");
    if (!fn)
      return Status::error("the program has no function 'main'");
    auto prog = std::make_unique<SimProgram>();
    if (Status s = checkOps(*fn); !s.ok())
      return s;
    auto types = typesOf(*fn);
    if (Status s = checkAxes(*fn); !s.ok())
      return s;
    if (Status s = surfacesOf(*fn, types, *prog); !s.ok())
      return s;
    if (Status s = bake(*fn, weights, *prog); !s.ok())
      return s;
    auto program = cpu->compile(milText);
    if (!program.ok())
      return program.status();
    prog->program = std::move(*program);
    if (!prog->baked.empty())
      if (Status s = prog->program->bindWeights(
              Bytes{prog->baked.data(), prog->baked.size()}, "baked weights");
          !s.ok())
        return s;
    prog->flops = flopsOf(*fn, types);
    prog->decoded.resize(prog->inputs.size());
    counters_.compiles += 1;
    counters_.bakedWeightBytes += prog->baked.size();
    counters_.modelledSeconds += options.chip.compileMs * 1e-3;
    programs.push_back(std::move(prog));
    return AneProgramId(programs.size() - 1);
  }

  Status load(AneProgramId id) override {
    auto p = find(id);
    if (!p.ok())
      return p.status();
    if ((*p)->loaded)
      return Status::error(
          fmt::format("program {} is already loaded: unload it first", id));
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
    uint64_t bytes = p.baked.size();
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
    for (const mil::Statement &st : fn.body)
      for (const mil::Statement::Output &o : st.outputs)
        if (Status s = check(o.type, o.name, st.line); !s.ok())
          return s;
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

  /// Copies the weight file the program names: after this, the caller's
  /// bytes are never read again.
  static Status bake(const mil::Function &fn,
                     const std::vector<AneWeightFile> &weights, SimProgram &p) {
    Status status = Status::success();
    forEachBlob(fn, [&](const std::string &path, int line) {
      if (status.ok() && path != mil::kModelWeightPath)
        status = Status::error(fmt::format(
            "line {}: weight file '{}'; the simulator takes '{}' only", line,
            path, mil::kModelWeightPath));
    });
    if (!status.ok())
      return status;
    for (const AneWeightFile &w : weights) {
      if (w.path != mil::kModelWeightPath)
        return Status::error(
            fmt::format("weight file '{}'; the simulator takes '{}' only",
                        w.path, mil::kModelWeightPath));
      p.baked.assign(w.data.data, w.data.data + w.data.size);
    }
    return Status::success();
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
