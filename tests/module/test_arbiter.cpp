// The memory arbiter serves one cycle's requests in key order, however the kernel ordered the
// requesting threads, and what one served request causes in the same cycle forms a later round.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "models/accelerator/arbiter.h"

namespace nibble {
namespace {

// Requesters that reach the arbiter at cycle `at` after `deltas` delta cycles, and record in
// `order` the key of each request as it is served.
struct Harness : sc_core::sc_module {
  SC_HAS_PROCESS(Harness);
  struct Requester {
    uint64_t key, at, deltas;
  };
  ClockDomain clock{"core", 1000};
  MemoryArbiter arbiter{"arbiter", clock};
  std::vector<Requester> requesters;
  std::vector<std::string> order;
  std::vector<uint64_t> served_at;

  Harness(sc_core::sc_module_name name, std::vector<Requester> r)
      : sc_module(name), requesters(std::move(r)) {
    for (std::size_t i = 0; i < requesters.size(); ++i) {
      sc_core::sc_spawn([this, i] { run(requesters[i]); });
    }
  }
  void run(const Requester& r) {
    sc_core::wait(clock.cycles(r.at));
    for (uint64_t d = 0; d < r.deltas; ++d) sc_core::wait(sc_core::SC_ZERO_TIME);
    arbiter.request(r.key, [this, &r](uint64_t now) {
      order.push_back(std::to_string(r.key) + "@" + std::to_string(now));
      return Timeline(now);
    });
    served_at.push_back(clock.now());
  }
};

TEST(MemoryArbiter, ServesOneCyclesRequestsInKeyOrderWhateverTheKernelOrder) {
  // At cycle 3, key 7 asks first (no delta), key 1 five deltas later, key 4 after two: served
  // 1, 4, 7 — one round. Key 0 asks at cycle 5 alone: its own round.
  Harness h("h", {{7, 3, 0}, {1, 3, 5}, {4, 3, 2}, {0, 5, 0}});
  sc_core::sc_start();
  EXPECT_EQ(h.order, (std::vector<std::string>{"1@3", "4@3", "7@3", "0@5"}));
  // Every requester resumes in the cycle it asked in.
  EXPECT_EQ(h.served_at, (std::vector<uint64_t>{3, 3, 3, 5}));
  EXPECT_EQ(h.arbiter.requests(), 4u);
  EXPECT_EQ(h.arbiter.rounds(), 2u);
}

}  // namespace
}  // namespace nibble
