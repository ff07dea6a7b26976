//===- Kernels.h - the eleven kernel programs and their I/O ------*- C++
//-*-===//
//
// The fixed kernel plan (DESIGN.md section 3): six forward programs run per
// layer and token, five backward programs for training. Their names and the
// names of their inputs and outputs are the contract between the lowering
// that builds them and the engine that calls them; both read them here.
// Plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_ABI_KERNELS_H
#define ANE_LIB_ABI_KERNELS_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ane::abi {

enum class Kernel : uint8_t {
  AttnQkv,
  AttnCore,
  AttnOut,
  FfnUp,
  FfnDown,
  LmHead,
  AttnQkvBwd,
  AttnCoreBwd,
  FfnUpBwd,
  FfnDownBwd,
  LmHeadBwd,
};

inline constexpr Kernel kLayerKernels[] = {Kernel::AttnQkv, Kernel::AttnCore,
                                           Kernel::AttnOut, Kernel::FfnUp,
                                           Kernel::FfnDown};
inline constexpr Kernel kAllKernels[] = {
    Kernel::AttnQkv,    Kernel::AttnCore,    Kernel::AttnOut,
    Kernel::FfnUp,      Kernel::FfnDown,     Kernel::LmHead,
    Kernel::AttnQkvBwd, Kernel::AttnCoreBwd, Kernel::FfnUpBwd,
    Kernel::FfnDownBwd, Kernel::LmHeadBwd};

std::string_view kernelName(Kernel kernel);
std::optional<Kernel> parseKernel(std::string_view name);
bool isBackward(Kernel kernel);
/// The backward program of a forward kernel (attn_out has none: its
/// gradient is part of attn_core_bwd).
std::optional<Kernel> backwardOf(Kernel kernel);
/// Whether the kernel reads the K/V cache, and so is compiled once per
/// context bucket.
bool takesCtx(Kernel kernel);
/// Whether the kernel reads the global segment's weights (the classifier)
/// rather than a layer's.
bool readsGlobalWeights(Kernel kernel);

/// Input names, in program order. A backward kernel takes what its
/// gradient needs of the forward kernel's inputs, then the gradients of the
/// forward outputs (`d_<output>`; attn_core_bwd takes attn_out's, as it
/// folds Wo^T in).
const std::vector<std::string_view> &kernelInputs(Kernel kernel);
/// The K/V cache inputs of attn_core: the engine's buffers, updated in
/// place between calls.
inline constexpr std::string_view kKeyCacheInput = "k_cache";
inline constexpr std::string_view kValueCacheInput = "v_cache";
inline bool isCacheInput(std::string_view name) {
  return name == kKeyCacheInput || name == kValueCacheInput;
}
/// Output names, in order; for a backward kernel `d_<input>` of the inputs
/// it differentiates.
const std::vector<std::string_view> &kernelOutputs(Kernel kernel);

/// LoRA (a kernel set compiled with a rank r): every projection of an
/// adapted role adds B A x, with A [r, in] and B [out, r] (already scaled)
/// as inputs in the weights' surface form: `lora_a_<role>` is A^T as
/// [1, in, 1, r], `lora_b_<role>` is B^T as [1, r, 1, out]. They follow the
/// activations. A backward kernel then also takes the forward activation
/// the products read (ffn_down_bwd's `h`) and returns `d_lora_a_<role>` and
/// `d_lora_b_<role>` in the same shapes after its input gradients.
inline constexpr std::string_view kLoraRoles[] = {
    "attn_q", "attn_k", "attn_v", "attn_out", "ffn_gate", "ffn_up", "ffn_down"};
bool isLoraRole(std::string_view role);
std::string loraInputA(std::string_view role);
std::string loraInputB(std::string_view role);
/// The role of a `lora_a_`/`lora_b_` input (or `d_lora_...` output), with
/// whether it is B; nullopt for other names.
std::optional<std::pair<std::string, bool>>
parseLoraName(std::string_view name);

} // namespace ane::abi

#endif // ANE_LIB_ABI_KERNELS_H
