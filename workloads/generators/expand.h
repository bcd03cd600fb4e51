// One training iteration of a layer graph under a precision recipe, as Nibble trace ops: forward
// (activation quantization, GEMMs, element-wise layers, the loss), backward in reverse (gradient
// conversion to FP4, backward-data and weight-gradient GEMMs, element-wise gradients, the 4-bit
// overhead, gradient sums) and the update (momentum SGD on FP32 master weights, requantization of
// INT4 weights). The exact rules are in workloads/generators/README.md.
#pragma once

#include <optional>
#include <string>

#include "sim/config.h"
#include "workloads/generators/network.h"

namespace nibble {

enum class Recipe {
  kFp32,
  kFp16,
  kHfp8,
  kInt4Fp16,
  kInt4Hfp8,
  kInt4Fp4,
  kInt4Fp4DwFp8,
  kInt4Fp4OneByOneFp8,
  kInt4Fp4Bottom1x1Fp8
};
const char* to_string(Recipe recipe);
std::optional<Recipe> parse_recipe(const std::string& text);
// "fp32, fp16, hfp8, int4-fp16, ..." for messages and help.
std::string recipe_names();

// The precision of the first and last weight layers in the 4-bit and HFP8 recipes.
enum class FirstLast { kFp16, kHfp8, kRecipe };
const char* to_string(FirstLast first_last);
std::optional<FirstLast> parse_first_last(const std::string& text);

struct ExpandOptions {
  Recipe recipe = Recipe::kInt4Fp4;
  FirstLast first_last = FirstLast::kFp16;
};

// The trace ops of one training iteration of `net` at net.batch samples. Throws InputError when a
// count exceeds the trace format's bound of 2^30 (a smaller batch fits) or the graph does not say
// what an op needs (the channels of a batch norm).
Json expand_iteration(const Network& net, const ExpandOptions& options);

// A whole trace document: format, version, name, description, iterations (1), source and ops.
// `source` is written as given (who made the trace, from what); the caller fills it.
Json make_trace(const Network& net, const ExpandOptions& options, const std::string& description,
                Json source);

}  // namespace nibble
