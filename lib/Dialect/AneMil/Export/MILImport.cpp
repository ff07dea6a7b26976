//===- MILImport.cpp - MIL text to anemil ---------------------------------===//
//
// A MIL argument is an operand when the op's operand table names it, and an
// attribute otherwise; attribute values are read from the const statement
// (or inline literal) the argument refers to.
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/AneMil/Export/MILTranslation.h"

#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/MIL/Text.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::anemil;
namespace mil = ane::mil;

namespace {

enum class AttrKind {
  I64Array,
  BoolArray,
  I64,
  Bool,
  F32,
  PadType,
  GeluMode,
  DType,
  Scalar,
  Unknown
};

AttrKind attrKind(StringRef name) {
  return llvm::StringSwitch<AttrKind>(name)
      .Cases("axes", "perm", "strides", "dilations", "pad", "begin", "end",
             AttrKind::I64Array)
      .Cases("stride", "size", "shape", "split_sizes", AttrKind::I64Array)
      .Cases("begin_mask", "end_mask", "squeeze_mask", AttrKind::BoolArray)
      .Cases("axis", "groups", "num_splits", "lower", "upper", "batch_dims",
             "vector_axis", AttrKind::I64)
      .Cases("keep_dims", "transpose_x", "transpose_y", "interleave",
             "validate_indices", AttrKind::Bool)
      .Case("epsilon", AttrKind::F32)
      .Case("pad_type", AttrKind::PadType)
      .Case("mode", AttrKind::GeluMode)
      .Cases("dtype", "output_dtype", AttrKind::DType)
      .Case("value", AttrKind::Scalar)
      .Default(AttrKind::Unknown);
}

bool fitsWidth(int64_t x, unsigned width, bool isUnsigned) {
  if (width >= 64)
    return true;
  if (isUnsigned)
    return x >= 0 && x < (int64_t(1) << width);
  return x >= -(int64_t(1) << (width - 1)) && x < (int64_t(1) << (width - 1));
}

void flatten(const mil::Value &v, std::vector<const mil::Value *> &out,
             int depth) {
  if (v.kind == mil::Value::Kind::List && depth < 64) {
    for (const mil::Value &i : v.items)
      flatten(i, out, depth + 1);
    return;
  }
  out.push_back(&v);
}

class FunctionImporter {
public:
  FunctionImporter(const mil::Function &f, ModuleOp module, StringRef file)
      : f(f), ctx(module.getContext()), b(ctx), file(file) {
    b.setInsertionPointToEnd(module.getBody());
  }

  LogicalResult run() {
    Location loc = lineLoc(0, f.name);
    auto opset = symbolizeOpset(f.opset);
    if (!opset)
      return emitError(loc) << "unknown opset '" << f.opset << "'";
    SmallVector<Type> argTypes;
    SmallVector<Location> argLocs;
    for (const mil::Param &p : f.params) {
      auto t = convertType(p.type, loc);
      if (failed(t))
        return failure();
      argTypes.push_back(*t);
      argLocs.push_back(NameLoc::get(StringAttr::get(ctx, p.name), loc));
    }
    auto fn =
        b.create<func::FuncOp>(loc, f.name, b.getFunctionType(argTypes, {}));
    fn->setAttr(AneMilDialect::getOpsetAttrName(), OpsetAttr::get(ctx, *opset));
    Block *body = b.createBlock(&fn.getBody(), {}, argTypes, argLocs);
    for (auto [p, arg] : llvm::zip(f.params, body->getArguments()))
      values[p.name] = arg;
    b.setInsertionPointToEnd(body);
    for (const mil::Statement &s : f.body)
      if (failed(statement(s)))
        return failure();
    SmallVector<Value> results;
    for (const std::string &name : f.outputs) {
      auto v = valueFor(name, loc);
      if (failed(v))
        return failure();
      results.push_back(*v);
    }
    b.create<func::ReturnOp>(loc, results);
    fn.setFunctionType(
        b.getFunctionType(argTypes, ValueRange(results).getTypes()));
    return success();
  }

private:
  Location lineLoc(int line, StringRef name) {
    Location l = FileLineColLoc::get(ctx, file, line, 1);
    return NameLoc::get(StringAttr::get(ctx, name), l);
  }

