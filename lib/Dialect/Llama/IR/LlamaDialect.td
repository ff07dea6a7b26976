//===- LlamaDialect.td - llama dialect definition ----------*- tablegen -*-===//

#ifndef ANE_LLAMA_DIALECT
#define ANE_LLAMA_DIALECT

include "mlir/IR/OpBase.td"

def Llama_Dialect : Dialect {
  let name = "llama";
  let cppNamespace = "::mlir::llama";
  let summary = "Transformer-level ops of Llama-family models";
  let description = [{
    The `llama` dialect describes one Llama-family model at the level its
    papers and checkpoints do: RMSNorm, linear projections (possibly on
    quantized weights), rotary embeddings, grouped-query attention over a KV
    cache, SwiGLU feed-forward and the classifier head.

    Activations are 2-D `[seq, features]` tensors; the choice of device layout
    is left to the lowering. Weights are never constants: they are function
    arguments tagged with a `llama.role` attribute, so that a layer function is
    the unit through which the runtime swaps one layer's weights for the next.
    The model hyper-parameters live in a `llama.config` attribute on the
    module; argument shapes are checked against it.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasRegionArgAttrVerify = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Name of the module attribute holding the #llama.config.
    static constexpr ::llvm::StringLiteral getConfigAttrName() {
      return ::llvm::StringLiteral("llama.config");
    }
    /// Name of the argument attribute holding a weight's role.
    static constexpr ::llvm::StringLiteral getRoleAttrName() {
      return ::llvm::StringLiteral("llama.role");
    }
  private:
    void registerAttributes();
    void registerTypes();
  public:
  }];
}

class Llama_Op<string mnemonic, list<Trait> traits = []>
    : Op<Llama_Dialect, mnemonic, traits>;

#endif // ANE_LLAMA_DIALECT
