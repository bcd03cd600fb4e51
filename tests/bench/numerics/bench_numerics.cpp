// Throughput of the reference GEMM kernels in models/numerics (GMAC/s, median of a few runs).
// Built by CMake, never run by ctest: timings depend on the machine. Run scripts/bench-numerics.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "models/numerics/gemm.h"
#include "models/numerics/prng.h"

namespace {

using nibble::numerics::GemmShape;
namespace nn = nibble::numerics;

template <typename T>
std::vector<T> random_codes(size_t n, int64_t lo, int64_t hi, uint64_t seed) {
  nn::SplitMix64 rng(seed);
  std::vector<T> v(n);
  const uint64_t span = static_cast<uint64_t>(hi - lo + 1);
  for (auto& x : v) x = static_cast<T>(lo + static_cast<int64_t>(rng.next() % span));
  return v;
}

double median_seconds(const std::function<void()>& run, int reps) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const auto stop = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double>(stop - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void bench(const std::string& name, int64_t size, int reps) {
  const GemmShape s{size, size, size};
  const size_t mk = static_cast<size_t>(s.m * s.k);
  const size_t kn = static_cast<size_t>(s.k * s.n);
  std::vector<float> c(static_cast<size_t>(s.m * s.n));
  std::function<void()> run;
  // Operands are captured by value so each kernel owns its inputs for the whole timing.
  if (name == "int4 x int4 -> int32 acc -> fp16") {
    auto a = random_codes<int8_t>(mk, -8, 7, 1);
    auto b = random_codes<int8_t>(kn, -8, 7, 2);
    run = [=, &c]() {
      nn::gemm_int(a.data(), nn::kInt4, b.data(), nn::kInt4, s, {}, 0.01, nn::OutputFormat::kFp16,
                   c.data());
    };
  } else if (name == "uint4 x int4 -> int32 acc -> fp32") {
    auto a = random_codes<int8_t>(mk, 0, 15, 1);
    auto b = random_codes<int8_t>(kn, -8, 7, 2);
    run = [=, &c]() {
      nn::gemm_int(a.data(), nn::kUint4, b.data(), nn::kInt4, s, {}, 0.01, nn::OutputFormat::kFp32,
                   c.data());
    };
  } else if (name == "int2 x int2 -> int32 acc -> fp32") {
    auto a = random_codes<int8_t>(mk, -2, 1, 1);
    auto b = random_codes<int8_t>(kn, -2, 1, 2);
    run = [=, &c]() {
      nn::gemm_int(a.data(), nn::kInt2, b.data(), nn::kInt2, s, {}, 1.0, nn::OutputFormat::kFp32,
                   c.data());
    };
  } else if (name == "int4 x int4 -> 12-bit acc, saturate (checked path)") {
    auto a = random_codes<int8_t>(mk, -8, 7, 1);
    auto b = random_codes<int8_t>(kn, -8, 7, 2);
    run = [=, &c]() {
      nn::gemm_int(a.data(), nn::kInt4, b.data(), nn::kInt4, s, {12, nn::OverflowMode::kSaturate},
                   1.0, nn::OutputFormat::kFp32, c.data());
    };
  } else if (name == "int4 x fp4 shift-MAC -> fp16 acc, CL=64") {
    auto a = random_codes<int8_t>(mk, -8, 7, 1);
    auto b = random_codes<uint8_t>(kn, 0, 15, 2);
    run = [=, &c]() {
      nn::gemm_int4_fp4(a.data(), b.data(), s, nn::Fp4Phase::kEven, {64, false, 1}, c.data());
    };
  } else if (name == "fp4 x int4 shift-MAC -> fp16 acc, CL=64, odd") {
    auto a = random_codes<uint8_t>(mk, 0, 15, 1);
    auto b = random_codes<int8_t>(kn, -8, 7, 2);
    run = [=, &c]() {
      nn::gemm_fp4_int4(a.data(), b.data(), s, nn::Fp4Phase::kOdd, {64, false, 1}, c.data());
    };
  } else if (name == "int4 x fp4 -> fp16 acc, stochastic") {
    auto a = random_codes<int8_t>(mk, -8, 7, 1);
    auto b = random_codes<uint8_t>(kn, 0, 15, 2);
    run = [=, &c]() {
      nn::gemm_int4_fp4(a.data(), b.data(), s, nn::Fp4Phase::kEven, {64, true, 1}, c.data());
    };
  } else if (name == "fp16 x fp16 -> fp16 acc, CL=64") {
    // Codes with fields 8..20 (2^-7 .. 2^5): finite, no overflow.
    auto a = random_codes<uint16_t>(mk, 0x2000, 0x53FF, 1);
    auto b = random_codes<uint16_t>(kn, 0x2000, 0x53FF, 2);
    run = [=, &c]() { nn::gemm_fp16(a.data(), b.data(), s, {64, false, 1}, c.data()); };
  } else if (name == "hfp8 1-4-3 x 1-5-2 -> fp9 -> fp16 acc, CL=64") {
    auto a = random_codes<uint8_t>(mk, 0, 255, 1);
    auto b = random_codes<uint8_t>(kn, 0, 0x6F, 2);
    run = [=, &c]() {
      nn::gemm_hfp8(a.data(), nn::hfp8_fwd(), b.data(), nn::hfp8_bwd(), s, {64, false, 1},
                    c.data());
    };
  } else if (name == "fp32 x fp32 -> fp32") {
    auto a = random_codes<int8_t>(mk, -8, 7, 1);
    auto b = random_codes<int8_t>(kn, -8, 7, 2);
    std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
    run = [=, &c]() { nn::gemm_fp32(af.data(), bf.data(), s, c.data()); };
  }
  const double sec = median_seconds(run, reps);
  std::printf("%-52s %5lld^3  %8.3f GMAC/s  (%.4f s)\n", name.c_str(), static_cast<long long>(size),
              s.macs() / sec * 1e-9, sec);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // "--quick" runs only the 256^3 shapes (for a smoke test of the binary).
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const std::vector<std::string> kernels = {
      "int4 x int4 -> int32 acc -> fp16",
      "uint4 x int4 -> int32 acc -> fp32",
      "int2 x int2 -> int32 acc -> fp32",
      "int4 x int4 -> 12-bit acc, saturate (checked path)",
      "int4 x fp4 shift-MAC -> fp16 acc, CL=64",
      "fp4 x int4 shift-MAC -> fp16 acc, CL=64, odd",
      "int4 x fp4 -> fp16 acc, stochastic",
      "fp16 x fp16 -> fp16 acc, CL=64",
      "hfp8 1-4-3 x 1-5-2 -> fp9 -> fp16 acc, CL=64",
      "fp32 x fp32 -> fp32",
  };
  std::printf("nibble numerics reference GEMM throughput (median)\n");
  for (const auto& k : kernels) bench(k, 256, 5);
  if (!quick) {
    for (const auto& k : kernels) {
      // The per-element checked and stochastic paths are slow; keep their large run short.
      const bool slow =
          k.find("checked") != std::string::npos || k.find("stochastic") != std::string::npos;
      bench(k, slow ? 512 : 1024, 3);
    }
  }
  return 0;
}
