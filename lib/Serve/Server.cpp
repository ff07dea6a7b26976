//===- Server.cpp - the OpenAI-compatible HTTP front end ------------------===//

#include "lib/Serve/Server.h"
#include "lib/Serve/Connection.h"
#include "lib/Support/ProcessMemory.h"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

namespace ane::serve {

using json = nlohmann::json;

namespace {

/// JSON text with any invalid UTF-8 replaced rather than thrown on.
std::string dump(const json &j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json errorBody(const ApiError &e) {
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

void sendError(httplib::Response &res, const ApiError &e) {
  res.status = e.status;
  res.set_content(dump(errorBody(e)), "application/json");
}

ApiError badRequest(std::string message, std::string code = "") {
  return {400, "invalid_request_error", std::move(code), std::move(message)};
}

int64_t unixTime() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The request's fields, checked; a bad one throws the 400 it deserves.
struct Fields {
  const json &body;

  const json *get(const char *name) const {
    auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] void wrong(const char *name, const char *what) const {
    throw badRequest(fmt::format("'{}' must be {}", name, what),
                     "invalid_value");
  }
  std::optional<double> number(const char *name, double lo, double hi) const {
    const json *v = get(name);
    if (!v)
      return std::nullopt;
    if (!v->is_number())
      wrong(name, "a number");
    double d = v->get<double>();
    if (!(d >= lo && d <= hi))
      throw badRequest(
          fmt::format("'{}' is {}; it must be from {} to {}", name, d, lo, hi),
          "invalid_value");
    return d;
  }
  std::optional<int64_t> integer(const char *name, int64_t lo,
                                 int64_t hi) const {
    const json *v = get(name);
    if (!v)
      return std::nullopt;
    if (!v->is_number_integer())
      wrong(name, "an integer");
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX))
      throw badRequest(fmt::format("'{}' is out of range", name),
                       "invalid_value");
    int64_t i = v->get<int64_t>();
    if (i < lo || i > hi)
      throw badRequest(
          fmt::format("'{}' is {}; it must be from {} to {}", name, i, lo, hi),
          "invalid_value");
    return i;
  }
  std::optional<bool> boolean(const char *name) const {
    const json *v = get(name);
    if (!v)
      return std::nullopt;
    if (!v->is_boolean())
      wrong(name, "true or false");
    return v->get<bool>();
  }
  std::optional<std::string> string(const char *name) const {
    const json *v = get(name);
    if (!v)
      return std::nullopt;
    if (!v->is_string())
      wrong(name, "a string");
    return v->get<std::string>();
  }
};

/// The request's `lora` field, llama-server's form: [{"id": I, "scale": S},
/// ...]; adapters it does not list run at scale 0.
std::shared_ptr<const runtime::KernelLora> requestLora(const Fields &f,
                                                       const ServedModel &m) {
  const json *v = f.get("lora");
  if (!v)
    return nullptr;
  if (m.adapters == 0 || !m.loraFor)
    throw badRequest("'lora' picks among the server's adapters, and it has "
                     "none (start it with --lora, without --lora-merge)",
                     "invalid_value");
  if (!v->is_array())
    f.wrong("lora", "an array of {\"id\", \"scale\"} objects");
  std::vector<double> scales(size_t(m.adapters), 0.0);
  for (const json &entry : *v) {
    if (!entry.is_object())
      f.wrong("lora", "an array of {\"id\", \"scale\"} objects");
    Fields e{entry};
    auto id = e.integer("id", 0, m.adapters - 1);
    auto scale = e.number("scale", -1e3, 1e3);
    if (!id || !scale)
      f.wrong("lora", "an array of {\"id\", \"scale\"} objects");
    scales[size_t(*id)] = *scale;
  }
  auto lora = m.loraFor(scales);
  if (!lora.ok())
    throw ApiError{500, "server_error", "", lora.message()};
  return *lora;
}

std::string finishReason(Finish f) {
  return f == Finish::Length ? "length" : "stop";
}

} // namespace

struct Server::Impl {
  ServerOptions options;
  httplib::Server http;
  std::thread thread;
  int boundPort = 0;
  socket_t listenSocket = INVALID_SOCKET;
  std::mutex modelMu;
  std::optional<ServedModel> model;
  std::atomic<uint64_t> ids{0};
  std::atomic<int64_t> requestsTotal{0}, errorsTotal{0};

