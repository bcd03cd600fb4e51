#include "models/accelerator/accelerator.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

#include "sim/interrupt.h"

namespace nibble {

namespace {
// Energy events name the two multiplier inputs in a fixed order (integers before floats, narrow
// before wide), so that FP4×INT4 and INT4×FP4 are the same event, as they are the same hardware.
std::string mac_event(const Op& op) {
  static const char* const kOrder[] = {"int2", "int4", "int8", "fp4", "hfp8", "fp16", "fp32"};
  auto rank = [](const std::string& datapath) {
    return std::find(std::begin(kOrder), std::end(kOrder), datapath) - std::begin(kOrder);
  };
  std::string a = datapath_of(op.precision.a), b = datapath_of(op.precision.b);
  if (rank(b) < rank(a)) std::swap(a, b);
  return "mac." + a + "_" + b;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> required_energy_events(const Workload& workload) {
  std::vector<std::pair<std::string, std::string>> events;
  for (const Op& op : workload.ops) {
    for (const std::string& e :
         {mac_event(op), std::string("buffer.read_byte"), std::string("buffer.write_byte")}) {
      const bool seen = std::any_of(events.begin(), events.end(),
                                    [&](const auto& known) { return known.first == e; });
      if (!seen) events.emplace_back(e, op.name);
    }
  }
  return events;
}

AcceleratorParams AcceleratorParams::from_config(ConfigNode& root) {
  AcceleratorParams p;
  {
    ConfigNode clock = root.child("clock");
    p.core_mhz = clock.get_double("core_mhz", 1000, 1, 100000);
    clock.finish();
  }
  ConfigNode accelerator = root.child("accelerator");
  ConfigNode core = accelerator.child("core");
  p.mac_array = SystolicParams::from_config(core.child("mac_array"));
  core.finish();
  accelerator.finish();
  return p;
}

Accelerator::Accelerator(sc_core::sc_module_name name, const AcceleratorParams& params,
                         const Workload& workload)
    : sc_module(name),
      params_(params),
      workload_(workload),
      clock_("core", params.core_mhz),
      array_("mac_array", params.mac_array, clock_) {
  records_.reserve(workload.ops.size());
  SC_THREAD(control);
}

void Accelerator::control() {
  for (uint32_t i = 0; i < workload_.ops.size(); ++i) {
    if (interrupt_requested()) break;
    const Op& op = workload_.ops[i];
    OpRecord rec;
    rec.start_cycle = clock_.now();
    rec.mapping = map_gemm(op.gemm, params_.mac_array.dataflow, params_.mac_array.shape());
    const SystolicCounters before = array_.counters();
    issue_folds(i, op, rec.mapping);
    uint32_t finished = 0;
    array_.done.read(finished);
    if (finished != i) throw std::logic_error("mac_array finished ops out of order");
    rec.end_cycle = clock_.now();
    rec.counters = array_.counters() - before;
    records_.push_back(rec);
  }
  complete_ = records_.size() == workload_.ops.size();
  sc_core::sc_stop();
}

void Accelerator::issue_folds(uint32_t index, const Op& op, const FoldMapping& m) {
  const uint64_t rows = params_.mac_array.rows, cols = params_.mac_array.cols;
  FoldCommand f;
  f.op = index;
  f.t = m.t;
  f.a_bits = static_cast<uint8_t>(bits_of(op.precision.a));
  f.b_bits = static_cast<uint8_t>(bits_of(op.precision.b));
  f.out_bits = static_cast<uint8_t>(bits_of(op.precision.out));
  // Row folds outer, column folds inner (the order does not change any count or cycle).
  for (uint64_t rf = 0; rf < m.row_folds; ++rf) {
    f.rows_used = rf + 1 < m.row_folds ? rows : m.sr - rf * rows;
    f.first_k = rf == 0;
    f.last_k = rf + 1 == m.row_folds;
    for (uint64_t cf = 0; cf < m.col_folds; ++cf) {
      f.cols_used = cf + 1 < m.col_folds ? cols : m.sc - cf * cols;
      f.first = rf == 0 && cf == 0;
      f.last = f.last_k && cf + 1 == m.col_folds;
      array_.commands.write(f);
    }
  }
}

RunResult Accelerator::result() const {
  RunResult r;
  const SystolicParams& a = params_.mac_array;
  r.complete = complete_;
  r.clock_mhz = params_.core_mhz;
  r.peak_macs_per_cycle = a.rows * a.cols;
  r.cycles = records_.empty() ? 0 : records_.back().end_cycle;
  r.hardware = {{"cores", 1},
                {"mac_array",
                 {{"rows", a.rows},
                  {"cols", a.cols},
                  {"dataflow", to_string(a.dataflow)},
                  {"schedule", to_string(a.schedule)}}},
                {"memory", "ideal"}};
  for (std::size_t i = 0; i < records_.size(); ++i) {
    const OpRecord& rec = records_[i];
    const Op& op = workload_.ops[i];
    const SystolicCounters& c = rec.counters;
    OpResult o;
    o.start_cycle = rec.start_cycle;
    o.end_cycle = rec.end_cycle;
    o.macs = c.macs;
    o.tiles = c.folds;
    o.mapping = {{"unit", "mac_array"},
                 {"dataflow", to_string(a.dataflow)},
                 {"Sr", rec.mapping.sr},
                 {"Sc", rec.mapping.sc},
                 {"T", rec.mapping.t},
                 {"row_folds", rec.mapping.row_folds},
                 {"col_folds", rec.mapping.col_folds}};
    o.energy.add("mac_array", mac_event(op), static_cast<double>(c.macs));
    // Bits are whole numbers; a byte count of x.5 is exact in a double.
    o.energy.add("buffer", "buffer.read_byte",
                 static_cast<double>(c.a_read_bits + c.b_read_bits + c.psum_read_bits) / 8.0);
    o.energy.add("buffer", "buffer.write_byte",
                 static_cast<double>(c.out_write_bits + c.psum_write_bits) / 8.0);
    r.ops.push_back(std::move(o));
  }
  // The controller stops only between ops, so the array's counters are the finished ops' sum.
  const SystolicCounters& total = array_.counters();
  const std::string p = "core0.mac_array.";
  r.stats.add(p + "macs", total.macs, "MAC", "multiply-accumulates done");
  r.stats.add(p + "folds", total.folds, "fold", "array folds (tile operations) run");
  r.stats.add(p + "busy_cycles", total.busy_cycles, "cycle",
              "cycles the array was occupied by an op");
  r.stats.add(p + "a_read_bits", total.a_read_bits, "bit", "operand A read from the buffer");
  r.stats.add(p + "b_read_bits", total.b_read_bits, "bit", "operand B read from the buffer");
  r.stats.add(p + "out_write_bits", total.out_write_bits, "bit",
              "final results written to the buffer");
  r.stats.add(p + "psum_read_bits", total.psum_read_bits, "bit",
              "partial sums read back for accumulation (ws/is)");
  r.stats.add(p + "psum_write_bits", total.psum_write_bits, "bit",
              "partial sums written to the buffer (ws/is)");
  return r;
}

RunResult simulate(const AcceleratorParams& params, const Workload& workload) {
  Accelerator top("accelerator", params, workload);
  sc_core::sc_start();
  return top.result();
}

}  // namespace nibble
