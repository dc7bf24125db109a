// ParallelFor: runs fn(i) for every i in [0, n) on up to `threads` threads.
//
// The compiler's batch steps (parsing files, rendering hosts, writing
// rulesets) are independent per item; each item's result goes to its own slot,
// so the output is the same for any thread count. Items are handed out one at
// a time from a shared counter, so a few large items (one big file) do not
// leave a thread idle while another has a queue.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace polder {

// How many threads ParallelFor(n, threads, ...) runs: worker indices are below this.
inline size_t ParallelWorkers(size_t n, int threads) {
  return std::max<size_t>(1, std::min<size_t>(n, static_cast<size_t>(std::max(1, threads))));
}

// fn(worker, i): `worker` (below ParallelWorkers) names the thread, for per-thread state.
template <typename Fn>
void ParallelForWorkers(size_t n, int threads, Fn&& fn) {
  std::atomic<size_t> next{0};
  auto worker = [&](size_t w) {
    for (size_t i = next++; i < n; i = next++) fn(w, i);
  };
  size_t count = ParallelWorkers(n, threads);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < count; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (std::thread& t : pool) t.join();
}

template <typename Fn>
void ParallelFor(size_t n, int threads, Fn&& fn) {
  ParallelForWorkers(n, threads, [&](size_t, size_t i) { fn(i); });
}

}  // namespace polder
