// One training-iteration trace from a built-in network or a layer graph, as `nibble trace` makes
// it: shared by `nibble trace` and by sweeps whose workloads are generated (sim/app/sweep.md).
#pragma once

#include <cstdint>
#include <string>

#include "sim/config.h"
#include "workloads/generators/network.h"

namespace nibble {

// The options of `nibble trace`, as text (empty: not given). Errors name them as the command
// line does ("trace: --batch: ...").
struct TraceRequest {
  std::string network, graph, batch, recipe, input, seq_len, classes;
  std::string first_last = "fp16";
};

struct GeneratedTrace {
  Json trace;                    // the whole trace document
  Network net;                   // the network it expands
  std::string what;              // "resnet18 (batch 8, input 224x224)", for messages
  uint64_t per_sample_macs = 0;  // forward MACs of one sample
};

// Checks every option, builds the network and expands one iteration. Throws InputError.
GeneratedTrace generate_trace(const TraceRequest& request);

}  // namespace nibble
