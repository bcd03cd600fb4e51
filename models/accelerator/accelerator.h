// The accelerator top: `cores` cores (models/accelerator/core.h) sharing a DRAM, a ring and an
// optional shared buffer, and a controller that starts the ops of a workload as their
// dependencies and units allow.
//
// For every op the mapper (models/mapper) chooses, before anything runs, how to split it across
// the cores and tile it into their scratchpads. Routing inside a core: INT4×FP4 GEMMs to the
// log-domain gradient unit, other GEMMs to the MAC array, quantize ops to the rescaling unit,
// vector ops to the SFU; gradient all-reduces to the ring.
//
// Scheduling (accelerator.scheduler): under the `dataflow` policy (the default) an op is handed to
// its unit on every core once every op it depends on (`deps` in the trace) has finished on all
// cores and it lies within `lookahead_ops` of the oldest unfinished op (of the ops that become
// ready together, the earlier in the trace first); a core's unit runs the ops it was handed in
// that order, each once it has finished the one before and its scratchpad footprint fits beside
// the ops running there. So a GEMM on the MAC array runs while
// the SFU applies an earlier op's activation and the rescaling unit quantizes another's output.
// Under `serial` an op starts only when the op before it has finished on every core (the order of
// earlier releases: the cores that finish first wait, a dependency stall).
//
// `sim.ideal_memory` keeps the mapping but lets every transfer take no time (bytes still counted),
// and tiles each core's part as one piece when it fits. The controller stops starting ops on an
// interrupt and ends once the running ones finish, so the finished ops can still be reported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <systemc>

#include "models/accelerator/core.h"
#include "models/accelerator/live_ops.h"
#include "models/interfaces/compute_unit.h"
#include "models/systolic/scalesim_memory.h"
#include "sim/clock.h"
#include "sim/config.h"
#include "sim/run_result.h"
#include "sim/vcd.h"
#include "sim/workload.h"

namespace nibble {

// Run-wide settings from the config's `clock` and `sim` objects.
struct SimSettings {
  double core_mhz = 1000;               // clock.core_mhz
  Fidelity fidelity = Fidelity::kTile;  // sim.fidelity
  uint64_t seed = 1;                    // sim.seed
  std::vector<TracedPe> vcd_pes;        // sim.vcd_pes: PEs whose registers go to a VCD file
  std::string vcd_pes_origin;           // where sim.vcd_pes came from, for messages
  bool ideal_memory = false;            // sim.ideal_memory: transfers take no time
  bool fast_forward = true;             // sim.fast_forward: exact shortcuts (same report)

  // Reads `clock` and `sim` from the root of a config.
  static SimSettings from_config(ConfigNode& root);
};

// accelerator.scheduler: how ops are started (see the top of this file).
struct SchedulerParams {
  bool serial = false;           // policy "serial" (else "dataflow")
  uint64_t lookahead_ops = 256;  // dataflow: how far past the oldest unfinished op ops may start
  // dataflow: the share of each scratchpad the element-wise units (rescale, sfu) each plan their
  // tiles in; the GEMM units plan in the rest, so a GEMM and an element-wise op fit at once.
  double elementwise_scratchpad_fraction = 0.25;

  void read(ConfigNode& node);
  Json describe() const;
};

// accelerator.memory: how the memory below the arrays is modelled. `hierarchy` (the default):
// scratchpads, DMA, DRAM, shared buffer and ring as configured. `scalesim_user`: SCALE-Sim v2's
// USER-bandwidth memory (models/systolic/scalesim_memory.h) for one array: every GEMM and conv
// layer takes SCALE-Sim's total cycles (its stall-free compute plus its stalls; never fewer than
// the compute), every other transfer takes no time.
struct MemoryModeParams {
  bool scalesim_user = false;
  ScaleSimMemoryParams scalesim{6144, 6144, 2048, 10};  // SCALE-Sim's shipped scale.cfg

