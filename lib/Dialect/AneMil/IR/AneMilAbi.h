//===- AneMilAbi.h - lib/Abi enums as attribute parameters ------*- C++ -*-===//
//
// #anemil.weight_slot carries the contract's enums (lib/Abi/Schemes.h) and
// spells them with the contract's own names, so no second list of names
// exists in the dialect.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_DIALECT_ANEMIL_IR_ANEMILABI_H
#define ANE_LIB_DIALECT_ANEMIL_IR_ANEMILABI_H

#include "lib/Abi/Slots.h"
#include "mlir/IR/DialectImplementation.h"

namespace mlir {

namespace anemil::detail {
/// Parses a keyword and maps it through `parse`; `what` names the kind.
template <typename E, typename Parse>
FailureOr<E> parseAbiKeyword(AsmParser &parser, Parse parse, StringRef what) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (failed(parser.parseKeyword(&word)))
    return failure();
  if (std::optional<E> v = parse(std::string_view(word.data(), word.size())))
    return *v;
  return parser.emitError(loc) << "unknown " << what << " '" << word << "'";
}
} // namespace anemil::detail

template <> struct FieldParser<::ane::abi::Segment> {
  static FailureOr<::ane::abi::Segment> parse(AsmParser &parser) {
    return anemil::detail::parseAbiKeyword<::ane::abi::Segment>(
        parser, ::ane::abi::parseSegment, "segment");
  }
};

template <> struct FieldParser<::ane::abi::Scheme> {
  static FailureOr<::ane::abi::Scheme> parse(AsmParser &parser) {
    return anemil::detail::parseAbiKeyword<::ane::abi::Scheme>(
        parser, ::ane::abi::parseScheme, "scheme");
  }
};

inline AsmPrinter &operator<<(AsmPrinter &p, ::ane::abi::Segment s) {
  std::string_view name = ::ane::abi::segmentName(s);
  return p << StringRef(name.data(), name.size());
}

inline AsmPrinter &operator<<(AsmPrinter &p, ::ane::abi::Scheme s) {
  std::string_view name = ::ane::abi::schemeName(s);
  return p << StringRef(name.data(), name.size());
}

} // namespace mlir

#endif // ANE_LIB_DIALECT_ANEMIL_IR_ANEMILABI_H
