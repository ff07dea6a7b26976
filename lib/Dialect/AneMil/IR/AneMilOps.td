//===- AneMilOps.td - anemil dialect operations ------------*- tablegen -*-===//
//
// One op per MIL op. Semantics and parameter names follow Core ML's opset
// definitions (see docs/mil.md and shared/mil/MIL_SPEC_NOTES.md section 2).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_ANEMIL_OPS
#define ANE_ANEMIL_OPS

include "lib/Dialect/AneMil/IR/AneMilDialect.td"
include "lib/Dialect/AneMil/IR/AneMilAttrs.td"
include "lib/Dialect/AneMil/IR/AneMilTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def AneMil_I4 : I<4>;
def AneMil_UI2 : UI<2>;
def AneMil_UI3 : UI<3>;
def AneMil_UI4 : UI<4>;
def AneMil_UI6 : UI<6>;
def AneMil_ElementType : AnyTypeOf<[F16, F32, I1, AneMil_I4, I8, I16, I32,
                                    UI1, AneMil_UI2, AneMil_UI3, AneMil_UI4, AneMil_UI6, UI8, UI16]>;
def AneMil_Tensor : RankedTensorOf<[AneMil_ElementType]>;
def AneMil_FloatTensor : RankedTensorOf<[F16, F32]>;
def AneMil_NumTensor : RankedTensorOf<[F16, F32, I32]>;
def AneMil_BoolTensor : RankedTensorOf<[I1]>;
def AneMil_ShapeTensor : RankedTensorOf<[F16, F32, I32, I1, I8, UI8, I16, UI16]>;
def AneMil_IndexTensor : RankedTensorOf<[I32, I16, UI16, I8, UI8]>;
def AneMil_Int8Tensor : RankedTensorOf<[I8, UI8]>;

//===----------------------------------------------------------------------===//
// Op classes
//===----------------------------------------------------------------------===//

// Verifier body shared by a class of ops; `fn` is a helper in AneMilOps.h
// taking the op.
class AneMil_VerifyWith<string fn> {
  code body = "::mlir::LogicalResult $cppClass::verify() { return " # fn # "(*this); }";
}

class AneMil_BinaryOp<string mnemonic, Type T, string what>
    : AneMil_Op<mnemonic, [Pure, AllElementTypesMatch<["x", "y", "output"]>]> {
  let summary = "Elementwise " # what # " with NumPy broadcasting";
  let description = "MIL `" # mnemonic # "(x, y)`: `x` and `y` share one dtype and "
    # "broadcast; the result has the broadcast shape.\n\n```mlir\n%r = anemil."
    # mnemonic # " %a, %b : (tensor<1x64x1x8xf16>, tensor<1x64x1x1xf16>) -> tensor<1x64x1x8xf16>\n```";
  let arguments = (ins T:$x, T:$y);
  let results = (outs T:$output);
  let assemblyFormat = "$x `,` $y attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let extraClassDefinition = AneMil_VerifyWith<"verifyBroadcastOp">.body;
}

class AneMil_CompareOp<string mnemonic, string what>
    : AneMil_Op<mnemonic, [Pure, AllElementTypesMatch<["x", "y"]>]> {
  let summary = "Elementwise " # what # " comparison, bool result";
  let description = "MIL `" # mnemonic # "(x, y)`: broadcasting comparison of two "
    # "tensors of one dtype; the result is bool.\n\n```mlir\n%m = anemil."
    # mnemonic # " %a, %b : (tensor<8x8xi32>, tensor<8x1xi32>) -> tensor<8x8xi1>\n```";
  let arguments = (ins AneMil_NumTensor:$x, AneMil_NumTensor:$y);
  let results = (outs AneMil_BoolTensor:$output);
  let assemblyFormat = "$x `,` $y attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let extraClassDefinition = AneMil_VerifyWith<"verifyBroadcastOp">.body;
}

