// `nibble train --emit-trace FILE --trace-step N`: the training iteration of one real step as a
// Nibble trace that `nibble run` replays, its GEMM ops carrying the step's tensors (.npy), so that
// per-op accuracy, cycles and energy come from one real step.
//
// The ops are those `nibble trace` writes for the same network (workloads/generators: forward,
// backward, update, the 4-bit overhead), from a layer graph of the trained mlp or cnn at the
// step's batch size; the recipe maps as fp32 → fp32, int4-fp32 → int4-fp16 (the generator has
// no FP32-gradient 4-bit recipe: the trace's gradients are FP16), int4-fp4, int4-fp4-even and
// int4-fp4-r2 → int4-fp4 (the trace format's FP4 is radix 4, with both phases). The trainer's FP32
// first and last layers become the generator's FP16 ones (with
// --all-layers, the recipe's). Each `<layer>.fwd`, `.bwd_data` and `.bwd_weight` GEMM gets its
// operands as the GEMM lays them out:
//   linear  fwd X [n×in], Wᵀ [in×out]; bwd_data dY [n×out], W [out×in]; bwd_weight Xᵀ [in×n],
//           dY [n×out];
//   conv2d  input [n, C, H, W], weight [F, C, 3, 3], grad_output [n, F, H, W] (two per pass);
// with pact_alpha (the clip the step used) where an operand is UINT4 and grad_scale_log2 (the
// step's GradScale) where one is FP4. Tensors go to FILE's folder, in `<stem>.tensors/`.
#pragma once

#include <string>

#include "models/train/dataset.h"
#include "models/train/trainer.h"

namespace nibble::train {

// Writes the trace (and its tensors) of the step `net` has just run on a batch of `batch`
// samples. Throws InputError when a file cannot be written.
void write_step_trace(const std::string& path, Network& net, const TrainOptions& options,
                      const Dataset& data, size_t batch, uint64_t step);

}  // namespace nibble::train
