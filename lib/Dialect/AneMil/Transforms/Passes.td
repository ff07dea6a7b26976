//===- Passes.td - anemil dialect passes -------------------*- tablegen -*-===//

#ifndef ANE_ANEMIL_PASSES
#define ANE_ANEMIL_PASSES

include "mlir/Pass/PassBase.td"

def AneMilLegalizeAnePass : Pass<"anemil-legalize-ane", "mlir::ModuleOp"> {
  let summary = "Tile axes over the ANE limit and pad unaligned channels";
  let description = [{
    A 1x1 `conv` with more output channels than the family allows (16384 on
    m1-m3, 65536 on m4), such as an lm_head over a 32000-token vocabulary,
    becomes one `conv` per tile of weight rows (`slice_by_size` of the
    constant weight) and a `concat` of the tiles along axis 2, so no axis of
    any value exceeds the limit: `[1, V, 1, S]` becomes `[1, V/T, T, S]`
    with vocabulary index `t * V/T + c`. A last, shorter tile is padded with
    zeros. A wide fused projection followed by a `split` (gate/up of large
    models) becomes one conv per part instead. The classifier's backward
    (`W^T g` by a `matmul` with `transpose_x` over the vocabulary) takes `g`
    in the same tiled layout and sums the per-tile products.

    With `pad-channels`, every kernel input and output `[1, C, H, S]` whose
    rows (C elements) are not a multiple of 64 bytes gets C rounded up: an
    input is sliced back to C channels on entry (the padding is never read),
    an output is completed with zeros. The kernel's
    `anemil.padded_channels` records the logical C of each padded tensor by
    name, and the manifest carries it to the runtime.
  }];
  let options = [
    Option<"family", "family", "std::string", /*default=*/"\"m2\"",
           "ANE family: m1, m2, m3 or m4">,
    Option<"axisLimit", "axis-limit", "int64_t", /*default=*/"0",
           "override the family's axis limit (for tests)">,
    Option<"padChannels", "pad-channels", "bool", /*default=*/"true",
           "pad kernel inputs and outputs to 64-byte rows">,
  ];
  let dependentDialects = ["mlir::anemil::AneMilDialect"];
}

def AneMilVerifyAnePass : Pass<"anemil-verify-ane", "mlir::ModuleOp"> {
  let summary = "Report everything the ANE would reject";
  let description = [{
    One error per violation, in every function with `anemil.kernel`:
    compute that is not fp16 (fp32 only as a cast in or out), an axis over
    the family's limit, an input or output whose channel rows are not a
    multiple of 64 bytes, an op outside the ANE-supported list
    (MIL_SPEC_NOTES section 4), more than one input when `single-input` is
    set, and more kernels than `max-programs`.
  }];
  let options = [
    Option<"family", "family", "std::string", /*default=*/"\"m2\"",
           "ANE family: m1, m2, m3 or m4">,
    Option<"singleInput", "single-input", "bool", /*default=*/"false",
           "require one input per kernel (see anemil-pack-inputs)">,
    Option<"maxPrograms", "max-programs", "int64_t", /*default=*/"100",
           "compile budget: kernels per process">,
  ];
}

def AneMilPackInputsPass : Pass<"anemil-pack-inputs", "mlir::ModuleOp"> {
  let summary = "Pack all inputs of each kernel into one [1, C, 1, S] input";
  let description = [{
    For requests that must carry a single input: every kernel's inputs become
    column ranges of one `packed` input `[1, C, 1, S_total]`, with C the
    greatest common divisor of the inputs' sizes; inside, `slice_by_size`
    takes each range and `reshape` restores its shape. Input i's element f
    sits at channel f / w_i, column offset_i + f % w_i, where w_i is its
    width in columns. The layout is recorded in `anemil.packed_inputs`.
  }];
  let dependentDialects = ["mlir::anemil::AneMilDialect"];
}

#endif // ANE_ANEMIL_PASSES