class AneMil_UnaryOp<string mnemonic, string what, dag extraArgs = (ins)>
    : AneMil_Op<mnemonic, [Pure, AllTypesMatch<["x", "output"]>]> {
  let summary = "Elementwise " # what;
  let description = "MIL `" # mnemonic # "(x)`: same shape and dtype as `x`.\n\n"
    # "```mlir\n%r = anemil." # mnemonic # " %x : tensor<1x64x1x8xf16>\n```";
  let arguments = !con((ins AneMil_FloatTensor:$x), extraArgs);
  let results = (outs AneMil_FloatTensor:$output);
  let assemblyFormat = "$x attr-dict `:` type($x)";
}

class AneMil_ReduceOp<string mnemonic, string what>
    : AneMil_Op<mnemonic, [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Reduction by " # what # " over `axes`";
  let description = "MIL `" # mnemonic # "(x, axes, keep_dims)`: `axes` defaults to "
    # "every dimension; reduced dims are dropped unless `keep_dims`.\n\n```mlir\n"
    # "%r = anemil." # mnemonic # " %x {axes = array<i64: 1>, keep_dims = true}"
    # " : (tensor<1x64x1x8xf16>) -> tensor<1x1x1x8xf16>\n```";
  let arguments = (ins AneMil_NumTensor:$x,
                       OptionalAttr<DenseI64ArrayAttr>:$axes,
                       OptionalAttr<BoolAttr>:$keep_dims);
  let results = (outs AneMil_NumTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let extraClassDefinition = AneMil_VerifyWith<"verifyReduceOp">.body;
}

//===----------------------------------------------------------------------===//
// Constants and compressed constants
//===----------------------------------------------------------------------===//

def AneMil_ConstOp : AneMil_Op<"const", [Pure, AllTypesMatch<["val", "output"]>]> {
  let summary = "A constant tensor, inline or in weight.bin";
  let description = [{
    MIL `const()[val = ...]`. `val` is a dense literal or a `#anemil.blob`.

    ```mlir
    %eps = anemil.const dense<9.99999974E-6> : tensor<f16>
    %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<64x64x1x1xf16>
    ```
  }];
  let arguments = (ins TypedAttrInterface:$val);
  let results = (outs AneMil_Tensor:$output);
  let assemblyFormat = "attr-dict $val";
}

def AneMil_ConstexprAffineDequantizeOp
    : AneMil_Op<"constexpr_affine_dequantize", [Pure]> {
  let summary = "Compile-time per-axis affine dequantization (iOS16)";
  let description = [{
    `output = scale * (quantized_data - zero_point)`, with `scale` and
    `zero_point` scalars or 1-D along `axis`. Output dtype is scale's.

    ```mlir
    %w = anemil.constexpr_affine_dequantize %q, %s, %zp {axis = 0 : i64}
        : (tensor<64x64xi8>, tensor<64xf16>, tensor<64xi8>) -> tensor<64x64xf16>
    ```
  }];
  let arguments = (ins AneMil_Int8Tensor:$quantized_data, AneMil_FloatTensor:$scale,
                       RankedTensorOf<[I8, UI8, F32]>:$zero_point, I64Attr:$axis);
  let results = (outs AneMil_FloatTensor:$output);
  let assemblyFormat = [{
    $quantized_data `,` $scale `,` $zero_point attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def AneMil_ConstexprBlockwiseShiftScaleOp
    : AneMil_Op<"constexpr_blockwise_shift_scale", [Pure]> {
  let summary = "Compile-time blockwise dequantization (iOS18)";
  let description = [{
    `block[i] = data.shape[i] / scale.shape[i]`;
    `output[i] = scale[i / block] * (data[i] - offset[i / block])`. `scale`
    (and `offset`) have the rank of `data` and each dim divides data's.

    ```mlir
    %w = anemil.constexpr_blockwise_shift_scale %d, %s
        : (tensor<64x64xi4>, tensor<64x2xf16>) -> tensor<64x64xf16>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AneMil_I4, AneMil_UI4, I8, UI8, F16, F32]>:$data,
                       AneMil_FloatTensor:$scale,
                       Optional<RankedTensorOf<[AneMil_I4, AneMil_UI4, I8, UI8, F16, F32]>>:$offset);
  let results = (outs AneMil_FloatTensor:$output);
  let assemblyFormat = [{
    $data `,` $scale (`,` $offset^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def AneMil_ConstexprLutToDenseOp : AneMil_Op<"constexpr_lut_to_dense", [Pure]> {
  let summary = "Compile-time palettized (look-up table) weights";
  let description = [{
    Two forms, as in MIL. iOS16: `indices` are packed `uint8` bytes, `lut` is
    `[2^n]` and `shape` gives the output shape. iOS18: `indices` is a
    `uintN` tensor of the output shape (with `vector_axis` expanded),
    `lut` is `[..., 2^N, VECTOR_SIZE]` with one palette per group.

    ```mlir
    %w = anemil.constexpr_lut_to_dense %idx, %lut
        : (tensor<64x64xui4>, tensor<64x1x16x1xf16>) -> tensor<64x64xf16>
    %v = anemil.constexpr_lut_to_dense %bytes, %lut16 {shape = array<i64: 4, 4>}
        : (tensor<8xui8>, tensor<16xf16>) -> tensor<4x4xf16>
    ```
  }];
  let arguments = (ins RankedTensorOf<[UI1, AneMil_UI2, AneMil_UI3, AneMil_UI4, AneMil_UI6, UI8]>:$indices,
                       RankedTensorOf<[I8, UI8, F16, F32]>:$lut,
                       OptionalAttr<DenseI64ArrayAttr>:$shape,
                       OptionalAttr<I64Attr>:$vector_axis);
  let results = (outs RankedTensorOf<[I8, UI8, F16, F32]>:$output);
  let assemblyFormat = [{
    $indices `,` $lut attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def AneMil_QuantizeOp : AneMil_Op<"quantize", [Pure]> {
  let summary = "Float to int8/uint8 affine quantization (iOS17)";
  let description = [{
    `output = clip(round_half_even(input / scale) + zero_point)`.

    ```mlir
    %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<int8>}
        : (tensor<1x64xf16>, tensor<f16>) -> tensor<1x64xi8>
    ```
  }];
  let arguments = (ins AneMil_FloatTensor:$input, AneMil_FloatTensor:$scale,
                       Optional<AneMil_Int8Tensor>:$zero_point,
                       OptionalAttr<I64Attr>:$axis,
                       AneMil_DTypeAttr:$output_dtype);
  let results = (outs AneMil_Int8Tensor:$output);
  let assemblyFormat = [{
    $input `,` $scale (`,` $zero_point^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def AneMil_DequantizeOp : AneMil_Op<"dequantize", [Pure]> {
  let summary = "int8/uint8 to float affine dequantization (iOS17)";
  let description = [{
    `output = scale * (input - zero_point)`, in scale's dtype.

    ```mlir
    %x = anemil.dequantize %q, %s : (tensor<1x64xi8>, tensor<f16>) -> tensor<1x64xf16>
    ```
  }];
  let arguments = (ins AneMil_Int8Tensor:$input, AneMil_FloatTensor:$scale,
                       Optional<AneMil_Int8Tensor>:$zero_point,
                       OptionalAttr<I64Attr>:$axis);
  let results = (outs AneMil_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale (`,` $zero_point^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def AneMil_CastOp : AneMil_Op<"cast", [Pure]> {
  let summary = "Element type conversion";
  let description = [{
    MIL `cast(x, dtype)`; `dtype` names the result element type.

    ```mlir
    %h = anemil.cast %x {dtype = #anemil.dtype<fp16>} : (tensor<1x64xf32>) -> tensor<1x64xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, AneMil_DTypeAttr:$dtype);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Linear algebra, convolution, normalization, attention
//===----------------------------------------------------------------------===//

def AneMil_ConvOp : AneMil_Op<"conv", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "N-d convolution (1x1 conv is the ANE's projection)";
  let description = [{
    `x` is `[N, C_in, *D]`, `weight` `[C_out, C_in / groups, *K]`, `bias`
    `[C_out]`. Output spatial size: `floor((d + pads - (k-1)*dilation - 1) /
    stride) + 1` for `valid`/`custom`, `ceil(d / stride)` for `same`.

    ```mlir
    %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<valid>}
        : (tensor<1x64x1x8xf16>, tensor<128x64x1x1xf16>) -> tensor<1x128x1x8xf16>
    ```
  }];
  let arguments = (ins AneMil_FloatTensor:$x, AneMil_FloatTensor:$weight,
                       Optional<AneMil_FloatTensor>:$bias,
                       OptionalAttr<DenseI64ArrayAttr>:$strides,
                       OptionalAttr<DenseI64ArrayAttr>:$dilations,
                       OptionalAttr<DenseI64ArrayAttr>:$pad,
                       OptionalAttr<AneMil_PadTypeAttr>:$pad_type,
                       OptionalAttr<I64Attr>:$groups);
  let results = (outs AneMil_FloatTensor:$output);
  let assemblyFormat = [{
    $x `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def AneMil_MatmulOp : AneMil_Op<"matmul", [Pure, AllElementTypesMatch<["x", "y", "output"]>]> {
  let summary = "Batched matrix product with NumPy broadcasting";
  let description = [{
    ```mlir
    %s = anemil.matmul %q, %k {transpose_y = true}
        : (tensor<1x4x8x16xf16>, tensor<1x4x32x16xf16>) -> tensor<1x4x8x32xf16>
    ```
  }];
  let arguments = (ins AneMil_NumTensor:$x, AneMil_NumTensor:$y,
                       OptionalAttr<BoolAttr>:$transpose_x,
                       OptionalAttr<BoolAttr>:$transpose_y);
  let results = (outs AneMil_NumTensor:$output);
  let assemblyFormat = "$x `,` $y attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_LinearOp : AneMil_Op<"linear", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "x * weight^T + bias with a constant weight";
  let description = [{
    `weight` (`[D_out, D_in]`) and `bias` must be constants.

    ```mlir
    %y = anemil.linear %x, %w : (tensor<8x64xf16>, tensor<32x64xf16>) -> tensor<8x32xf16>
    ```
  }];
  let arguments = (ins AneMil_NumTensor:$x, AneMil_NumTensor:$weight,
                       Optional<AneMil_NumTensor>:$bias);
  let results = (outs AneMil_NumTensor:$output);
  let assemblyFormat = [{
    $x `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def AneMil_LayerNormOp : AneMil_Op<"layer_norm", [Pure, AttrSizedOperandSegments,
    AllTypesMatch<["x", "output"]>]> {
  let summary = "Layer normalization over `axes`";
  let description = [{
    `gamma * (x - mean) / sqrt(var + epsilon) + beta` with the population
    variance; `gamma` and `beta` are constants shaped like `x` over `axes`.

    ```mlir
    %y = anemil.layer_norm %x gamma %g beta %b {axes = array<i64: -1>, epsilon = 1.0e-05 : f32}
        : (tensor<8x64xf16>, tensor<64xf16>, tensor<64xf16>) -> tensor<8x64xf16>
    ```
  }];
  let arguments = (ins AneMil_FloatTensor:$x,
                       Optional<AneMil_FloatTensor>:$gamma,
                       Optional<AneMil_FloatTensor>:$beta,
                       OptionalAttr<DenseI64ArrayAttr>:$axes,
                       OptionalAttr<F32Attr>:$epsilon);
  let results = (outs AneMil_FloatTensor:$output);
  let assemblyFormat = [{
    $x (`gamma` $gamma^)? (`beta` $beta^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def AneMil_ScaledDotProductAttentionOp
    : AneMil_Op<"scaled_dot_product_attention", [Pure,
        AllElementTypesMatch<["query", "key", "value", "output"]>]> {
  let summary = "softmax(Q K^T / sqrt(E) + mask) V (iOS18)";
  let description = [{
    A bool `attn_mask` masks False entries to -inf; a float mask is added.

    ```mlir
    %o = anemil.scaled_dot_product_attention %q, %k, %v, %m
        : (tensor<1x4x8x16xf16>, tensor<1x4x32x16xf16>, tensor<1x4x32x16xf16>,
           tensor<1x1x8x32xf16>) -> tensor<1x4x8x16xf16>
    ```
  }];
  let arguments = (ins AneMil_FloatTensor:$query, AneMil_FloatTensor:$key,
                       AneMil_FloatTensor:$value,
                       Optional<RankedTensorOf<[I1, F16, F32]>>:$attn_mask);
  let results = (outs AneMil_FloatTensor:$output);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`,` $attn_mask^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

def AneMil_AddOp : AneMil_BinaryOp<"add", AneMil_NumTensor, "addition">;
def AneMil_SubOp : AneMil_BinaryOp<"sub", AneMil_NumTensor, "subtraction">;
def AneMil_MulOp : AneMil_BinaryOp<"mul", AneMil_NumTensor, "multiplication">;
def AneMil_RealDivOp : AneMil_BinaryOp<"real_div", AneMil_NumTensor, "division">;
def AneMil_PowOp : AneMil_BinaryOp<"pow", AneMil_FloatTensor, "power">;
def AneMil_MaximumOp : AneMil_BinaryOp<"maximum", AneMil_NumTensor, "maximum">;
def AneMil_MinimumOp : AneMil_BinaryOp<"minimum", AneMil_NumTensor, "minimum">;
def AneMil_GreaterEqualOp : AneMil_CompareOp<"greater_equal", "x >= y">;
def AneMil_LessOp : AneMil_CompareOp<"less", "x < y">;

def AneMil_SqrtOp : AneMil_UnaryOp<"sqrt", "square root">;
def AneMil_ExpOp : AneMil_UnaryOp<"exp", "exponential">;
def AneMil_SigmoidOp : AneMil_UnaryOp<"sigmoid", "logistic sigmoid">;
def AneMil_SiluOp : AneMil_UnaryOp<"silu", "x * sigmoid(x)">;
def AneMil_RsqrtOp : AneMil_UnaryOp<"rsqrt", "1 / sqrt(x + epsilon)",
                                    (ins OptionalAttr<F32Attr>:$epsilon)>;
def AneMil_GeluOp : AneMil_UnaryOp<"gelu", "GELU in one of MIL's three formulas",
                                   (ins OptionalAttr<AneMil_GeluModeAttr>:$mode)>;

def AneMil_SoftmaxOp : AneMil_Op<"softmax", [Pure, AllTypesMatch<["x", "output"]>]> {
  let summary = "Softmax along `axis` (default -1)";
  let description = [{
    ```mlir
    %p = anemil.softmax %s {axis = -1 : i64} : tensor<1x4x8x32xf16>
    ```
  }];
  let arguments = (ins AneMil_FloatTensor:$x, OptionalAttr<I64Attr>:$axis);
  let results = (outs AneMil_FloatTensor:$output);
  let assemblyFormat = "$x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def AneMil_SelectOp : AneMil_Op<"select", [Pure, AllElementTypesMatch<["a", "b", "output"]>]> {
  let summary = "Elementwise cond ? a : b with broadcasting";
  let description = [{
    ```mlir
    %r = anemil.select %c, %a, %b
        : (tensor<8x8xi1>, tensor<8x8xf16>, tensor<f16>) -> tensor<8x8xf16>
    ```
  }];
  let arguments = (ins AneMil_BoolTensor:$cond,
                       RankedTensorOf<[F16, F32, I32, I1]>:$a,
                       RankedTensorOf<[F16, F32, I32, I1]>:$b);
  let results = (outs RankedTensorOf<[F16, F32, I32, I1]>:$output);
  let assemblyFormat = "$cond `,` $a `,` $b attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

def AneMil_ReduceSumOp : AneMil_ReduceOp<"reduce_sum", "sum">;
def AneMil_ReduceMeanOp : AneMil_ReduceOp<"reduce_mean", "mean">;
def AneMil_ReduceMaxOp : AneMil_ReduceOp<"reduce_max", "maximum">;

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

def AneMil_ReshapeOp : AneMil_Op<"reshape", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Reshape; `shape` may hold one -1 (inferred) and 0 (copied)";
  let description = [{
    ```mlir
    %r = anemil.reshape %x {shape = array<i64: 1, 4, 16, -1>}
        : (tensor<1x64x1x8xf16>) -> tensor<1x4x16x8xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, DenseI64ArrayAttr:$shape);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_TransposeOp : AneMil_Op<"transpose", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Permute dimensions by `perm`";
  let description = [{
    ```mlir
    %t = anemil.transpose %x {perm = array<i64: 0, 2, 1, 3>}
        : (tensor<1x4x16x8xf16>) -> tensor<1x16x4x8xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, DenseI64ArrayAttr:$perm);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_ExpandDimsOp : AneMil_Op<"expand_dims", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Insert size-1 dimensions at `axes` of the result";
  let description = [{
    ```mlir
    %e = anemil.expand_dims %x {axes = array<i64: 0, 2>} : (tensor<64x8xf16>) -> tensor<1x64x1x8xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, DenseI64ArrayAttr:$axes);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_SqueezeOp : AneMil_Op<"squeeze", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Remove size-1 dimensions (all, or those in `axes`)";
  let description = [{
    ```mlir
    %s = anemil.squeeze %x {axes = array<i64: 0, 2>} : (tensor<1x64x1x8xf16>) -> tensor<64x8xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, OptionalAttr<DenseI64ArrayAttr>:$axes);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_SliceByIndexOp : AneMil_Op<"slice_by_index", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Strided slice x[begin:end:stride] with masks";
  let description = [{
    `begin_mask[i]` / `end_mask[i]` ignore `begin[i]` / `end[i]`;
    `squeeze_mask[i]` takes index `begin[i]` and drops the dimension.

    ```mlir
    %s = anemil.slice_by_index %x {begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 32, 1, 8>}
        : (tensor<1x64x1x8xf16>) -> tensor<1x32x1x8xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, DenseI64ArrayAttr:$begin,
                       DenseI64ArrayAttr:$end,
                       OptionalAttr<DenseI64ArrayAttr>:$stride,
                       OptionalAttr<DenseBoolArrayAttr>:$begin_mask,
                       OptionalAttr<DenseBoolArrayAttr>:$end_mask,
                       OptionalAttr<DenseBoolArrayAttr>:$squeeze_mask);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_SliceBySizeOp : AneMil_Op<"slice_by_size", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Slice `size` elements from `begin` (-1 = to the end)";
  let description = [{
    ```mlir
    %s = anemil.slice_by_size %x {begin = array<i64: 0, 32, 0, 0>, size = array<i64: 1, 32, 1, -1>}
        : (tensor<1x64x1x8xf16>) -> tensor<1x32x1x8xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, DenseI64ArrayAttr:$begin,
                       DenseI64ArrayAttr:$size);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_PadOp : AneMil_Op<"pad", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Pad the last axes with zeros";
  let description = [{
    MIL `pad` in its default constant mode with `constant_val` 0: `pad`
    holds a (before, after) pair for each of the last `pad.size() / 2` axes.

    ```mlir
    %p = anemil.pad %x {pad = array<i64: 0, 0, 0, 24, 0, 0, 0, 0>}
        : (tensor<1x40x1x8xf16>) -> tensor<1x64x1x8xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, DenseI64ArrayAttr:$pad);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_ConcatOp : AneMil_Op<"concat", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Concatenate `values` along `axis` (optionally interleaved)";
  let description = [{
    ```mlir
    %c = anemil.concat %a, %b {axis = 1 : i64}
        : (tensor<1x32x1x8xf16>, tensor<1x32x1x8xf16>) -> tensor<1x64x1x8xf16>
    ```
  }];
  let arguments = (ins Variadic<AneMil_ShapeTensor>:$values, I64Attr:$axis,
                       OptionalAttr<BoolAttr>:$interleave);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$values attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_SplitOp : AneMil_Op<"split", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Split along `axis` into equal parts or `split_sizes`";
  let description = [{
    ```mlir
    %a, %b = anemil.split %x {axis = 1 : i64, num_splits = 2 : i64}
        : (tensor<1x64x1x8xf16>) -> (tensor<1x32x1x8xf16>, tensor<1x32x1x8xf16>)
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, I64Attr:$axis,
                       OptionalAttr<I64Attr>:$num_splits,
                       OptionalAttr<DenseI64ArrayAttr>:$split_sizes);
  let results = (outs Variadic<AneMil_ShapeTensor>:$outputs);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_GatherOp : AneMil_Op<"gather", [Pure, AllElementTypesMatch<["x", "output"]>]> {
  let summary = "Gather slices of `x` along `axis` at `indices`";
  let description = [{
    Output shape: `x.shape[:axis] + indices.shape[batch_dims:] + x.shape[axis+1:]`.

    ```mlir
    %e = anemil.gather %table, %ids {axis = 0 : i64}
        : (tensor<512x64xf16>, tensor<8xi32>) -> tensor<8x64xf16>
    ```
  }];
  let arguments = (ins AneMil_ShapeTensor:$x, AneMil_IndexTensor:$indices,
                       OptionalAttr<I64Attr>:$axis,
                       OptionalAttr<I64Attr>:$batch_dims,
                       OptionalAttr<BoolAttr>:$validate_indices);
  let results = (outs AneMil_ShapeTensor:$output);
  let assemblyFormat = "$x `,` $indices attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def AneMil_BandPartOp : AneMil_Op<"band_part", [Pure, AllTypesMatch<["x", "output"]>]> {
  let summary = "Zero all but a band of the last two dimensions";
  let description = [{
    Keeps `(lower < 0 || m - n <= lower) && (upper < 0 || n - m <= upper)`;
    `lower = -1, upper = 0` keeps the lower triangle.

    ```mlir
    %l = anemil.band_part %x {lower = -1 : i64, upper = 0 : i64} : tensor<8x8xf16>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F16, F32, I32, I1]>:$x,
                       OptionalAttr<I64Attr>:$lower, OptionalAttr<I64Attr>:$upper);
  let results = (outs RankedTensorOf<[F16, F32, I32, I1]>:$output);
  let assemblyFormat = "$x attr-dict `:` type($x)";
  let hasVerifier = 1;
}

def AneMil_FillOp : AneMil_Op<"fill", [Pure]> {
  let summary = "A tensor of `shape` filled with `value` (default 0.0)";
  let description = [{
    ```mlir
    %z = anemil.fill {shape = array<i64: 1, 64, 1, 8>, value = 0.0 : f16} : tensor<1x64x1x8xf16>
    ```
  }];
  let arguments = (ins DenseI64ArrayAttr:$shape, OptionalAttr<TypedAttrInterface>:$value);
  let results = (outs RankedTensorOf<[F16, F32, I32, I1]>:$output);
  let assemblyFormat = "attr-dict `:` type($output)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// State (iOS18)
//===----------------------------------------------------------------------===//

def AneMil_ReadStateOp : AneMil_Op<"read_state", [MemoryEffects<[MemRead]>,
    TypesMatchWith<"output is the tensor the state wraps", "input", "output",
                   "::llvm::cast<::mlir::anemil::StateType>($_self).getWrapped()">]> {
  let summary = "Read the tensor held by a state";
  let description = [{
    ```mlir
    %k = anemil.read_state %s : !anemil.state<tensor<1x4x64xf16>>
    ```
  }];
  let arguments = (ins AneMil_StateType:$input);
  let results = (outs AneMil_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input))";
}

def AneMil_WriteStateOp : AneMil_Op<"write_state", [MemoryEffects<[MemWrite]>,
    TypesMatchWith<"data is the tensor the state wraps", "input", "data",
                   "::llvm::cast<::mlir::anemil::StateType>($_self).getWrapped()">]> {
  let summary = "Replace the tensor held by a state";
  let description = [{
    ```mlir
    anemil.write_state %s, %k : !anemil.state<tensor<1x4x64xf16>>
    ```
  }];
  let arguments = (ins AneMil_StateType:$input, AneMil_Tensor:$data);
  let assemblyFormat = "$input `,` $data attr-dict `:` qualified(type($input))";
}

#endif // ANE_ANEMIL_OPS
