#include "sim/npy.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "sim/atomic_file.h"
#include "sim/error.h"

namespace nibble {

namespace {

// The value of `key` in the header's Python dict literal, as raw text up to the next top-level
// comma or closing brace.
std::string header_value(const std::string& header, const std::string& key) {
  const std::string quoted = "'" + key + "'";
  auto pos = header.find(quoted);
  if (pos == std::string::npos) return "";
  pos = header.find(':', pos + quoted.size());
  if (pos == std::string::npos) return "";
  ++pos;
  int depth = 0;
  std::string value;
  for (; pos < header.size(); ++pos) {
    const char ch = header[pos];
    if (ch == '(') ++depth;
    if (ch == ')') --depth;
    if (depth == 0 && (ch == ',' || ch == '}')) break;
    value += ch;
  }
  const auto b = value.find_first_not_of(" ");
  const auto e = value.find_last_not_of(" ");
  return b == std::string::npos ? "" : value.substr(b, e - b + 1);
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open tensor file (does it exist and is it readable?)");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    throw InputError(path + ": not a NumPy .npy file (bad magic string)");
  }
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char len[2];
    if (!in.read(reinterpret_cast<char*>(len), 2))
      throw InputError(path + ": truncated .npy header");
    header_len = static_cast<uint32_t>(len[0] | (len[1] << 8));
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    if (!in.read(reinterpret_cast<char*>(len), 4))
      throw InputError(path + ": truncated .npy header");
    header_len = static_cast<uint32_t>(len[0]) | (static_cast<uint32_t>(len[1]) << 8) |
                 (static_cast<uint32_t>(len[2]) << 16) | (static_cast<uint32_t>(len[3]) << 24);
  } else {
    throw InputError(path + ": .npy format version " + std::to_string(major) +
                     " is not supported (expected 1, 2 or 3)");
  }
  if (header_len > (1u << 20)) throw InputError(path + ": .npy header too long");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw InputError(path + ": truncated .npy header");

  const std::string descr = header_value(header, "descr");
  std::size_t item = 0;
  if (descr == "'<f4'") {
    item = 4;
  } else if (descr == "'<f8'") {
    item = 8;
  } else {
    throw InputError(path + ": expected a float32 or float64 array ('<f4' or '<f8'), found dtype " +
                     abbreviate(descr));
  }
  if (header_value(header, "fortran_order") != "False") {
    throw InputError(path + ": expected a C-order array, found fortran_order " +
                     abbreviate(header_value(header, "fortran_order")));
  }
  const std::string shape_text = header_value(header, "shape");
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')') {
    throw InputError(path + ": cannot read the array shape from '" + abbreviate(shape_text) + "'");
  }
  NpyArray a;
  uint64_t count = 1;
  std::istringstream dims(shape_text.substr(1, shape_text.size() - 2));
  for (std::string dim; std::getline(dims, dim, ',');) {
    const auto b = dim.find_first_not_of(" ");
    if (b == std::string::npos) continue;  // the trailing comma of a 1-tuple
    const std::string digits = dim.substr(b, dim.find_last_not_of(" ") - b + 1);
    if (digits.empty() || digits.size() > 12 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      throw InputError(path + ": cannot read the array shape from '" + abbreviate(shape_text) +
                       "'");
    }
    a.shape.push_back(std::stoull(digits));
    count *= a.shape.back();
    if (count > (uint64_t{1} << 32))
      throw InputError(path + ": array too large (over 2^32 elements)");
  }
  std::vector<char> raw(count * item);
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size()))) {
    throw InputError(path + ": truncated data: the header promises " + std::to_string(count) +
                     " elements");
  }
  a.values.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (item == 4) {
      float f;
      std::memcpy(&f, raw.data() + i * 4, 4);
      a.values[i] = f;
    } else {
      std::memcpy(&a.values[i], raw.data() + i * 8, 8);
    }
  }
  return a;
}

// Header: magic, version 1.0, a little-endian uint16 length, then the dict padded with spaces and
// ended by a newline so that the data start on a multiple of 64 bytes.
void write_npy(const std::string& path, const std::vector<uint64_t>& shape, const float* data) {
  static_assert(std::numeric_limits<float>::is_iec559, "float32 must be IEEE 754");
  std::string dims;
  uint64_t count = 1;
  for (const uint64_t d : shape) {
    dims += std::to_string(d) + ",";
    count *= d;
  }
  if (shape.size() > 1) dims.pop_back();  // (n,) keeps its comma, (n, m) has none at the end
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  const std::size_t fixed = 10;  // magic (6), version (2), length (2)
  dict.append((64 - (fixed + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string text = "\x93NUMPY";
  text += '\x01';
  text += '\x00';
  text += static_cast<char>(dict.size() & 0xff);
  text += static_cast<char>(dict.size() >> 8);
  text += dict;
  const std::size_t start = text.size();
  text.resize(start + count * sizeof(float));
  // x86-64 and every platform Debian's SystemC builds on are little-endian: the bytes as held.
  std::memcpy(&text[start], data, count * sizeof(float));
  write_file_atomically(path, text);
}

}  // namespace nibble
