//===- Ops.h - the cpu executor's op kernels --------------------*- C++ -*-===//
//
// Each MIL op (lib/MIL/Ops.def) is a function of an OpContext, which reads
// the statement's parameters with MIL's defaults, to its outputs. The op
// families live in one file each and add their ops to the table the
// executor resolves statements against once, when a program is loaded.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_OPS_OPS_H
#define ANE_LIB_RUNTIME_CPU_OPS_OPS_H

#include "lib/MIL/Ops.h"
#include "lib/MIL/Program.h"
#include "lib/Runtime/Literal.h"
#include "lib/Runtime/Tensor.h"
#include "lib/Support/Result.h"

#include <fmt/format.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ane::runtime {

using mil::DType;
using TensorPtr = std::shared_ptr<const Tensor>;

//===----------------------------------------------------------------------===//
// Op context: parameter access with MIL's defaults
//===----------------------------------------------------------------------===//

class OpContext {
public:
  /// `env` holds the values by the slot each Ref of `st` was given when
  /// the program was loaded.
  OpContext(const mil::Statement &st, const std::vector<TensorPtr> &env,
            const WeightFiles &weights)
      : st(st), env(env), weights(weights) {}

  /// A tensor parameter (argument or, for iOS16 constexpr ops, attribute).
  Result<TensorPtr> tensor(const char *name) const {
    const mil::Value *v = find(name);
    if (!v)
      return Result<TensorPtr>::error(
          fmt::format("missing parameter '{}'", name));
    return resolve(*v, name);
  }
  /// An optional tensor parameter: nullptr when absent.
  Result<TensorPtr> optTensor(const char *name) const {
    if (!find(name))
      return TensorPtr();
    return tensor(name);
  }
  Result<std::vector<TensorPtr>> tuple(const char *name) const {
    const mil::Value *v = find(name);
    if (!v)
      return Result<std::vector<TensorPtr>>::error(
          fmt::format("missing parameter '{}'", name));
    std::vector<TensorPtr> out;
    if (v->kind != mil::Value::Kind::Tuple) {
      auto t = resolve(*v, name);
      if (!t.ok())
        return t.status();
      out.push_back(*t);
      return out;
    }
    for (const mil::Value &item : v->items) {
      auto t = resolve(item, name);
      if (!t.ok())
        return t.status();
      out.push_back(*t);
    }
    return out;
  }

  Result<int64_t> intScalar(const char *name,
                            std::optional<int64_t> dflt) const {
    if (!find(name)) {
      if (dflt)
        return *dflt;
      return Result<int64_t>::error(
          fmt::format("missing parameter '{}'", name));
    }
    auto t = tensor(name);
    if (!t.ok())
      return t.status();
    if ((*t)->numElements() != 1 || (*t)->isFloat() || (*t)->i.empty())
      return Result<int64_t>::error(
          fmt::format("parameter '{}' must be one integer", name));
    return (*t)->i[0];
  }
  Result<bool> boolScalar(const char *name, bool dflt) const {
    if (!find(name))
      return dflt;
    auto v = intScalar(name, std::nullopt);
    if (!v.ok())
      return v.status();
    return *v != 0;
  }
  Result<float> floatScalar(const char *name, float dflt) const {
    if (!find(name))
      return dflt;
    auto t = tensor(name);
    if (!t.ok())
      return t.status();
    if ((*t)->numElements() != 1)
      return Result<float>::error(
          fmt::format("parameter '{}' must be a scalar", name));
    return static_cast<float>((*t)->at(0));
  }
  Result<std::string> string(const char *name, const char *dflt) const {
    if (!find(name)) {
      if (dflt)
        return std::string(dflt);
      return Result<std::string>::error(
          fmt::format("missing parameter '{}'", name));
    }
    auto t = tensor(name);
    if (!t.ok())
      return t.status();
    if ((*t)->dtype != DType::String)
      return Result<std::string>::error(
          fmt::format("parameter '{}' must be a string", name));
    return (*t)->s;
  }
  /// An integer list parameter; nullopt when absent.
  Result<std::optional<std::vector<int64_t>>> intList(const char *name) const {
    if (!find(name))
      return std::optional<std::vector<int64_t>>();
    auto t = tensor(name);
    if (!t.ok())
      return t.status();
    if ((*t)->isFloat() || (*t)->dtype == DType::String ||
        (*t)->shape.size() > 1)
      return Result<std::optional<std::vector<int64_t>>>::error(
          fmt::format("parameter '{}' must be a list of integers", name));
    return std::optional<std::vector<int64_t>>((*t)->i);
  }
  Result<std::vector<bool>> boolList(const char *name) const {
    auto l = intList(name);
    if (!l.ok())
      return l.status();
    std::vector<bool> out;
    if (*l)
      for (int64_t v : **l)
        out.push_back(v != 0);
    return out;
  }

  const mil::Statement &st;

private:
  const mil::Value *find(const char *name) const {
    if (const mil::Value *v = st.arg(name))
      return v;
    if (std::string_view(name) != "name")
      return st.attr(name);
    return nullptr;
  }
  Result<TensorPtr> resolve(const mil::Value &v, const char *name) const {
    if (v.kind == mil::Value::Kind::Ref) {
      if (v.slot < 0 || size_t(v.slot) >= env.size() || !env[v.slot])
        return Result<TensorPtr>::error(fmt::format(
            "parameter '{}' names '{}', which is not defined before it", name,
            v.text));
      return env[v.slot];
    }
    if (v.kind == mil::Value::Kind::Typed) {
      auto t = decodeLiteral(v, weights);
      if (!t.ok())
        return t.status();
      return TensorPtr(std::make_shared<Tensor>(std::move(*t)));
    }
    return Result<TensorPtr>::error(fmt::format(
        "parameter '{}' must be a value name or a typed literal", name));
  }

  const std::vector<TensorPtr> &env;
  const WeightFiles &weights;
};

using Outputs = std::vector<Tensor>;
using OpFn = std::function<Status(const OpContext &, Outputs &)>;

#define TRY_ASSIGN(var, expr)                                                  \
  auto var##_result = (expr);                                                  \
  if (!var##_result.ok())                                                      \
    return var##_result.status();                                              \
  auto var = std::move(*var##_result)

inline Status needFloat(const Tensor &t, const char *what) {
  if (!t.isFloat())
    return Status::error(fmt::format("{} must be fp16 or fp32, got {}", what,
                                     mil::dtypeName(t.dtype)));
  return Status::success();
}

inline Status needSameDType(const Tensor &a, const Tensor &b) {
  if (a.dtype != b.dtype)
    return Status::error(fmt::format("operands have different dtypes {} and {}",
                                     mil::dtypeName(a.dtype),
                                     mil::dtypeName(b.dtype)));
  return Status::success();
}

/// Op kernels by kind; an entry is empty where the executor handles the op
/// itself (const, read_state, write_state).
using OpTable = std::array<OpFn, mil::kNumOpKinds>;

void addElementwiseOps(OpTable &table);
void addReductionOps(OpTable &table);
void addProductOps(OpTable &table);
void addAttentionOps(OpTable &table);
void addShapeOps(OpTable &table);
void addConstexprOps(OpTable &table);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_OPS_OPS_H
