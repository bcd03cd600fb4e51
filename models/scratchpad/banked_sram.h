// A core's scratchpad: a banked SRAM of `capacity_bytes`, `banks` banks interleaved word by word
// (a word is `bank_width_bytes`, the bytes a bank delivers per port per cycle), `ports` ports per
// bank. Data is packed by precision: two INT4 or FP4 values to a byte, two bytes to an FP16.
//
// Timing of a vector access (one word from each of `lanes` places `stride` words apart, as a
// systolic array reads one operand word per PE row): the lanes fall into banks/g distinct banks,
// g = gcd(stride, banks), evenly; a bank serves `ports` words per cycle, so the access takes
// ceil(ceil(lanes / (banks/g)) / ports) cycles. Accesses that fall into one bank serialise; with
// stride 1 (or any stride coprime to banks) the access is conflict-free.
#pragma once

#include <cstdint>
#include <string>

#include "models/interfaces/memory.h"
#include "sim/config.h"
#include "sim/stats.h"

namespace nibble {

struct BankedSramParams {
  uint64_t capacity_bytes = 256 * 1024;  // total over all banks
  uint64_t banks = 16;                   // banks, interleaved one word at a time
  uint64_t ports = 1;                    // words each bank serves per cycle
  uint64_t bank_width_bytes = 16;        // bytes per bank per port per cycle (one word)
  uint64_t row_pad_words = 0;            // words of padding the mapper adds after each tile row

  void read(ConfigNode& node);
  Json describe() const;
  uint64_t bytes_per_cycle() const { return banks * ports * bank_width_bytes; }
};

class BankedSram {
 public:
  explicit BankedSram(const BankedSramParams& params);

  const BankedSramParams& params() const { return params_; }
  // Cycles to read one word from each of `lanes` places `stride_words` apart.
  uint64_t vector_cycles(uint64_t lanes, uint64_t stride_words) const;
  // Words of a row of `row_bits`, and the pitch (words from one row's start to the next's) the
  // mapper lays such rows out at.
  uint64_t row_words(uint64_t row_bits) const;
  uint64_t pitch_words(uint64_t row_bits) const {
    return row_words(row_bits) + params_.row_pad_words;
  }
  // Cycles to read `vectors` as laid out, and the cycles the same words would take with no bank
  // conflicts (every vector at stride 1).
  struct ReadCost {
    uint64_t cycles = 0, conflict_free_cycles = 0;
  };
  ReadCost row_vector_cost(const RowVectors& vectors) const;
  // Cycles to stream `bits` of contiguous words through every bank and port.
  uint64_t stream_cycles(uint64_t bits) const;

  // Occupancy bookkeeping (bytes held by tiles), with the high-water mark.
  void hold(uint64_t bytes);
  void release(uint64_t bytes);
  uint64_t held() const { return held_; }
  uint64_t high_water() const { return high_water_; }
  void reset_high_water() { high_water_ = held_; }

  // Traffic counters (bytes).
  void count_read(uint64_t bytes) { read_bytes_ += bytes; }
  void count_write(uint64_t bytes) { write_bytes_ += bytes; }
  uint64_t read_bytes() const { return read_bytes_; }
  uint64_t write_bytes() const { return write_bytes_; }
  void add_stats(Stats& stats, const std::string& prefix, uint64_t run_high_water) const;

 private:
  BankedSramParams params_;
  uint64_t held_ = 0, high_water_ = 0;
  uint64_t read_bytes_ = 0, write_bytes_ = 0;
};

}  // namespace nibble
