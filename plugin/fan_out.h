// Asking several clusters the same question at once, so that one cluster
// that does not answer costs one connect timeout, not one per cluster.
#pragma once

#include <future>
#include <vector>

namespace rbdvol::plugin {

// Calls fn(item) for every item on its own thread and returns the results in
// the order of `items`. fn must not throw.
template <typename Item, typename Fn>
auto fan_out(const std::vector<Item>& items, Fn fn) -> std::vector<decltype(fn(items[0]))> {
  using R = decltype(fn(items[0]));
  std::vector<std::future<R>> futures;
  futures.reserve(items.size());
  for (const auto& item : items) {
    futures.push_back(std::async(std::launch::async, [&fn, &item] { return fn(item); }));
  }
  std::vector<R> results;
  results.reserve(items.size());
  for (auto& f : futures) results.push_back(f.get());
  return results;
}

}  // namespace rbdvol::plugin
