#include "sim/timeline.h"

#include <stdexcept>

namespace nibble {

namespace {

// Microseconds from picoseconds, exactly when the quotient is representable.
double us(uint64_t ps) { return static_cast<double>(ps) / 1e6; }

}  // namespace

TimelineWriter::TimelineWriter(std::ostream& out, double core_mhz, uint64_t max_events)
    : out_(out), core_mhz_(core_mhz), max_events_(max_events) {
  out_ << "{\"traceEvents\":[\n";
}

bool TimelineWriter::take() {
  if (closed_) throw std::logic_error("timeline: an event after close()");
  if (events_ >= max_events_) {
    truncated_ = true;
    return false;
  }
  ++events_;
  return true;
}

void TimelineWriter::write(const Json& event) {
  out_ << (first_ ? "" : ",\n") << event.dump();
  first_ = false;
}

int TimelineWriter::track(const std::string& process, const std::string& thread) {
  auto p = processes_.find(process);
  if (p == processes_.end()) {
    const int pid = static_cast<int>(processes_.size()) + 1;
    p = processes_.emplace(process, pid).first;
    // Metadata is not counted against the cap: a truncated file still names its tracks.
    write({{"ph", "M"}, {"pid", pid}, {"name", "process_name"}, {"args", {{"name", process}}}});
    write({{"ph", "M"},
           {"pid", pid},
           {"name", "process_sort_index"},
           {"args", {{"sort_index", pid}}}});
  }
  const int pid = p->second;
  const auto key = std::make_pair(pid, thread);
  auto t = tracks_.find(key);
  if (t != tracks_.end()) return t->second;
  const int tid = ++threads_[pid];
  const int index = static_cast<int>(ids_.size());
  ids_.emplace_back(pid, tid);
  tracks_.emplace(key, index);
  write({{"ph", "M"},
         {"pid", pid},
         {"tid", tid},
         {"name", "thread_name"},
         {"args", {{"name", thread}}}});
  write({{"ph", "M"},
         {"pid", pid},
         {"tid", tid},
         {"name", "thread_sort_index"},
         {"args", {{"sort_index", tid}}}});
  return index;
}

void TimelineWriter::slice(int track, const std::string& name, const std::string& category,
                           uint64_t start, uint64_t end, Json args) {
  if (args.is_null()) args = Json::object();
  args["start_cycle"] = start;
  args["end_cycle"] = end;
  const double period_ps = 1e6 / core_mhz_;
  const auto ps = [period_ps](uint64_t cycle) {
    return static_cast<uint64_t>(static_cast<double>(cycle) * period_ps + 0.5);
  };
  slice_ps(track, name, category, ps(start), ps(end), std::move(args));
}

void TimelineWriter::slice_ps(int track, const std::string& name, const std::string& category,
                              uint64_t start_ps, uint64_t end_ps, Json args) {
  if (!take()) return;
  const auto& [pid, tid] = ids_[static_cast<std::size_t>(track)];
  Json e = {{"ph", "X"},
            {"pid", pid},
            {"tid", tid},
            {"name", name},
            {"cat", category},
            {"ts", us(start_ps)},
            {"dur", us(end_ps - start_ps)}};
  if (!args.is_null()) e["args"] = std::move(args);
  write(e);
}

void TimelineWriter::async_slice(int track, const std::string& name, const std::string& category,
                                 uint64_t start, uint64_t end, Json args) {
  if (events_ + 2 > max_events_) {
    truncated_ = true;
    return;
  }
  events_ += 2;
  const auto& [pid, tid] = ids_[static_cast<std::size_t>(track)];
  if (args.is_null()) args = Json::object();
  args["start_cycle"] = start;
  args["end_cycle"] = end;
  const uint64_t id = ++async_ids_;
  const double to_us = 1.0 / core_mhz_;
  write({{"ph", "b"},
         {"pid", pid},
         {"tid", tid},
         {"name", name},
         {"cat", category},
         {"id", id},
         {"ts", static_cast<double>(start) * to_us},
         {"args", args}});
  write({{"ph", "e"},
         {"pid", pid},
         {"tid", tid},
         {"name", name},
         {"cat", category},
         {"id", id},
         {"ts", static_cast<double>(end) * to_us}});
}

void TimelineWriter::close() {
  if (closed_) return;
  closed_ = true;
  const Json other = {{"events", events_},
                      {"max_events", max_events_},
                      {"truncated", truncated_},
                      {"core_mhz", core_mhz_},
                      {"time", "ts and dur in microseconds; args give core cycles"}};
  out_ << "\n],\"displayTimeUnit\":\"ns\",\"otherData\":" << other.dump() << "}\n";
}

void BusyTrack::add_ps(uint64_t start_ps, uint64_t end_ps, bool write) {
  if (open_ && start_ps <= end_) {
    end_ = std::max(end_, end_ps);
  } else {
    flush();
    open_ = true;
    start_ = start_ps;
    end_ = end_ps;
  }
  ++(write ? writes_ : reads_);
}

void BusyTrack::flush() {
  if (!open_) return;
  const char* name = reads_ > 0 && writes_ > 0 ? "read+write" : writes_ > 0 ? "write" : "read";
  writer_->slice_ps(track_, name, category_, start_, end_,
                    {{"reads", reads_}, {"writes", writes_}});
  open_ = false;
  reads_ = writes_ = 0;
}

}  // namespace nibble
