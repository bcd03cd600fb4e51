// `nibble train`: trains the fixed mlp or cnn on Fashion-MNIST or the 8×8 digits and writes the
// per-epoch loss and accuracy (models/train/trainer.h has the protocol).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>

#include "models/train/dataset.h"
#include "models/train/emit_trace.h"
#include "models/train/trainer.h"
#include "sim/app/commands.h"
#include "sim/atomic_file.h"
#include "sim/config.h"
#include "sim/error.h"
#include "sim/interrupt.h"
#include "sim/stats.h"

namespace nibble {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

std::string usage() {
  std::string s =
      "usage: nibble train --dataset fashion-mnist|digits --model mlp|cnn --recipe R\n"
      "                    [--epochs E] [--seed S | --seeds S1,S2,...] [--threads N]\n"
      "                    [--all-layers] [--config FILE] [--set key=value]...\n"
      "                    [--emit-trace FILE [--trace-step N]] [--data PATH] [--out DIR]\n"
      "\n"
      "Trains the fixed mlp (in-512-512-512-10) or cnn (three conv3x3-ReLU-maxpool2 blocks of 32,\n"
      "64 and 128 filters, fc 256, fc 10) with SGD (momentum 0.9, learning rate 0.05 "
      "cosine-decayed\n"
      "to 0, batch 128, weight decay 5e-4) and writes train.csv and train.json (per-epoch loss "
      "and\n"
      "test accuracy per seed, and the final accuracy's mean and standard deviation over seeds) "
      "to\n"
      "DIR (default nibble-out/train), with each quantized layer's FP4 flush and saturation\n"
      "rates, GradScale and PACT clip per epoch. Same seeds and thread count: identical results.\n"
      "The config (with --set overrides) decides the numerics of the quantized layers as it does\n"
      "in 'nibble run': accelerator.core.mac_array.acc_bits and .acc_overflow (forward GEMMs),\n"
      "accelerator.core.log_grad.fp16_chunk, .stochastic_rounding and .ways (backward and update\n"
      "GEMMs), sim.seed (stochastic rounding); without --config, the simulator's defaults.\n"
      "The first and last layers stay FP32 unless --all-layers.\n"
      "--emit-trace: the training iteration of step N (1-based, default 1; of the first seed) as "
      "a\n"
      "trace for 'nibble run', its GEMMs carrying the step's tensors (FILE's folder,\n"
      "<stem>.tensors/); see models/train/emit_trace.h.\n"
      "--data: the Fashion-MNIST folder (default " +
      train::default_fashion_mnist_dir() +
      ")\n"
      "or the digits file (default the shipped workloads/datasets/digits/digits.csv.gz).\n"
      "Interrupted (SIGINT, SIGTERM): the finished epochs are written, marked \"complete\": "
      "false.\n"
      "Exit status: 0 trained, 2 bad input (nothing written), 128+signal interrupted.\n"
      "\n"
      "recipes:\n";
  for (const train::RecipeInfo& r : train::recipes()) {
    s += "  " + std::string(r.name) + std::string(15 - std::string(r.name).size(), ' ') +
         r.description + (r.implemented ? "" : " (not yet trained by this build)") + "\n";
  }
  return s + "\noptions:\n";
}

uint64_t parse_uint(const std::string& option, const std::string& text, uint64_t max) {
  const std::string expected =
      "train: " + option + ": expected an integer in [0, " + std::to_string(max) + "]";
  if (text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError(expected + ", found '" + text + "'");
  }
  const uint64_t v = std::stoull(text);
  if (v > max) throw InputError(expected + ", found '" + text + "'");
  return v;
}

std::vector<uint64_t> parse_seeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) seeds.push_back(parse_uint("--seeds", item, ~uint32_t{0}));
  if (seeds.empty() || text.back() == ',') {
    throw InputError("train: --seeds: expected a comma-separated list of integers, found '" + text +
                     "'");
  }
  return seeds;
}

std::string fmt(double v) { return format_double(v); }

