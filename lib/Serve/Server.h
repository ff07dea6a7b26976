//===- Server.h - the OpenAI-compatible HTTP front end ----------*- C++ -*-===//
//
// /v1/chat/completions and /v1/completions (whole or streamed as server-sent
// events), /v1/models, /health, /metrics (Prometheus text), /tokenize and
// /detokenize, on cpp-httplib. The server listens before the model is
// ready: /health answers 503 until setModel. Every error has OpenAI's shape
// {"error": {"message", "type", "code"}} and its HTTP status.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SERVE_SERVER_H
#define ANE_LIB_SERVE_SERVER_H

#include "lib/Model/Tokenizer.h"
#include "lib/Serve/ChatTemplate.h"
#include "lib/Serve/Scheduler.h"
#include "lib/Support/Result.h"

#include <functional>
#include <memory>
#include <string>

namespace ane::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;    // 0: any free port (see Server::port)
  std::string apiKey; // empty: none asked for
  bool metrics = false;
  size_t maxBodyBytes = size_t(4) << 20;
  int httpThreads = 16;
  std::string modelId;
};

/// What the endpoints serve once loaded; everything must outlive the
/// server (or the next setModel).
struct ServedModel {
  Scheduler *scheduler = nullptr;
  const model::Tokenizer *tokenizer = nullptr;
  ChatFamily chat = ChatFamily::Plain;
  int64_t context = 0;
  /// The adapters a request may pick by id with its `lora` field (those
  /// of --lora, in order), as the kernel inputs for one scale each.
  int64_t adapters = 0;
  std::function<Result<std::shared_ptr<const runtime::KernelLora>>(
      const std::vector<double> &scales)>
      loraFor;
};

/// A models.providers entry for ~/.openclaw/openclaw.json naming this
/// server (baseUrl, apiKey, api "openai-completions", the model with its
/// context window and a max_tokens of half of it), as JSON text.
std::string openclawConfig(const ServerOptions &options, int64_t context);

class Server {
public:
  explicit Server(ServerOptions options);
  ~Server();
  /// Binds the address (an error names it when it is taken) and serves on
  /// a thread of its own.
  Status start();
  /// The port it listens on.
  int port() const;
  void setModel(const ServedModel &model);
  /// Stops answering (open streams end) and joins the thread.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

} // namespace ane::serve

#endif // ANE_LIB_SERVE_SERVER_H
