//===- Executor.cpp - reference MIL executor ------------------------------===//
//
// Plain loops, one function per op (lib/Runtime/Cpu/Ops). Every index
// computed from program data is checked, so a malformed program gives an
// error, never an out-of-bounds access.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/Executor.h"

#include "lib/MIL/ShapeRules.h"
#include "lib/MIL/Text.h"
#include "lib/Runtime/Cpu/Ops/Ops.h"
#include "lib/Runtime/Cpu/VectorMath.h"
#include "lib/Runtime/ThreadPool.h"
#include "lib/Support/Float16.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include <fmt/format.h>

namespace ane::runtime {

using mil::Shape;

namespace {

const OpTable &opTable() {
  static const OpTable table = [] {
    OpTable t;
    addElementwiseOps(t);
    addReductionOps(t);
    addProductOps(t);
    addAttentionOps(t);
    addShapeOps(t);
    addConstexprOps(t);
    return t;
  }();
  return table;
}

std::string where(const mil::Statement &st) {
  return st.line ? fmt::format("line {}: op '{}'", st.line, st.op)
                 : fmt::format("op '{}'", st.op);
}

/// What OpContext reads BLOBFILE literals from when a statement has none
/// (OpContext keeps a reference, so this must outlive it).
const WeightFiles &noWeightFiles() {
  static const WeightFiles none;
  return none;
}

/// Whether a conv is a plain product: groups 1, unit strides and
/// dilations, no padding (its weight is 1x1 by construction).
bool pointwiseConv(const mil::Statement &st,
                   const std::vector<TensorPtr> &constants) {
  OpContext c(st, constants, noWeightFiles());
  auto ones = [&](const char *name) {
    auto list = c.intList(name);
    if (!list.ok())
      return false;
    for (int64_t v : list->value_or(std::vector<int64_t>{}))
      if (v != 1)
        return false;
    return true;
  };
  auto pad = c.intList("pad");
  auto groups = c.intScalar("groups", 1);
  if (!pad.ok() || !groups.ok() || *groups != 1 || !ones("strides") ||
      !ones("dilations"))
    return false;
  for (int64_t v : pad->value_or(std::vector<int64_t>{}))
    if (v != 0)
      return false;
  return true;
}

/// Whether st's one output is declared a tensor of `dtype` that `shape`
/// fits: a fast path that would produce something else leaves the op to
/// the plain loops, which report the mismatch.
bool declaresOutput(const mil::Statement &st, DType dtype, const Shape &shape) {
  const mil::Type &decl = st.outputs[0].type;
  return decl.isTensor() && decl.dtype == dtype &&
         mil::shapesCompatible(decl.dims, shape);
}

/// conv(x, weight) with the weight read in place by the vector kernels.
Status runPackedConv(const mil::Statement &st, std::vector<TensorPtr> &env,
                     int32_t out, const PackedWeight &w) {
  OpContext c(st, env, noWeightFiles());
  auto x = c.tensor("x");
  auto bias = c.optTensor("bias");
  if (!x.ok() || !bias.ok())
    return Status::error(where(st) + ": " +
                         (x.ok() ? bias.message() : x.message()));
  const Tensor &in = **x;
  if (!in.isFloat() || in.shape.size() != 4 || in.shape[0] != 1 ||
      in.shape[2] != 1 || in.shape[1] != w.cols)
    return Status::error(fmt::format("{}: x is {}, the weight takes [1, {}, "
                                     "1, S]",
                                     where(st), mil::formatShape(in.shape),
                                     w.cols));
  int64_t S = in.shape[3];
  Tensor y = Tensor::zeros(in.dtype, {1, w.rows, 1, S});
  matmul(w, in.values(), S, y.f.data(), ThreadPool::global());
  if (*bias && (*bias)->numElements() != w.rows)
    return Status::error(where(st) + ": bias must have one entry per output "
                                     "channel");
  if (*bias)
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t s = 0; s < S; ++s)
        y.f[r * S + s] += float((*bias)->at(r));
  // Vector rounding: a conversion call per value showed in decode profiles.
  if (y.dtype == DType::FP16)
    roundToHalfs(y.f.data(), y.numElements());
  if (st.outputs.size() != 1 || !declaresOutput(st, y.dtype, y.shape))
    return Status::error(where(st) + ": the result does not match its "
                                     "declared type");
  env[out] = std::make_shared<Tensor>(std::move(y));
  return Status::success();
}

/// matmul of float tensors of one rank >= 2 with equal batch dimensions
/// (the attention products; with x transposed and y not, the backward
/// kernels' W^T g), on the vector kernels, batches (or a single product's
/// rows) spread over the thread pool. Anything else returns nullopt and
/// runs the plain loops.
std::optional<Status> fastMatmul(const mil::Statement &st,
                                 std::vector<TensorPtr> &env, int32_t out) {
  OpContext c(st, env, noWeightFiles());
  auto x = c.tensor("x");
  auto y = c.tensor("y");
  auto tx = c.boolScalar("transpose_x", false);
  auto ty = c.boolScalar("transpose_y", false);
  if (!x.ok() || !y.ok() || !tx.ok() || !ty.ok() || (*tx && *ty) ||
      st.outputs.size() != 1)
    return std::nullopt;
  const Tensor &a = **x, &b = **y;
  size_t rank = a.shape.size();
  if (!a.isFloat() || a.halfStored || a.dtype != b.dtype || rank < 2 ||
      b.shape.size() != rank ||
      !std::equal(a.shape.begin(), a.shape.end() - 2, b.shape.begin()) ||
      (*tx && b.halfStored))
    return std::nullopt;
  int64_t m = a.shape[rank - 2], k = a.shape[rank - 1];
  if (*tx)
    std::swap(m, k);
  int64_t n = *ty ? b.shape[rank - 2] : b.shape[rank - 1];
  if ((*ty ? b.shape[rank - 1] : b.shape[rank - 2]) != k)
    return std::nullopt; // the plain path reports the mismatch
  mil::Shape shape = a.shape;
  shape[rank - 2] = m;
  shape.back() = n;
  if (!declaresOutput(st, a.dtype, shape))
    return std::nullopt;
  Tensor r = Tensor::zeros(a.dtype, shape);
  int64_t batches = r.numElements() / std::max<int64_t>(m * n, 1);
  bool ys = *ty;
  if (*tx) {
    // One product's rows over the pool, in blocks of 64.
    for (int64_t i = 0; i < batches; ++i) {
      float *o = r.f.data() + i * m * n;
      const float *xa = a.values() + i * m * k, *yb = b.values() + i * k * n;
      ThreadPool::global().parallelFor(
          (m + 63) / 64, 1, [&](int64_t lo, int64_t hi) {
            matmulFloatTx(xa, yb, o, m, k, n, lo * 64, std::min(m, hi * 64));
          });
      if (r.dtype == mil::DType::FP16)
        roundToHalfs(o, m * n);
    }
    env[out] = std::make_shared<Tensor>(std::move(r));
    return Status::success();
  }
  ThreadPool::global().parallelFor(batches, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float *o = r.f.data() + i * m * n;
      if (b.halfStored)
        matmulHalfY(a.values() + i * m * k, b.halfs() + i * k * n, o, m, k, n,
                    ys);
      else
        matmulFloat(a.values() + i * m * k, b.values() + i * k * n, o, m, k, n,
                    ys);
      if (r.dtype == mil::DType::FP16)
        roundToHalfs(o, m * n);
    }
  });
  env[out] = std::make_shared<Tensor>(std::move(r));
  return Status::success();
}

