//===- PairMerge.h - merging the best adjacent pair, repeatedly -*- C++ -*-===//
//
// Both BPE flavours merge the best adjacent pair (the leftmost of equally
// good ones) until no pair merges: SentencePiece by the merged token's
// score, byte-level BPE by merge rank. Rescanning every pair after each
// merge takes n^2 lookups; the same merges in the same order come from a
// heap of the current pairs over a linked list of items, entries that a
// merge made stale recognised by their items' versions and skipped.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_PAIRMERGE_H
#define ANE_LIB_MODEL_PAIRMERGE_H

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace ane::model {

/// Merges adjacent items of `items`, best first. `score(a, b)` is the
/// pair's priority (higher merges first) or nullopt when it does not
/// merge; `merge(a, b)` folds b into a.
template <typename T, typename Score, typename Merge>
void mergeAdjacentPairs(std::vector<T> &items, Score score, Merge merge) {
  size_t n = items.size();
  if (n < 2)
    return;
  struct Pair {
    double score;
    size_t left, right;
    uint32_t leftVersion, rightVersion;
  };
  auto later = [](const Pair &a, const Pair &b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(later)> heap(later);
  std::vector<size_t> prev(n), next(n);
  std::vector<uint32_t> version(n, 0);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = i - 1; // item 0 has none: it is never a right side, so it
    next[i] = i + 1; // stays first, and prev[0] is never read
  }
  auto consider = [&](size_t a, size_t b) {
    if (std::optional<double> s = score(items[a], items[b]))
      heap.push({*s, a, b, version[a], version[b]});
  };
  for (size_t i = 0; i + 1 < n; ++i)
    consider(i, i + 1);
  while (!heap.empty()) {
    Pair p = heap.top();
    heap.pop();
    if (!alive[p.left] || !alive[p.right] || next[p.left] != p.right ||
        version[p.left] != p.leftVersion || version[p.right] != p.rightVersion)
      continue;
    merge(items[p.left], items[p.right]);
    ++version[p.left];
    alive[p.right] = false;
    next[p.left] = next[p.right];
    if (next[p.left] < n)
      prev[next[p.left]] = p.left;
    if (p.left > 0)
      consider(prev[p.left], p.left);
    if (next[p.left] < n)
      consider(p.left, next[p.left]);
  }
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!alive[i])
      continue;
    if (kept != i) // a string moved onto itself would be emptied
      items[kept] = std::move(items[i]);
    ++kept;
  }
  items.resize(kept);
}

} // namespace ane::model

#endif // ANE_LIB_MODEL_PAIRMERGE_H