  FailureOr<Type> convertType(const mil::Type &t, Location loc) {
    if (t.kind == mil::Type::Kind::State) {
      auto inner = convertType(t.elements.at(0), loc);
      if (failed(inner))
        return failure();
      auto tensor = dyn_cast<RankedTensorType>(*inner);
      if (!tensor)
        return emitError(loc) << "a state must wrap a tensor";
      return Type(StateType::get(ctx, tensor));
    }
    if (!t.isTensor())
      return emitError(loc) << "the anemil dialect has no type for "
                            << mil::printType(t, true);
    auto dtype = symbolizeDType(mil::dtypeName(t.dtype));
    if (!dtype)
      return emitError(loc) << "the anemil dialect has no element type "
                            << mil::dtypeName(t.dtype);
    return Type(RankedTensorType::get(t.dims, getElementTypeFor(ctx, *dtype)));
  }

  /// A constant attribute for a typed literal: dense, or #anemil.blob.
  FailureOr<TypedAttr> literalAttr(const mil::Value &typed, Location loc) {
    if (typed.kind != mil::Value::Kind::Typed)
      return emitError(loc) << "expected a typed literal";
    auto t = convertType(*typed.type, loc);
    if (failed(t))
      return failure();
    auto type = dyn_cast<RankedTensorType>(*t);
    if (!type || !type.hasStaticShape())
      return emitError(loc) << "a constant needs a static tensor type";
    if (typed.isBlobFile()) {
      std::string path = typed.blobPath();
      auto blob =
          BlobAttr::getChecked([&] { return emitError(loc); }, ctx,
                               StringRef(path), typed.blobOffset(), Type(type));
      if (!blob)
        return failure();
      return TypedAttr(blob);
    }
    std::vector<const mil::Value *> flat;
    flatten(typed.items.at(0), flat, 0);
    if (static_cast<int64_t>(flat.size()) != type.getNumElements())
      return emitError(loc)
             << "literal has " << flat.size() << " values, its type holds "
             << type.getNumElements();
    Type et = type.getElementType();
    if (auto ft = dyn_cast<FloatType>(et)) {
      SmallVector<APFloat> vals;
      for (const mil::Value *v : flat) {
        double d = v->kind == mil::Value::Kind::Int
                       ? static_cast<double>(v->intValue)
                       : v->floatValue;
        if (v->kind != mil::Value::Kind::Int &&
            v->kind != mil::Value::Kind::Float)
          return emitError(loc) << "expected a number in a float literal";
        bool lost;
        APFloat a(d);
        a.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
        vals.push_back(a);
      }
      return TypedAttr(DenseElementsAttr::get(type, vals));
    }
    unsigned width = et.getIntOrFloatBitWidth();
    SmallVector<APInt> vals;
    for (const mil::Value *v : flat) {
      int64_t x;
      if (v->kind == mil::Value::Kind::Int)
        x = v->intValue;
      else if (v->kind == mil::Value::Kind::Bool)
        x = v->boolValue;
      else
        return emitError(loc) << "expected an integer in an integer literal";
      if (!fitsWidth(x, width, et.isUnsignedInteger() || width == 1))
        return emitError(loc) << "value " << x << " does not fit " << et;
      vals.push_back(
          APInt(width, static_cast<uint64_t>(x), !et.isUnsignedInteger()));
    }
    return TypedAttr(DenseElementsAttr::get(type, vals));
  }

  /// The SSA value for a MIL name, materialising a const on first use.
  FailureOr<Value> valueFor(const std::string &name, Location loc) {
    auto it = values.find(name);
    if (it != values.end())
      return it->second;
    auto c = consts.find(name);
    if (c == consts.end())
      return emitError(loc) << "'" << name << "' is not defined before use";
    const mil::Statement &s = *c->second;
    Location cl = lineLoc(s.line, name);
    auto attr = literalAttr(*s.attr("val"), cl);
    if (failed(attr))
      return failure();
    Value v = b.create<ConstOp>(cl, attr->getType(), *attr);
    values[name] = v;
    return v;
  }