/// A 1x1 conv whose weight is a float tensor already (a weight the
/// backward kernels also transpose, so materialised once per binding), on
/// the packed kernels' float path. nullopt leaves it to the plain loops.
std::optional<Status> fastFloatConv(const mil::Statement &st,
                                    std::vector<TensorPtr> &env, int32_t out) {
  OpContext c(st, env, noWeightFiles());
  auto w = c.tensor("weight");
  if (!w.ok() || !pointwiseConv(st, env))
    return std::nullopt;
  const Tensor &t = **w;
  if (!t.isFloat() || t.halfStored || t.shape.size() != 4 || t.shape[2] != 1 ||
      t.shape[3] != 1)
    return std::nullopt;
  PackedWeight packed;
  packed.format = PackedWeight::Format::F32;
  packed.rows = t.shape[0];
  packed.cols = t.shape[1];
  packed.data = reinterpret_cast<const uint8_t *>(t.values());
  return runPackedConv(st, env, out, packed);
}

/// softmax over the last axis and silu on VectorMath's exp, the rows or
/// runs of elements shared out over the pool. nullopt leaves the op to the
/// plain loops (another axis, fp16 bits, an output declared otherwise).
std::optional<Status> fastActivation(const mil::Statement &st, bool softmax,
                                     std::vector<TensorPtr> &env, int32_t out) {
  OpContext c(st, env, noWeightFiles());
  auto x = c.tensor("x");
  if (!x.ok() || !(*x)->isFloat() || (*x)->halfStored || st.outputs.size() != 1)
    return std::nullopt;
  const Tensor &in = **x;
  if (!declaresOutput(st, in.dtype, in.shape) || in.numElements() == 0)
    return std::nullopt;
  int64_t run = 1024; // silu: elements per task
  if (softmax) {
    auto axis = c.intScalar("axis", -1);
    int64_t rank = static_cast<int64_t>(in.shape.size());
    if (!axis.ok() || rank == 0 || mil::normalizeAxis(*axis, rank) != rank - 1)
      return std::nullopt;
    run = in.shape.back();
  }
  Tensor r = in.owned();
  int64_t n = r.numElements();
  ThreadPool::global().parallelFor((n + run - 1) / run, 1,
                                   [&](int64_t lo, int64_t hi) {
                                     for (int64_t i = lo; i < hi; ++i) {
                                       float *v = r.f.data() + i * run;
                                       int64_t len = std::min(run, n - i * run);
                                       if (softmax)
                                         softmaxRow(v, len);
                                       else
                                         siluRow(v, len);
                                       if (r.dtype == mil::DType::FP16)
                                         roundToHalfs(v, len);
                                     }
                                   });
  env[out] = std::make_shared<Tensor>(std::move(r));
  return Status::success();
}