  explicit Impl(ServerOptions o) : options(std::move(o)) {}

  std::optional<ServedModel> served() {
    std::lock_guard lk(modelMu);
    return model;
  }

  bool authorized(const httplib::Request &req, httplib::Response &res) {
    if (options.apiKey.empty() ||
        req.get_header_value("Authorization") == "Bearer " + options.apiKey)
      return true;
    sendError(res, {401, "authentication_error", "invalid_api_key",
                    "a missing or wrong API key: send 'Authorization: "
                    "Bearer <key>' with the key given to --api-key"});
    return false;
  }

  /// The model, or a 503 while it loads.
  std::optional<ServedModel> ready(httplib::Response &res) {
    auto m = served();
    if (!m)
      sendError(res, {503, "unavailable_error", "model_loading",
                      "the model is loading"});
    return m;
  }

  json parseBody(const httplib::Request &req) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      throw badRequest("the body is not valid JSON (or not UTF-8)",
                       "invalid_json");
    if (!body.is_object())
      throw badRequest("the body must be a JSON object", "invalid_json");
    return body;
  }

  /// Waits for `job` to end while its client stays connected; when the
  /// client goes first, cancels the job (its slot is freed at the next
  /// step) and says so.
  static bool waitOrCancel(const httplib::Request &req, Job &job) {
    int sock = findConnection({req.local_addr, req.local_port},
                              {req.remote_addr, req.remote_port});
    while (!job.waitDone(std::chrono::milliseconds(50)))
      if (sock >= 0 && peerClosed(sock)) {
        job.cancel();
        return true;
      }
    return false;
  }

  void install();
  void handleGeneration(const httplib::Request &req, httplib::Response &res,
                        bool chat);
  std::string metricsText(const ServedModel &m);
};

namespace {

std::vector<ChatMessage> parseMessages(const json &body) {
  auto it = body.find("messages");
  if (it == body.end() || !it->is_array() || it->empty())
    throw badRequest("'messages' must be a non-empty array", "invalid_value");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const json &m = (*it)[i];
    if (!m.is_object())
      throw badRequest(fmt::format("messages[{}] must be an object", i));
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      throw badRequest(fmt::format("messages[{}].role must be a string", i));
    std::string r = role->get<std::string>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" &&
        r != "tool")
      throw badRequest(fmt::format("messages[{}].role '{}' is not system, "
                                   "developer, user, assistant or tool",
                                   i, r));
    std::string content;
    auto c = m.find("content");
    if (c != m.end() && c->is_string()) {
      content = c->get<std::string>();
    } else if (c != m.end() && c->is_array()) {
      for (const json &part : *c) {
        if (!part.is_object() || part.value("type", "") != "text" ||
            !part.contains("text") || !part["text"].is_string())
          throw badRequest(fmt::format(
              "messages[{}].content: only text parts are supported", i));
        content += part["text"].get<std::string>();
      }
    } else if (c != m.end() && !c->is_null()) {
      throw badRequest(fmt::format(
          "messages[{}].content must be a string or an array of parts", i));
    }
    out.push_back({r, content});
  }
  return out;
}

/// The token ids of a JSON array; 400 naming `field` if one is not an id
/// of the vocabulary.
std::vector<int32_t> tokenIds(const json &array, const char *field,
                              const model::Tokenizer &tokenizer) {
  std::vector<int32_t> tokens;
  for (const json &t : array) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
        t.get<int64_t>() >= tokenizer.size())
      throw badRequest(fmt::format("'{}' must hold token ids from 0 to {}",
                                   field, tokenizer.size() - 1),
                       "invalid_value");
    tokens.push_back(int32_t(t.get<int64_t>()));
  }
  return tokens;
}

