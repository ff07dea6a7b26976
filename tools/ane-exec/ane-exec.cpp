//===- ane-exec.cpp - ane-mlir's user-facing driver -----------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Ane/AneBackend.h"

#include "lib/Model/Llama2c.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <sstream>

namespace ane::exec {

namespace {

/// A number flag's value against `ok`, with `what` as the complaint.
CLI::Validator numberCheck(std::function<bool(double)> ok, std::string what) {
  return CLI::Validator(
      [ok, what](std::string &text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v))
          return "'" + text + "' is not a number";
        return ok(v) ? std::string() : "must be " + what + ", got " + text;
      },
      what);
}

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

/// With no subcommand, or an unknown word where it belongs: the commands.
int usage(const CLI::App &app, const std::string &given) {
  std::string names;
  for (const CLI::App *sub : app.get_subcommands({}))
    names += (names.empty() ? "" : ", ") + sub->get_name();
  if (given.empty())
    std::cerr << "ane-exec: give a command: " << names << "\n";
  else
    std::cerr << "ane-exec: unknown command '" << given
              << "'; the commands are " << names << "\n";
  std::cerr << "Run with --help for more information.\n";
  return 2;
}

} // namespace

CLI::Validator atLeast(double low) {
  return numberCheck([low](double v) { return v >= low; }, ">= " + number(low));
}

CLI::Validator greaterThan(double low) {
  return numberCheck([low](double v) { return v > low; }, "> " + number(low));
}

CLI::Validator between(double low, double high) {
  return numberCheck([low, high](double v) { return v >= low && v <= high; },
                     "from " + number(low) + " to " + number(high));
}

CLI::Validator seedNumber() {
  return CLI::Validator(
      [](std::string &text) -> std::string {
        bool digits = !text.empty() && text.size() <= 20 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
        // 20 digits may still pass 2^64 - 1.
        if (digits && (text.size() < 20 || text <= "18446744073709551615"))
          return {};
        return "must be a whole number from 0 to 18446744073709551615, got " +
               text;
      },
      "0 to 2^64-1");
}

} // namespace ane::exec

int main(int argc, char **argv) {
  // The compile workers of the ANE backends: this executable again, started
  // by AneBackend with arguments of its own, never by a user.
  if (argc >= 2 && std::string(argv[1]) == ane::exec::kCompileWorkerCommand)
    return ane::runtime::aneCompileWorkerMain(
        std::vector<std::string>(argv + 2, argv + argc));
  CLI::App app{"ane-exec: run Llama-family models compiled by ane-mlir"};
  app.require_subcommand(1);
  ane::exec::addRunCommand(app);
  ane::exec::addServeCommand(app);
  ane::exec::addCompileCommand(app);
  ane::exec::addEvalCommand(app);
  ane::exec::addFinetuneCommand(app);
  ane::exec::addBenchCommand(app);
  ane::exec::addPerplexityCommand(app);
  ane::exec::addPlanCommand(app);
  ane::exec::addProbeCommand(app);
  ane::exec::addInspectCommand(app);
  ane::exec::addTokenizeCommand(app);
  if (argc < 2)
    return ane::exec::usage(app, "");
  std::string first = argv[1];
  auto subs = app.get_subcommands({});
  bool known = std::any_of(subs.begin(), subs.end(), [&](const CLI::App *sub) {
    return sub->get_name() == first;
  });
  if (first.empty() || (first[0] != '-' && !known))
    return ane::exec::usage(app, first);
  int rc = 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    rc = app.exit(e);
  }
  // Every write to stdout went through its buffer: one check of the flush
  // and the error flag catches a full disk or a closed pipe, which would
  // otherwise end the run with 0 and part of its output missing.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::cerr << "error: cannot write the output: " << std::strerror(errno)
              << "\n";
    return rc ? rc : 1;
  }
  return rc;
}