/// Gives each Ref in `v` the slot its name has now; collects the slots.
void annotateRefs(mil::Value &v, const std::map<std::string, int32_t> &slots,
                  std::vector<int32_t> &reads) {
  if (v.kind == mil::Value::Kind::Ref) {
    auto it = slots.find(v.text);
    v.slot = it == slots.end() ? -1 : it->second;
    if (v.slot >= 0)
      reads.push_back(v.slot);
  }
  for (mil::Value &item : v.items)
    annotateRefs(item, slots, reads);
}

/// Whether `v` holds a BLOBFILE literal or names a slot in `fromWeights`.
bool readsAny(const mil::Value &v, const std::vector<bool> &fromWeights) {
  if (v.isBlobFile() ||
      (v.kind == mil::Value::Kind::Ref && v.slot >= 0 &&
       size_t(v.slot) < fromWeights.size() && fromWeights[v.slot]))
    return true;
  for (const mil::Value &item : v.items)
    if (readsAny(item, fromWeights))
      return true;
  return false;
}

bool isViewOp(mil::OpKind kind) {
  return kind == mil::OpKind::Reshape || kind == mil::OpKind::Squeeze ||
         kind == mil::OpKind::ExpandDims || kind == mil::OpKind::Identity;
}

} // namespace

bool Executor::runs(mil::OpKind kind) {
  return kind == mil::OpKind::Const || kind == mil::OpKind::ReadState ||
         kind == mil::OpKind::WriteState || opTable()[size_t(kind)] != nullptr;
}

