//===- AneMilAttrs.td - anemil attributes and enums --------*- tablegen -*-===//

#ifndef ANE_ANEMIL_ATTRS
#define ANE_ANEMIL_ATTRS

include "lib/Dialect/AneMil/IR/AneMilDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums (spelled as in MIL text)
//===----------------------------------------------------------------------===//

def AneMil_Opset : I32EnumAttr<"Opset", "MIL opset of a function", [
    I32EnumAttrCase<"IOS15", 15, "ios15">,
    I32EnumAttrCase<"IOS16", 16, "ios16">,
    I32EnumAttrCase<"IOS17", 17, "ios17">,
    I32EnumAttrCase<"IOS18", 18, "ios18">
  ]> {
  let cppNamespace = "::mlir::anemil";
  let genSpecializedAttr = 0;
}
def AneMil_OpsetAttr : EnumAttr<AneMil_Dialect, AneMil_Opset, "opset"> {
  let assemblyFormat = "`<` $value `>`";
}

def AneMil_DType : I32EnumAttr<"DType", "MIL element type", [
    I32EnumAttrCase<"FP16", 0, "fp16">,
    I32EnumAttrCase<"FP32", 1, "fp32">,
    I32EnumAttrCase<"Bool", 2, "bool">,
    I32EnumAttrCase<"Int4", 3, "int4">,
    I32EnumAttrCase<"Int8", 4, "int8">,
    I32EnumAttrCase<"Int16", 5, "int16">,
    I32EnumAttrCase<"Int32", 6, "int32">,
    I32EnumAttrCase<"UInt1", 7, "uint1">,
    I32EnumAttrCase<"UInt2", 8, "uint2">,
    I32EnumAttrCase<"UInt3", 9, "uint3">,
    I32EnumAttrCase<"UInt4", 10, "uint4">,
    I32EnumAttrCase<"UInt6", 11, "uint6">,
    I32EnumAttrCase<"UInt8", 12, "uint8">,
    I32EnumAttrCase<"UInt16", 13, "uint16">
  ]> {
  let cppNamespace = "::mlir::anemil";
  let genSpecializedAttr = 0;
}
def AneMil_DTypeAttr : EnumAttr<AneMil_Dialect, AneMil_DType, "dtype"> {
  let assemblyFormat = "`<` $value `>`";
}

def AneMil_PadType : I32EnumAttr<"PadType", "conv padding mode", [
    I32EnumAttrCase<"Valid", 0, "valid">,
    I32EnumAttrCase<"Same", 1, "same">,
    I32EnumAttrCase<"SameLower", 2, "same_lower">,
    I32EnumAttrCase<"Custom", 3, "custom">
  ]> {
  let cppNamespace = "::mlir::anemil";
  let genSpecializedAttr = 0;
}
def AneMil_PadTypeAttr : EnumAttr<AneMil_Dialect, AneMil_PadType, "pad_type"> {
  let assemblyFormat = "`<` $value `>`";
}

def AneMil_GeluMode : I32EnumAttr<"GeluMode", "gelu formula", [
    I32EnumAttrCase<"Exact", 0, "EXACT">,
    I32EnumAttrCase<"TanhApproximation", 1, "TANH_APPROXIMATION">,
    I32EnumAttrCase<"SigmoidApproximation", 2, "SIGMOID_APPROXIMATION">
  ]> {
  let cppNamespace = "::mlir::anemil";
  let genSpecializedAttr = 0;
}
def AneMil_GeluModeAttr : EnumAttr<AneMil_Dialect, AneMil_GeluMode, "gelu_mode"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// #anemil.blob
//===----------------------------------------------------------------------===//

def AneMil_BlobAttr : AttrDef<AneMil_Dialect, "Blob", [TypedAttrInterface]> {
  let mnemonic = "blob";
  let summary = "A tensor stored in a weight.bin file (MIL BLOBFILE)";
  let description = [{
    `offset` is the byte offset of the blob's metadata record in the file, as
    MIL's `BLOBFILE(path = ..., offset = ...)` writes it.

    ```mlir
    %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<64x64x1x1xf16>
    ```
  }];
  let parameters = (ins StringRefParameter<"weight file path">:$path,
                        "uint64_t":$offset,
                        AttributeSelfTypeParameter<"">:$type);
  let assemblyFormat = "`<` $path `,` $offset `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// #anemil.weight_slot
//===----------------------------------------------------------------------===//

// An enum of the compiler-runtime contract (lib/Abi), spelled by its names
// there; AneMilAbi.h gives the parser and printer.
class AneMil_AbiEnumParameter<string cppType, string desc>
    : AttrParameter<cppType, desc>;

def AneMil_WeightSlotAttr : AttrDef<AneMil_Dialect, "WeightSlot"> {
  let mnemonic = "weight_slot";
  let summary = "How one weight is stored in a segment (lib/Abi SlotSpec)";
  let description = [{
    The module lists every slot in `anemil.weight_slots` and each kernel the
    slots it reads in `anemil.weights`; `ane-translate --kernel-dir` and the
    in-process compile turn them into the kernel set manifest with
    `toSlotSpec()`. `blobs` are the blob tensor types, at `offsets` of the
    segment (64-byte metadata records, as in weight.bin).

    ```mlir
    #anemil.weight_slot<role = "ffn_down", segment = layer, scheme = q4,
        group = 16, shape = [64, 172],
        blobs = [tensor<64x172x1x1xi4>, tensor<64x11x1x1xf16>],
        offsets = [64, 5696]>
    ```
  }];
  let parameters = (ins
    "::mlir::StringAttr":$role,
    AneMil_AbiEnumParameter<"::ane::abi::Segment", "layer or global">:$segment,
    AneMil_AbiEnumParameter<"::ane::abi::Scheme", "storage scheme">:$scheme,
    "int64_t":$group,
    "::mlir::DenseI64ArrayAttr":$shape,
    "::mlir::ArrayAttr":$blobs,
    "::mlir::DenseI64ArrayAttr":$offsets,
    OptionalParameter<"::mlir::ArrayAttr">:$fused_from,
    OptionalParameter<"::mlir::StringAttr">:$fold_norm,
    DefaultValuedParameter<"int64_t", "0">:$rope_rows,
    DefaultValuedParameter<"int64_t", "0">:$head_dim
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The contract's view of this slot.
    ::ane::abi::SlotSpec toSlotSpec() const;
    /// Blob `i`'s tensor type.
    ::mlir::RankedTensorType getBlobType(unsigned i) const;
    /// The attribute for `spec`; its blob dtypes must be MIL element types
    /// that MLIR spells.
    static WeightSlotAttr fromSlotSpec(::mlir::MLIRContext *ctx,
                                       const ::ane::abi::SlotSpec &spec);
  }];
}

#endif // ANE_ANEMIL_ATTRS
