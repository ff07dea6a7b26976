//===- Ops.h - the MIL ops this project knows -------------------*- C++ -*-===//
//
// The one op table (Ops.def) as an enum with its names, ANE status and
// operand names. Plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MIL_OPS_H
#define ANE_LIB_MIL_OPS_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ane::mil {

enum class OpKind : uint8_t {
#define MIL_OP(KIND, NAME, ANE, ...) KIND,
#include "lib/MIL/Ops.def"
};

inline constexpr size_t kNumOpKinds = 0
#define MIL_OP(KIND, NAME, ANE, ...) +1
#include "lib/MIL/Ops.def"
    ;

std::optional<OpKind> parseOpKind(std::string_view name);
std::string_view opName(OpKind kind);
/// Whether the op is reported to compile and run on the Neural Engine.
bool runsOnAne(OpKind kind);
/// MIL's parameter names of the op's tensor inputs, in operand order.
const std::vector<std::string_view> &opOperands(OpKind kind);
/// constexpr_* ops and const: computed ahead of the statements.
inline bool isConstantOp(OpKind kind) {
  return kind == OpKind::Const || kind == OpKind::ConstexprAffineDequantize ||
         kind == OpKind::ConstexprBlockwiseShiftScale ||
         kind == OpKind::ConstexprLutToDense;
}

} // namespace ane::mil

#endif // ANE_LIB_MIL_OPS_H
