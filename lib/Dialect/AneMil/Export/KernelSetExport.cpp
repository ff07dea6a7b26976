//===- KernelSetExport.cpp - a compiled module as a kernel set ------------===//
//
// The one place where a compiled anemil module becomes the contract of
// lib/Abi: the in-process compile (lib/Compile.cpp) and
// `ane-translate --kernel-dir` both go through exportKernelSet, so a kernel
// directory and a .anepak carry the same manifest.
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/AneMil/Export/MILTranslation.h"

#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "lib/MIL/Text.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <map>

using namespace mlir;
using namespace mlir::anemil;
namespace abi = ::ane::abi;
namespace mil = ::ane::mil;

namespace {

/// An error at `op`'s location. Not op->emitError(): that attaches the op,
/// and for a module or kernel the note is the whole IR, kilobytes long.
InFlightDiagnostic errorAt(Operation *op) { return emitError(op->getLoc()); }

/// An error about the output folder rather than the IR, printed the way the
/// tools print theirs: one line, no source line of the module.
class FolderError {
public:
  template <typename T> FolderError &operator<<(const T &value) {
    os << value;
    return *this;
  }
  operator LogicalResult() {
    llvm::errs() << "error: " << text << "\n";
    return failure();
  }

private:
  std::string text;
  llvm::raw_string_ostream os{text};
};

std::vector<abi::TensorDesc> outputsOf(const mil::Function &fn) {
  std::vector<abi::TensorDesc> outs;
  for (const std::string &o : fn.outputs)
    for (const mil::Statement &s : fn.body)
      for (const auto &out : s.outputs)
        if (out.name == o)
          outs.push_back({o, out.type.dtype, out.type.dims});
  return outs;
}

/// The last dimension of input `name` ([1, C, 1, S] activations and caches),
/// looking through a packed input's parts.
std::optional<int64_t> columnsOf(const abi::KernelDesc &d, StringRef name) {
  for (const abi::TensorDesc &t : d.inputs)
    if (t.name == name && t.shape.size() == 4)
      return t.shape[3];
  for (const abi::PackedPart &p : d.packing)
    if (p.name == name && p.shape.size() == 4)
      return p.shape[3];
  return std::nullopt;
}

/// The seq (and, for attention, ctx) bucket a kernel was compiled for.
LogicalResult setBucket(abi::KernelDesc &d, func::FuncOp fn) {
  std::string first = d.packing.empty()
                          ? (d.inputs.empty() ? "" : d.inputs.front().name)
                          : d.packing.front().name;
  std::optional<int64_t> seq = columnsOf(d, first);
  std::optional<int64_t> ctx =
      abi::takesCtx(d.kernel)
          ? columnsOf(d, StringRef(abi::kKeyCacheInput.data(),
                                   abi::kKeyCacheInput.size()))
          : std::optional<int64_t>(0);
  if (!seq || !ctx)
    return errorAt(fn) << "kernel '" << d.name().data()
                       << "' has no [1, C, 1, S] first input"
                       << (ctx ? "" : " or k_cache");
  d.seq = *seq;
  d.ctx = *ctx;
  return success();
}

void setLegalization(abi::KernelDesc &d, func::FuncOp fn) {
  if (auto padded = fn->getAttrOfType<DictionaryAttr>("anemil.padded_channels"))
    for (NamedAttribute a : padded)
      d.paddedChannels.emplace_back(a.getName().str(),
                                    cast<IntegerAttr>(a.getValue()).getInt());
  if (auto packed = fn->getAttrOfType<ArrayAttr>("anemil.packed_inputs"))
    for (Attribute a : packed) {
      auto p = cast<DictionaryAttr>(a);
      abi::PackedPart part;
      part.name = p.getAs<StringAttr>("name").str();
      part.offset = p.getAs<IntegerAttr>("offset").getInt();
      part.columns = p.getAs<IntegerAttr>("columns").getInt();
      auto shape = p.getAs<DenseI64ArrayAttr>("shape").asArrayRef();
      part.shape.assign(shape.begin(), shape.end());
      d.packing.push_back(std::move(part));
    }
}

/// Adds the kernel of `fn` and its program (kept once per text).
LogicalResult addKernel(func::FuncOp fn, abi::Kernel kernel,
                        abi::KernelSet &set,
                        std::map<std::string, int64_t> &programIndex) {
  OwningOpRef<ModuleOp> single = ModuleOp::create(fn.getLoc());
  auto clone = cast<func::FuncOp>(fn->clone());
  clone.setSymName("main");
  single->push_back(clone);
  auto program = exportMIL(*single, MILExportOptions());
  if (failed(program))
    return failure();
  std::string text = mil::printProgram(*program);
  auto [it, inserted] =
      programIndex.emplace(text, int64_t(set.programs.size()));
  if (inserted)
    set.programs.push_back(text);
  abi::KernelDesc d;
  d.kernel = kernel;
  d.program = it->second;
  const mil::Function &mf = program->functions[0];
  for (const mil::Param &p : mf.params)
    d.inputs.push_back({p.name, p.type.dtype, p.type.dims});
  d.outputs = outputsOf(mf);
  if (auto weights = fn->getAttrOfType<ArrayAttr>("anemil.weights"))
    for (Attribute a : weights)
      d.weights.push_back(cast<WeightSlotAttr>(a).getRole().str());
  setLegalization(d, fn);
  if (failed(setBucket(d, fn)))
    return failure();
  set.kernels.push_back(std::move(d));
  return success();
}

::ane::model::Config configOf(llama::ConfigAttr c) {
  ::ane::model::Config out;
  out.dim = c.getDim();
  out.nLayers = c.getNLayers();
  out.nHeads = c.getNHeads();
  out.nKvHeads = c.getNKvHeads();
  out.headDim = c.getHeadDim();
  out.hiddenDim = c.getHiddenDim();
  out.vocabSize = c.getVocabSize();
  out.maxSeqLen = c.getMaxSeqLen();
  out.ropeTheta = c.getRopeTheta().getValueAsDouble();
  out.normEps = c.getNormEps().getValueAsDouble();
  return out;
}

/// The module-level facts: config, dtype, scheme, binding, slots.
LogicalResult setModuleFacts(ModuleOp module, abi::KernelSet &set) {
  auto config = module->getAttrOfType<llama::ConfigAttr>(
      llama::LlamaDialect::getConfigAttrName());
  if (!config)
    return errorAt(module) << "the module has no #llama.config";
  set.config = configOf(config);
  auto text = [&](StringRef name) {
    auto a = module->getAttrOfType<StringAttr>(name);
    return a ? a.getValue().str() : std::string();
  };
  std::optional<abi::DType> dtype = abi::parseDType(text("anemil.dtype"));
  std::optional<abi::WeightBinding> binding =
      abi::parseWeightBinding(text("anemil.weight_binding"));
  std::string quant = text("llama.quantization"); // llama-quantize's
  std::optional<abi::Scheme> scheme =
      quant.empty() ? abi::Scheme::F16 : abi::parseScheme(quant);
  if (!dtype || !binding || !scheme)
    return errorAt(module)
           << "the module lacks anemil.dtype, anemil.weight_binding or a "
              "known llama.quantization: run convert-llama-to-anemil";
  set.dtype = *dtype;
  set.weightBinding = *binding;
  set.scheme = *scheme;
  if (auto rank = module->getAttrOfType<IntegerAttr>("anemil.lora_rank")) {
    set.loraRank = rank.getInt();
    if (auto targets = module->getAttrOfType<ArrayAttr>("anemil.lora_targets"))
      for (Attribute t : targets)
        if (auto s = dyn_cast<StringAttr>(t))
          set.loraTargets.push_back(s.getValue().str());
  }
  auto slots = module->getAttrOfType<ArrayAttr>("anemil.weight_slots");
  if (!slots)
    return errorAt(module) << "the compiled module lists no weight slots";
  std::vector<abi::SlotSpec> layer, global;
  for (Attribute a : slots) {
    abi::SlotSpec s = cast<WeightSlotAttr>(a).toSlotSpec();
    (s.segment == abi::Segment::Layer ? layer : global).push_back(s);
  }
  set.layerSegmentBytes = abi::segmentEnd(layer);
  set.globalSegmentBytes = abi::segmentEnd(global);
  set.slots = layer;
  set.slots.insert(set.slots.end(), global.begin(), global.end());
  return success();
}

} // namespace

