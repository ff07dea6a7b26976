//===- Profile.h - time per kernel and MIL op -------------------*- C++ -*-===//
//
// `ane-exec bench --profile` asks where a step's time goes. Backends that run
// MIL statements one by one (cpu, cpu-reference) add each statement's wall
// time under its kernel and op; the table is reproducible from the command
// line instead of from a locally patched build.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_PROFILE_H
#define ANE_LIB_RUNTIME_PROFILE_H

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ane::runtime {

/// Wall seconds from `t` to now.
inline double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
}

class OpProfile {
public:
  struct Entry {
    std::string kernel, op;
    int64_t calls = 0;
    double seconds = 0;
  };

  void add(std::string_view kernel, std::string_view op, double seconds);
  /// Every (kernel, op) seen since the last clear, the longest first.
  std::vector<Entry> entries() const;
  double totalSeconds() const;
  void clear() { times.clear(); }

private:
  // (kernel, op) -> (calls, seconds)
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, double>>
      times;
};

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_PROFILE_H