std::vector<int32_t> parsePrompt(const json &body,
                                 const model::Tokenizer &tokenizer) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null())
    throw badRequest("'prompt' is required", "invalid_value");
  const json *p = &*it;
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string())
    p = &(*p)[0];
  if (p->is_string())
    return tokenizer.encode(p->get<std::string>(), true, false);
  if (p->is_array() && !p->empty())
    return tokenIds(*p, "prompt", tokenizer);
  throw badRequest("'prompt' must be a string, one string in an array, or "
                   "an array of token ids",
                   "invalid_value");
}

std::vector<std::string> parseStops(const Fields &f) {
  const json *v = f.get("stop");
  if (!v)
    return {};
  if (v->is_string())
    return {v->get<std::string>()};
  if (v->is_array() && v->size() <= 16) {
    std::vector<std::string> out;
    for (const json &s : *v) {
      if (!s.is_string())
        f.wrong("stop", "a string or an array of up to 16 strings");
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  f.wrong("stop", "a string or an array of up to 16 strings");
}

} // namespace

void Server::Impl::handleGeneration(const httplib::Request &req,
                                    httplib::Response &res, bool chat) {
  requestsTotal += 1;
  auto m = ready(res);
  if (!m)
    return;
  json body = parseBody(req);
  Fields f{body};
  if (auto id = f.string("model"); id && *id != options.modelId)
    throw ApiError{404, "invalid_request_error", "model_not_found",
                   fmt::format("the model '{}' does not exist; this server "
                               "serves '{}'",
                               *id, options.modelId)};
  f.integer("n", 1, 1); // one choice a request
  auto job = std::make_shared<Job>();
  if (chat) {
    std::vector<ChatMessage> messages = parseMessages(body);
    job->prompt = encodeChat(*m->tokenizer, renderChat(m->chat, messages));
    job->stopTokens = turnEndTokens(m->chat, *m->tokenizer);
  } else {
    job->prompt = parsePrompt(body, *m->tokenizer);
  }
  int64_t promptTokens = int64_t(job->prompt.size());
  if (promptTokens >= m->context)
    throw ApiError{400, "invalid_request_error", "context_length_exceeded",
                   fmt::format("the prompt is {} tokens; the context holds {} "
                               "(start the server with a larger --ctx)",
                               promptTokens, m->context)};
  auto maxTokens = f.integer("max_completion_tokens", 1, m->context);
  if (!maxTokens)
    maxTokens = f.integer("max_tokens", 1, m->context);
  job->maxTokens = maxTokens.value_or(m->context - promptTokens);
  job->sampler.temperature = float(f.number("temperature", 0, 2).value_or(1));
  job->sampler.topP = float(f.number("top_p", 0, 1).value_or(1));
  if (job->sampler.topP <= 0)
    throw badRequest("'top_p' must be above 0", "invalid_value");
  job->sampler.topK = f.integer("top_k", 0, INT32_MAX).value_or(0);
  if (auto seed = f.integer("seed", INT64_MIN, INT64_MAX))
    job->sampler.seed = uint64_t(*seed);
  else
    job->sampler.seed = std::random_device()() ^ (uint64_t(ids++) << 32);
  job->stops = parseStops(f);
  job->lora = requestLora(f, *m);
  bool stream = f.boolean("stream").value_or(false);
  bool includeUsage = false;
  if (const json *so = f.get("stream_options")) {
    if (!so->is_object())
      f.wrong("stream_options", "an object");
    includeUsage = Fields{*so}.boolean("include_usage").value_or(false);
  }
  if (auto refused = m->scheduler->submit(job))
    throw *refused;

  std::string id = fmt::format("{}-{}", chat ? "chatcmpl" : "cmpl", ++ids);
  int64_t created = unixTime();
  std::string object = chat ? "chat.completion" : "text_completion";
  auto usage = [job, promptTokens] {
    int64_t n = job->completionTokens();
    return json{{"prompt_tokens", promptTokens},
                {"completion_tokens", n},
                {"total_tokens", promptTokens + n}};
  };
  if (!stream) {
    if (waitOrCancel(req, *job))
      return; // no one to answer
    std::string text = job->all();
    if (auto e = job->error())
      throw *e;
    json choice = {{"index", 0},
                   {"finish_reason", finishReason(job->finish())},
                   {"logprobs", nullptr}};
    if (chat)
      choice["message"] = {{"role", "assistant"}, {"content", text}};
    else
      choice["text"] = text;
    res.set_content(dump({{"id", id},
                          {"object", object},
                          {"created", created},
                          {"model", options.modelId},
                          {"choices", json::array({choice})},
                          {"usage", usage()}}),
                    "application/json");
    return;
  }
  // One event per chunk: the role first (chat), then text as it comes, a
  // last chunk with the finish reason and usage, then [DONE].
  std::string chunkObject = chat ? "chat.completion.chunk" : "text_completion";
  std::string model = options.modelId;
  auto event = [=](json choices, bool withUsage, json usageValue) {
    json j = {{"id", id},
              {"object", chunkObject},
              {"created", created},
              {"model", model},
              {"choices", std::move(choices)}};
    if (withUsage)
      j["usage"] = std::move(usageValue);
    return "data: " + dump(j) + "\n\n";
  };
  auto choice = [chat](const std::string *text, json finish) {
    json c = {{"index", 0}, {"finish_reason", std::move(finish)}};
    if (chat)
      c["delta"] = text ? json{{"content", *text}} : json::object();
    else
      c["text"] = text ? *text : std::string();
    return c;
  };
  auto started = std::make_shared<bool>(false);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [=](size_t, httplib::DataSink &sink) {
        auto write = [&](const std::string &s) {
          return sink.write(s.data(), s.size());
        };
        if (!*started) {
          *started = true;
          if (chat) {
            json role = {{"index", 0},
                         {"delta", {{"role", "assistant"}}},
                         {"finish_reason", nullptr}};
            if (!write(event(json::array({role}), false, nullptr)))
              return false;
          }
        }
        Job::Chunk c = job->next(std::chrono::milliseconds(100));
        if (!c.text.empty() &&
            !write(
                event(json::array({choice(&c.text, nullptr)}), false, nullptr)))
          return false;
        if (!c.done)
          return true;
        if (auto e = job->error()) {
          write("data: " + dump(errorBody(*e)) + "\n\n");
        } else {
          write(
              event(json::array({choice(nullptr, finishReason(job->finish()))}),
                    true, usage()));
          if (includeUsage)
            write(event(json::array(), true, usage()));
        }
        write("data: [DONE]\n\n");
        sink.done();
        return true;
      },
      [job](bool success) {
        if (!success)
          job->cancel(); // the client went away
      });
}