FailureOr<abi::KernelSet> mlir::anemil::exportKernelSet(ModuleOp module) {
  abi::KernelSet set;
  if (failed(setModuleFacts(module, set)))
    return failure();
  std::map<std::string, int64_t> programIndex;
  for (auto fn : module.getOps<func::FuncOp>()) {
    auto name = fn->getAttrOfType<StringAttr>("anemil.kernel");
    if (!name)
      continue;
    std::optional<abi::Kernel> kernel = abi::parseKernel(name.getValue().str());
    if (!kernel)
      return errorAt(fn) << "unknown kernel '" << name.getValue() << "'";
    if (failed(addKernel(fn, *kernel, set, programIndex)))
      return failure();
  }
  if (set.kernels.empty())
    return errorAt(module) << "no kernels to write: run ane-compile first";
  if (::ane::Status s = set.validate(); !s.ok())
    return errorAt(module) << "the kernel set: " << s.message();
  return set;
}

namespace {

LogicalResult writeFile(StringRef path, StringRef text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (!ec) {
    os << text;
    os.close();
    ec = os.error();
  }
  if (ec)
    return FolderError() << "cannot write " << path << ": " << ec.message();
  return success();
}

/// Writes the set's files into `dir`, which exists and is empty.
LogicalResult writeKernelFiles(abi::KernelSet &set, StringRef dir) {
  set.programFiles.assign(set.programs.size(), "");
  for (const abi::KernelDesc &k : set.kernels) {
    std::string &file = set.programFiles[k.program];
    if (file.empty())
      file = std::string(k.name()) + ".mil";
  }
  for (size_t i = 0; i < set.programs.size(); ++i) {
    SmallString<256> path(dir);
    llvm::sys::path::append(path, set.programFiles[i]);
    if (failed(writeFile(path, set.programs[i])))
      return failure();
  }
  SmallString<256> path(dir);
  llvm::sys::path::append(path, "manifest.json");
  return writeFile(path, abi::writeManifest(set) + "\n");
}

/// Whether `dir`, which exists, may be replaced: it holds only what a
/// kernel set holds (manifest.json and .mil files). Anything else is the
/// user's, and replacing the folder would delete it.
LogicalResult checkReplaceable(StringRef dir) {
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    StringRef name = llvm::sys::path::filename(it->path());
    bool ours = name == "manifest.json" || name.ends_with(".mil");
    if (!ours || it->type() != llvm::sys::fs::file_type::regular_file)
      return FolderError()
             << "cannot write the kernels to " << dir << ": it holds '" << name
             << "', which is not part of a kernel set; name a new or empty "
                "folder, or one written by --kernel-dir";
  }
  if (ec)
    return FolderError() << "cannot read " << dir << ": " << ec.message();
  return success();
}

} // namespace

