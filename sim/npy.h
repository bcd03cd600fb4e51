// Reading NumPy .npy files (format versions 1.0–3.0): little-endian float32 or float64 arrays in
// C order, returned as doubles with their shape. Anything else is an InputError naming the file and
// what it found. Writing: float32, format 1.0, C order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nibble {

struct NpyArray {
  std::vector<uint64_t> shape;
  std::vector<double> values;  // row-major
};

NpyArray read_npy(const std::string& path);

// Writes `data` (the product of `shape` values) as a little-endian float32 .npy, atomically
// (sim/atomic_file.h); InputError when the file cannot be written.
void write_npy(const std::string& path, const std::vector<uint64_t>& shape, const float* data);

}  // namespace nibble