  /// The literal an attribute argument refers to.
  FailureOr<const mil::Value *>
  literalFor(StringRef name, const mil::Value &arg, Location loc) {
    if (arg.kind == mil::Value::Kind::Typed)
      return &arg;
    if (arg.kind == mil::Value::Kind::Ref) {
      auto c = consts.find(arg.text);
      if (c != consts.end())
        return c->second->attr("val");
      return emitError(loc)
             << "'" << arg.text << "' must be a const to be used as parameter '"
             << name << "'";
    }
    return emitError(loc) << "expected a constant parameter";
  }

  FailureOr<Attribute> convertAttr(StringRef name, const mil::Value &arg,
                                   Location loc) {
    auto lit = literalFor(name, arg, loc);
    if (failed(lit))
      return failure();
    const mil::Value &typed = **lit;
    if (typed.kind != mil::Value::Kind::Typed || typed.items.empty())
      return emitError(loc) << "parameter '" << name << "' is not a literal";
    std::vector<const mil::Value *> flat;
    flatten(typed.items[0], flat, 0);
    auto ints = [&]() -> FailureOr<SmallVector<int64_t>> {
      SmallVector<int64_t> out;
      for (const mil::Value *v : flat) {
        if (v->kind != mil::Value::Kind::Int &&
            v->kind != mil::Value::Kind::Bool)
          return emitError(loc)
                 << "parameter '" << name << "' must hold integers";
        out.push_back(v->kind == mil::Value::Kind::Int ? v->intValue
                                                       : v->boolValue);
      }
      return out;
    };
    auto single = [&]() -> FailureOr<const mil::Value *> {
      if (flat.size() != 1)
        return emitError(loc) << "parameter '" << name << "' must be a scalar";
      return flat[0];
    };
    auto str = [&]() -> FailureOr<std::string> {
      auto s = single();
      if (failed(s) || (*s)->kind != mil::Value::Kind::String)
        return emitError(loc) << "parameter '" << name << "' must be a string";
      return (*s)->text;
    };
    switch (attrKind(name)) {
    case AttrKind::I64Array: {
      auto v = ints();
      if (failed(v))
        return failure();
      return Attribute(DenseI64ArrayAttr::get(ctx, *v));
    }
    case AttrKind::BoolArray: {
      auto v = ints();
      if (failed(v))
        return failure();
      SmallVector<bool> bools(v->begin(), v->end());
      return Attribute(DenseBoolArrayAttr::get(ctx, bools));
    }
    case AttrKind::I64:
    case AttrKind::Bool: {
      auto v = ints();
      if (failed(v) || v->size() != 1)
        return emitError(loc) << "parameter '" << name << "' must be a scalar";
      if (attrKind(name) == AttrKind::Bool)
        return Attribute(b.getBoolAttr((*v)[0] != 0));
      return Attribute(b.getI64IntegerAttr((*v)[0]));
    }
    case AttrKind::F32: {
      auto s = single();
      if (failed(s))
        return failure();
      double d = (*s)->kind == mil::Value::Kind::Int
                     ? static_cast<double>((*s)->intValue)
                     : (*s)->floatValue;
      return Attribute(b.getF32FloatAttr(static_cast<float>(d)));
    }
    case AttrKind::Scalar: {
      auto attr = literalAttr(typed, loc);
      if (failed(attr))
        return failure();
      auto dense = dyn_cast<DenseElementsAttr>(*attr);
      if (!dense || dense.getNumElements() != 1)
        return emitError(loc) << "parameter '" << name << "' must be a scalar";
      return dense.getValues<Attribute>()[0];
    }
    case AttrKind::PadType:
    case AttrKind::GeluMode:
    case AttrKind::DType: {
      auto s = str();
      if (failed(s))
        return failure();
      Attribute a;
      if (attrKind(name) == AttrKind::PadType) {
        if (auto v = symbolizePadType(*s))
          a = PadTypeAttr::get(ctx, *v);
      } else if (attrKind(name) == AttrKind::GeluMode) {
        if (auto v = symbolizeGeluMode(*s))
          a = GeluModeAttr::get(ctx, *v);
      } else if (auto v = symbolizeDType(*s)) {
        a = DTypeAttr::get(ctx, *v);
      }
      if (!a)
        return emitError(loc) << "unknown " << name << " '" << *s << "'";
      return a;
    }
    case AttrKind::Unknown:
      break;
    }
    return emitError(loc) << "parameter '" << name
                          << "' is not supported by the anemil dialect";
  }

