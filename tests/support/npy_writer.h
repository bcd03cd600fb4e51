// Test helper: writes a float32 or float64 .npy file (format 1.0) with the given shape.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace nibble::testing_support {

template <typename T>
void write_npy(const std::string& path, const std::vector<uint64_t>& shape,
               const std::vector<T>& values) {
  std::string dims;
  for (uint64_t d : shape) dims += std::to_string(d) + ", ";
  std::string header = std::string("{'descr': '<f") + std::to_string(sizeof(T)) +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so that magic (6) + version (2) + length (2) + header ends on 64 bytes.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out << header;
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(T)));
}

}  // namespace nibble::testing_support
