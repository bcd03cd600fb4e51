// Figures of the DRAM models (not a test): for each DramController preset and four request
// patterns, the bandwidth achieved against the preset's peak, the row-hit rate and where the data
// bus lost its time; and the simulation speed of the controller and of the simple
// BandwidthLatency model on the same closed-loop streams. Built by CMake, never run by ctest:
// timings depend on the machine. Run scripts/bench-dram.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "models/dram/bandwidth_latency.h"
#include "models/dram/controller.h"
#include "models/dram/presets.h"
#include "models/numerics/prng.h"

namespace {

using nibble::BandwidthLatencyDram;
using nibble::BandwidthLatencyParams;
using nibble::DramCompletion;
using nibble::DramController;
using nibble::DramControllerParams;
using nibble::DramRequest;
using nibble::QueuedDram;

constexpr double kCoreMhz = 1000;  // 1 ns core cycles
constexpr uint64_t kOutstanding = 64;
constexpr uint64_t kMiB = uint64_t{1} << 20;

// The i-th request of a pattern (its tag is set by the driver).
struct Pattern {
  std::string name;
  std::function<DramRequest(uint64_t i)> make;
};

std::vector<Pattern> patterns() {
  std::vector<Pattern> out;
  // (a) One sequential stream of 512 B reads.
  out.push_back({"stream", [](uint64_t i) { return DramRequest{0, i * 512, 512, false}; }});
  // (b) 64 B reads at uniformly random 64 B-aligned addresses of 1 GiB.
  out.push_back({"random64", [](uint64_t i) {
                   nibble::numerics::SplitMix64 rng(nibble::numerics::derive_seed(7, i));
                   const uint64_t line = rng.next() % (1024 * kMiB / 64);
                   return DramRequest{0, line * 64, 64, false};
                 }});
  // (c) Two reads of a sequential read stream for each write of a sequential write stream
  //     (512 B each, the write stream 1 GiB above the read stream).
  out.push_back({"mixed2:1", [](uint64_t i) {
                   const uint64_t group = i / 3;
                   if (i % 3 == 2) return DramRequest{0, 1024 * kMiB + group * 512, 512, true};
                   return DramRequest{0, (2 * group + i % 3) * 512, 512, false};
                 }});
  // (d) Four sequential 512 B read streams 256 MiB apart, taking turns (like four cores).
  out.push_back({"4streams", [](uint64_t i) {
                   return DramRequest{0, (i % 4) * 256 * kMiB + (i / 4) * 512, 512, false};
                 }});
  return out;
}

uint64_t total_bytes(const Pattern& p, uint64_t n) {
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < n; ++i) bytes += p.make(i).bytes;
  return bytes;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Outcome {
  double gbps = 0;       // bytes over the time of the last completion
  double host_s = 0;     // host time of the simulation
  nibble::Json summary;  // the controller's (empty for the simple model)
};

// Closed loop: `kOutstanding` requests in flight; each completion issues the next request at its
// completion time. The controller is run to the next completion the driver knows of (run()
// stops after any decision that completes something, so nothing is skipped).
Outcome run_controller(const DramControllerParams& params, const Pattern& pattern, uint64_t n) {
  const auto start = std::chrono::steady_clock::now();
  DramController dram(params, kCoreMhz);
  using Done = std::pair<uint64_t, uint64_t>;  // (done_ps, tag)
  std::priority_queue<Done, std::vector<Done>, std::greater<Done>> pending;
  uint64_t issued = 0, completed = 0, last_ps = 0;
  auto issue = [&](uint64_t at_ps) {
    DramRequest r = pattern.make(issued);
    r.tag = issued++;
    dram.enqueue(at_ps, r);
  };
  while (issued < std::min(n, kOutstanding)) issue(0);
  std::vector<DramCompletion> done;
  while (completed < n) {
    const uint64_t next = pending.empty() ? QueuedDram::kNever : pending.top().first;
    done.clear();
    if (dram.run(next, done)) {
      for (const DramCompletion& c : done) pending.push({c.done_ps, c.tag});
      continue;
    }
    const uint64_t t = pending.top().first;
    while (!pending.empty() && pending.top().first == t) {
      pending.pop();
      ++completed;
      last_ps = t;
      if (issued < n) issue(t);
    }
  }
  Outcome o;
  o.host_s = seconds_since(start);
  o.gbps = static_cast<double>(total_bytes(pattern, n)) / static_cast<double>(last_ps) * 1e3;
  o.summary = dram.summary((last_ps + 999) / 1000);
  return o;
}

// The same loop on the first-order model, in core cycles: its bandwidth is the preset's peak,
// its latency the controller's unloaded read.
Outcome run_simple(const DramController& reference, const DramControllerParams& params,
                   const Pattern& pattern, uint64_t n) {
  const auto start = std::chrono::steady_clock::now();
  BandwidthLatencyParams p;
  p.bandwidth_gbps = reference.peak_gbps();
  p.channels = params.channels;
  p.latency_ns = static_cast<double>(reference.latency_cycles()) * 1e3 / kCoreMhz;
  BandwidthLatencyDram dram(p, kCoreMhz);
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> pending;
  uint64_t issued = 0, completed = 0, last = 0;
  auto issue = [&](uint64_t at) {
    const DramRequest r = pattern.make(issued++);
    pending.push(dram.access(at, r.bytes, r.write).done);
  };
  while (issued < std::min(n, kOutstanding)) issue(0);
  while (completed < n) {
    const uint64_t t = pending.top();
    pending.pop();
    ++completed;
    last = t;
    if (issued < n) issue(t);
  }
  Outcome o;
  o.host_s = seconds_since(start);
  o.gbps =
      static_cast<double>(total_bytes(pattern, n)) / (static_cast<double>(last) / kCoreMhz) / 1e3;
  return o;
}

// Share of the data bus tCK of all channels spent on `what` (a stall cause, or busy / idle).
double bus_share(const nibble::Json& summary, const std::string& what) {
  uint64_t part = 0, all = 0;
  for (const auto& ch : summary["channels"]) {
    const uint64_t busy = ch["bus_busy_cycles"].get<uint64_t>();
    const uint64_t idle = ch["bus_idle_cycles"].get<uint64_t>();
    all += busy + idle;
    for (const auto& [cause, v] : ch["bus_stall_cycles"].items()) {
      all += v.get<uint64_t>();
      if (cause == what) part += v.get<uint64_t>();
    }
    if (what == "idle") part += idle;
  }
  return all == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(all);
}

}  // namespace