LogicalResult mlir::anemil::exportKernelDir(ModuleOp module, StringRef dir) {
  if (dir.empty())
    return FolderError() << "--kernel-dir needs a folder name";
  auto set = exportKernelSet(module);
  if (failed(set))
    return failure();
  llvm::sys::fs::file_status status;
  bool exists =
      !llvm::sys::fs::status(dir, status) && llvm::sys::fs::exists(status);
  if (exists && !llvm::sys::fs::is_directory(status))
    return FolderError() << "cannot write the kernels to " << dir
                         << ": it exists and is not a folder";
  if (exists && failed(checkReplaceable(dir)))
    return failure();
  SmallString<256> parent(llvm::sys::path::parent_path(dir));
  if (parent.empty())
    parent = ".";
  if (std::error_code ec = llvm::sys::fs::create_directories(parent))
    return FolderError() << "cannot create " << parent << ": " << ec.message();
  // Written beside the target, then renamed over it: a failure leaves the
  // old folder (or none) and no partial one.
  SmallString<256> temp;
  std::string model =
      (llvm::sys::path::filename(dir) + ".partial-%%%%%%").str();
  SmallString<256> pattern(parent);
  llvm::sys::path::append(pattern, model);
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(pattern, temp))
    return FolderError() << "cannot create a folder beside " << dir << ": "
                         << ec.message();
  auto discard = [&](StringRef path) {
    (void)llvm::sys::fs::remove_directories(path);
  };
  if (failed(writeKernelFiles(*set, temp))) {
    discard(temp);
    return failure();
  }
  SmallString<256> old;
  if (exists) {
    old = temp;
    old += ".old";
    if (std::error_code ec = llvm::sys::fs::rename(dir, old)) {
      discard(temp);
      return FolderError() << "cannot replace " << dir << ": " << ec.message();
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, dir)) {
    discard(temp);
    if (exists)
      (void)llvm::sys::fs::rename(old, dir);
    return FolderError() << "cannot move the kernels to " << dir << ": "
                         << ec.message();
  }
  if (exists)
    discard(old);
  return success();
}
