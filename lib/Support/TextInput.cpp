//===- TextInput.cpp - reading IR and MIL text from careless users --------===//

#include "lib/Support/TextInput.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ane {
namespace {

const char *kindOf(mode_t mode) {
  if (S_ISDIR(mode))
    return "a folder";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

/// Reads `fd` to its end, refusing more than `maxBytes`.
Result<std::string> readAll(int fd, const std::string &name, size_t maxBytes) {
  std::string text;
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Result<std::string>::error(
          fmt::format("{}: cannot read: {}", name, std::strerror(errno)));
    if (n == 0)
      return text;
    if (text.size() + size_t(n) > maxBytes)
      return Result<std::string>::error(fmt::format(
          "{}: more than {} bytes of text; the tools read at most that much",
          name, maxBytes));
    text.append(chunk, size_t(n));
  }
}

} // namespace

Result<std::string> readTextInput(const std::string &path, size_t maxBytes) {
  if (path == "-")
    return readAll(STDIN_FILENO, "<stdin>", maxBytes);
  // O_NONBLOCK: opening a FIFO would wait for a writer; it is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return Result<std::string>::error(
        fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Result<std::string>::error(
        fmt::format("{}: cannot stat: {}", path, std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Result<std::string>::error(
        fmt::format("{}: is {}; give a regular file, or - for standard input",
                    path, kindOf(st.st_mode)));
  }
  if (uint64_t(st.st_size) > maxBytes) {
    ::close(fd);
    return Result<std::string>::error(
        fmt::format("{}: {} bytes; the tools read at most {} bytes of text",
                    path, uint64_t(st.st_size), maxBytes));
  }
  Result<std::string> text = readAll(fd, path, maxBytes);
  ::close(fd);
  return text;
}

Status checkNesting(std::string_view text, std::string_view name,
                    int maxDepth) {
  int depth = 0;
  size_t line = 1, lineStart = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (c == '\n') {
      ++line;
      lineStart = i + 1;
    } else if (c == '"') {
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\')
          ++i;
      if (i < text.size() && text[i] == '\n')
        --i; // let the newline be counted
    } else if (c == '/' && next == '/') {
      while (i + 1 < text.size() && text[i + 1] != '\n')
        ++i;
    } else if ((c == '-' && next == '>') ||
               ((c == '<' || c == '>') && next == '=')) {
      ++i;
    } else if (c == '(' || c == '[' || c == '{' || c == '<') {
      if (++depth > maxDepth)
        return Status::error(fmt::format(
            "{}:{}:{}: brackets nest deeper than {} levels; the tools refuse "
            "such input rather than exhaust the parser's stack",
            name, line, i - lineStart + 1, maxDepth));
    } else if ((c == ')' || c == ']' || c == '}' || c == '>') && depth > 0) {
      --depth;
    }
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// runOnLargeStack
//===----------------------------------------------------------------------===//

namespace {

// Read by the signal handler, so plain atomics and a fixed buffer.
std::atomic<uintptr_t> guardBegin{0}, guardEnd{0};
char overflowText[512];
size_t overflowLength = 0;
struct sigaction previousSegv;

void onSegv(int sig, siginfo_t *info, void *) {
  uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  if (addr >= guardBegin.load() && addr < guardEnd.load()) {
    ssize_t ignored = ::write(STDERR_FILENO, overflowText, overflowLength);
    (void)ignored;
    ::_exit(1);
  }
  // Not ours: hand the fault back to whoever handled it before (LLVM's
  // crash reporter); returning re-runs the faulting instruction.
  ::sigaction(sig, &previousSegv, nullptr);
}

struct StackJob {
  const std::function<int()> *fn;
  int result = 1;
};

void *runJob(void *arg) {
  auto *job = static_cast<StackJob *>(arg);
  // The handler needs a stack of its own: the thread's is exhausted.
  std::vector<char> altStack(size_t(1) << 16);
  stack_t alt{};
  alt.ss_sp = altStack.data();
  alt.ss_size = altStack.size();
  ::sigaltstack(&alt, nullptr);
  job->result = (*job->fn)();
  alt.ss_flags = SS_DISABLE;
  ::sigaltstack(&alt, nullptr);
  return nullptr;
}

} // namespace

int runOnLargeStack(size_t stackBytes, const std::string &overflowMessage,
                    const std::function<int()> &fn) {
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  // A guard larger than any one frame, so an overflow lands inside it.
  const size_t guard = size_t(1) << 20;
  stackBytes = (stackBytes + page - 1) / page * page;
  void *base =
      ::mmap(nullptr, guard + stackBytes, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED)
    return fn(); // no room for a large stack: run as we are
  ::mprotect(base, guard, PROT_NONE);

  overflowLength = std::min(overflowMessage.size(), sizeof(overflowText) - 1);
  std::memcpy(overflowText, overflowMessage.data(), overflowLength);
  guardBegin = reinterpret_cast<uintptr_t>(base);
  guardEnd = reinterpret_cast<uintptr_t>(base) + guard;
  struct sigaction action {};
  action.sa_sigaction = onSegv;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGSEGV, &action, &previousSegv);

  StackJob job{&fn};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, static_cast<char *>(base) + guard, stackBytes);
  pthread_t thread;
  bool started = pthread_create(&thread, &attr, runJob, &job) == 0;
  pthread_attr_destroy(&attr);
  if (started)
    pthread_join(thread, nullptr);

  ::sigaction(SIGSEGV, &previousSegv, nullptr);
  guardBegin = guardEnd = 0;
  ::munmap(base, guard + stackBytes);
  return started ? job.result : fn();
}

} // namespace ane
