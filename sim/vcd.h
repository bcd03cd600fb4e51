// A minimal Value Change Dump (IEEE 1364 §18) writer for integer signals: waveforms of the cycle
// fidelity, readable by GTKWave, Surfer and friends.
//
// Deterministic by design: no $date or $version, signals declared in the order given, scopes in
// the order first named, so that the same simulation writes the same bytes (golden files, diffs).
// Usage: declare every signal, then advance time and set values. Values set at a time are written
// when time moves past it (or at close()), and only those that changed; the first timestamp's
// values are written as $dumpvars.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace nibble {

class VcdWriter {
 public:
  // `timescale` is written as is ("1ps", "1 ns", ...). `out` must outlive the writer.
  explicit VcdWriter(std::ostream& out, std::string timescale = "1ps");
  // Writes what is pending (see close()); errors of the stream are not reported from here.
  ~VcdWriter();
  VcdWriter(const VcdWriter&) = delete;
  VcdWriter& operator=(const VcdWriter&) = delete;

  // Declares an integer signal `name` of `width_bits` (1..64) in the scope path `scope`
  // ("mac_array.pe_0_0"; empty: top level) with its value before the first timestamp.
  // Only before the first at(); throws std::logic_error after it, std::invalid_argument for a bad
  // width, a value that does not fit, or a name or scope part that is empty or has whitespace.
  uint32_t add_signal(const std::string& scope, const std::string& name, uint32_t width_bits,
                      uint64_t initial = 0);

  // Moves to `time` (in timescale units, never backwards: std::invalid_argument). The first
  // call writes the header.
  void at(uint64_t time);
  // Sets signal `id` at the current time; std::out_of_range for an unknown id or a value wider
  // than the signal. Setting the same value again writes nothing.
  void set(uint32_t id, uint64_t value);
  // Writes the values pending at the current time, or, when there are none, the current time
  // itself if it is later than the last one written, so that the dump spans the whole run.
  // Nothing may be set after close().
  void close();

  std::size_t signal_count() const { return signals_.size(); }

 private:
  struct Signal {
    std::string scope, name, code;
    uint32_t width = 1;
    uint64_t value = 0;    // at the current time
    uint64_t written = 0;  // last value in the file
    bool dirty = false;
  };
  void write_header();
  void flush_time();
  void write_value(const Signal& s);

  std::ostream& out_;
  std::string timescale_;
  std::vector<Signal> signals_;
  std::vector<uint32_t> dirty_;  // ids set at the current time, in order of first set
  bool started_ = false;         // header written; no more declarations
  bool closed_ = false;
  uint64_t time_ = 0;
  bool dumped_ = false;  // the first timestamp and $dumpvars are in the file
  uint64_t last_written_time_ = 0;
};

}  // namespace nibble