Status Executor::load() {
  mil::Function &f =
      *std::find_if(program->functions.begin(), program->functions.end(),
                    [&](const mil::Function &g) { return &g == fn; });
  std::map<std::string, int32_t> slotOf;
  auto newSlot = [&](const std::string &name) {
    slotOf[name] = int32_t(numSlots);
    return int32_t(numSlots++);
  };
  for (const mil::Param &p : f.params)
    paramSlots.push_back(
        p.type.kind == mil::Type::Kind::State ? -1 : newSlot(p.name));
  // By slot: whether a constant's value comes from a weight file, directly
  // or through other constants.
  std::vector<bool> fromWeights(numSlots, false);
  for (mil::Statement &st : f.body) {
    Step step;
    step.st = &st;
    std::optional<mil::OpKind> kind = mil::parseOpKind(st.op);
    if (!kind || !runs(*kind))
      return Status::error(where(st) + ": the executor does not implement it");
    step.kind = *kind;
    step.constant = mil::isConstantOp(*kind);
    // A statement reads the values defined before it: its Refs are resolved
    // before its outputs get their slots.
    for (auto *list : {&st.args, &st.attrs})
      for (mil::Argument &a : *list) {
        annotateRefs(a.value, slotOf, step.reads);
        step.readsWeights = step.readsWeights ||
                            (step.constant && readsAny(a.value, fromWeights));
      }
    if (step.kind == mil::OpKind::Conv)
      if (const mil::Value *w = st.arg("weight");
          w && w->kind == mil::Value::Kind::Ref)
        step.convWeight = w->slot;
    for (const mil::Statement::Output &o : st.outputs) {
      step.outs.push_back(newSlot(o.name));
      fromWeights.resize(numSlots, false);
      fromWeights[step.outs.back()] = step.readsWeights;
    }
    steps.push_back(std::move(step));
  }
  for (const std::string &name : f.outputs) {
    auto it = slotOf.find(name);
    outputSlots.push_back(it == slotOf.end() ? -1 : it->second);
  }
  // Each value is dropped right after its last reader (function outputs
  // excepted), so a kernel holds only live intermediates and freed buffers
  // are reused at once.
  std::vector<int32_t> last(numSlots, -1);
  for (size_t k = 0; k < steps.size(); ++k)
    if (!steps[k].constant)
      for (int32_t slot : steps[k].reads)
        last[slot] = int32_t(k);
  for (int32_t slot : outputSlots)
    if (slot >= 0)
      last[slot] = -1;
  for (size_t slot = 0; slot < numSlots; ++slot)
    if (last[slot] >= 0)
      steps[last[slot]].dead.push_back(int32_t(slot));
  return Status::success();
}

Result<Executor> Executor::createUnbound(const mil::Program &program,
                                         const std::string &functionName) {
  Executor e;
  e.program = std::make_shared<mil::Program>(program);
  e.fn = e.program->function(functionName);
  if (!e.fn)
    return Result<Executor>::error("no function named '" + functionName + "'");
  if (Status s = e.load(); !s.ok())
    return s;
  return e;
}

Result<Executor> Executor::create(const mil::Program &program,
                                  const std::string &functionName,
                                  const WeightFiles &weights) {
  auto e = createUnbound(program, functionName);
  if (!e.ok())
    return e;
  e->bindWeights(weights);
  // Materialise now so that bad weights fail here, not in the first run.
  if (Status s = e->materialise(weights); !s.ok())
    return s;
  return e;
}

void Executor::bindWeights(WeightFiles files) {
  weights = std::move(files);
  constants.clear();
  constantsStale = true;
}

void Executor::useFastKernels(bool on) {
  fastKernels = on;
  packedSources.clear();
  viewBases.clear();
  if (on)
    for (auto &[name, source] : findPackedWeights(*fn))
      for (const Step &step : steps) {
        if (step.outs.size() != 1)
          continue;
        if (step.st->outputs[0].name == name)
          packedSources.push_back({step.outs[0], name, source});
        if (!source.viewOf.empty() && step.st->outputs[0].name == source.viewOf)
          viewBases.push_back(step.outs[0]);
      }
  packed.assign(numSlots, std::nullopt);
  constants.clear();
  constantsStale = true;
}

void Executor::setInterleavedBlobs(std::set<uint64_t> offsets) {
  interleavedBlobs = std::move(offsets);
  packed.assign(numSlots, std::nullopt);
  constants.clear();
  constantsStale = true;
}

namespace {

/// The offset of a BLOBFILE in `v` that `offsets` holds, if any.
std::optional<uint64_t> interleavedBlobIn(const mil::Value &v,
                                          const std::set<uint64_t> &offsets) {
  if (v.isBlobFile() && offsets.count(v.blobOffset()))
    return v.blobOffset();
  for (const mil::Value &item : v.items)
    if (auto found = interleavedBlobIn(item, offsets))
      return found;
  return std::nullopt;
}

} // namespace

