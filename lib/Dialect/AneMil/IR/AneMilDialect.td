//===- AneMilDialect.td - anemil dialect definition --------*- tablegen -*-===//

#ifndef ANE_ANEMIL_DIALECT
#define ANE_ANEMIL_DIALECT

include "mlir/IR/OpBase.td"

def AneMil_Dialect : Dialect {
  let name = "anemil";
  let cppNamespace = "::mlir::anemil";
  let summary = "Core ML MIL ops, one to one";
  let description = [{
    Every op of `anemil` is one Core ML MIL op: the mnemonic is MIL's op name
    and operand and attribute names are MIL's parameter names, so the MIL
    emitter needs no rename table. Parameters that MIL requires to be
    compile-time scalars or integer lists (axes, perms, strides, pad types,
    epsilons, shapes) are attributes; tensor parameters that MIL requires to be
    constant (linear weights, layer_norm gamma, the inputs of `constexpr_*`
    ops) are operands that must be defined by `anemil.const`.

    MIL element types map to MLIR as: fp16 -> f16, fp32 -> f32, bool -> i1,
    intN -> iN (signless, two's complement), uintN -> uiN.

    A function states its MIL opset with `anemil.opset = #anemil.opset<ios18>`;
    ops newer than that opset are rejected. Kernel functions made by the
    compiler also carry `anemil.kernel` (their name in the kernel plan) and
    `anemil.weights` (the weight slots they read); arguments and results may
    carry `anemil.name`, the MIL name of the input or output.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Name of the function attribute holding the MIL opset.
    static constexpr ::llvm::StringLiteral getOpsetAttrName() {
      return ::llvm::StringLiteral("anemil.opset");
    }
  private:
    void registerAttributes();
    void registerTypes();
  public:
  }];
}

class AneMil_Op<string mnemonic, list<Trait> traits = []>
    : Op<AneMil_Dialect, mnemonic, traits>;

#endif // ANE_ANEMIL_DIALECT