  void read(ConfigNode& node);
  Json describe() const;
};

// A finished op, handed to the report in trace order.
struct FinishedOp {
  Op op;
  OpResult result;
  OpData data;  // its tensors and the units' results (for accuracy)
};

class Accelerator : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Accelerator);
  // Builds the cores and memory from `accelerator` (the config object of that name); the ops of
  // `workload` (with `data`, per op, when given) are the first and only window unless more are
  // added. Throws InputError for a bad config, an op no unit can run or one that fits no tiling.
  // `vcd` (may be null) receives waveforms in cycle fidelity.
  Accelerator(sc_core::sc_module_name name, ConfigNode accelerator, const SimSettings& settings,
              const Workload& workload, std::vector<OpData>* data = nullptr,
              VcdWriter* vcd = nullptr);
  ~Accelerator() override;

  // The energy-table events a run will price, each with the name of the first op that needs it,
  // so that a missing entry is reported before simulating.
  std::vector<std::pair<std::string, std::string>> required_energy_events() const;
  // What one op needs: a unit that runs it (InputError otherwise; returns its slot) and the
  // energy events it will price. For checking a streamed trace before any window runs.
  std::size_t check_op(const Op& op) const;
  std::vector<std::string> energy_events(const Op& op) const;
  // The capacities and units the energy table prices (size-dependent SRAM events, leakage).
  EnergyContext energy_context() const;

  // Windows: a long trace comes a window of ops at a time. add_window() checks and maps the next
  // ops of the trace (InputError before anything of them runs); `last` says no more will come.
  // sc_start() then runs until the controller needs the next window (it pauses the kernel; the
  // ops running go on when sc_start() is called again) or everything has finished. Results do not
  // depend on the window size: the controller never looks further than lookahead_ops ahead.
  void add_window(const std::vector<Op>& ops, std::vector<OpData> data, bool last);
  bool needs_window() const { return waiting_for_ops_; }
  // The finished ops not yet taken, a prefix of the trace.
  std::vector<FinishedOp> take_ops();

  // Records the run into `timeline` (call before sc_start): one track per unit per core with its
  // ops and stalls, the unit's loads and stores (async), one track per DRAM channel (its data bus
  // busy), the ring's all-reduces. finish_timeline() writes what is still open.
  void set_timeline(TimelineWriter* timeline);
  void finish_timeline();

  // Run totals and unit statistics (and the finished ops not taken); call after the simulation
  // has ended.
  RunResult result() const;

  // The slot of ops no unit runs: gradient reductions, which the ring carries.
  static constexpr std::size_t kRingSlot = ~std::size_t{0};

 private:
  struct Limit {
    std::string name, unit, description;
    double limit = 0;
  };

  // The DRAM channels' data buses on the timeline.
  class ChannelTracks : public DramObserver {
   public:
    ChannelTracks(TimelineWriter& writer, uint64_t channels);
    void on_transfer(uint64_t channel, uint64_t start_ps, uint64_t end_ps, bool write) override;
    void flush();

   private:
    std::vector<BusyTrack> tracks_;
  };

  std::size_t route(const Op& op) const;  // index into a core's slots
  MapperTarget mapper_target(std::size_t slot) const;
  void control();
  void ring_runner();
  // Hands every op that may start to its unit; true when something was handed over.
  bool dispatch();
  void start(uint64_t index);
  // Gives the cycles since the last call to the ops running, evenly (the oldest first with any
  // remainder).
  void attribute_cycles();
  void finish(uint64_t index);
  bool visible(uint64_t index) const;
  uint64_t sight() const;  // one past the last op the scheduler may start
  uint64_t oldest_unfinished() const;
  Json assumption_checks() const;

  SimSettings settings_;
  const Workload& workload_;  // the first window (and the file, for messages)
  ClockDomain clock_;
  UnitContext context_;
  ChipMemory chip_;
  MapperParams mapper_;
  SchedulerParams scheduler_;
  MemoryModeParams memory_mode_;
  std::vector<std::string>
      schedule_origins_;  // scalesim_user: per slot, where its schedule was set
  LiveOps ops_;
  PlanCache plans_made_;  // by op (mapper.h); plans depend on nothing else of a run
  std::vector<std::unique_ptr<Core>> cores_;
  std::unique_ptr<MemoryArbiter> arbiter_;  // serves the cores' memory requests (chip_.arbiter)
  std::unique_ptr<QueuedDma> queued_dma_;
  std::vector<std::unique_ptr<RingBroadcaster>> broadcasters_;  // per core, with a controller
  std::unique_ptr<ChannelTracks>
      channel_tracks_;  // with a timeline      // the DMA engines, with a DRAM controller
  std::vector<std::vector<uint64_t>> queued_;  // per unit slot (the ring last): ops not yet started
  std::vector<uint64_t> running_;              // ops started and not finished
  BoundedQueue<uint64_t> ring_ops_;            // all-reduces for the ring runner
  std::vector<Limit> limits_;
  // Run-wide figures for the assumption checks.
  uint64_t peak_scratchpad_ = 0, peak_shared_buffer_ = 0, peak_psum_buffer_ = 0;
  uint64_t acc_bits_needed_ = 0;
  double peak_dram_gbps_needed_ = 0;
  StallCycles total_stalls_{};
  uint64_t total_busy_ = 0;
  bool complete_ = false;
  bool last_window_ = true, interrupted_ = false, waiting_for_ops_ = false;
  uint64_t unfinished_ = 0;                 // ops added and not finished
  mutable uint64_t oldest_unfinished_ = 0;  // no op before it is unfinished
  sc_core::sc_event window_ready_;
  uint64_t last_attributed_ = 0;
  uint64_t last_end_cycle_ = 0, dram_read_total_ = 0, dram_write_total_ = 0;
};

// Elaborates an accelerator from a whole config (clock, sim, accelerator) for `workload`,
// simulates it and returns the result; `data` (per op, may be null) carries tensors in and the
// units' results out. A process can do this once (a SystemC kernel elaborates once). For tests
// and tools; `nibble run` drives Accelerator itself.
RunResult simulate(const Json& config, const Workload& workload,
                   std::vector<OpData>* data = nullptr);

}  // namespace nibble
