//===- Kernels.cpp - the eleven kernel programs and their I/O -------------===//

#include "lib/Abi/Kernels.h"

#include <array>

namespace ane::abi {
namespace {

struct KernelInfo {
  Kernel kernel;
  std::string_view name;
  std::vector<std::string_view> inputs, outputs;
};

/// One row per kernel, in enum order.
const std::array<KernelInfo, 11> &table() {
  static const std::array<KernelInfo, 11> kTable = {{
      {Kernel::AttnQkv,
       "attn_qkv",
       {"x", "rope_cos", "rope_sin"},
       {"q", "k", "v"}},
      {Kernel::AttnCore,
       "attn_core",
       {"q", kKeyCacheInput, kValueCacheInput, "mask"},
       {"attn"}},
      {Kernel::AttnOut, "attn_out", {"attn", "x"}, {"x_out"}},
      {Kernel::FfnUp, "ffn_up", {"x"}, {"h"}},
      {Kernel::FfnDown, "ffn_down", {"h", "x"}, {"x_out"}},
      {Kernel::LmHead, "lm_head", {"x"}, {"logits"}},
      {Kernel::AttnQkvBwd,
       "attn_qkv_bwd",
       {"x", "rope_cos", "rope_sin", "d_q", "d_k", "d_v"},
       {"d_x"}},
      {Kernel::AttnCoreBwd,
       "attn_core_bwd",
       {"q", kKeyCacheInput, kValueCacheInput, "mask", "d_x_out"},
       {"d_q", "d_k_cache", "d_v_cache"}},
      {Kernel::FfnUpBwd, "ffn_up_bwd", {"x", "d_h"}, {"d_x"}},
      {Kernel::FfnDownBwd, "ffn_down_bwd", {"d_x_out"}, {"d_h"}},
      {Kernel::LmHeadBwd, "lm_head_bwd", {"x", "d_logits"}, {"d_x"}},
  }};
  return kTable;
}

const KernelInfo &info(Kernel k) { return table()[static_cast<size_t>(k)]; }

} // namespace

std::string_view kernelName(Kernel kernel) { return info(kernel).name; }

std::optional<Kernel> parseKernel(std::string_view name) {
  for (const KernelInfo &k : table())
    if (k.name == name)
      return k.kernel;
  return std::nullopt;
}

bool isBackward(Kernel kernel) { return kernel >= Kernel::AttnQkvBwd; }

std::optional<Kernel> backwardOf(Kernel kernel) {
  switch (kernel) {
  case Kernel::AttnQkv:
    return Kernel::AttnQkvBwd;
  case Kernel::AttnCore:
    return Kernel::AttnCoreBwd;
  case Kernel::FfnUp:
    return Kernel::FfnUpBwd;
  case Kernel::FfnDown:
    return Kernel::FfnDownBwd;
  case Kernel::LmHead:
    return Kernel::LmHeadBwd;
  default:
    return std::nullopt;
  }
}

bool takesCtx(Kernel kernel) {
  return kernel == Kernel::AttnCore || kernel == Kernel::AttnCoreBwd;
}

bool readsGlobalWeights(Kernel kernel) {
  return kernel == Kernel::LmHead || kernel == Kernel::LmHeadBwd;
}

const std::vector<std::string_view> &kernelInputs(Kernel kernel) {
  return info(kernel).inputs;
}

const std::vector<std::string_view> &kernelOutputs(Kernel kernel) {
  return info(kernel).outputs;
}

bool isLoraRole(std::string_view role) {
  for (std::string_view r : kLoraRoles)
    if (r == role)
      return true;
  return false;
}

std::string loraInputA(std::string_view role) {
  return "lora_a_" + std::string(role);
}

std::string loraInputB(std::string_view role) {
  return "lora_b_" + std::string(role);
}

std::optional<std::pair<std::string, bool>>
parseLoraName(std::string_view name) {
  if (name.substr(0, 2) == "d_")
    name.remove_prefix(2);
  for (bool isB : {false, true}) {
    std::string_view prefix = isB ? "lora_b_" : "lora_a_";
    if (name.substr(0, prefix.size()) == prefix &&
        isLoraRole(name.substr(prefix.size())))
      return std::make_pair(std::string(name.substr(prefix.size())), isB);
  }
  return std::nullopt;
}

} // namespace ane::abi
