// The ring between cores: one link from each core to each neighbour in both directions (clockwise
// and anticlockwise), `bytes_per_cycle` per link and direction, `hop_cycles` per hop. Transfers
// are collectives over all cores, served one at a time in the order requested; data is forwarded
// as it arrives (wormhole), so a payload crosses h hops in ceil(bytes / bytes_per_cycle) + h·hop
// cycles.
//
//   broadcast(S): one core sends S bytes to all others, half of them each way; the farthest core
//     is floor(P/2) hops away: ceil(S / bpc) + floor(P/2)·hop cycles; S·(P-1) byte-hops.
//   reduce_scatter(S): every core holds S bytes of partial sums; after P-1 steps each holds
//     the sum of one P-th. In each step every core sends a chunk of ceil(S/P) bytes to its
//     neighbour, half each way: (P-1)·(hop + ceil(ceil(ceil(S/P)/2) / bpc)) cycles;
//     (P-1)·P·ceil(S/P) byte-hops.
//   all_reduce(S): every core ends with the sum of all S bytes: a reduce-scatter, then an
//     all-gather of the P sums, which moves the same chunks in the same steps: twice the cycles
//     and byte-hops of reduce_scatter(S).
// With one core there is no ring: both cost nothing.
#pragma once

#include <cstdint>
#include <string>

#include "models/interfaces/memory.h"

namespace nibble {

struct RingParams {
  double bytes_per_cycle = 64;  // per link and direction
  uint64_t hop_cycles = 2;      // per hop, router and wire

  void read(ConfigNode& node);
  Json describe() const;
};

class Ring {
 public:
  Ring(const RingParams& params, uint64_t cores);

  const RingParams& params() const { return params_; }
  Timeline broadcast(uint64_t now, uint64_t bytes);
  Timeline reduce_scatter(uint64_t now, uint64_t bytes);
  Timeline all_reduce(uint64_t now, uint64_t bytes);
  // Cycles a collective takes on an idle ring.
  uint64_t broadcast_cycles(uint64_t bytes) const;
  uint64_t reduce_scatter_cycles(uint64_t bytes) const;

  uint64_t byte_hops() const { return byte_hops_; }
  void add_stats(Stats& stats, const std::string& prefix) const;

 private:
  Timeline reserve(uint64_t now, uint64_t cycles);
  RingParams params_;
  uint64_t cores_;
  uint64_t free_ = 0;  // cycle the ring is free again
  uint64_t collectives_ = 0, byte_hops_ = 0, busy_cycles_ = 0;
};

}  // namespace nibble