// The numerics of the quantized layers from the accelerator config, read with the same keys,
// ranges and defaults as the simulator's units (models/systolic, models/log_grad).
train::Datapath read_datapath(const std::string& file, const std::vector<std::string>& sets) {
  ConfigDoc doc = ConfigDoc::load(file);
  for (const std::string& s : sets) doc.apply_set(s);
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  train::Datapath d;
  ConfigNode core = root.child("accelerator").child("core");
  ConfigNode mac = core.child("mac_array");
  d.forward.acc_bits = static_cast<int>(mac.get_int("acc_bits", d.forward.acc_bits, 8, 64));
  d.forward.overflow = mac.get_choice("acc_overflow", "wrap", {"wrap", "saturate"}) == "saturate"
                           ? numerics::OverflowMode::kSaturate
                           : numerics::OverflowMode::kWrap;
  ConfigNode grad = core.child("log_grad");
  d.backward.chunk_length = grad.get_int("fp16_chunk", d.backward.chunk_length, 0, 1 << 20);
  d.backward.stochastic = grad.get_bool("stochastic_rounding", d.backward.stochastic);
  d.backward.group = grad.get_int("ways", d.backward.group, 1, 1024);
  d.backward.seed =
      static_cast<uint64_t>(root.child("sim").get_int("seed", 1, 0, int64_t{1} << 62));
  return d;
}

Json layer_json(const train::LayerEpoch& l) {
  const double n = static_cast<double>(std::max<uint64_t>(1, l.stats.fp4_values));
  return {
      {"layer", l.layer},
      {"fp4_values", l.stats.fp4_values},
      {"fp4_flush_rate", l.stats.fp4_values ? static_cast<double>(l.stats.fp4.flushed) / n : 0.0},
      {"fp4_saturation_rate",
       l.stats.fp4_values ? static_cast<double>(l.stats.fp4.saturated) / n : 0.0},
      {"grad_scale_log2", l.stats.grad_scale_log2},
      {"pact_alpha", l.stats.pact_alpha},
      {"acc_overflows", l.stats.acc_overflows},
      {"fp16_overflows", l.stats.fp16_overflows},
      {"grad_headroom", l.stats.grad_headroom}};
}

}  // namespace

