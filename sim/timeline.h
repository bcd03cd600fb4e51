// A timeline of a run in the Chrome trace-event format (opens in Perfetto, ui.perfetto.dev, and in
// chrome://tracing): tracks grouped into processes, slices on them, streamed to a file as the run
// goes so that memory stays bounded.
//
// Time: `ts` and `dur` are microseconds (cycles ÷ core MHz; DRAM events at picosecond
// resolution), every slice also gives its cycles in `args`. Slices on one track never overlap
// unless nested (what Perfetto requires of a thread track); what can overlap (DMA transfers in
// flight) goes out as async slices, which Perfetto stacks on tracks of their own. Same run, same
// file, byte for byte. A cap on the number of events keeps a long run's file in bounds: past it
// nothing more is written and the file says so (otherData.truncated).
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "sim/config.h"

namespace nibble {

class TimelineWriter {
 public:
  TimelineWriter(std::ostream& out, double core_mhz, uint64_t max_events);

  // A track `thread` in the group `process`, created (with its metadata) the first time it is
  // named; returns its id. Processes and threads are sorted in the order they were first named.
  int track(const std::string& process, const std::string& thread);
  // A complete slice [start, end) in core cycles; `args` (an object, or null) is added to.
  void slice(int track, const std::string& name, const std::string& category, uint64_t start,
             uint64_t end, Json args = nullptr);
  // The same in picoseconds.
  void slice_ps(int track, const std::string& name, const std::string& category, uint64_t start_ps,
                uint64_t end_ps, Json args = nullptr);
  // An async slice (may overlap others of its track's process), in core cycles.
  void async_slice(int track, const std::string& name, const std::string& category, uint64_t start,
                   uint64_t end, Json args = nullptr);
  // Ends the JSON document; nothing may be added after.
  void close();

  uint64_t events() const { return events_; }
  bool truncated() const { return truncated_; }
  double core_mhz() const { return core_mhz_; }

 private:
  bool take();  // room for one more event?
  void write(const Json& event);

  std::ostream& out_;
  double core_mhz_;
  uint64_t max_events_, events_ = 0, async_ids_ = 0;
  bool truncated_ = false, first_ = true, closed_ = false;
  std::map<std::string, int> processes_;
  std::map<int, int> threads_;  // per pid: tracks so far
  std::map<std::pair<int, std::string>, int> tracks_;
  std::vector<std::pair<int, int>> ids_;  // per track: (pid, tid)
};

// Merges the busy intervals of one resource (a DRAM channel's data bus), given in order of their
// starts, into slices on a track: touching or overlapping intervals make one slice.
class BusyTrack {
 public:
  BusyTrack(TimelineWriter* writer, int track, std::string category)
      : writer_(writer), track_(track), category_(std::move(category)) {}
  void add_ps(uint64_t start_ps, uint64_t end_ps, bool write);
  void flush();

 private:
  TimelineWriter* writer_;
  int track_;
  std::string category_;
  bool open_ = false;
  uint64_t start_ = 0, end_ = 0, reads_ = 0, writes_ = 0;
};

}  // namespace nibble
