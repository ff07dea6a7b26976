// RUN: ane-opt %s --llama-quantize=scheme=q4 | FileCheck %s --check-prefix=Q4
// RUN: ane-opt %s --llama-quantize="scheme=q8" | FileCheck %s --check-prefix=Q8
// RUN: ane-opt %s --llama-quantize="scheme=q3 group=32" | FileCheck %s --check-prefix=Q3
// RUN: ane-opt %s --llama-quantize=scheme=f16 | FileCheck %s --check-prefix=F16
// RUN: not ane-opt %s --llama-quantize=scheme=q5 2>&1 | FileCheck %s --check-prefix=BAD

// Q4-LABEL: module attributes {llama.quantization = "q4"}
// Q4-LABEL: func.func @f
// Group 128 divides 256 in-features.
// Q4-SAME: !llama.qweight<q4, group = 128, shape = [64, 256], scale = f16> {llama.role = #llama.role<attn_q>}
// A 172-wide row takes no power-of-two group: one group per row.
// Q4-SAME: !llama.qweight<q4, group = 0, shape = [64, 172], scale = f16> {llama.role = #llama.role<ffn_down>}
// 96 is not divisible by 128; 32 is the largest power of two that divides it.
// Q4-SAME: !llama.qweight<q4, group = 32, shape = [8, 96], scale = f16> {llama.role = #llama.role<output>}
// Norms and activations keep their types.
// Q4-SAME: tensor<256xf32> {llama.role = #llama.role<attn_norm>}, %{{.*}}: tensor<2x256xf32>)
// Q4: llama.linear {{.*}} !llama.qweight<q4, group = 128

// Q8: !llama.qweight<q8, group = 0, shape = [64, 256], scale = f16>
// Q3: !llama.qweight<q3, group = 32, shape = [64, 256], scale = f16>
// Q3-SAME: !llama.qweight<q3, group = 0, shape = [64, 172], scale = f16>
// F16: tensor<64x256xf16> {llama.role = #llama.role<attn_q>}
// F16-SAME: tensor<64x172xf16> {llama.role = #llama.role<ffn_down>}
// BAD: for the --scheme option: Cannot find option named 'q5'!

func.func @f(%wq: tensor<64x256xf32> {llama.role = #llama.role<attn_q>},
             %wd: tensor<64x172xf32> {llama.role = #llama.role<ffn_down>},
             %wo: tensor<8x96xf32> {llama.role = #llama.role<output>},
             %n: tensor<256xf32> {llama.role = #llama.role<attn_norm>},
             %x: tensor<2x256xf32>) -> tensor<2x64xf32> {
  %y = llama.linear %x, %wq : tensor<2x256xf32>, tensor<64x256xf32> -> tensor<2x64xf32>
  return %y : tensor<2x64xf32>
}