std::string Server::Impl::metricsText(const ServedModel &m) {
  SchedulerMetrics s = m.scheduler->metrics();
  uint64_t rss = residentBytes(), peak = peakResidentBytes();
  std::string out;
  auto metric = [&](const char *name, const char *type, const char *help,
                    double value) {
    out += fmt::format(
        "# HELP ane_{0} {1}\n# TYPE ane_{0} {2}\nane_{0} {3:.10g}\n", name,
        help, type, value);
  };
  metric("prompt_tokens_total", "counter", "Prompt tokens processed.",
         double(s.promptTokens));
  metric("prompt_seconds_total", "counter", "Time spent on prompts.",
         s.promptSeconds);
  metric("tokens_predicted_total", "counter", "Tokens generated.",
         double(s.generatedTokens));
  metric("tokens_predicted_seconds_total", "counter",
         "Time spent in decode steps.", s.generatedSeconds);
  metric("decode_steps_total", "counter",
         "Batched decode steps (each reads every layer's weights once).",
         double(s.batchedSteps));
  metric("decode_step_tokens_total", "counter",
         "Tokens the batched decode steps ran.", double(s.batchedTokens));
  metric("requests_processing", "gauge", "Requests in a slot.",
         double(s.processing));
  metric("requests_deferred", "gauge", "Requests waiting for a slot.",
         double(s.deferred));
  metric("requests_total", "counter", "Generation requests received.",
         double(requestsTotal.load()));
  metric("requests_failed_total", "counter",
         "Requests that ended with an error.",
         double(s.requestsFailed + errorsTotal.load()));
  metric("requests_cancelled_total", "counter",
         "Requests ended early because their clients went away.",
         double(s.requestsCancelled));
  metric("slots", "gauge", "Slots (--parallel).", double(s.slots));
  metric("kv_cache_bytes", "gauge", "Bytes the slots' K/V caches hold.",
         double(s.kvBytes));
  metric("kv_cache_projected_bytes", "gauge",
         "K/V bytes the admitted requests may grow to.", double(s.kvProjected));
  metric("memory_limit_bytes", "gauge", "The memory guard's limit (0: none).",
         double(s.memoryLimit));
  metric("resident_memory_bytes", "gauge", "Resident set size.", double(rss));
  metric("resident_memory_peak_bytes", "gauge", "Peak resident set size.",
         double(peak));
  metric("weight_swaps_total", "counter", "Layer weight bindings.",
         double(s.swaps));
  metric("weight_swap_seconds_total", "counter",
         "Time spent binding layer weights.", s.swapSeconds);
  metric("step_timeouts_total", "counter",
         "Steps that ran past --step-timeout (their requests ended).",
         double(s.stepTimeouts));
  metric("memory_guard_events_total", "counter",
         "Requests the memory guard held back or refused.",
         double(s.memoryGuardEvents));
  return out;
}

