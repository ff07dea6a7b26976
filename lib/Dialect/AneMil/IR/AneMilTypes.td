//===- AneMilTypes.td - anemil types -----------------------*- tablegen -*-===//

#ifndef ANE_ANEMIL_TYPES
#define ANE_ANEMIL_TYPES

include "lib/Dialect/AneMil/IR/AneMilDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypes.td"

def AneMil_StateType : TypeDef<AneMil_Dialect, "State"> {
  let mnemonic = "state";
  let summary = "A MIL state (iOS18): a tensor persisting across calls";
  let description = [{
    ```mlir
    func.func @f(%s: !anemil.state<tensor<1x4x64xf16>>)
    ```
  }];
  let parameters = (ins "RankedTensorType":$wrapped);
  let assemblyFormat = "`<` $wrapped `>`";
}

#endif // ANE_ANEMIL_TYPES
