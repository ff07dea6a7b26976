//===- MILExport.cpp - anemil to MIL text ---------------------------------===//
//
// Each func.func becomes one MIL function. Operands map to MIL parameters by
// name (the dialect uses MIL's names); attributes become `const` statements
// named `<result>_<param>`; constants feeding constexpr_* ops are written
// inline, in the attribute form of iOS16 ops or the input form of iOS18 ops.
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/AneMil/Export/MILTranslation.h"

#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/MIL/Ops.h"
#include "lib/MIL/Text.h"
#include "lib/MIL/WeightFile.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::anemil;
namespace mil = ane::mil;

ArrayRef<StringRef> mlir::anemil::getMILOperandNames(StringRef mnemonic) {
  // lib/MIL/Ops.def, as StringRefs.
  static const llvm::StringMap<SmallVector<StringRef, 4>> table = [] {
    llvm::StringMap<SmallVector<StringRef, 4>> t;
    for (size_t k = 0; k < mil::kNumOpKinds; ++k) {
      auto kind = static_cast<mil::OpKind>(k);
      std::string_view name = mil::opName(kind);
      SmallVector<StringRef, 4> &operands =
          t[StringRef(name.data(), name.size())];
      for (std::string_view o : mil::opOperands(kind))
        operands.push_back(StringRef(o.data(), o.size()));
    }
    return t;
  }();
  auto it = table.find(mnemonic);
  if (it == table.end())
    return {};
  return it->second;
}

namespace {

std::optional<mil::DType> milDType(Type elementType) {
  auto d = getDTypeFor(elementType);
  if (!d)
    return std::nullopt;
  return mil::parseDType(stringifyDType(*d).str());
}

FailureOr<mil::Type> milType(Type type, Location loc) {
  if (auto state = dyn_cast<StateType>(type)) {
    auto inner = milType(state.getWrapped(), loc);
    if (failed(inner))
      return failure();
    mil::Type t;
    t.kind = mil::Type::Kind::State;
    t.elements.push_back(*inner);
    return t;
  }
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return emitError(loc) << "MIL has no type for " << type;
  auto dtype = milDType(tensor.getElementType());
  if (!dtype)
    return emitError(loc) << "MIL has no element type for "
                          << tensor.getElementType();
  mil::Shape dims(tensor.getShape().begin(), tensor.getShape().end());
  return mil::Type::tensor(*dtype, dims); // kDynamic is ShapedType::kDynamic
}

/// A MIL identifier from any string: other characters become '_'.
std::string sanitize(StringRef name) {
  std::string s;
  for (char c : name)
    s += (isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  if (s.empty() || isdigit(static_cast<unsigned char>(s[0])))
    s = "v_" + s;
  return s;
}

/// The names a location gives: NameLoc("x") or fused NameLocs, one per result.
SmallVector<std::string> locNames(Location loc) {
  SmallVector<std::string> names;
  if (auto n = dyn_cast<NameLoc>(loc)) {
    names.push_back(n.getName().str());
  } else if (auto f = dyn_cast<FusedLoc>(loc)) {
    for (Location l : f.getLocations())
      if (auto n = dyn_cast<NameLoc>(l))
        names.push_back(n.getName().str());
  }
  return names;
}

mil::Value scalarLiteral(mil::DType dtype, double v) {
  if (mil::isFloatDType(dtype))
    return mil::Value::makeFloat(v);
  if (dtype == mil::DType::Bool)
    return mil::Value::makeBool(v != 0);
  return mil::Value::makeInt(static_cast<int64_t>(v));
}

/// Nests a flat row-major list by `dims` (rank 0: the single element).
mil::Value nest(std::vector<mil::Value> &flat, ArrayRef<int64_t> dims,
                size_t &next) {
  if (dims.empty())
    return std::move(flat[next++]);
  std::vector<mil::Value> items;
  for (int64_t i = 0; i < dims[0]; ++i)
    items.push_back(nest(flat, dims.drop_front(), next));
  return mil::Value::makeList(std::move(items));
}

class FunctionExporter {
public:
  FunctionExporter(func::FuncOp fn, const MILExportOptions &options,
                   mil::WeightWriter &weights, bool &usedWeights)
      : fn(fn), options(options), weights(weights), usedWeights(usedWeights) {}

  FailureOr<mil::Function> run() {
    out.name = fn.getSymName().str();
    auto opset =
        fn->getAttrOfType<OpsetAttr>(AneMilDialect::getOpsetAttrName());
    opsetVersion = opset ? static_cast<int>(opset.getValue()) : 18;
    out.opset = "ios" + std::to_string(opsetVersion);
    if (fn.isExternal())
      return fn.emitError() << "cannot export a function without a body";
    Block &body = fn.getBody().front();
    for (BlockArgument arg : body.getArguments()) {
      auto type = milType(arg.getType(), arg.getLoc());
      if (failed(type))
        return failure();
      SmallVector<std::string> n = locNames(arg.getLoc());
      if (auto named = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                       "anemil.name"))
        n.assign(1, named.str());
      std::string name = unique(
          n.empty() ? "input_" + std::to_string(arg.getArgNumber()) : n[0]);
      names[arg] = name;
      out.params.push_back({*type, name});
    }
    // Function results may name the values they return.
    if (auto ret = dyn_cast<func::ReturnOp>(body.getTerminator()))
      for (auto [i, v] : llvm::enumerate(ret.getOperands()))
        if (auto name = fn.getResultAttrOfType<StringAttr>(i, "anemil.name"))
          if (!isa<BlockArgument>(v))
            resultNames[v] = name.str();
    for (Operation &op : body) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (Value v : ret.getOperands())
          out.outputs.push_back(names.lookup(v));
        continue;
      }
      if (failed(exportOp(&op)))
        return failure();
    }
    return std::move(out);
  }