/// Runs one statement and binds its outputs, checking them against the
/// types the text declares.
Status Executor::runStep(const Step &step, Env &env,
                         const WeightFiles &weights) {
  const mil::Statement &st = *step.st;
  if (step.readsWeights && !interleavedBlobs.empty())
    for (auto *list : {&st.args, &st.attrs})
      for (const mil::Argument &a : *list)
        if (auto offset = interleavedBlobIn(a.value, interleavedBlobs))
          return Status::error(fmt::format(
              "{}: the blob at offset {} holds the cpu backend's interleaved "
              "layout, which only a 1x1 conv weight can read",
              where(st), *offset));
  OpContext ctx(st, env, weights);
  Outputs outs;
  if (step.kind == mil::OpKind::Const) {
    const mil::Value *val = st.attr("val");
    if (!val)
      return Status::error(where(st) + ": const without val");
    auto t = decodeLiteral(*val, weights);
    if (!t.ok())
      return Status::error(where(st) + ": " + t.message());
    outs.push_back(std::move(*t));
  } else if (step.kind == mil::OpKind::ReadState ||
             step.kind == mil::OpKind::WriteState) {
    const mil::Value *in = st.arg("input");
    if (!in || in->kind != mil::Value::Kind::Ref)
      return Status::error(where(st) + ": input must name a state");
    auto it = states.find(in->text);
    if (it == states.end())
      return Status::error(where(st) + ": state '" + in->text +
                           "' has no value");
    if (step.kind == mil::OpKind::ReadState) {
      outs.push_back(it->second);
    } else {
      auto data = ctx.tensor("data");
      if (!data.ok())
        return Status::error(where(st) + ": " + data.message());
      if ((*data)->dtype != it->second.dtype ||
          (*data)->shape != it->second.shape)
        return Status::error(where(st) + ": data does not match the state");
      it->second = (*data)->owned();
    }
  } else {
    Status status = opTable()[size_t(step.kind)](ctx, outs);
    if (!status.ok())
      return Status::error(where(st) + ": " + status.message());
  }
  if (outs.size() != st.outputs.size())
    return Status::error(
        fmt::format("{}: produces {} values, the text binds {}", where(st),
                    outs.size(), st.outputs.size()));
  for (size_t k = 0; k < outs.size(); ++k) {
    const mil::Type &decl = st.outputs[k].type;
    if (!decl.isTensor() || decl.dtype != outs[k].dtype ||
        !mil::shapesCompatible(decl.dims, outs[k].shape))
      return Status::error(fmt::format(
          "{}: result '{}' is {} {}, the text declares {}", where(st),
          st.outputs[k].name, mil::dtypeName(outs[k].dtype),
          mil::formatShape(outs[k].shape), mil::printType(decl, false)));
    env[step.outs[k]] = std::make_shared<Tensor>(std::move(outs[k]));
  }
  return Status::success();
}

Status Executor::materialise(const WeightFiles &weights) {
  constants.assign(numSlots, nullptr);
  packed.assign(numSlots, std::nullopt);
  constantsStale = false;
  for (const PackedSlot &p : packedSources) {
    auto w = bindPackedWeight(p.source, weights, interleavedBlobs);
    if (!w.ok())
      return Status::error(fmt::format("weight '{}': {}", p.name, w.message()));
    packed[p.slot] = *w;
  }
  // Constants depend only on constants, so they can run ahead of time. Those
  // that read no weight file are the same for every binding: they run once.
  if (!fixedReady) {
    fixedConstants.assign(numSlots, nullptr);
    for (const Step &step : steps)
      if (step.constant && !step.readsWeights)
        if (Status s = runStep(step, fixedConstants, weights); !s.ok())
          return s;
    fixedReady = true;
  }
  constants = fixedConstants;
  auto viewBase = [&](const Step &step) {
    return step.outs.size() == 1 &&
           std::find(viewBases.begin(), viewBases.end(), step.outs[0]) !=
               viewBases.end();
  };
  for (const Step &step : steps) {
    // Packed weights, and weights read only through packed row ranges, are
    // read in place instead.
    if (!step.readsWeights || packedOutput(step) || viewBase(step))
      continue;
    if (Status s = runStep(step, constants, weights); !s.ok())
      return s;
  }
  // A packed weight whose conv is not a plain 1x1 product is materialised
  // after all.
  for (const Step &step : steps) {
    if (!packedConv(step) || pointwiseConv(*step.st, constants))
      continue;
    int32_t w = step.convWeight;
    packed[w].reset();
    for (const Step &def : steps) {
      if (def.outs.size() != 1 || def.outs[0] != w)
        continue;
      // A row range needs the weight it slices.
      for (int32_t read : def.reads)
        for (const Step &base : steps)
          if (viewBase(base) && base.outs[0] == read && !constants[read])
            if (Status s = runStep(base, constants, weights); !s.ok())
              return s;
      if (Status s = runStep(def, constants, weights); !s.ok())
        return s;
    }
  }
  return Status::success();
}

Status Executor::setState(const std::string &param, Tensor value) {
  for (const mil::Param &p : fn->params)
    if (p.name == param && p.type.kind == mil::Type::Kind::State) {
      states[param] = std::move(value);
      return Status::success();
    }
  return Status::error("no state parameter named '" + param + "'");
}

