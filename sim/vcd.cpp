#include "sim/vcd.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <utility>

namespace nibble {

namespace {

// VCD identifier codes are strings of printable ASCII '!'..'~': base 94, least significant first.
std::string id_code(uint64_t n) {
  std::string code;
  do {
    code += static_cast<char>('!' + n % 94);
    n /= 94;
  } while (n != 0);
  return code;
}

bool plain_name(const std::string& s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [](char ch) {
    return std::isspace(static_cast<unsigned char>(ch)) != 0 ||
           std::iscntrl(static_cast<unsigned char>(ch)) != 0;
  });
}

std::vector<std::string> split_scope(const std::string& scope) {
  std::vector<std::string> parts;
  if (scope.empty()) return parts;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t dot = scope.find('.', begin);
    parts.push_back(scope.substr(begin, dot - begin));
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  return parts;
}

bool fits(uint64_t value, uint32_t width) { return width >= 64 || value >> width == 0; }

}  // namespace

VcdWriter::VcdWriter(std::ostream& out, std::string timescale)
    : out_(out), timescale_(std::move(timescale)) {}

VcdWriter::~VcdWriter() {
  try {
    if (!closed_) close();
  } catch (...) {  // a destructor must not throw; the stream's own state tells the caller
  }
}

uint32_t VcdWriter::add_signal(const std::string& scope, const std::string& name,
                               uint32_t width_bits, uint64_t initial) {
  if (started_) throw std::logic_error("VcdWriter: signal '" + name + "' declared after the start");
  if (!plain_name(name)) throw std::invalid_argument("VcdWriter: bad signal name '" + name + "'");
  for (const std::string& part : split_scope(scope)) {
    if (!plain_name(part)) throw std::invalid_argument("VcdWriter: bad scope '" + scope + "'");
  }
  if (width_bits == 0 || width_bits > 64) {
    throw std::invalid_argument("VcdWriter: signal '" + name + "' width " +
                                std::to_string(width_bits) + " not in [1, 64]");
  }
  if (!fits(initial, width_bits)) {
    throw std::invalid_argument("VcdWriter: initial value of '" + name + "' wider than the signal");
  }
  const auto id = static_cast<uint32_t>(signals_.size());
  signals_.push_back({scope, name, id_code(id), width_bits, initial, initial, false});
  return id;
}

void VcdWriter::at(uint64_t time) {
  if (closed_) throw std::logic_error("VcdWriter: at() after close()");
  if (!started_) {
    write_header();
    time_ = time;
    return;
  }
  if (time < time_) {
    throw std::invalid_argument("VcdWriter: time " + std::to_string(time) + " before " +
                                std::to_string(time_));
  }
  if (time == time_) return;
  flush_time();
  time_ = time;
}

void VcdWriter::set(uint32_t id, uint64_t value) {
  if (closed_) throw std::logic_error("VcdWriter: set() after close()");
  if (id >= signals_.size()) {
    throw std::out_of_range("VcdWriter: no signal " + std::to_string(id));
  }
  Signal& s = signals_[id];
  if (!fits(value, s.width)) {
    // A silently truncated waveform would lie about the hardware.
    throw std::out_of_range("VcdWriter: value " + std::to_string(value) + " of '" + s.name +
                            "' wider than " + std::to_string(s.width) + " bits");
  }
  s.value = value;
  if (!s.dirty) {
    s.dirty = true;
    dirty_.push_back(id);
  }
}

void VcdWriter::close() {
  if (closed_) return;
  if (!started_) write_header();
  if (!dumped_ || !dirty_.empty()) flush_time();
  if (!dumped_ || time_ > last_written_time_) {
    out_ << '#' << time_ << '\n';
    last_written_time_ = time_;
    dumped_ = true;
  }
  closed_ = true;
  out_.flush();
}

// Scopes nest as the dotted paths say; within a scope, variables and sub-scopes keep the order in
// which they were first named.
void VcdWriter::write_header() {
  started_ = true;
  struct Scope {
    std::string name;
    std::vector<std::pair<bool, std::size_t>> items;  // (is a scope, index)
  };
  std::vector<Scope> scopes(1);  // 0: top level
  for (std::size_t id = 0; id < signals_.size(); ++id) {
    std::size_t node = 0;
    for (const std::string& part : split_scope(signals_[id].scope)) {
      std::size_t child = scopes.size();
      for (const auto& [is_scope, index] : scopes[node].items) {
        if (is_scope && scopes[index].name == part) child = index;
      }
      if (child == scopes.size()) {
        scopes.push_back({part, {}});
        scopes[node].items.push_back({true, child});
      }
      node = child;
    }
    scopes[node].items.push_back({false, id});
  }
  out_ << "$timescale " << timescale_ << " $end\n";
  // Depth-first, iteratively: (scope, next item) frames.
  std::vector<std::pair<std::size_t, std::size_t>> stack{{0, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next == scopes[node].items.size()) {
      if (node != 0) out_ << "$upscope $end\n";
      stack.pop_back();
      continue;
    }
    const auto [is_scope, index] = scopes[node].items[next++];
    if (is_scope) {
      out_ << "$scope module " << scopes[index].name << " $end\n";
      stack.push_back({index, 0});
    } else {
      const Signal& s = signals_[index];
      out_ << "$var wire " << s.width << ' ' << s.code << ' ' << s.name << " $end\n";
    }
  }
  out_ << "$enddefinitions $end\n";
}

// Writes the current time's values: all of them as $dumpvars the first time, then those that
// differ from the file, in signal order.
void VcdWriter::flush_time() {
  if (!dumped_) {
    out_ << '#' << time_ << "\n$dumpvars\n";
    for (Signal& s : signals_) {
      write_value(s);
      s.written = s.value;
    }
    out_ << "$end\n";
    dumped_ = true;
    last_written_time_ = time_;
  } else {
    std::sort(dirty_.begin(), dirty_.end());
    bool stamped = false;
    for (const uint32_t id : dirty_) {
      Signal& s = signals_[id];
      if (s.value == s.written) continue;
      if (!stamped) {
        out_ << '#' << time_ << '\n';
        last_written_time_ = time_;
        stamped = true;
      }
      write_value(s);
      s.written = s.value;
    }
  }
  for (const uint32_t id : dirty_) signals_[id].dirty = false;
  dirty_.clear();
}

// One-bit signals use the scalar form "0!", wider ones "b1010 !" without leading zeros.
void VcdWriter::write_value(const Signal& s) {
  if (s.width == 1) {
    out_ << (s.value != 0 ? '1' : '0') << s.code << '\n';
    return;
  }
  char bits[65];
  int n = 0;
  uint64_t v = s.value;
  do {
    bits[n++] = static_cast<char>('0' + (v & 1));
    v >>= 1;
  } while (v != 0);
  out_ << 'b';
  while (n > 0) out_ << bits[--n];
  out_ << ' ' << s.code << '\n';
}

}  // namespace nibble