private:
  std::string unique(const std::string &base) {
    std::string name = sanitize(base);
    std::string candidate = name;
    for (int k = 1; used.contains(candidate); ++k)
      candidate = name + "_" + std::to_string(k);
    used.insert(candidate);
    return candidate;
  }

  bool isConstexpr(Operation *op) {
    return isa<ConstexprAffineDequantizeOp, ConstexprBlockwiseShiftScaleOp,
               ConstexprLutToDenseOp>(op);
  }

  /// A typed literal for a constant: inline, or appended to weight.bin.
  FailureOr<mil::Value> constLiteral(Operation *op, Attribute val,
                                     RankedTensorType type) {
    auto t = milType(type, op->getLoc());
    if (failed(t))
      return failure();
    if (auto blob = dyn_cast<BlobAttr>(val))
      return mil::Value::makeBlobFile(*t, blob.getPath().str(),
                                      blob.getOffset());
    auto dense = dyn_cast<DenseElementsAttr>(val);
    if (!dense)
      return op->emitError() << "cannot export constant " << val;
    int64_t count = type.getNumElements();
    if (count >= 10 && blobEligible(t->dtype))
      return blobLiteral(op, dense, *t);
    std::vector<mil::Value> flat;
    flat.reserve(count);
    Type et = type.getElementType();
    if (isa<FloatType>(et)) {
      for (APFloat f : dense.getValues<APFloat>())
        flat.push_back(mil::Value::makeFloat(f.convertToDouble()));
    } else if (et.isInteger(1)) {
      for (bool b : dense.getValues<bool>())
        flat.push_back(mil::Value::makeBool(b));
    } else {
      bool isUnsigned = et.isUnsignedInteger();
      for (APInt i : dense.getValues<APInt>())
        flat.push_back(mil::Value::makeInt(
            isUnsigned ? static_cast<int64_t>(i.getZExtValue())
                       : i.getSExtValue()));
    }
    size_t next = 0;
    return mil::Value::makeTyped(*t, nest(flat, type.getShape(), next));
  }

  /// MIL_SPEC_NOTES 2.7: consts of 10+ elements of these dtypes are blobs.
  bool blobEligible(mil::DType d) {
    switch (d) {
    case mil::DType::FP16:
    case mil::DType::FP32:
    case mil::DType::UInt8:
    case mil::DType::Int8:
    case mil::DType::Int4:
    case mil::DType::UInt1:
    case mil::DType::UInt2:
    case mil::DType::UInt3:
    case mil::DType::UInt4:
    case mil::DType::UInt6:
      return true;
    case mil::DType::UInt16:
    case mil::DType::Int16:
    case mil::DType::Int32:
    case mil::DType::UInt32:
      return opsetVersion >= 18;
    default:
      return false;
    }
  }

  FailureOr<mil::Value> blobLiteral(Operation *op, DenseElementsAttr dense,
                                    const mil::Type &t) {
    if (options.weightsDir.empty())
      return op->emitError()
             << "a constant of " << dense.getNumElements()
             << " elements goes to weight.bin: pass --weights-dir";
    auto blobType = mil::blobDTypeFor(t.dtype);
    uint64_t offset;
    Type et = dense.getElementType();
    int bits = mil::blobBits(*blobType);
    if (bits < 8) {
      std::vector<int64_t> values;
      for (APInt i : dense.getValues<APInt>())
        values.push_back(et.isUnsignedInteger()
                             ? static_cast<int64_t>(i.getZExtValue())
                             : i.getSExtValue());
      offset = weights.appendValues(*blobType, values);
    } else {
      std::vector<uint8_t> bytes;
      bytes.reserve(dense.getNumElements() * bits / 8);
      auto push = [&](uint64_t v) {
        for (int b = 0; b < bits / 8; ++b)
          bytes.push_back(static_cast<uint8_t>(v >> (8 * b)));
      };
      if (isa<FloatType>(et)) {
        for (APFloat f : dense.getValues<APFloat>())
          push(f.bitcastToAPInt().getZExtValue());
      } else {
        for (APInt i : dense.getValues<APInt>())
          push(i.getZExtValue());
      }
      offset = weights.append(*blobType, bytes.data(), bytes.size());
    }
    usedWeights = true;
    return mil::Value::makeBlobFile(t, options.blobPath, offset);
  }

  /// The MIL literal for an attribute of `op` named `name`.
  FailureOr<mil::Value> attrLiteral(Operation *op, StringRef name,
                                    Attribute a) {
    auto intList = [](ArrayRef<int64_t> v, mil::DType dtype) {
      std::vector<mil::Value> items;
      for (int64_t x : v)
        items.push_back(mil::Value::makeInt(x));
      return mil::Value::makeTyped(
          mil::Type::tensor(dtype, {static_cast<int64_t>(v.size())}),
          mil::Value::makeList(std::move(items)));
    };
    if (auto arr = dyn_cast<DenseI64ArrayAttr>(a)) {
      bool lutShape = isa<ConstexprLutToDenseOp>(op) && name == "shape";
      return intList(arr.asArrayRef(),
                     lutShape ? mil::DType::UInt32 : mil::DType::Int32);
    }
    if (auto arr = dyn_cast<DenseBoolArrayAttr>(a)) {
      std::vector<mil::Value> items;
      for (bool b : arr.asArrayRef())
        items.push_back(mil::Value::makeBool(b));
      return mil::Value::makeTyped(
          mil::Type::tensor(mil::DType::Bool,
                            {static_cast<int64_t>(items.size())}),
          mil::Value::makeList(std::move(items)));
    }
    if (auto b = dyn_cast<BoolAttr>(a))
      return mil::Value::makeTyped(mil::Type::scalar(mil::DType::Bool),
                                   mil::Value::makeBool(b.getValue()));
    if (auto i = dyn_cast<IntegerAttr>(a)) {
      auto dtype = name == "value" ? milDType(i.getType())
                                   : std::optional(mil::DType::Int32);
      if (!dtype)
        return op->emitError() << "cannot export attribute " << name;
      return mil::Value::makeTyped(mil::Type::scalar(*dtype),
                                   scalarLiteral(*dtype, i.getInt()));
    }
    if (auto f = dyn_cast<FloatAttr>(a)) {
      // An epsilon takes the dtype of the data it is added to.
      std::optional<mil::DType> dtype = milDType(f.getType());
      if (name == "epsilon" && op->getNumOperands() > 0)
        dtype = milDType(getElementTypeOrSelf(op->getOperand(0).getType()));
      if (!dtype)
        return op->emitError() << "cannot export attribute " << name;
      double v = f.getValueAsDouble();
      if (*dtype == mil::DType::FP16) {
        bool lost;
        APFloat h(v);
        h.convert(APFloat::IEEEhalf(), APFloat::rmNearestTiesToEven, &lost);
        v = h.convertToDouble();
      } else if (*dtype == mil::DType::FP32) {
        v = static_cast<float>(v);
      }
      return mil::Value::makeTyped(mil::Type::scalar(*dtype),
                                   scalarLiteral(*dtype, v));
    }
    auto str = [](StringRef s) {
      return mil::Value::makeTyped(mil::Type::scalar(mil::DType::String),
                                   mil::Value::makeString(s.str()));
    };
    if (auto d = dyn_cast<DTypeAttr>(a))
      return str(stringifyDType(d.getValue()));
    if (auto p = dyn_cast<PadTypeAttr>(a))
      return str(stringifyPadType(p.getValue()));
    if (auto g = dyn_cast<GeluModeAttr>(a))
      return str(stringifyGeluMode(g.getValue()));
    return op->emitError() << "cannot export attribute '" << name << "'";
  }

  mil::Value stringLiteral(const std::string &s) {
    return mil::Value::makeTyped(mil::Type::scalar(mil::DType::String),
                                 mil::Value::makeString(s));
  }

  LogicalResult exportConst(ConstOp op) {
    bool onlyConstexprUsers = !op->use_empty();
    for (Operation *user : op->getUsers())
      onlyConstexprUsers &= isConstexpr(user);
    if (onlyConstexprUsers)
      return success(); // written inline into its constexpr users
    auto literal = constLiteral(op, op.getVal(), op.getOutput().getType());
    if (failed(literal))
      return failure();
    SmallVector<std::string> n = locNames(op->getLoc());
    std::string name =
        unique(n.empty() ? "const_" + std::to_string(counter++) : n[0]);
    names[op.getOutput()] = name;
    mil::Statement s;
    s.op = "const";
    s.outputs.push_back({*literal->type, name});
    s.attrs.push_back({"name", stringLiteral(name)});
    s.attrs.push_back({"val", *literal});
    out.body.push_back(std::move(s));
    return success();
  }

  /// Result names: from the location, else `<mnemonic>_<n>`.
  LogicalResult nameResults(Operation *op, mil::Statement &s) {
    SmallVector<std::string> n = locNames(op->getLoc());
    std::string base = op->getName().stripDialect().str();
    for (OpResult r : op->getResults()) {
      auto type = milType(r.getType(), op->getLoc());
      if (failed(type))
        return failure();
      auto forced = resultNames.find(r);
      std::string name = unique(forced != resultNames.end() ? forced->second
                                : r.getResultNumber() < n.size()
                                    ? n[r.getResultNumber()]
                                    : base + "_" + std::to_string(counter++));
      names[r] = name;
      s.outputs.push_back({*type, name});
    }
    return success();
  }

  LogicalResult exportOp(Operation *op) {
    if (op->getDialect() == nullptr || op->getDialect()->getNamespace() !=
                                           AneMilDialect::getDialectNamespace())
      return op->emitError() << "only anemil ops can be exported to MIL";
    if (auto c = dyn_cast<ConstOp>(op))
      return exportConst(c);
    StringRef mnemonic = op->getName().stripDialect();
    mil::Statement s;
    s.op = mnemonic.str();
    if (failed(nameResults(op, s)))
      return failure();
    std::string opName =
        s.outputs.empty()
            ? unique(mnemonic.str() + "_" + std::to_string(counter++))
            : s.outputs[0].name;
    // iOS16-registered constexpr ops take every parameter as an attribute.
    bool attrForm = isa<ConstexprAffineDequantizeOp>(op) ||
                    (isa<ConstexprLutToDenseOp>(op) && op->hasAttr("shape"));
    std::vector<mil::Argument> &params = attrForm ? s.attrs : s.args;

    if (failed(exportOperands(op, mnemonic, params)))
      return failure();
    for (NamedAttribute a : op->getAttrs()) {
      StringRef name = a.getName().getValue();
      if (name.contains('.') || name == "operandSegmentSizes")
        continue;
      auto literal = attrLiteral(op, name, a.getValue());
      if (failed(literal))
        return failure();
      if (isConstexpr(op)) {
        params.push_back({name.str(), *literal});
        continue;
      }
      // Scalars become const statements, as the compiler writes them.
      std::string constName = unique(opName + "_" + name.str());
      mil::Statement c;
      c.op = "const";
      c.outputs.push_back({*literal->type, constName});
      c.attrs.push_back({"name", stringLiteral(constName)});
      c.attrs.push_back({"val", *literal});
      out.body.push_back(std::move(c));
      s.args.push_back({name.str(), mil::Value::makeRef(constName)});
    }
    s.attrs.push_back({"name", stringLiteral(opName)});
    out.body.push_back(std::move(s));
    return success();
  }

  LogicalResult exportOperands(Operation *op, StringRef mnemonic,
                               std::vector<mil::Argument> &params) {
    ArrayRef<StringRef> paramNames = getMILOperandNames(mnemonic);
    SmallVector<std::pair<StringRef, Value>> operands;
    if (auto ln = dyn_cast<LayerNormOp>(op)) {
      operands.push_back({"x", ln.getX()});
      if (ln.getGamma())
        operands.push_back({"gamma", ln.getGamma()});
      if (ln.getBeta())
        operands.push_back({"beta", ln.getBeta()});
    } else if (auto concat = dyn_cast<ConcatOp>(op)) {
      std::vector<mil::Value> items;
      for (Value v : concat.getValues())
        items.push_back(mil::Value::makeRef(names.lookup(v)));
      params.push_back({"values", mil::Value::makeTuple(std::move(items))});
      return success();
    } else {
      if (op->getNumOperands() > paramNames.size())
        return op->emitError() << "has no MIL parameter table";
      for (auto [i, v] : llvm::enumerate(op->getOperands()))
        operands.push_back({paramNames[i], v});
    }
    for (auto [name, v] : operands) {
      if (isConstexpr(op)) {
        auto c = v.getDefiningOp<ConstOp>();
        if (!c)
          return op->emitError()
                 << "parameter '" << name << "' must come from anemil.const";
        auto literal = constLiteral(c, c.getVal(), c.getOutput().getType());
        if (failed(literal))
          return failure();
        params.push_back({name.str(), *literal});
        continue;
      }
      auto it = names.find(v);
      if (it == names.end())
        return op->emitError()
               << "operand '" << name << "' is not defined in this function";
      params.push_back({name.str(), mil::Value::makeRef(it->second)});
    }
    return success();
  }

  func::FuncOp fn;
  const MILExportOptions &options;
  mil::WeightWriter &weights;
  bool &usedWeights;
  mil::Function out;
  int opsetVersion = 18;
  int counter = 0;
  DenseMap<Value, std::string> names;
  DenseMap<Value, std::string> resultNames;
  llvm::StringSet<> used;
};

} // namespace

