// Reading NumPy .npy files (format versions 1.0–3.0): little-endian float32 or float64 arrays in
// C order, returned as doubles with their shape. Anything else is an InputError naming the file and
// what it found.
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

}  // namespace nibble