void Server::Impl::install() {
  http.set_payload_max_length(options.maxBodyBytes);
  // cpp-httplib's default adds SO_REUSEPORT, which lets a second server bind
  // a port in use and take half its connections; a taken port must fail.
  // Each event of a stream is its own small write: Nagle's algorithm would
  // hold it back for the client's delayed ACK (40 ms a response).
  http.set_tcp_nodelay(true);
  http.set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listenSocket = sock;
  });
  int threads = options.httpThreads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_exception_handler([this](const httplib::Request &,
                                    httplib::Response &res,
                                    std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const ApiError &e) {
      if (e.status >= 500)
        errorsTotal += 1;
      sendError(res, e);
    } catch (const std::exception &e) {
      errorsTotal += 1;
      sendError(res, {500, "server_error", "", e.what()});
    } catch (...) {
      errorsTotal += 1;
      sendError(res, {500, "server_error", "", "unknown error"});
    }
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request &req, httplib::Response &res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        ApiError e{res.status, "invalid_request_error", "", ""};
        if (res.status == 404)
          e = {404, "invalid_request_error", "not_found",
               fmt::format("no endpoint {} {}", req.method, req.path)};
        else if (res.status == 413)
          e = {413, "invalid_request_error", "request_too_large",
               "the request body is larger than the server takes"};
        else
          e.message = fmt::format("HTTP status {}", res.status);
        sendError(res, e);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
    if (ready(res))
      res.set_content(R"({"status":"ok"})", "application/json");
  });
  http.Get("/v1/models", [this](const httplib::Request &,
                                httplib::Response &res) {
    auto m = served();
    json model = {{"id", options.modelId},
                  {"object", "model"},
                  {"created", unixTime()},
                  {"owned_by", "ane-mlir"}};
    if (m)
      model["context_length"] = m->context;
    res.set_content(dump({{"object", "list"}, {"data", json::array({model})}}),
                    "application/json");
  });
  http.Get("/metrics",
           [this](const httplib::Request &req, httplib::Response &res) {
             if (!options.metrics)
               return sendError(res, {404, "invalid_request_error", "not_found",
                                      "metrics are off: start the server with "
                                      "--metrics"});
             if (!authorized(req, res))
               return;
             if (auto m = ready(res))
               res.set_content(metricsText(*m), "text/plain; version=0.0.4");
           });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request &req, httplib::Response &res) {
              if (authorized(req, res))
                handleGeneration(req, res, true);
            });
  http.Post("/v1/completions",
            [this](const httplib::Request &req, httplib::Response &res) {
              if (authorized(req, res))
                handleGeneration(req, res, false);
            });
  http.Post("/tokenize",
            [this](const httplib::Request &req, httplib::Response &res) {
              if (!authorized(req, res))
                return;
              auto m = ready(res);
              if (!m)
                return;
              json body = parseBody(req);
              Fields f{body};
              auto content = f.string("content");
              if (!content)
                throw badRequest("'content' must be a string", "invalid_value");
              bool special = f.boolean("add_special").value_or(false);
              json tokens = m->tokenizer->encode(*content, special, false);
              res.set_content(dump({{"tokens", tokens}}), "application/json");
            });
  http.Post("/detokenize", [this](const httplib::Request &req,
                                  httplib::Response &res) {
    if (!authorized(req, res))
      return;
    auto m = ready(res);
    if (!m)
      return;
    json body = parseBody(req);
    auto it = body.find("tokens");
    if (it == body.end() || !it->is_array())
      throw badRequest("'tokens' must be an array of token ids",
                       "invalid_value");
    std::vector<int32_t> tokens = tokenIds(*it, "tokens", *m->tokenizer);
    res.set_content(dump({{"content", m->tokenizer->decode(tokens)}}),
                    "application/json");
  });
}

