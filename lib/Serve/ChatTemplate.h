//===- ChatTemplate.h - chat messages to prompt tokens ----------*- C++ -*-===//
//
// The chat formats of the model families people serve, chosen from the
// GGUF's tokenizer.chat_template by the markers its text uses (its Jinja is
// not run). Special tokens are looked up in the vocabulary and spelled as
// text when it has none (e.g. stories260K).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SERVE_CHATTEMPLATE_H
#define ANE_LIB_SERVE_CHATTEMPLATE_H

#include "lib/Model/Tokenizer.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ane::serve {

enum class ChatFamily { Llama2, Llama3, ChatML, Zephyr, Plain };

std::string_view chatFamilyName(ChatFamily family);
/// "llama2", "llama3", "chatml", "zephyr" or "plain".
std::optional<ChatFamily> parseChatFamily(std::string_view name);
/// The family whose markers `jinja` uses; Plain when none (or empty).
ChatFamily detectChatFamily(std::string_view jinja);

struct ChatMessage {
  std::string role; // system, developer (as system), user, assistant, tool
  std::string content;
};

/// A rendered conversation: text, and special tokens by their spelling.
struct ChatPiece {
  bool special = false;
  std::string text;
};

/// The prompt for the assistant's next turn. Plain: one user message alone
/// is its text (what `ane-exec run -p` would take); otherwise "System: ",
/// "User: " and "Assistant: " paragraphs ending in "Assistant:".
std::vector<ChatPiece> renderChat(ChatFamily family,
                                  const std::vector<ChatMessage> &messages);

/// The tokens of `pieces`, BOS first as the tokenizer spells it.
std::vector<int32_t> encodeChat(const model::Tokenizer &tokenizer,
                                const std::vector<ChatPiece> &pieces);

/// Tokens that end the assistant's turn in `family` besides EOS (those the
/// vocabulary has).
std::vector<int32_t> turnEndTokens(ChatFamily family,
                                   const model::Tokenizer &tokenizer);

} // namespace ane::serve

#endif // ANE_LIB_SERVE_CHATTEMPLATE_H
