//===- LlamaTypes.td - llama types -------------------------*- tablegen -*-===//

#ifndef ANE_LLAMA_TYPES
#define ANE_LLAMA_TYPES

include "lib/Dialect/Llama/IR/LlamaAttrs.td"
include "mlir/IR/AttrTypeBase.td"

def Llama_QWeightType : TypeDef<Llama_Dialect, "QWeight"> {
  let mnemonic = "qweight";
  let summary = "A weight matrix stored in a quantized scheme";
  let description = [{
    The logical shape is `[out_features, in_features]`. Groups run along the
    in-features axis; `group = 0` means one group per row (per-channel).

    ```mlir
    !llama.qweight<q4, group = 128, shape = [4096, 4096], scale = f16>
    ```
  }];
  let parameters = (ins
    EnumParameter<Llama_QuantScheme>:$scheme,
    "int64_t":$group,
    ArrayRefParameter<"int64_t">:$shape,
    "Type":$scaleType
  );
  let assemblyFormat = [{
    `<` $scheme `,` `group` `=` $group `,` `shape` `=` `[` $shape `]` `,`
    `scale` `=` $scaleType `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The group size actually used: `group`, or in-features for per-channel.
    int64_t getEffectiveGroup() const {
      return getGroup() == 0 ? getShape()[1] : getGroup();
    }
    /// Bits per stored element of the scheme.
    unsigned getBitsPerElement() const;
  }];
}

#endif // ANE_LLAMA_TYPES
