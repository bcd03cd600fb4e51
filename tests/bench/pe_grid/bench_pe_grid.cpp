// The baselines of cycle fidelity's speed (P3 of scripts/bench-perf; not a test): on an R×C
// output-stationary array, PE-cycles per host second of
//   plain:  the loop an engineer would write without SystemC: every cycle every PE takes the
//           operand from its left and top neighbours, multiplies and accumulates (INT8 operands,
//           INT32 accumulators, real values), fold after fold;
//   grid:   Nibble's PeGrid (models/systolic/pe_grid.h) stepped alone, no SystemC kernel, on the
//           same GEMM (what `nibble run --set sim.fidelity=cycle` steps inside its unit).
// usage: bench_pe_grid ROWS COLS M N K   -> one line: "plain_pe_cycles_per_s grid_pe_cycles_per_s
// grid_cycles" (scripts/bench-perf sets it beside nibble's own run of the same GEMM).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "models/systolic/pe_grid.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Steps an R×C os array over C = A·B (A M×K, B K×N, row-major INT8) fold by fold: fold (mi, ni)
// streams K elements skewed by one cycle per row/column and takes K + R + C − 2 cycles. Returns
// the PE-cycles stepped; `checksum` keeps the arithmetic from being optimised away.
uint64_t plain_os(uint64_t rows, uint64_t cols, uint64_t m, uint64_t n, uint64_t k,
                  const std::vector<int8_t>& a, const std::vector<int8_t>& b, int64_t& checksum) {
  std::vector<int8_t> ra(rows * cols), rb(rows * cols);
  std::vector<int32_t> acc(rows * cols);
  uint64_t pe_cycles = 0;
  for (uint64_t m0 = 0; m0 < m; m0 += rows) {
    for (uint64_t n0 = 0; n0 < n; n0 += cols) {
      std::fill(ra.begin(), ra.end(), 0);
      std::fill(rb.begin(), rb.end(), 0);
      std::fill(acc.begin(), acc.end(), 0);
      const uint64_t cycles = k + rows + cols - 2;
      for (uint64_t t = 0; t < cycles; ++t) {
        // Bottom-right first, so that each PE reads its neighbours' values of the last cycle.
        for (uint64_t r = rows; r-- > 0;) {
          for (uint64_t c = cols; c-- > 0;) {
            const uint64_t p = r * cols + c;
            int8_t av = 0, bv = 0;
            if (c > 0) {
              av = ra[p - 1];
            } else if (t >= r && t - r < k && m0 + r < m) {
              av = a[(m0 + r) * k + (t - r)];
            }
            if (r > 0) {
              bv = rb[p - cols];
            } else if (t >= c && t - c < k && n0 + c < n) {
              bv = b[(t - c) * n + (n0 + c)];
            }
            ra[p] = av;
            rb[p] = bv;
            acc[p] += int32_t{av} * int32_t{bv};
          }
        }
      }
      pe_cycles += cycles * rows * cols;
      for (int32_t v : acc) checksum += v;
    }
  }
  return pe_cycles;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: bench_pe_grid ROWS COLS M N K\n");
    return 2;
  }
  const uint64_t rows = std::strtoull(argv[1], nullptr, 10),
                 cols = std::strtoull(argv[2], nullptr, 10);
  const uint64_t m = std::strtoull(argv[3], nullptr, 10), n = std::strtoull(argv[4], nullptr, 10),
                 k = std::strtoull(argv[5], nullptr, 10);
  if (rows == 0 || cols == 0 || m == 0 || n == 0 || k == 0) {
    std::fprintf(stderr, "bench_pe_grid: every size must be a positive integer\n");
    return 2;
  }
  std::vector<int8_t> a(m * k), b(k * n);
  for (uint64_t i = 0; i < a.size(); ++i) a[i] = static_cast<int8_t>(i * 7 % 15) - 7;
  for (uint64_t i = 0; i < b.size(); ++i) b[i] = static_cast<int8_t>(i * 5 % 15) - 7;

  int64_t checksum = 0;
  auto start = std::chrono::steady_clock::now();
  const uint64_t plain_pe_cycles = plain_os(rows, cols, m, n, k, a, b, checksum);
  const double plain_s = seconds_since(start);

  nibble::PeGrid grid({rows, cols}, nibble::Dataflow::kOs, nibble::Schedule::kPipelined);
  start = std::chrono::steady_clock::now();
  grid.start({m, n, k});
  while (!grid.done()) grid.step();
  const double grid_s = seconds_since(start);
  const uint64_t grid_pe_cycles = grid.steps() * rows * cols;

  std::printf("%.6g %.6g %llu\n", static_cast<double>(plain_pe_cycles) / plain_s,
              static_cast<double>(grid_pe_cycles) / grid_s,
              static_cast<unsigned long long>(grid.steps()));
  std::fprintf(stderr, "checksum %lld, macs %llu\n", static_cast<long long>(checksum),
               static_cast<unsigned long long>(grid.macs()));
  return 0;
}