FailureOr<mil::Program>
mlir::anemil::exportMIL(ModuleOp module, const MILExportOptions &options) {
  mil::Program program;
  mil::WeightWriter weights;
  bool usedWeights = false;
  bool anyIos18 = false;
  for (auto fn : module.getOps<func::FuncOp>()) {
    FunctionExporter exporter(fn, options, weights, usedWeights);
    auto f = exporter.run();
    if (failed(f))
      return failure();
    anyIos18 |= f->opsetVersion() >= 18;
    program.functions.push_back(std::move(*f));
  }
  program.version = anyIos18 ? "1.3" : "1.0";
  if (usedWeights) {
    SmallString<256> path(options.weightsDir);
    if (std::error_code ec = llvm::sys::fs::create_directories(path))
      return module.emitError()
             << "cannot create " << path << ": " << ec.message();
    llvm::sys::path::append(path, "weight.bin");
    ane::Status s = weights.writeFile(path.str().str());
    if (!s.ok())
      return module.emitError() << s.message();
  }
  return program;
}

LogicalResult mlir::anemil::exportMIL(ModuleOp module, llvm::raw_ostream &os,
                                      const MILExportOptions &options) {
  auto program = exportMIL(module, options);
  if (failed(program))
    return failure();
  os << mil::printProgram(*program);
  return success();
}
