//===- Ane.cpp - the C API (include/ane/ane.h) over the loader and engine -===//
//
// Every entry point catches what the C++ below may throw and turns it, like
// every Status, into a code and a per-thread message: nothing but C crosses
// the boundary.
//
//===----------------------------------------------------------------------===//

#include "include/ane/ane.h"

#include "lib/Loader/ModelLoader.h"
#include "lib/Runtime/Generate.h"
#include "lib/Support/ProcessMemory.h"

#include <chrono>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <string>

using namespace ane;

struct ane_model {
  loader::LoadedModel loaded;
  std::optional<runtime::Engine> engine; // on loaded.image, which stays put
  runtime::KvCache cache;
  std::vector<int32_t> sequence; // the tokens the cache holds
  std::string quant, dtype, backend;
};

namespace {

thread_local std::string lastError;

ane_status failWith(ane_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

/// Runs `body`, turning an escaping exception into ANE_RUNTIME_ERROR.
template <typename Body> ane_status guarded(const char *function, Body body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return failWith(ANE_RUNTIME_ERROR,
                    std::string(function) + ": out of memory");
  } catch (const std::exception &e) {
    return failWith(ANE_RUNTIME_ERROR, std::string(function) + ": " + e.what());
  } catch (...) {
    return failWith(ANE_RUNTIME_ERROR,
                    std::string(function) + ": unexpected failure");
  }
}

ane_status nullArgument(const char *function, const char *name) {
  return failWith(ANE_INVALID_ARGUMENT,
                  std::string(function) + ": " + name + " is NULL");
}

/// The loader's options from the C ones; an unknown word is an error that
/// names the field.
Result<loader::BuildOptions> buildOptions(const ane_options &o) {
  loader::BuildOptions b;
  auto unknown = [](const char *field, const char *value,
                    const char *words) -> Status {
    return Status::error(std::string("ane_options.") + field + " \"" + value +
                         "\" is not one of " + words);
  };
  if (o.quant) {
    auto s = abi::parseScheme(o.quant);
    if (!s)
      return unknown("quant", o.quant, "f16, q8, q4, q3, lut4");
    b.quant = *s;
  }
  if (o.dtype) {
    auto d = abi::parseDType(o.dtype);
    if (!d)
      return unknown("dtype", o.dtype, "fp16, fp32");
    b.dtype = *d;
  }
  if (o.weight_binding) {
    auto w = abi::parseWeightBinding(o.weight_binding);
    if (!w)
      return unknown("weight_binding", o.weight_binding, "blob, input");
    b.binding = *w;
  }
  if (o.context < 0 || o.prefill < 0 || o.prefill > 4096 || o.threads < 0)
    return Status::error(
        "ane_options: context, prefill (at most 4096) and threads must not "
        "be negative");
  if (o.backend)
    b.backend = o.backend;
  b.ctx = o.context;
  b.fullContext = true;
  if (o.prefill)
    b.prefill = o.prefill;
  b.threads = o.threads;
  b.quiet = !o.verbose;
  // A .anepak refuses what the caller set and it was not compiled with.
  bool quant = o.quant, dtype = o.dtype, binding = o.weight_binding,
       context = o.context, prefill = o.prefill;
  b.givenFlag = [=](const std::string &flag) {
    return (flag == "--quant" && quant) || (flag == "--dtype" && dtype) ||
           (flag == "--weight-binding" && binding) ||
           (flag == "--ctx" && context) || (flag == "--prefill" && prefill);
  };
  return b;
}

/// A caller's versioned struct must be at least as large as ours (made by
/// `init` from this header or a later one).
template <typename T>
ane_status checkStructSize(const T &given, const char *name, const char *init) {
  if (given.struct_size >= sizeof(T))
    return ANE_OK;
  return failWith(ANE_INVALID_ARGUMENT,
                  std::string(name) + "->struct_size is " +
                      std::to_string(given.struct_size) + ", expected " +
                      std::to_string(sizeof(T)) + " (call " + init + ")");
}

ane_status openModel(const char *path, const ane_options *given,
                     ane_model **out) {
  ane_options o;
  ane_options_init(&o);
  if (given) {
    if (ane_status s = checkStructSize(*given, "ane_model_open: options",
                                       "ane_options_init");
        s != ANE_OK)
      return s;
    o = *given;
  }
  auto build = buildOptions(o);
  if (!build.ok())
    return failWith(ANE_INVALID_ARGUMENT, build.message());
  loader::ModelOptions source;
  source.model = path ? path : "";
  source.tokenizer = o.tokenizer ? o.tokenizer : "";
  auto model = std::make_unique<ane_model>();
  auto loaded = loader::loadModel(source, *build, 1);
  if (!loaded.ok())
    return failWith(ANE_LOAD_FAILED, loaded.message());
  model->loaded = std::move(*loaded);
  auto engine = loader::createEngine(model->loaded, *build);
  if (!engine.ok())
    return failWith(ANE_LOAD_FAILED, engine.message());
  model->engine.emplace(std::move(*engine));
  const abi::KernelSet &ks = model->loaded.image.kernels;
  model->quant = abi::schemeName(ks.scheme);
  model->dtype = abi::dtypeName(ks.dtype);
  model->backend = build->backend;
  *out = model.release();
  return ANE_OK;
}

/// Runs `ids` at the end of the sequence; the logits of the last one.
Result<std::vector<float>> extend(ane_model &m,
                                  const std::vector<int32_t> &ids) {
  auto logits = m.engine->forward(m.cache, ids, int64_t(m.sequence.size()));
  if (logits.ok())
    m.sequence.insert(m.sequence.end(), ids.begin(), ids.end());
  return logits;
}

ane_status contextFull(const ane_model &m, size_t adding) {
  return failWith(ANE_CONTEXT_FULL, std::to_string(m.sequence.size()) +
                                        " positions and " +
                                        std::to_string(adding) +
                                        " more do not fit the context of " +
                                        std::to_string(m.engine->maxContext()));
}

ane_status checkIds(const ane_model &m, const int32_t *ids, size_t n,
                    const char *function) {
  int64_t vocab = m.loaded.image.kernels.config.vocabSize;
  for (size_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      return failWith(ANE_INVALID_ARGUMENT,
                      std::string(function) + ": ids[" + std::to_string(i) +
                          "] = " + std::to_string(ids[i]) +
                          " is outside the vocabulary of " +
                          std::to_string(vocab));
  return ANE_OK;
}

ane_status evaluate(ane_model &m, const int32_t *ids, size_t n, int flags,
                    float *logits, size_t capacity) {
  if (flags != ANE_EVAL_LAST && flags != ANE_EVAL_ALL_POSITIONS)
    return failWith(ANE_INVALID_ARGUMENT,
                    "ane_eval: flags " + std::to_string(flags) +
                        " is neither ANE_EVAL_LAST nor ANE_EVAL_ALL_POSITIONS");
  if (n == 0)
    return failWith(ANE_INVALID_ARGUMENT, "ane_eval: no ids");
  if (ane_status s = checkIds(m, ids, n, "ane_eval"); s != ANE_OK)
    return s;
  size_t vocab = size_t(m.loaded.image.kernels.config.vocabSize);
  size_t needed = flags == ANE_EVAL_ALL_POSITIONS ? n * vocab : vocab;
  if (logits && capacity < needed)
    return failWith(ANE_BUFFER_TOO_SMALL, "ane_eval: the logits need " +
                                              std::to_string(needed) +
                                              " floats, the buffer holds " +
                                              std::to_string(capacity));
  if (m.sequence.size() + n > size_t(m.engine->maxContext()))
    return contextFull(m, n);
  size_t before = m.sequence.size();
  auto undo = [&](const Status &s) {
    m.sequence.resize(before);
    return failWith(ANE_RUNTIME_ERROR, s.message());
  };
  if (flags == ANE_EVAL_LAST) {
    auto out = extend(m, std::vector<int32_t>(ids, ids + n));
    if (!out.ok())
      return undo(out.status());
    if (logits)
      std::copy(out->begin(), out->end(), logits);
    return ANE_OK;
  }
  std::vector<int32_t> all(ids, ids + n);
  auto out = m.engine->forwardAll(m.cache, all, int64_t(before));
  if (!out.ok())
    return undo(out.status());
  m.sequence.insert(m.sequence.end(), all.begin(), all.end());
  for (size_t i = 0; logits && i < n; ++i)
    std::copy((*out)[i].begin(), (*out)[i].end(), logits + i * vocab);
  return ANE_OK;
}

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
}

ane_status generateText(ane_model &m, const char *prompt, const ane_sampler &s,
                        int64_t maxTokens, ane_token_callback callback,
                        void *user, ane_generation &result) {
  const model::Tokenizer &tok = *m.loaded.tokenizer;
  std::vector<int32_t> ids = tok.encode(prompt, m.sequence.empty(), false);
  if (ids.empty() && m.sequence.empty())
    return failWith(ANE_INVALID_ARGUMENT,
                    "ane_generate: the prompt encodes to no tokens and the "
                    "sequence is empty");
  if (m.sequence.size() + ids.size() > size_t(m.engine->maxContext()))
    return contextFull(m, ids.size());
  runtime::SamplerOptions so;
  so.temperature = s.temperature;
  so.topK = s.top_k;
  so.topP = s.top_p;
  so.repeatPenalty = s.repeat_penalty;
  so.repeatLastN = s.repeat_last_n;
  so.seed = s.seed;
  runtime::Sampler sampler(so);
  result = ane_generation{};
  result.prompt_tokens = int64_t(ids.size());
  auto start = std::chrono::steady_clock::now();
  // An empty prompt continues from the last token's logits, run again.
  Result<std::vector<float>> logits = Status::error("no logits");
  if (ids.empty()) {
    int32_t last = m.sequence.back();
    m.sequence.pop_back();
    logits = extend(m, {last});
    if (!logits.ok())
      m.sequence.push_back(last);
  } else {
    logits = extend(m, ids);
  }
  if (!logits.ok())
    return failWith(ANE_RUNTIME_ERROR, logits.message());
  result.prompt_seconds = secondsSince(start);
  start = std::chrono::steady_clock::now();
  result.stop_reason = ANE_STOP_MAX_TOKENS;
  while (result.new_tokens < maxTokens) {
    int32_t next = sampler.sample(std::move(*logits), m.sequence);
    if (next == tok.bos() || tok.endsGeneration(next)) {
      result.stop_reason = ANE_STOP_EOS;
      break;
    }
    std::string piece = tok.decode(m.sequence.back(), next);
    ++result.new_tokens;
    if (callback && callback(user, next, piece.data(), piece.size()) != 0)
      result.stop_reason = ANE_STOP_CALLBACK;
    // The token joins the sequence even when it ends the run, so that the
    // next call continues after it; in a full context it cannot.
    if (m.sequence.size() >= size_t(m.engine->maxContext())) {
      result.stop_reason = ANE_STOP_CONTEXT;
      break;
    }
    logits = extend(m, {next});
    if (!logits.ok())
      return failWith(ANE_RUNTIME_ERROR, logits.message());
    if (result.stop_reason == ANE_STOP_CALLBACK)
      break;
  }
  result.decode_seconds = secondsSince(start);
  return ANE_OK;
}

} // namespace

