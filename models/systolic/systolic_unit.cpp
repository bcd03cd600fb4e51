#include "models/systolic/systolic_unit.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>

#include "models/numerics/prng.h"
#include "sim/error.h"

namespace nibble {

namespace {

bool integer_datapath(Precision p) {
  const std::string d = datapath_of(p);
  return d == "int2" || d == "int4" || d == "int8";
}

// Width of a partial sum written to the buffer: the integer accumulator, or the FP16 (FP32)
// accumulation format.
uint64_t psum_bits(const Op& op, uint32_t acc_bits) {
  if (integer_datapath(op.precision.a) && integer_datapath(op.precision.b)) return acc_bits;
  if (op.precision.a == Precision::kFp32 || op.precision.b == Precision::kFp32) return 32;
  return 16;
}

}  // namespace

int datapath_rank(const std::string& datapath) {
  static const char* const kOrder[] = {"int2", "int4", "int8", "fp4", "hfp8", "fp16", "fp32"};
  return static_cast<int>(std::find(std::begin(kOrder), std::end(kOrder), datapath) -
                          std::begin(kOrder));
}

void SystolicUnitParams::read(ConfigNode& node, bool integer_accumulator) {
  rows = static_cast<uint64_t>(node.get_int("rows", static_cast<int64_t>(rows), 1, 4096));
  cols = static_cast<uint64_t>(node.get_int("cols", static_cast<int64_t>(cols), 1, 4096));
  const std::string d = node.get_choice("dataflow", to_string(dataflow), {"os", "ws", "is"});
  dataflow = d == "os" ? Dataflow::kOs : d == "ws" ? Dataflow::kWs : Dataflow::kIs;
  const std::string s = node.get_choice("schedule", to_string(schedule), {"pipelined", "scalesim"});
  schedule = s == "pipelined" ? Schedule::kPipelined : Schedule::kScaleSim;
  if (integer_accumulator) {
    acc_bits = static_cast<uint32_t>(node.get_int("acc_bits", acc_bits, 8, 64));
    acc_saturate = node.get_choice("acc_overflow", acc_saturate ? "saturate" : "wrap",
                                   {"wrap", "saturate"}) == "saturate";
  }
  fp16_chunk = node.get_int("fp16_chunk", fp16_chunk, 0, 1 << 20);
  stochastic_rounding = node.get_bool("stochastic_rounding", stochastic_rounding);
}

Json SystolicUnitParams::describe() const {
  return {{"rows", rows},
          {"cols", cols},
          {"dataflow", to_string(dataflow)},
          {"schedule", to_string(schedule)}};
}

SystolicUnit::SystolicUnit(sc_core::sc_module_name name, const SystolicUnitParams& params,
                           const UnitContext& context)
    : ComputeUnit(name, context), params_(params) {
  if (context_.fidelity == Fidelity::kCycle) {
    grid_ = std::make_unique<PeGrid>(params_.shape(), params_.dataflow, params_.schedule);
    if (context_.vcd != nullptr) {
      // One scope per traced PE inside this array; PEs outside it are skipped.
      for (const TracedPe& pe : context_.traced_pes) {
        if (pe.row >= params_.rows || pe.col >= params_.cols) continue;
        traced_.push_back(pe);
        std::vector<uint32_t> ids;
        const std::string scope = std::string(this->name()) + ".pe_" + std::to_string(pe.row) +
                                  "_" + std::to_string(pe.col);
        for (const PeRegisterInfo& reg : grid_->pe_registers()) {
          ids.push_back(context_.vcd->add_signal(scope, reg.name, reg.width_bits));
        }
        vcd_ids_.push_back(std::move(ids));
      }
    }
  }
}

uint64_t SystolicUnit::peak_macs_per_cycle() const { return params_.rows * params_.cols; }

void SystolicUnit::check_size(const Op& op) const {
  const PeMode mode = mode_of(op);
  const FoldMapping m = map_gemm(op.gemm, params_.dataflow, params_.shape(), mode);
  const GemmShape lane = lane_gemm(op.gemm, params_.dataflow, mode);
  const std::string what = "op \"" + op.name + "\" (M=" + std::to_string(op.gemm.m) +
                           ", N=" + std::to_string(op.gemm.n) + ", K=" + std::to_string(op.gemm.k) +
                           ")";
  // The cycle-stepped grid indexes operands with 32 bits.
  constexpr uint64_t kGridLimit = uint64_t{1} << 31;
  if (context_.fidelity == Fidelity::kCycle &&
      (lane.m > kGridLimit || lane.n > kGridLimit || lane.k > kGridLimit)) {
    throw InputError(what + ": a dimension is beyond 2^31, the largest the cycle-stepped PE grid " +
                     "indexes (sim.fidelity \"cycle\"); run it with sim.fidelity \"tile\"");
  }
  // Estimates in double (exact enough for a bound): the op's cycles in picoseconds and its
  // operand traffic in bits must stay well inside 64-bit counters.
  const FoldTiming t = fold_timing(params_.dataflow, params_.schedule, params_.shape(), m.t);
  const double folds = static_cast<double>(m.row_folds) * static_cast<double>(m.col_folds);
  const double cycles = static_cast<double>(t.preload) +
                        (folds - 1) * static_cast<double>(t.interval) + static_cast<double>(t.last);
  const double g_m = static_cast<double>(op.gemm.m), g_n = static_cast<double>(op.gemm.n),
               g_k = static_cast<double>(op.gemm.k);
  const double traffic_bits =
      (g_m * g_k + g_k * g_n + g_m * g_n) *
      (static_cast<double>(m.row_folds) + static_cast<double>(m.col_folds)) * 64;
  const double limit = std::ldexp(1.0, 62);
  if (cycles * static_cast<double>(context_.clock->period_ps()) >= limit || traffic_bits >= limit) {
    throw InputError(what + " on " + basename() + " would take about " +
                     std::to_string(static_cast<uint64_t>(cycles)) +
                     " cycles: beyond what 64-bit cycle, time and traffic counters hold; split it");
  }
}

GemmValueParams SystolicUnit::value_params(const Op& op, uint32_t index) const {
  GemmValueParams p;
  p.acc_bits = params_.acc_bits;
  p.acc_saturate = params_.acc_saturate;
  p.fp16_chunk = params_.fp16_chunk;
  p.stochastic = params_.stochastic_rounding;
  // Each op rounds with its own random streams, so identical ops do not round identically.
  p.seed = numerics::derive_seed(context_.seed, index);
  p.fp32_out = op.precision.out == Precision::kFp32;
  return p;
}

std::vector<std::string> SystolicUnit::energy_events(const Op& op) const {
  return {mac_event(op), "scratchpad.read_byte", "scratchpad.write_byte"};
}

// The operand traffic of one op, fold by fold, in real elements (a SIMD column holds `simd`
// outputs, a PE row `dot` values of k; the array side of the last fold may be partly empty).
//   os: a fold of r×c PEs reads r rows of A (r·K) and c·simd columns of B (K·nr), writes r·nr
//       results.
//   ws: loads its kr×nr block of B once, streams M rows of kr elements of A, and emits M·nr
//       partial sums: final when it is the last k-block, else written back and read again by the
//       next k-block.
//   is: as ws with A's kr×mr block stationary and N columns of B streamed.
SystolicUnit::Traffic SystolicUnit::fold_traffic(const Op& op, const FoldMapping& m,
                                                 const PeMode& mode) const {
  const GemmShape& g = op.gemm;
  const uint64_t R = params_.rows, C = params_.cols;
  const uint64_t a = bits_of(op.precision.a), b = bits_of(op.precision.b);
  const uint64_t out = bits_of(op.precision.out), psum = psum_bits(op, params_.acc_bits);
  const uint64_t col_extent = params_.dataflow == Dataflow::kIs ? g.m : g.n;
  Traffic t;
  // Column folds: real extent of each; all but the last hold C·simd (capped by the GEMM).
  uint64_t cols_total = 0;  // Σ over column folds of their real extent = col_extent
  for (uint64_t cf = 0; cf < m.col_folds; ++cf) {
    cols_total += std::min(col_extent, (cf + 1) * C * mode.simd) - cf * C * mode.simd;
  }
  if (params_.dataflow == Dataflow::kOs) {
    // Row folds hold M (no lanes); every row fold meets every column fold.
    t.a_bits = g.m * g.k * a * m.col_folds;
    t.b_bits = g.k * cols_total * b * m.row_folds;
    t.out_bits = g.m * cols_total * out;
    return t;
  }
  // ws/is: row folds hold k in groups of `dot`.
  const uint64_t stream = m.t;  // M for ws, N for is
  for (uint64_t rf = 0; rf < m.row_folds; ++rf) {
    const uint64_t kr = std::min(g.k, (rf + 1) * R * mode.dot) - rf * R * mode.dot;
    const uint64_t stationary = kr * cols_total, streamed = stream * kr * m.col_folds;
    if (params_.dataflow == Dataflow::kWs) {
      t.b_bits += stationary * b, t.a_bits += streamed * a;
    } else {
      t.a_bits += stationary * a, t.b_bits += streamed * b;
    }
    if (rf + 1 == m.row_folds) {
      t.out_bits += stream * cols_total * out;
    } else {
      t.psum_write_bits += stream * cols_total * psum;
    }
    if (rf > 0) t.psum_read_bits += stream * cols_total * psum;
  }
  return t;
}

// The closed form the tile fidelity waits (preload, folds at their interval, the last's drain).
uint64_t SystolicUnit::tile_cycles(const Op& op, const GemmShape& shape) const {
  const PeMode mode = mode_of(op);
  const FoldMapping m = map_gemm(shape, params_.dataflow, params_.shape(), mode);
  const uint64_t folds = m.folds();
  if (folds == 0) return 0;
  const FoldTiming t = fold_timing(params_.dataflow, params_.schedule, params_.shape(), m.t);
  return t.preload + (folds - 1) * t.interval + t.last;
}

// What the folds read (fold_traffic). Under os each PE row takes one operand word of its own row
// of A per word column, so A's rows are read as vectors across rows (strided by the scratchpad
// pitch, where bank conflicts arise); everything else streams contiguous words.
ScratchpadReads SystolicUnit::tile_reads(const Op& op, const GemmShape& shape) const {
  const PeMode mode = mode_of(op);
  const Op tile = with_shape(op, shape);
  const FoldMapping m = map_gemm(shape, params_.dataflow, params_.shape(), mode);
  const Traffic t = fold_traffic(tile, m, mode);
  ScratchpadReads r;
  r.contiguous_bits = t.b_bits + t.psum_read_bits;
  if (params_.dataflow != Dataflow::kOs) {
    r.contiguous_bits += t.a_bits;
    return r;
  }
  const uint64_t row_bits = shape.k * bits_of(op.precision.a);
  const uint64_t full = shape.m / params_.rows, rest = shape.m % params_.rows;
  if (full > 0) r.strided.push_back({m.col_folds * full, params_.rows, row_bits});
  if (rest > 0) r.strided.push_back({m.col_folds, rest, row_bits});
  return r;
}

TileBits SystolicUnit::tile_bits(const Op& op) const {
  return {bits_of(op.precision.a), bits_of(op.precision.b), bits_of(op.precision.out),
          psum_bits(op, params_.acc_bits)};
}

void SystolicUnit::compute_values(uint32_t index, const Op& op, Json& checks) {
  OpData* data = op_data(index);
  if (data == nullptr || !data->gemm) return;
  compute_gemm_values(op.gemm, *data->gemm, value_params(op, index));
  counters_.acc_overflows += data->gemm->acc_overflows;
  checks["acc_overflows"] = data->gemm->acc_overflows;
}

void SystolicUnit::execute(uint32_t index, const Op& op, UnitOpRecord& record) {
  const PeMode mode = mode_of(op);
  const FoldMapping m = map_gemm(op.gemm, params_.dataflow, params_.shape(), mode);
  OpData* data = data_of(index);
  GemmData* values = data != nullptr && data->gemm ? &*data->gemm : nullptr;

  uint64_t cycles = 0;
  if (context_.fidelity == Fidelity::kTile) {
    if (values != nullptr) compute_gemm_values(op.gemm, *values, value_params(op, index));
    run_tile(m, cycles);
  } else {
    std::unique_ptr<GemmValueEngine> engine;
    if (values != nullptr) {
      engine = std::make_unique<GemmValueEngine>(op.gemm, params_.dataflow, mode, *values,
                                                 value_params(op, index));
    }
    run_cycle(op, mode, engine.get(), cycles);
    if (engine) engine->finish();
  }

  const Traffic t = fold_traffic(op, m, mode);
  const uint64_t psum_buffer =
      params_.dataflow != Dataflow::kOs && m.row_folds > 1
          ? (m.t * (params_.dataflow == Dataflow::kIs ? op.gemm.m : op.gemm.n) *
                 psum_bits(op, params_.acc_bits) +
             7) /
                8
          : 0;
  counters_.ops += 1;
  counters_.macs += op.gemm.macs();
  counters_.folds += m.folds();
  counters_.busy_cycles += cycles;
  counters_.a_read_bits += t.a_bits;
  counters_.b_read_bits += t.b_bits;
  counters_.out_write_bits += t.out_bits;
  counters_.psum_read_bits += t.psum_read_bits;
  counters_.psum_write_bits += t.psum_write_bits;
  counters_.peak_psum_buffer_bytes = std::max(counters_.peak_psum_buffer_bytes, psum_buffer);

  record.macs = op.gemm.macs();
  record.tiles = m.folds();
  record.peak_work_per_cycle = params_.rows * params_.cols * mode.macs_per_cycle();
  record.energy.add(basename(), mac_event(op), static_cast<double>(op.gemm.macs()));
  // Bits are whole numbers; a byte count of x.5 is exact in a double.
  record.energy.add("scratchpad", "scratchpad.read_byte",
                    static_cast<double>(t.a_bits + t.b_bits + t.psum_read_bits) / 8.0);
  record.energy.add("scratchpad", "scratchpad.write_byte",
                    static_cast<double>(t.out_bits + t.psum_write_bits) / 8.0);
  record.mapping = {{"unit", basename()},
                    {"dataflow", to_string(params_.dataflow)},
                    {"mode", mode_name(op)},
                    {"simd", mode.simd},
                    {"dot", mode.dot},
                    {"Sr", m.sr},
                    {"Sc", m.sc},
                    {"T", m.t},
                    {"row_folds", m.row_folds},
                    {"col_folds", m.col_folds}};
  record.checks = {{"psum_buffer_bytes", psum_buffer}};
  if (values != nullptr) {
    counters_.acc_overflows += values->acc_overflows;
    record.checks["acc_overflows"] = values->acc_overflows;
  }
}

// One timed wait per fold: the first pays the preload, the last its drain (FoldTiming).
void SystolicUnit::run_tile(const FoldMapping& m, uint64_t& cycles) {
  const FoldTiming timing = fold_timing(params_.dataflow, params_.schedule, params_.shape(), m.t);
  const uint64_t folds = m.folds();
  for (uint64_t f = 0; f < folds; ++f) {
    const uint64_t c =
        (f == 0 ? timing.preload : 0) + (f + 1 == folds ? timing.last : timing.interval);
    cycles += c;
    wait(context_.clock->cycles(c));
  }
}

// The grid steps one clock cycle at a time, step i at the op's start + i cycles. Nothing outside
// the grid acts on it during an op, so by default (sim.fast_forward) it steps to the end in a
// plain loop and the unit waits once for all its cycles; with fast_forward off the unit waits
// one cycle after each step (the same cycles, waveforms and report). Under the scalesim schedule
// SCALE-Sim numbers cycles from 0, so an op is charged one cycle less than it steps (see
// systolic_timing.h) and the next op starts in the cycle of this one's last MAC.
void SystolicUnit::run_cycle(const Op& op, const PeMode& mode, GemmValueEngine* engine,
                             uint64_t& cycles) {
  grid_->start(lane_gemm(op.gemm, params_.dataflow, mode), engine);
  const bool scalesim = params_.schedule == Schedule::kScaleSim;
  const sc_core::sc_time one = context_.clock->cycles(1);
  const uint64_t start = sc_core::sc_time_stamp().value(), period = one.value();
  uint64_t steps = 0;
  for (;;) {
    grid_->step();
    trace_pes(start + steps * period);
    ++steps;
    if (grid_->done() && scalesim) break;
    if (!context_.fast_forward) wait(one);
    if (grid_->done()) break;
  }
  counters_.pe_cycles += steps * params_.rows * params_.cols;
  const uint64_t waited = scalesim ? steps - 1 : steps;
  cycles += waited;
  if (context_.fast_forward && waited > 0) wait(context_.clock->cycles(waited));
}

// Samples the traced PEs' registers after a step, at the step's simulated time (`time`, in the
// kernel's time units).
void SystolicUnit::trace_pes(uint64_t time) {
  if (traced_.empty()) return;
  context_.vcd->at(time);
  for (std::size_t p = 0; p < traced_.size(); ++p) {
    for (std::size_t r = 0; r < vcd_ids_[p].size(); ++r) {
      context_.vcd->set(vcd_ids_[p][r], grid_->pe_register(traced_[p].row, traced_[p].col, r));
    }
  }
}

void SystolicUnit::add_stats(Stats& stats, const std::string& prefix) const {
  const SystolicCounters& c = counters_;
  stats.add(prefix + "ops", c.ops, "op", "ops run");
  stats.add(prefix + "macs", c.macs, "MAC", "multiply-accumulates done");
  stats.add(prefix + "folds", c.folds, "fold", "array folds (tile operations) run");
  stats.add(prefix + "busy_cycles", c.busy_cycles, "cycle",
            "cycles the array was occupied by an op");
  stats.add(prefix + "a_read_bits", c.a_read_bits, "bit", "operand A read from the buffer");
  stats.add(prefix + "b_read_bits", c.b_read_bits, "bit", "operand B read from the buffer");
  stats.add(prefix + "out_write_bits", c.out_write_bits, "bit",
            "final results written to the buffer");
  stats.add(prefix + "psum_read_bits", c.psum_read_bits, "bit",
            "partial sums read back for accumulation (ws/is)");
  stats.add(prefix + "psum_write_bits", c.psum_write_bits, "bit",
            "partial sums written to the buffer (ws/is)");
  stats.add(prefix + "acc_overflows", c.acc_overflows, "add",
            "accumulator adds that overflowed (ops with tensor data)");
  stats.add(prefix + "peak_psum_buffer_bytes", c.peak_psum_buffer_bytes, "byte",
            "largest partial-sum buffer an op needed (ws/is with K split over folds)");
  if (context_.fidelity == Fidelity::kCycle) {
    stats.add(prefix + "pe_cycles", c.pe_cycles, "PE-cycle", "PE-cycles stepped (cycle fidelity)");
  }
}

ScaleSimMemoryResult SystolicUnit::scalesim_user(const Op& op, const ScaleSimMemoryParams& p,
                                                 const std::string& where) const {
  if (params_.schedule != Schedule::kScaleSim) {
    throw InputError(where + ".schedule: accelerator.memory.mode \"scalesim_user\" needs the " +
                     "\"scalesim\" schedule, found \"" + to_string(params_.schedule) + "\"");
  }
  const PeMode mode = mode_of(op);
  if (mode.simd != 1 || mode.dot != 1) {
    throw InputError(where + ".modes." + mode_name(op) +
                     ": accelerator.memory.mode \"scalesim_user\" needs one MAC per PE (simd 1, " +
                     "dot 1, as SCALE-Sim's PEs), found simd " + std::to_string(mode.simd) +
                     ", dot " + std::to_string(mode.dot) + " (op \"" + op.name + "\")");
  }
  if (op.conv && op.lowering == "scalesim" && op.gemm_batch == 1) {
    return scalesim_user_cycles(*op.conv, params_.dataflow, params_.shape(), p);
  }
  return scalesim_user_cycles(op.gemm, params_.dataflow, params_.shape(), p);
}

}  // namespace nibble