const Tensor *Executor::state(const std::string &param) const {
  auto it = states.find(param);
  return it == states.end() ? nullptr : &it->second;
}

Result<std::vector<Tensor>> Executor::run(const std::vector<Tensor> &inputs) {
  std::vector<TensorRef> shared;
  for (const Tensor &t : inputs)
    shared.push_back(std::make_shared<const Tensor>(t));
  return run(shared);
}

void Executor::profileInto(OpProfile *p, std::string kernel) {
  profile = p;
  profileKernel = std::move(kernel);
}

Result<std::vector<Tensor>>
Executor::run(const std::vector<TensorRef> &inputs) {
  if (constantsStale) {
    auto started = std::chrono::steady_clock::now();
    if (Status s = materialise(weights); !s.ok()) {
      constantsStale = true;
      return s;
    }
    if (profile)
      profile->add(profileKernel, "(constants)", secondsSince(started));
  }
  Env env = constants;
  size_t next = 0;
  // Only inputs hold fp16 bits (views pass them on): without such an input
  // no statement needs its arguments looked at.
  bool holdsHalfs = false;
  for (size_t i = 0; i < fn->params.size(); ++i) {
    const mil::Param &p = fn->params[i];
    if (paramSlots[i] < 0)
      continue; // a state
    if (next >= inputs.size())
      return Result<std::vector<Tensor>>::error(
          fmt::format("missing input for parameter '{}'", p.name));
    const TensorRef &in = inputs[next++];
    if (!in || !p.type.isTensor() || in->dtype != p.type.dtype ||
        !mil::shapesCompatible(p.type.dims, in->shape))
      return Result<std::vector<Tensor>>::error(
          fmt::format("input '{}' is {} {}, the function takes {}", p.name,
                      in ? mil::dtypeName(in->dtype) : "nothing",
                      in ? mil::formatShape(in->shape) : "",
                      mil::printType(p.type, false)));
    if (in->storedElements() != in->numElements())
      return Result<std::vector<Tensor>>::error(
          fmt::format("input '{}' holds the wrong number of values", p.name));
    env[paramSlots[i]] = in;
    holdsHalfs = holdsHalfs || in->halfStored;
  }
  if (next != inputs.size())
    return Result<std::vector<Tensor>>::error(fmt::format(
        "{} inputs given, the function takes {}", inputs.size(), next));
  for (const Step &step : steps) {
    if (step.constant || packedOutput(step))
      continue;
    // The clock is read only when profiling.
    auto started = profile ? std::chrono::steady_clock::now()
                           : std::chrono::steady_clock::time_point();
    std::optional<Status> fast;
    if (fastKernels && step.kind == mil::OpKind::Matmul)
      fast = fastMatmul(*step.st, env, step.outs[0]);
    else if (fastKernels && step.kind == mil::OpKind::Conv && !packedConv(step))
      fast = fastFloatConv(*step.st, env, step.outs[0]);
    else if (fastKernels && (step.kind == mil::OpKind::Softmax ||
                             step.kind == mil::OpKind::Silu))
      fast = fastActivation(*step.st, step.kind == mil::OpKind::Softmax, env,
                            step.outs[0]);
    // Ops that read values() get widened copies of fp16-bit tensors; later
    // readers get the copy too.
    if (holdsHalfs && !fast && !isViewOp(step.kind))
      for (int32_t slot : step.reads)
        if (env[slot] && env[slot]->halfStored)
          env[slot] = std::make_shared<const Tensor>(env[slot]->owned());
    Status s = fast               ? *fast
               : packedConv(step) ? runPackedConv(*step.st, env, step.outs[0],
                                                  *packed[step.convWeight])
                                  : runStep(step, env, weights);
    if (!s.ok())
      return s;
    for (int32_t slot : step.dead)
      env[slot].reset();
    if (profile)
      profile->add(profileKernel, step.st->op, secondsSince(started));
  }
  std::vector<Tensor> outs;
  for (size_t i = 0; i < outputSlots.size(); ++i) {
    int32_t slot = outputSlots[i];
    if (slot < 0 || !env[slot])
      return Result<std::vector<Tensor>>::error("output '" + fn->outputs[i] +
                                                "' is never defined");
    outs.push_back(env[slot]->owned());
  }
  return outs;
}

} // namespace ane::runtime