int train_command(int argc, char* argv[]) {
  po::options_description opts;
  std::string dataset, model, recipe, epochs = "15", seed, seeds, threads, data, out, config;
  std::string emit_trace, trace_step;
  std::vector<std::string> sets;
  opts.add_options()("help,h", "print this help")("dataset", po::value(&dataset),
                                                  "fashion-mnist or digits")(
      "model", po::value(&model), "mlp or cnn")("recipe", po::value(&recipe), "see above")(
      "epochs", po::value(&epochs), "epochs (default 15)")("seed", po::value(&seed),
                                                           "one seed (default 0)")(
      "seeds", po::value(&seeds), "several seeds, e.g. 0,1,2")("threads", po::value(&threads),
                                                               "threads (default: every core)")(
      "data", po::value(&data), "the data set's folder or file")(
      "all-layers", "quantize the first and last layers too")(
      "emit-trace", po::value(&emit_trace), "write step N's training iteration as a trace")(
      "trace-step", po::value(&trace_step), "the step --emit-trace writes (default 1)")(
      "config", po::value(&config), "accelerator config whose datapath decides the numerics")(
      "set", po::value(&sets)->composing(), "override a config key (dotted.key=value)")(
      "out", po::value(&out)->default_value("nibble-out/train"), "output folder");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(std::string("train: ") + e.what() + " (try 'nibble train --help')");
  }
  if (vm.count("help")) {
    std::cout << usage() << opts;
    return 0;
  }
  for (const auto& [flag, value] :
       {std::pair<const char*, const std::string*>{"--dataset", &dataset},
        {"--model", &model},
        {"--recipe", &recipe}}) {
    if (value->empty()) throw InputError(std::string("train: ") + flag + " is required");
  }
  if (dataset != "fashion-mnist" && dataset != "digits") {
    throw InputError("train: --dataset: expected fashion-mnist or digits, found '" + dataset + "'");
  }
  train::TrainOptions options;
  options.all_layers = vm.count("all-layers") > 0;
  if (config.empty() && !sets.empty()) throw InputError("train: --set needs --config FILE");
  if (!config.empty()) options.datapath = read_datapath(config, sets);
  options.model = model;
  options.recipe = recipe;
  options.epochs = static_cast<uint32_t>(parse_uint("--epochs", epochs, 100000));
  if (!seed.empty() && !seeds.empty()) throw InputError("train: give --seed or --seeds, not both");
  const std::vector<uint64_t> seed_list =
      !seeds.empty()
          ? parse_seeds(seeds)
          : std::vector<uint64_t>{seed.empty() ? 0 : parse_uint("--seed", seed, ~uint32_t{0})};
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  options.threads =
      threads.empty() ? cores : static_cast<unsigned>(parse_uint("--threads", threads, 256));
  if (options.threads == 0) throw InputError("train: --threads: expected at least 1, found 0");
  // Every option is checked (the recipe and model by the trainer) before the data is read.
  try {
    train::check_options(options);
  } catch (const InputError& e) {
    throw InputError(std::string("train: ") + e.what());
  }

  if (emit_trace.empty() && !trace_step.empty()) {
    throw InputError("train: --trace-step needs --emit-trace FILE");
  }
  uint64_t emit_step = 0;
  if (!emit_trace.empty()) {
    emit_step = trace_step.empty() ? 1 : parse_uint("--trace-step", trace_step, uint64_t{1} << 40);
    if (emit_step == 0) throw InputError("train: --trace-step: expected at least 1, found 0");
  }
  const train::Dataset set =
      dataset == "digits"
          ? train::load_digits(data.empty() ? train::default_digits_path() : data)
          : train::load_fashion_mnist(data.empty() ? train::default_fashion_mnist_dir() : data);

  if (emit_step != 0) {
    const uint64_t steps = (set.train_size() + options.batch - 1) / options.batch * options.epochs;
    if (emit_step > steps) {
      throw InputError("train: --trace-step: expected a step in [1, " + std::to_string(steps) +
                       "] (" + std::to_string(options.epochs) + " epochs of " +
                       std::to_string(steps / options.epochs) + " steps), found " +
                       std::to_string(emit_step));
    }
  }
  const bool tty = isatty(STDERR_FILENO) == 1;
  install_interrupt_handlers();
  Json runs = Json::array();
  std::string csv = "seed,epoch,learning_rate,train_loss,train_accuracy,test_loss,test_accuracy\n";
  std::vector<double> finals;
  for (const uint64_t s : seed_list) {
    options.seed = s;
    const auto start = std::chrono::steady_clock::now();
    train::TrainProgress progress;
    progress.on_step = [&](uint64_t done, uint64_t total) {
      if (!tty || (done % 10 != 0 && done != total)) return;
      const double spent =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double eta = spent / static_cast<double>(done) * static_cast<double>(total - done);
      std::fprintf(stderr, "\rseed %llu: step %llu/%llu, %.0f s left   ",
                   static_cast<unsigned long long>(s), static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), eta);
    };
    progress.on_epoch = [&](const train::EpochResult& r) {
      if (tty) std::fprintf(stderr, "\r");
      std::fprintf(stderr, "seed %llu epoch %u: loss %.4f, test accuracy %.2f %%",
                   static_cast<unsigned long long>(s), r.epoch, r.train_loss,
                   100 * r.test_accuracy);
      if (r.skipped_steps > 0) {
        std::fprintf(stderr, " (%llu steps skipped: FP16 overflow in a gradient GEMM)",
                     static_cast<unsigned long long>(r.skipped_steps));
      }
      std::fprintf(stderr, "\n");
    };
    options.trace_step = s == seed_list.front() ? emit_step : 0;
    progress.on_trace = [&](train::Network& net) {
      const size_t batch = net.gemm_layers().front()->capture().input.n;
      train::write_step_trace(emit_trace, net, options, set, batch, options.trace_step);
      std::fprintf(stderr, "%swrote %s (step %llu, batch %zu)\n", tty ? "\r" : "",
                   emit_trace.c_str(), static_cast<unsigned long long>(options.trace_step), batch);
    };
    progress.should_stop = interrupt_requested;
    const std::vector<train::EpochResult> epochs_done = train::train(set, options, progress);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "seed %llu: %.1f s\n", static_cast<unsigned long long>(s), wall);
    Json list = Json::array();
    for (const train::EpochResult& r : epochs_done) {
      Json layers = Json::array();
      for (const train::LayerEpoch& l : r.layers) layers.push_back(layer_json(l));
      list.push_back({{"epoch", r.epoch},
                      {"learning_rate", r.learning_rate},
                      {"train_loss", r.train_loss},
                      {"train_accuracy", r.train_accuracy},
                      {"test_loss", r.test_loss},
                      {"test_accuracy", r.test_accuracy},
                      {"skipped_steps", r.skipped_steps},
                      {"layers", layers}});
      csv += std::to_string(s) + "," + std::to_string(r.epoch) + "," + fmt(r.learning_rate) + "," +
             fmt(r.train_loss) + "," + fmt(r.train_accuracy) + "," + fmt(r.test_loss) + "," +
             fmt(r.test_accuracy) + "\n";
    }
    // An interrupted run keeps its finished epochs; the final figures are of complete runs.
    if (epochs_done.size() == options.epochs) finals.push_back(epochs_done.back().test_accuracy);
    runs.push_back({{"seed", s}, {"epochs", list}});
    if (interrupt_requested()) break;
  }
  const bool complete = !interrupt_requested();
  double mean = 0, var = 0;
  for (const double a : finals) mean += a / static_cast<double>(finals.size());
  for (const double a : finals) var += (a - mean) * (a - mean);
  // The sample standard deviation (n − 1); 0 for one seed.
  const double sd = finals.size() > 1 ? std::sqrt(var / static_cast<double>(finals.size() - 1)) : 0;
  Json report = {
      {"format", "nibble-train"},
      {"version", 1},
      {"dataset", set.name},
      {"train_images", set.train_size()},
      {"test_images", set.test_size()},
      {"model", model},
      {"recipe", recipe},
      {"all_layers", options.all_layers},
      {"datapath",
       {{"acc_bits", options.datapath.forward.acc_bits},
        {"acc_overflow", options.datapath.forward.overflow == numerics::OverflowMode::kSaturate
                             ? "saturate"
                             : "wrap"},
        {"fp16_chunk", options.datapath.backward.chunk_length},
        {"stochastic_rounding", options.datapath.backward.stochastic},
        {"ways", options.datapath.backward.group}}},
      {"epochs", options.epochs},
      {"batch", options.batch},
      {"learning_rate", options.learning_rate},
      {"momentum", options.momentum},
      {"weight_decay", options.weight_decay},
      {"threads", options.threads},
      {"complete", complete},
      {"runs", runs},
      {"final_test_accuracy", {{"mean", mean}, {"std", sd}, {"seeds", finals.size()}}}};
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out)) {
    throw InputError(out + ": cannot create the output directory (" + ec.message() + ")");
  }
  write_file_atomically(fs::path(out) / "train.csv", csv);
  write_file_atomically(fs::path(out) / "train.json", report.dump(2) + "\n");
  std::printf("%s %s %s, %u epochs, %zu seed%s: test accuracy %.2f %% +- %.2f %%  -> %s\n",
              set.name.c_str(), model.c_str(), recipe.c_str(), options.epochs, finals.size(),
              finals.size() == 1 ? "" : "s", 100 * mean, 100 * sd, out.c_str());
  if (!complete) {
    std::fprintf(stderr, "nibble: interrupted; wrote the finished epochs to %s\n", out.c_str());
    return 128 + interrupt_signal();
  }
  return 0;
}

}  // namespace nibble
