//===- HfModel.h - Hugging Face checkpoint folders --------------*- C++ -*-===//
//
// A folder as the hubs ship it: config.json (LlamaForCausalLM,
// MistralForCausalLM, Qwen2ForCausalLM), model.safetensors or shards named by
// model.safetensors.index.json (F32/F16/BF16, mapped, never copied whole),
// and tokenizer.json. Hugging Face keeps each head's q and k rows in
// rotate-half order (the first half of the head, then the second), where
// GGUF's llama architecture and llama2.c keep them in the order that
// rotates adjacent pairs; q and k (and Qwen2's q and k biases) are permuted
// into the latter as they are read (TensorInfo::rotateHalfHead).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_HFMODEL_H
#define ANE_LIB_MODEL_HFMODEL_H

#include "lib/Model/Model.h"

#include <string>

namespace ane::model {

/// Whether `path` is a folder holding a config.json.
bool isHfModelFolder(const std::string &path);

/// The model of a checkpoint folder; errors name the file and the tensor
/// or field (a safetensors header that lies about offsets or sizes, a
/// missing shard, a config that disagrees with the tensors).
Result<ModelSpec> openHfModel(const std::string &folder);

} // namespace ane::model

#endif // ANE_LIB_MODEL_HFMODEL_H
