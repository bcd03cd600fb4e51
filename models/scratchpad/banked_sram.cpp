#include "models/scratchpad/banked_sram.h"

#include <numeric>
#include <stdexcept>

#include "sim/error.h"

namespace nibble {

namespace {
uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
}  // namespace

void BankedSramParams::read(ConfigNode& node) {
  const auto get = [&](const char* key, uint64_t& value, int64_t min, int64_t max) {
    value = static_cast<uint64_t>(node.get_int(key, static_cast<int64_t>(value), min, max));
  };
  get("capacity_bytes", capacity_bytes, 64, int64_t{1} << 40);
  get("banks", banks, 1, 4096);
  get("ports", ports, 1, 16);
  get("bank_width_bytes", bank_width_bytes, 1, 4096);
  get("row_pad_words", row_pad_words, 0, 64);
}

Json BankedSramParams::describe() const {
  return {{"capacity_bytes", capacity_bytes},
          {"banks", banks},
          {"ports", ports},
          {"bank_width_bytes", bank_width_bytes},
          {"row_pad_words", row_pad_words},
          {"bytes_per_cycle", bytes_per_cycle()}};
}

BankedSram::BankedSram(const BankedSramParams& params) : params_(params) {}

uint64_t BankedSram::vector_cycles(uint64_t lanes, uint64_t stride_words) const {
  if (lanes == 0) return 0;
  const uint64_t banks = params_.banks;
  const uint64_t g = std::gcd(stride_words % banks, banks);  // gcd(0, b) = b: one bank
  const uint64_t distinct = banks / g;
  return ceil_div(ceil_div(lanes, distinct), params_.ports);
}

uint64_t BankedSram::row_words(uint64_t row_bits) const {
  return ceil_div(ceil_div(row_bits, 8), params_.bank_width_bytes);
}

BankedSram::ReadCost BankedSram::row_vector_cost(const RowVectors& v) const {
  const uint64_t columns = row_words(v.row_bits);
  ReadCost cost;
  cost.cycles = v.repeats * columns * vector_cycles(v.lanes, pitch_words(v.row_bits));
  cost.conflict_free_cycles = v.repeats * columns * vector_cycles(v.lanes, 1);
  return cost;
}

uint64_t BankedSram::stream_cycles(uint64_t bits) const {
  return ceil_div(ceil_div(ceil_div(bits, 8), params_.bank_width_bytes),
                  params_.banks * params_.ports);
}

void BankedSram::hold(uint64_t bytes) {
  held_ += bytes;
  high_water_ = std::max(high_water_, held_);
}

void BankedSram::release(uint64_t bytes) {
  if (bytes > held_) throw std::logic_error("scratchpad released more than it held");
  held_ -= bytes;
}

void BankedSram::add_stats(Stats& stats, const std::string& prefix, uint64_t run_high_water) const {
  stats.add(prefix + "read_bytes", read_bytes_, "byte",
            "bytes read (operands by the units, results by the DMA)");
  stats.add(prefix + "write_bytes", write_bytes_, "byte",
            "bytes written (tiles by the DMA, results by the units)");
  stats.add(prefix + "high_water_bytes", run_high_water, "byte", "most bytes held at once");
}

}  // namespace nibble
