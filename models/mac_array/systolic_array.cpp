#include "models/mac_array/systolic_array.h"

namespace nibble {

SystolicParams SystolicParams::from_config(ConfigNode node) {
  SystolicParams p;
  node.get_choice("impl", "Systolic", {"Systolic"});
  p.rows = static_cast<uint64_t>(node.get_int("rows", 8, 1, 4096));
  p.cols = static_cast<uint64_t>(node.get_int("cols", 8, 1, 4096));
  const std::string dataflow = node.get_choice("dataflow", "os", {"os", "ws", "is"});
  p.dataflow = dataflow == "os" ? Dataflow::kOs : dataflow == "ws" ? Dataflow::kWs : Dataflow::kIs;
  const std::string schedule = node.get_choice("schedule", "pipelined", {"pipelined", "scalesim"});
  p.schedule = schedule == "pipelined" ? Schedule::kPipelined : Schedule::kScaleSim;
  p.acc_bits = static_cast<uint32_t>(node.get_int("acc_bits", 32, 8, 64));
  p.acc_saturate = node.get_choice("acc_overflow", "wrap", {"wrap", "saturate"}) == "saturate";
  p.fp16_chunk = node.get_int("fp16_chunk", 64, 0, 1 << 20);
  p.stochastic_rounding = node.get_bool("stochastic_rounding", false);
  node.finish();
  return p;
}

std::ostream& operator<<(std::ostream& out, const FoldCommand& f) {
  return out << "fold{op " << f.op << ", " << f.rows_used << "x" << f.cols_used << ", T " << f.t
             << (f.first ? ", first" : "") << (f.last ? ", last" : "") << "}";
}

SystolicCounters SystolicCounters::operator-(const SystolicCounters& o) const {
  SystolicCounters d;
  d.macs = macs - o.macs;
  d.folds = folds - o.folds;
  d.busy_cycles = busy_cycles - o.busy_cycles;
  d.a_read_bits = a_read_bits - o.a_read_bits;
  d.b_read_bits = b_read_bits - o.b_read_bits;
  d.out_write_bits = out_write_bits - o.out_write_bits;
  d.psum_read_bits = psum_read_bits - o.psum_read_bits;
  d.psum_write_bits = psum_write_bits - o.psum_write_bits;
  return d;
}

SystolicArray::SystolicArray(sc_core::sc_module_name name, const SystolicParams& params,
                             const ClockDomain& clock)
    : sc_module(name), commands("commands", 2), done("done", 1), params_(params), clock_(clock) {
  SC_THREAD(run);
}

void SystolicArray::run() {
  FoldTiming timing;
  for (;;) {
    FoldCommand fold;
    commands.read(fold);
    if (fold.first)
      timing = fold_timing(params_.dataflow, params_.schedule, params_.shape(), fold.t);
    const uint64_t cycles =
        (fold.first ? timing.preload : 0) + (fold.last ? timing.last : timing.interval);
    count(fold);
    counters_.busy_cycles += cycles;
    wait(clock_.cycles(cycles));
    if (fold.last) done.write(fold.op);
  }
}

void SystolicArray::count(const FoldCommand& f) {
  const uint64_t r = f.rows_used, c = f.cols_used, t = f.t;
  counters_.macs += r * c * t;
  counters_.folds += 1;
  if (params_.dataflow == Dataflow::kOs) {
    // Each PE row streams T elements of A, each column T of B; every PE writes one result.
    counters_.a_read_bits += r * t * f.a_bits;
    counters_.b_read_bits += c * t * f.b_bits;
    counters_.out_write_bits += r * c * f.out_bits;
    return;
  }
  // ws/is: an r×c block is loaded once and T vectors of r elements stream through; each column
  // emits T partial sums, final when this fold is the last one of its output block.
  const uint64_t stationary_bits =
      r * c * (params_.dataflow == Dataflow::kWs ? f.b_bits : f.a_bits);
  const uint64_t streamed_bits = t * r * (params_.dataflow == Dataflow::kWs ? f.a_bits : f.b_bits);
  (params_.dataflow == Dataflow::kWs ? counters_.b_read_bits : counters_.a_read_bits) +=
      stationary_bits;
  (params_.dataflow == Dataflow::kWs ? counters_.a_read_bits : counters_.b_read_bits) +=
      streamed_bits;
  if (f.last_k) {
    counters_.out_write_bits += t * c * f.out_bits;
  } else {
    counters_.psum_write_bits += t * c * params_.acc_bits;
  }
  if (!f.first_k) counters_.psum_read_bits += t * c * params_.acc_bits;
}

}  // namespace nibble
