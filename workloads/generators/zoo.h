// Built-in networks for `nibble trace --network NAME`: layer graphs of well-known architectures,
// built from their published definitions (sources in workloads/generators/README.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/generators/network.h"

namespace nibble {

// What a network's size depends on. 0 means the network's default.
struct ZooOptions {
  uint64_t height = 0, width = 0;  // image networks: the input (default 224×224; LeNet 32×32)
  uint64_t seq_len = 0;            // sequence networks (default 128; lstm 35)
  uint64_t classes = 0;            // classifiers (default 1000; mlp and lenet 10)
  uint64_t batch = 1;              // written into the network (the expansion multiplies by it)
};

enum class ZooInput { kImage, kSequence, kFixed };

struct ZooEntry {
  std::string name;
  ZooInput input;       // what --input/--seq-len apply to
  bool has_classes;     // whether --classes applies
  std::string summary;  // one line for --help
};

// The built-in networks, in the order --help lists them.
const std::vector<ZooEntry>& zoo_entries();
// The entry called `name`, or nullptr.
const ZooEntry* find_zoo_entry(const std::string& name);

// Builds the network `name` (one of zoo_entries()). Throws InputError for an unknown name, an
// option the network does not take, or an input too small for its layers.
Network build_network(const std::string& name, const ZooOptions& options);

}  // namespace nibble
