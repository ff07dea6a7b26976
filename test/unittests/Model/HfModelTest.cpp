//===- HfModelTest.cpp - Hugging Face checkpoint folders
//-------------------===//

#include "lib/Model/HfModel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

namespace ane::model {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDim = 8, kHidden = 16, kHeads = 2, kKvHeads = 1, kVocab = 4;

/// The tensors of a one-layer model, each value naming its row and column;
/// Qwen2's have q/k/v biases.
std::vector<std::pair<std::string, std::vector<int64_t>>>
tensorShapes(bool qwen2) {
  int64_t kv = kKvHeads * kDim / kHeads;
  std::vector<std::pair<std::string, std::vector<int64_t>>> biases;
  if (qwen2)
    biases = {{"model.layers.0.self_attn.q_proj.bias", {kDim}},
              {"model.layers.0.self_attn.k_proj.bias", {kv}},
              {"model.layers.0.self_attn.v_proj.bias", {kv}}};
  std::vector<std::pair<std::string, std::vector<int64_t>>> all = {
      {"model.embed_tokens.weight", {kVocab, kDim}},
      {"model.norm.weight", {kDim}},
      {"model.layers.0.input_layernorm.weight", {kDim}},
      {"model.layers.0.self_attn.q_proj.weight", {kDim, kDim}},
      {"model.layers.0.self_attn.k_proj.weight", {kv, kDim}},
      {"model.layers.0.self_attn.v_proj.weight", {kv, kDim}},
      {"model.layers.0.self_attn.o_proj.weight", {kDim, kDim}},
      {"model.layers.0.post_attention_layernorm.weight", {kDim}},
      {"model.layers.0.mlp.gate_proj.weight", {kHidden, kDim}},
      {"model.layers.0.mlp.up_proj.weight", {kHidden, kDim}},
      {"model.layers.0.mlp.down_proj.weight", {kDim, kHidden}}};
  all.insert(all.end(), biases.begin(), biases.end());
  return all;
}

/// A folder of a one-layer LlamaForCausalLM, or a Qwen2ForCausalLM with a
/// sliding window it does not use.
std::string writeFolder(const std::string &name, bool qwen2 = false) {
  std::string dir = ::testing::TempDir() + name + std::to_string(::getpid());
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json")
      << "{\"architectures\": [\""
      << (qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM")
      << "\"], \"hidden_size\": 8, "
         "\"intermediate_size\": 16, \"num_hidden_layers\": 1, "
         "\"num_attention_heads\": 2, \"num_key_value_heads\": 1, "
         "\"vocab_size\": 4, \"max_position_embeddings\": 8, "
         "\"use_sliding_window\": false, \"sliding_window\": 4, "
         "\"tie_word_embeddings\": true}";
  std::string header = "{";
  std::vector<float> data;
  for (const auto &[tensor, shape] : tensorShapes(qwen2)) {
    int64_t rows = shape[0], cols = shape.size() > 1 ? shape[1] : 1;
    size_t begin = data.size() * 4;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        data.push_back(float(r * 100 + c));
    header += (header.size() > 1 ? ", \"" : "\"") + tensor +
              "\": {\"dtype\": \"F32\", \"shape\": [" + std::to_string(rows) +
              (shape.size() > 1 ? ", " + std::to_string(cols) : "") +
              "], \"data_offsets\": [" + std::to_string(begin) + ", " +
              std::to_string(data.size() * 4) + "]}";
  }
  header += "}";
  uint64_t length = header.size();
  std::ofstream out(dir + "/model.safetensors", std::ios::binary);
  out.write(reinterpret_cast<const char *>(&length), 8);
  out << header;
  out.write(reinterpret_cast<const char *>(data.data()),
            std::streamsize(data.size() * 4));
  return dir;
}

TEST(HfModelTest, QkRowsArePairedAndTheRestIsAsStored) {
  std::string dir = writeFolder("hf-ok");
  ASSERT_TRUE(isHfModelFolder(dir));
  auto spec = openHfModel(dir);
  ASSERT_TRUE(spec.ok()) << spec.message();
  EXPECT_TRUE(spec->config.sharedClassifier);
  EXPECT_EQ(spec->config.nKvHeads, 1);
  const int64_t hd = kDim / kHeads, half = hd / 2;
  for (Role role : {Role::AttnQ, Role::AttnK, Role::AttnV}) {
    const TensorInfo *t = spec->find(role, 0);
    ASSERT_NE(t, nullptr);
    auto d = spec->load(*t);
    ASSERT_TRUE(d.ok());
    std::vector<float> v = d->toFloat();
    for (int64_t r = 0; r < t->shape[0]; ++r) {
      int64_t from = r;
      if (role != Role::AttnV)
        from = r / hd * hd + (r % hd) % 2 * half + (r % hd) / 2;
      EXPECT_EQ(v[r * kDim], float(from * 100)) << roleName(role) << r;
    }
  }
  fs::remove_all(dir);
}

TEST(HfModelTest, Qwen2BiasesOfQAndKArePairedWithTheirRows) {
  std::string dir = writeFolder("hf-qwen2", /*qwen2=*/true);
  auto spec = openHfModel(dir);
  ASSERT_TRUE(spec.ok()) << spec.message();
  EXPECT_TRUE(spec->config.qkvBias);
  EXPECT_EQ(spec->config.slidingWindow, 0); // use_sliding_window: false
  EXPECT_EQ(spec->config.maxSeqLen, 8);
  const int64_t hd = kDim / kHeads, half = hd / 2;
  for (Role role : {Role::AttnQBias, Role::AttnKBias, Role::AttnVBias}) {
    const TensorInfo *t = spec->find(role, 0);
    ASSERT_NE(t, nullptr) << roleName(role);
    auto d = spec->load(*t);
    ASSERT_TRUE(d.ok());
    std::vector<float> v = d->toFloat();
    for (int64_t r = 0; r < t->shape[0]; ++r) {
      int64_t from = r;
      if (role != Role::AttnVBias)
        from = r / hd * hd + (r % hd) % 2 * half + (r % hd) / 2;
      EXPECT_EQ(v[r], float(from * 100)) << roleName(role) << r;
    }
  }
  fs::remove_all(dir);
}

TEST(HfModelTest, DamagedHeadersFailWithTheFileNamed) {
  std::string dir = writeFolder("hf-fuzz");
  std::string path = dir + "/model.safetensors";
  std::ifstream in(path, std::ios::binary);
  std::string good((std::istreambuf_iterator<char>(in)), {});
  in.close();
  uint64_t headerEnd = 0;
  std::memcpy(&headerEnd, good.data(), 8);
  headerEnd += 8;
  std::mt19937 rng(7);
  int refused = 0;
  for (int i = 0; i < 400; ++i) {
    std::string bad = good;
    if (i % 5 == 0) {
      bad.resize(rng() % good.size());
    } else {
      for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k)
        bad[rng() % headerEnd] = char(rng());
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    auto spec = openHfModel(dir);
    if (!spec.ok()) {
      ++refused;
      EXPECT_NE(spec.message().find(dir), std::string::npos) << spec.message();
      continue;
    }
    // What still opens must load every tensor inside the file.
    for (const TensorInfo &t : spec->tensors)
      EXPECT_TRUE(spec->load(t).ok()) << t.name;
  }
  EXPECT_GT(refused, 300);
  fs::remove_all(dir);
}

} // namespace
} // namespace ane::model