  LogicalResult statement(const mil::Statement &s) {
    std::string firstName = s.outputs.empty() ? s.op : s.outputs[0].name;
    Location loc = lineLoc(s.line, firstName);
    if (s.op == "const") {
      if (s.outputs.size() != 1 || !s.attr("val"))
        return emitError(loc) << "a const needs one output and a val";
      consts[s.outputs[0].name] = &s;
      return success();
    }
    OperationName opName("anemil." + s.op, ctx);
    if (!opName.isRegistered())
      return emitError(loc) << "op '" << s.op << "' at line " << s.line
                            << " is not in the anemil dialect";
    ArrayRef<StringRef> operandNames = getMILOperandNames(s.op);
    OperationState state(loc, opName);
    // constexpr ops of iOS16 pass their parameters as attributes.
    std::vector<const mil::Argument *> params;
    for (const mil::Argument &a : s.args)
      params.push_back(&a);
    for (const mil::Argument &a : s.attrs)
      if (a.name != "name")
        params.push_back(&a);
    SmallVector<std::pair<size_t, Value>> operands;
    for (const mil::Argument *a : params) {
      auto pos = llvm::find(operandNames, a->name);
      if (pos == operandNames.end()) {
        auto attr = convertAttr(a->name, a->value, loc);
        if (failed(attr))
          return failure();
        state.addAttribute(a->name, *attr);
        continue;
      }
      size_t index = pos - operandNames.begin();
      std::vector<const mil::Value *> refs;
      if (a->value.kind == mil::Value::Kind::Tuple)
        for (const mil::Value &item : a->value.items)
          refs.push_back(&item);
      else
        refs.push_back(&a->value);
      for (const mil::Value *r : refs) {
        auto v = operandValue(*r, loc);
        if (failed(v))
          return failure();
        operands.push_back({index, *v});
      }
    }
    std::stable_sort(operands.begin(), operands.end(),
                     [](auto &x, auto &y) { return x.first < y.first; });
    for (auto &[index, v] : operands)
      state.addOperands(v);
    if (s.op == "layer_norm") {
      int32_t seg[3] = {0, 0, 0};
      for (auto &[index, v] : operands)
        ++seg[index];
      state.addAttribute("operandSegmentSizes",
                         b.getDenseI32ArrayAttr({seg[0], seg[1], seg[2]}));
    }
    SmallVector<Location> outLocs;
    for (const mil::Statement::Output &o : s.outputs) {
      auto t = convertType(o.type, loc);
      if (failed(t))
        return failure();
      state.addTypes(*t);
      outLocs.push_back(lineLoc(s.line, o.name));
    }
    if (outLocs.size() > 1)
      state.location = FusedLoc::get(ctx, outLocs);
    Operation *op = b.create(state);
    for (auto [o, r] : llvm::zip(s.outputs, op->getResults()))
      values[o.name] = r;
    return success();
  }

  FailureOr<Value> operandValue(const mil::Value &v, Location loc) {
    if (v.kind == mil::Value::Kind::Ref)
      return valueFor(v.text, loc);
    if (v.kind == mil::Value::Kind::Typed) {
      auto attr = literalAttr(v, loc);
      if (failed(attr))
        return failure();
      return Value(b.create<ConstOp>(loc, attr->getType(), *attr));
    }
    return emitError(loc) << "expected a value name or a typed literal";
  }

  const mil::Function &f;
  MLIRContext *ctx;
  OpBuilder b;
  StringRef file;
  llvm::StringMap<Value> values;
  llvm::StringMap<const mil::Statement *> consts;
};

} // namespace

OwningOpRef<ModuleOp> mlir::anemil::importMIL(const mil::Program &program,
                                              MLIRContext *context,
                                              StringRef fileName) {
  context->loadDialect<AneMilDialect, func::FuncDialect>();
  Location loc = FileLineColLoc::get(context, fileName, 1, 1);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  for (const mil::Function &f : program.functions) {
    FunctionImporter importer(f, *module, fileName);
    if (failed(importer.run()))
      return nullptr;
  }
  if (failed(verify(*module)))
    return nullptr;
  return module;
}
