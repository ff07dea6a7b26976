//===- AneBackend.cpp - kernel programs on an AneDevice -------------------===//

#include "lib/Runtime/Ane/AneBackend.h"

#include "lib/MIL/Text.h"
#include "lib/MIL/WeightFile.h"

#include <fmt/format.h>

#include <map>

namespace ane::runtime {
namespace {

bool namesWeightFile(const mil::Function &fn) {
  for (const mil::Statement &s : fn.body) {
    for (const mil::Argument &a : s.attrs)
      if (a.value.isBlobFile())
        return true;
    for (const mil::Argument &a : s.args)
      if (a.value.isBlobFile())
        return true;
  }
  return false;
}

class AneProgram final : public BackendProgram {
public:
  AneProgram(AneDevice &device, std::string milText, mil::Function fn)
      : device(device), milText(std::move(milText)), fn(std::move(fn)) {}

  /// Compiles and loads now when the program needs no weight file.
  Status prepare() {
    for (const std::string &out : fn.outputs)
      for (const mil::Statement &s : fn.body)
        for (const mil::Statement::Output &o : s.outputs)
          if (o.name == out) {
            auto shape = aneSurfaceShape(o.type, "output '" + out + "'");
            if (!shape.ok())
              return shape.status();
            outputs.push_back(std::make_unique<AneSurface>(*shape));
          }
    if (namesWeightFile(fn))
      return Status::success(); // compiled per layer, in bindWeights
    auto id = compileAndLoad({});
    if (!id.ok())
      return id.status();
    current = *id;
    return Status::success();
  }

  const std::vector<mil::Param> &params() const override { return fn.params; }

  /// Baked: the first time a segment is bound, a program is compiled with
  /// it; later binds of the same segment select that program again.
  Status bindWeights(Bytes segment, const std::string &name) override {
    auto it = baked.find(segment.data);
    if (it != baked.end() && it->second.second == segment.size) {
      current = it->second.first;
      return Status::success();
    }
    auto id = compileAndLoad({{mil::kModelWeightPath, segment}});
    if (!id.ok())
      return Status::error(name + ": " + id.message());
    baked[segment.data] = {*id, segment.size};
    current = *id;
    return Status::success();
  }

  void setConstantInputs(size_t first) override { constantFrom = first; }

  Result<std::vector<Tensor>>
  run(const std::vector<TensorRef> &inputs) override {
    if (current < 0)
      return Status::error("no weights are bound to this program");
    if (inputs.size() != fn.params.size())
      return Status::error(fmt::format("the program takes {} inputs, given {}",
                                       fn.params.size(), inputs.size()));
    std::vector<const AneSurface *> in;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto surface = surfaceFor(i, inputs[i]);
      if (!surface.ok())
        return surface.status();
      in.push_back(*surface);
    }
    std::vector<AneSurface *> out;
    for (auto &s : outputs)
      out.push_back(s.get());
    if (Status s = device.evaluate(current, in, out); !s.ok())
      return s;
    std::vector<Tensor> results;
    for (auto &s : outputs)
      results.push_back(s->read());
    return results;
  }

private:
  Result<AneProgramId> compileAndLoad(std::vector<AneWeightFile> weights) {
    auto id = device.compile(milText, weights);
    if (!id.ok())
      return id.status();
    if (Status s = device.load(*id); !s.ok())
      return s;
    return *id;
  }

  /// The surface of input `i`: a constant input's is packed once per
  /// tensor and kept while the tensor lives; the others are rewritten.
  Result<const AneSurface *> surfaceFor(size_t i, const TensorRef &t) {
    auto shape =
        aneSurfaceShape(fn.params[i].type, "input '" + fn.params[i].name + "'");
    if (!shape.ok())
      return shape.status();
    if (i >= constantFrom) {
      auto it = constants.find(t.get());
      if (it != constants.end() && it->second.source.lock() == t)
        return it->second.surface.get();
      auto surface = std::make_unique<AneSurface>(*shape);
      if (Status s = surface->write(*t); !s.ok())
        return s;
      const AneSurface *raw = surface.get();
      constants[t.get()] = {t, std::move(surface)};
      return raw;
    }
    if (activations.size() <= i)
      activations.resize(i + 1);
    auto &s = activations[i];
    if (!s)
      s = std::make_unique<AneSurface>(*shape);
    if (Status st = s->write(*t); !st.ok())
      return Status::error("input '" + fn.params[i].name +
                           "': " + st.message());
    return s.get();
  }

  struct Constant {
    std::weak_ptr<const Tensor> source;
    std::unique_ptr<AneSurface> surface;
  };

  AneDevice &device;
  std::string milText;
  mil::Function fn;
  AneProgramId current = -1;
  std::map<const uint8_t *, std::pair<AneProgramId, uint64_t>> baked;
  size_t constantFrom = SIZE_MAX;
  std::map<const Tensor *, Constant> constants;
  std::vector<std::unique_ptr<AneSurface>> activations;
  std::vector<std::unique_ptr<AneSurface>> outputs;
};

class AneBackend final : public Backend {
public:
  AneBackend(std::unique_ptr<AneDevice> device, std::string name)
      : device_(std::move(device)), name_(std::move(name)) {}

  std::string_view name() const override { return name_; }
  const AneDevice &device() const { return *device_; }

  Result<std::unique_ptr<BackendProgram>>
  compile(const std::string &milText) override {
    auto parsed = mil::parseProgram(milText);
    if (!parsed.ok())
      return parsed.status();
    const mil::Function *fn = parsed->function("main");
    if (!fn)
      return Status::error("the program has no function 'main'");
    auto program = std::make_unique<AneProgram>(*device_, milText, *fn);
    if (Status s = program->prepare(); !s.ok())
      return s;
    return std::unique_ptr<BackendProgram>(std::move(program));
  }

private:
  std::unique_ptr<AneDevice> device_;
  std::string name_;
};

} // namespace

std::unique_ptr<Backend> createAneBackend(std::unique_ptr<AneDevice> device,
                                          std::string name) {
  return std::make_unique<AneBackend>(std::move(device), std::move(name));
}

const AneDevice *aneDeviceOf(const Backend &backend) {
  auto *ane = dynamic_cast<const AneBackend *>(&backend);
  return ane ? &ane->device() : nullptr;
}

} // namespace ane::runtime
