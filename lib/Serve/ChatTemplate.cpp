//===- ChatTemplate.cpp - chat messages to prompt tokens ------------------===//

#include "lib/Serve/ChatTemplate.h"

namespace ane::serve {

std::string_view chatFamilyName(ChatFamily family) {
  switch (family) {
  case ChatFamily::Llama2:
    return "llama2";
  case ChatFamily::Llama3:
    return "llama3";
  case ChatFamily::ChatML:
    return "chatml";
  case ChatFamily::Zephyr:
    return "zephyr";
  case ChatFamily::Plain:
    return "plain";
  }
  return "plain";
}

std::optional<ChatFamily> parseChatFamily(std::string_view name) {
  for (ChatFamily f :
       {ChatFamily::Llama2, ChatFamily::Llama3, ChatFamily::ChatML,
        ChatFamily::Zephyr, ChatFamily::Plain})
    if (chatFamilyName(f) == name)
      return f;
  return std::nullopt;
}

ChatFamily detectChatFamily(std::string_view jinja) {
  auto has = [&](std::string_view marker) {
    return jinja.find(marker) != std::string_view::npos;
  };
  // Llama 3 before the others: its templates mention no other family's
  // markers, but some ChatML-derived ones quote Llama 3's in comments.
  if (has("<|start_header_id|>"))
    return ChatFamily::Llama3;
  if (has("<|im_start|>"))
    return ChatFamily::ChatML;
  if (has("<|user|>"))
    return ChatFamily::Zephyr;
  if (has("[INST]"))
    return ChatFamily::Llama2;
  return ChatFamily::Plain;
}

namespace {

std::string roleOf(const ChatMessage &m) {
  return m.role == "developer" ? "system" : m.role;
}

void text(std::vector<ChatPiece> &out, std::string t) {
  if (!out.empty() && !out.back().special)
    out.back().text += t;
  else
    out.push_back({false, std::move(t)});
}

void special(std::vector<ChatPiece> &out, std::string t) {
  out.push_back({true, std::move(t)});
}

/// <s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] A </s><s>[INST] U2 [/INST]
std::vector<ChatPiece> llama2(const std::vector<ChatMessage> &messages) {
  std::vector<ChatPiece> out;
  std::string system;
  bool open = false; // an [INST] waits for its [/INST]
  for (const ChatMessage &m : messages) {
    std::string role = roleOf(m);
    if (role == "system") {
      system += (system.empty() ? "" : "\n") + m.content;
    } else if (role == "assistant") {
      if (open)
        text(out, " [/INST]");
      text(out, " " + m.content + " ");
      special(out, "</s>");
      open = false;
    } else {
      if (open) {
        text(out, "\n" + m.content);
        continue;
      }
      special(out, "<s>");
      std::string turn = "[INST] ";
      if (!system.empty())
        turn += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
      system.clear();
      text(out, turn + m.content);
      open = true;
    }
  }
  if (!open) {
    special(out, "<s>");
    text(out, "[INST] ");
  }
  text(out, " [/INST]");
  return out;
}

std::vector<ChatPiece> llama3(const std::vector<ChatMessage> &messages) {
  std::vector<ChatPiece> out;
  special(out, "<|begin_of_text|>");
  auto header = [&](const std::string &role) {
    special(out, "<|start_header_id|>");
    text(out, role);
    special(out, "<|end_header_id|>");
    text(out, "\n\n");
  };
  for (const ChatMessage &m : messages) {
    header(roleOf(m) == "tool" ? "ipython" : roleOf(m));
    text(out, m.content);
    special(out, "<|eot_id|>");
  }
  header("assistant");
  return out;
}

std::vector<ChatPiece> chatml(const std::vector<ChatMessage> &messages) {
  std::vector<ChatPiece> out;
  special(out, "<s>");
  for (const ChatMessage &m : messages) {
    special(out, "<|im_start|>");
    text(out, roleOf(m) + "\n" + m.content);
    special(out, "<|im_end|>");
    text(out, "\n");
  }
  special(out, "<|im_start|>");
  text(out, "assistant\n");
  return out;
}

std::vector<ChatPiece> zephyr(const std::vector<ChatMessage> &messages) {
  std::vector<ChatPiece> out;
  special(out, "<s>");
  for (const ChatMessage &m : messages) {
    std::string role = roleOf(m);
    if (role != "system" && role != "assistant")
      role = "user";
    special(out, "<|" + role + "|>");
    text(out, "\n" + m.content);
    special(out, "</s>");
    text(out, "\n");
  }
  special(out, "<|assistant|>");
  text(out, "\n");
  return out;
}

std::vector<ChatPiece> plain(const std::vector<ChatMessage> &messages) {
  std::vector<ChatPiece> out;
  special(out, "<s>");
  if (messages.size() == 1 && roleOf(messages[0]) == "user") {
    text(out, messages[0].content);
    return out;
  }
  std::string all;
  for (const ChatMessage &m : messages) {
    std::string role = roleOf(m);
    std::string label = role == "system"      ? "System"
                        : role == "assistant" ? "Assistant"
                        : role == "tool"      ? "Tool"
                                              : "User";
    all += label + ": " + m.content + "\n\n";
  }
  text(out, all + "Assistant:");
  return out;
}

} // namespace

std::vector<ChatPiece> renderChat(ChatFamily family,
                                  const std::vector<ChatMessage> &messages) {
  switch (family) {
  case ChatFamily::Llama2:
    return llama2(messages);
  case ChatFamily::Llama3:
    return llama3(messages);
  case ChatFamily::ChatML:
    return chatml(messages);
  case ChatFamily::Zephyr:
    return zephyr(messages);
  case ChatFamily::Plain:
    return plain(messages);
  }
  return plain(messages);
}

std::vector<int32_t> encodeChat(const model::Tokenizer &tokenizer,
                                const std::vector<ChatPiece> &pieces) {
  std::vector<int32_t> out;
  for (const ChatPiece &p : pieces) {
    std::optional<int32_t> id;
    if (p.special)
      id = p.text == "<s>"    ? std::optional<int32_t>(tokenizer.bos())
           : p.text == "</s>" ? std::optional<int32_t>(tokenizer.eos())
                              : tokenizer.tokenOf(p.text);
    if (p.special && p.text == "<|begin_of_text|>" && !id)
      id = tokenizer.bos();
    if (id) {
      out.push_back(*id);
      continue;
    }
    std::vector<int32_t> t = tokenizer.encode(p.text, false, false);
    out.insert(out.end(), t.begin(), t.end());
  }
  return out;
}

std::vector<int32_t> turnEndTokens(ChatFamily family,
                                   const model::Tokenizer &tokenizer) {
  std::vector<int32_t> out;
  auto add = [&](std::string_view piece) {
    if (auto id = tokenizer.tokenOf(piece))
      out.push_back(*id);
  };
  if (family == ChatFamily::Llama3) {
    add("<|eot_id|>");
    add("<|end_of_text|>");
  }
  if (family == ChatFamily::ChatML)
    add("<|im_end|>");
  return out;
}

} // namespace ane::serve
