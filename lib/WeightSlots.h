//===- WeightSlots.h - weight slots as the runtime sees them ----*- C++ -*-===//
//
// The compiler records each weight slot in `anemil.weight_slots`; these turn
// those attributes into the runtime's SlotSpec (implemented in Compile.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_WEIGHTSLOTS_H
#define ANE_LIB_WEIGHTSLOTS_H

#include "lib/Runtime/Packing.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace mlir::ane {

/// The runtime's view of one `anemil.weight_slots` entry.
::ane::runtime::SlotSpec slotSpecFromAttr(DictionaryAttr slot);
/// The slots of `segment` ("layer" or "global") of a compiled module.
std::vector<::ane::runtime::SlotSpec> slotSpecsOf(ModuleOp module,
                                                  StringRef segment);

} // namespace mlir::ane

#endif // ANE_LIB_WEIGHTSLOTS_H
