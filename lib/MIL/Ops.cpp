//===- Ops.cpp - the MIL ops this project knows ---------------------------===//

#include "lib/MIL/Ops.h"

namespace ane::mil {
namespace {

struct OpInfo {
  std::string_view name;
  bool onAne;
  std::vector<std::string_view> operands;
};

const std::vector<OpInfo> &table() {
  static const std::vector<OpInfo> kTable = {
#define MIL_OP(KIND, NAME, ANE, ...) {NAME, ANE, {__VA_ARGS__}},
#include "lib/MIL/Ops.def"
  };
  return kTable;
}

} // namespace

std::optional<OpKind> parseOpKind(std::string_view name) {
  const std::vector<OpInfo> &t = table();
  for (size_t i = 0; i < t.size(); ++i)
    if (t[i].name == name)
      return static_cast<OpKind>(i);
  return std::nullopt;
}

std::string_view opName(OpKind kind) {
  return table()[static_cast<size_t>(kind)].name;
}

bool runsOnAne(OpKind kind) { return table()[static_cast<size_t>(kind)].onAne; }

const std::vector<std::string_view> &opOperands(OpKind kind) {
  return table()[static_cast<size_t>(kind)].operands;
}

} // namespace ane::mil