int main(int argc, char** argv) {
  // "--quick": fewer requests (a smoke test of the binary).
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const uint64_t n = quick ? 5000 : 200000;
  std::printf("DRAM models, closed loop of %llu requests, %llu outstanding, core clock %.0f MHz\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(kOutstanding),
              kCoreMhz);
  std::printf(
      "bus stalls: %% of data-bus tCK (row, refresh, turnaround, act = tFAW/tRRD, "
      "latency, idle)\n\n");
  std::printf("%-7s %-9s %8s %6s %6s | %5s %5s %5s %5s %5s %5s | %9s %8s | %8s %9s %8s\n", "preset",
              "pattern", "GB/s", "%peak", "hit%", "row", "ref", "turn", "act", "lat", "idle",
              "ctl req/s", "ctl GB/s", "simple", "smp req/s", "smp GB/s");
  std::printf("%-7s %-9s %8s %6s %6s | %35s | %18s | %8s %18s\n", "", "", "achieved", "", "", "",
              "(simulated GB per host s)", "GB/s", "(per host s)");
  for (const std::string& name : nibble::dram_preset_names()) {
    const DramControllerParams params = nibble::dram_preset(name);
    const DramController reference(params, kCoreMhz);
    for (const Pattern& pattern : patterns()) {
      const Outcome c = run_controller(params, pattern, n);
      const Outcome s = run_simple(reference, params, pattern, n);
      const double gb = static_cast<double>(total_bytes(pattern, n)) / 1e9;
      std::printf(
          "%-7s %-9s %8.2f %6.1f %6.1f | %5.1f %5.1f %5.1f %5.1f %5.1f %5.1f | %9.0f %8.2f | "
          "%8.2f %9.0f %8.2f\n",
          name.c_str(), pattern.name.c_str(), c.gbps, 100.0 * c.gbps / reference.peak_gbps(),
          100.0 * c.summary["row_hit_rate"].get<double>(), bus_share(c.summary, "row"),
          bus_share(c.summary, "refresh"), bus_share(c.summary, "turnaround"),
          bus_share(c.summary, "activation_window"), bus_share(c.summary, "latency"),
          bus_share(c.summary, "idle"), static_cast<double>(n) / c.host_s, gb / c.host_s, s.gbps,
          static_cast<double>(n) / s.host_s, gb / s.host_s);
      std::fflush(stdout);
    }
    std::printf("%-7s peak %.1f GB/s, unloaded read %.1f ns\n\n", name.c_str(),
                reference.peak_gbps(),
                reference.describe()["unloaded_read_latency_ns"].get<double>());
  }
  return 0;
}