std::string openclawConfig(const ServerOptions &o, int64_t context) {
  // A wildcard address is not one to connect to.
  std::string host =
      o.host == "0.0.0.0" || o.host == "::" ? "127.0.0.1" : o.host;
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]";
  json model = {{"id", o.modelId},
                {"name", o.modelId + " (ane-mlir)"},
                {"input", {"text"}},
                {"contextWindow", context},
                {"maxTokens", std::max<int64_t>(1, context / 2)}};
  json provider = {{"baseUrl", fmt::format("http://{}:{}/v1", host, o.port)},
                   {"apiKey", o.apiKey.empty() ? "none" : o.apiKey},
                   {"api", "openai-completions"},
                   {"models", json::array({model})}};
  return json{{"models", {{"providers", {{"ane-mlir", provider}}}}}}.dump(2) +
         "\n";
}

Server::Server(ServerOptions options)
    : impl(std::make_unique<Impl>(std::move(options))) {
  impl->install();
}

Server::~Server() { stop(); }

Status Server::start() {
  int port = impl->options.port;
  if (port == 0)
    port = impl->http.bind_to_any_port(impl->options.host);
  else if (!impl->http.bind_to_port(impl->options.host, port))
    port = -1;
  if (port < 0)
    return Status::error(fmt::format("cannot listen on {}:{} (in use, or not "
                                     "an address of this machine)",
                                     impl->options.host, impl->options.port));
  impl->boundPort = port;
  // cpp-httplib listens with a backlog of 5: a burst of clients past it
  // waits a second for SYN retransmission. Listening again raises it.
  if (impl->listenSocket != INVALID_SOCKET)
    ::listen(impl->listenSocket, SOMAXCONN);
  impl->thread = std::thread([this] { impl->http.listen_after_bind(); });
  return Status::success();
}

int Server::port() const { return impl->boundPort; }

void Server::setModel(const ServedModel &model) {
  std::lock_guard lk(impl->modelMu);
  impl->model = model;
}

void Server::stop() {
  if (!impl)
    return;
  impl->http.stop();
  if (impl->thread.joinable())
    impl->thread.join();
}

} // namespace ane::serve
