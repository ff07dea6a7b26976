//===- Profile.cpp - time per kernel and MIL op ---------------------------===//

#include "lib/Runtime/Profile.h"

#include <algorithm>

namespace ane::runtime {

void OpProfile::add(std::string_view kernel, std::string_view op,
                    double seconds) {
  auto &[calls, total] = times[{std::string(kernel), std::string(op)}];
  calls += 1;
  total += seconds;
}

std::vector<OpProfile::Entry> OpProfile::entries() const {
  std::vector<Entry> out;
  for (const auto &[key, value] : times)
    out.push_back({key.first, key.second, value.first, value.second});
  std::stable_sort(out.begin(), out.end(), [](const Entry &a, const Entry &b) {
    return a.seconds > b.seconds;
  });
  return out;
}

double OpProfile::totalSeconds() const {
  double total = 0;
  for (const auto &entry : times)
    total += entry.second.second;
  return total;
}

} // namespace ane::runtime