extern "C" {

int ane_api_version(void) { return ANE_API_VERSION; }

const char *ane_status_name(ane_status status) {
  switch (status) {
  case ANE_OK:
    return "ok";
  case ANE_INVALID_ARGUMENT:
    return "invalid argument";
  case ANE_LOAD_FAILED:
    return "load failed";
  case ANE_RUNTIME_ERROR:
    return "runtime error";
  case ANE_BUFFER_TOO_SMALL:
    return "buffer too small";
  case ANE_CONTEXT_FULL:
    return "context full";
  }
  return "unknown status";
}

const char *ane_last_error(void) { return lastError.c_str(); }

void ane_options_init(ane_options *options) {
  if (!options)
    return;
  *options = ane_options{};
  options->struct_size = sizeof(ane_options);
}

ane_status ane_model_open(const char *path, const ane_options *options,
                          ane_model **model) {
  return guarded("ane_model_open", [&] {
    if (!model)
      return nullArgument("ane_model_open", "model");
    *model = nullptr;
    return openModel(path, options, model);
  });
}

void ane_model_close(ane_model *model) {
  // Destructors here do not throw; deleting NULL is a no-op.
  delete model;
}

ane_status ane_model_config(const ane_model *model, ane_config *config) {
  return guarded("ane_model_config", [&] {
    if (!model || !config)
      return nullArgument("ane_model_config", model ? "config" : "model");
    const model::Config &c = model->loaded.image.kernels.config;
    ane_config out{};
    out.dim = c.dim;
    out.hidden_dim = c.hiddenDim;
    out.n_layers = c.nLayers;
    out.n_heads = c.nHeads;
    out.n_kv_heads = c.nKvHeads;
    out.head_dim = c.headDim;
    out.vocab_size = c.vocabSize;
    out.max_seq_len = c.maxSeqLen;
    out.context = model->engine->maxContext();
    out.rope_theta = c.ropeTheta;
    out.norm_eps = c.normEps;
    out.bos = model->loaded.tokenizer->bos();
    out.eos = model->loaded.tokenizer->eos();
    out.quant = model->quant.c_str();
    out.dtype = model->dtype.c_str();
    out.backend = model->backend.c_str();
    *config = out;
    return ANE_OK;
  });
}

ane_status ane_model_memory(const ane_model *model, ane_memory *memory) {
  return guarded("ane_model_memory", [&] {
    if (!model || !memory)
      return nullArgument("ane_model_memory", model ? "memory" : "model");
    const runtime::ModelImage &image = model->loaded.image;
    uint64_t weights = image.embedding.size + image.globalSegment.size;
    for (const runtime::Bytes &l : image.layerSegments)
      weights += l.size;
    memory->weight_bytes = weights;
    memory->kv_cache_bytes = model->cache.bytes();
    memory->resident_bytes = residentBytes();
    memory->peak_resident_bytes = peakResidentBytes();
    return ANE_OK;
  });
}

ane_status ane_tokenize(const ane_model *model, const char *text,
                        size_t text_len, int add_bos, int32_t *ids,
                        size_t capacity, size_t *n_ids) {
  return guarded("ane_tokenize", [&] {
    if (!model || !n_ids || (!text && text_len) || (!ids && capacity))
      return nullArgument("ane_tokenize", !model   ? "model"
                                          : !n_ids ? "n_ids"
                                          : !ids   ? "ids"
                                                   : "text");
    std::vector<int32_t> out = model->loaded.tokenizer->encode(
        std::string_view(text ? text : "", text_len), add_bos != 0, false);
    *n_ids = out.size();
    if (out.size() > capacity)
      return failWith(ANE_BUFFER_TOO_SMALL,
                      "ane_tokenize: " + std::to_string(out.size()) +
                          " ids, the buffer holds " + std::to_string(capacity));
    std::copy(out.begin(), out.end(), ids);
    return ANE_OK;
  });
}

ane_status ane_detokenize(const ane_model *model, const int32_t *ids,
                          size_t n_ids, char *text, size_t capacity,
                          size_t *text_len) {
  return guarded("ane_detokenize", [&] {
    if (!model || !text_len || (!ids && n_ids) || (!text && capacity))
      return nullArgument("ane_detokenize", !model      ? "model"
                                            : !text_len ? "text_len"
                                            : !text     ? "text"
                                                        : "ids");
    if (ane_status s = checkIds(*model, ids, n_ids, "ane_detokenize");
        s != ANE_OK)
      return s;
    std::string out =
        model->loaded.tokenizer->decode(std::vector<int32_t>(ids, ids + n_ids));
    *text_len = out.size();
    if (out.size() >= capacity)
      return failWith(ANE_BUFFER_TOO_SMALL,
                      "ane_detokenize: " + std::to_string(out.size() + 1) +
                          " bytes with the NUL, the buffer holds " +
                          std::to_string(capacity));
    std::memcpy(text, out.data(), out.size());
    text[out.size()] = '\0';
    return ANE_OK;
  });
}

ane_status ane_position(const ane_model *model, int64_t *position) {
  return guarded("ane_position", [&] {
    if (!model || !position)
      return nullArgument("ane_position", model ? "position" : "model");
    *position = int64_t(model->sequence.size());
    return ANE_OK;
  });
}

ane_status ane_kv_reset(ane_model *model) {
  return guarded("ane_kv_reset", [&] {
    if (!model)
      return nullArgument("ane_kv_reset", "model");
    model->cache.clear();
    model->sequence.clear();
    return ANE_OK;
  });
}

ane_status ane_kv_truncate(ane_model *model, int64_t n_positions) {
  return guarded("ane_kv_truncate", [&] {
    if (!model)
      return nullArgument("ane_kv_truncate", "model");
    if (n_positions < 0)
      return failWith(ANE_INVALID_ARGUMENT,
                      "ane_kv_truncate: n_positions is negative");
    // Keys and values past the end are overwritten before any later
    // position can see them (the causal mask stops at its own position).
    if (size_t(n_positions) < model->sequence.size())
      model->sequence.resize(size_t(n_positions));
    return ANE_OK;
  });
}

ane_status ane_eval(ane_model *model, const int32_t *ids, size_t n_ids,
                    int flags, float *logits, size_t capacity) {
  return guarded("ane_eval", [&] {
    if (!model || (!ids && n_ids))
      return nullArgument("ane_eval", model ? "ids" : "model");
    return evaluate(*model, ids, n_ids, flags, logits, capacity);
  });
}

void ane_sampler_init(ane_sampler *sampler) {
  if (!sampler)
    return;
  runtime::SamplerOptions d;
  *sampler = ane_sampler{};
  sampler->struct_size = sizeof(ane_sampler);
  sampler->temperature = d.temperature;
  sampler->top_k = int32_t(d.topK);
  sampler->top_p = d.topP;
  sampler->repeat_penalty = d.repeatPenalty;
  sampler->repeat_last_n = int32_t(d.repeatLastN);
  sampler->seed = d.seed;
}

ane_status ane_generate(ane_model *model, const char *prompt,
                        const ane_sampler *sampler, int64_t max_tokens,
                        ane_token_callback callback, void *user_data,
                        ane_generation *result) {
  return guarded("ane_generate", [&] {
    if (!model || !prompt)
      return nullArgument("ane_generate", model ? "prompt" : "model");
    ane_sampler s;
    ane_sampler_init(&s);
    if (sampler) {
      if (ane_status st = checkStructSize(*sampler, "ane_generate: sampler",
                                          "ane_sampler_init");
          st != ANE_OK)
        return st;
      s = *sampler;
    }
    if (max_tokens < 0 || !(s.temperature >= 0) || s.top_k < 0 ||
        !(s.top_p > 0 && s.top_p <= 1) || !(s.repeat_penalty > 0) ||
        s.repeat_last_n < 0)
      return failWith(ANE_INVALID_ARGUMENT,
                      "ane_generate: max_tokens, temperature, top_k and "
                      "repeat_last_n must not be negative, top_p must be in "
                      "(0, 1] and repeat_penalty above 0");
    ane_generation local;
    return generateText(*model, prompt, s, max_tokens, callback, user_data,
                        result ? *result : local);
  });
}

} // extern "C"
