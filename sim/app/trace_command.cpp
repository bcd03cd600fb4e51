// `nibble trace`: write the Nibble trace of one training iteration of a built-in network or of a
// layer graph (workloads/generators).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>

#include <boost/program_options.hpp>

#include "sim/app/commands.h"
#include "sim/app/trace_generation.h"
#include "sim/atomic_file.h"
#include "sim/error.h"
#include "workloads/generators/expand.h"
#include "workloads/generators/network.h"
#include "workloads/generators/zoo.h"

namespace nibble {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxCount = uint64_t{1} << 30;

std::string usage() {
  std::string s =
      "usage: nibble trace --network NAME --batch B --recipe R [--input HxW | --seq-len L]\n"
      "                    [--classes N] [--first-last P] -o FILE [--save-graph FILE]\n"
      "       nibble trace --graph GRAPH.json [--batch B] --recipe R [--first-last P] -o FILE\n"
      "\n"
      "Writes the Nibble trace (JSON) of one training iteration of a built-in network or of a\n"
      "layer graph (\"nibble-network\" JSON, e.g. from scripts/onnx_to_trace.py): forward,\n"
      "backward and update ops under a precision recipe. See workloads/generators/README.md.\n"
      "Exit status: 0 written, 2 bad input (nothing written).\n"
      "\n"
      "networks:\n";
  for (const ZooEntry& e : zoo_entries()) {
    s += "  " + e.name + std::string(e.name.size() < 18 ? 18 - e.name.size() : 1, ' ') + e.summary +
         "\n";
  }
  s += "\nrecipes: " + recipe_names() + "\n\n";
  return s;
}

// A positive integer option, digits only.
uint64_t parse_count(const std::string& option, const std::string& text) {
  const std::string expected =
      "trace: " + option + ": expected an integer in [1, " + std::to_string(kMaxCount) + "]";
  if (text.empty() || text.size() > 10 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError(expected + ", found '" + text + "'");
  }
  const uint64_t v = std::stoull(text);
  if (v < 1 || v > kMaxCount) throw InputError(expected + ", found '" + text + "'");
  return v;
}

// "HxW" (or "N" for N×N).
std::pair<uint64_t, uint64_t> parse_size(const std::string& text) {
  const auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (digits(text)) {
    const uint64_t n = parse_count("--input", text);
    return {n, n};
  }
  const auto x = text.find_first_of("xX");
  if (x == std::string::npos || !digits(text.substr(0, x)) || !digits(text.substr(x + 1))) {
    throw InputError("trace: --input: expected HxW (e.g. 224x224), found '" + text + "'");
  }
  return {parse_count("--input", text.substr(0, x)), parse_count("--input", text.substr(x + 1))};
}

// Writes `text` to `path` atomically, making its folder when missing.
void write_output(const std::string& path, const std::string& text) {
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  write_file_atomically(path, text);
}

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) {
    s.insert(static_cast<std::size_t>(i), ",");
  }
  return s;
}

}  // namespace

GeneratedTrace generate_trace(const TraceRequest& r) {
  if (r.network.empty() == r.graph.empty()) {
    throw InputError(r.network.empty() ? "trace: --network NAME or --graph FILE is required"
                                       : "trace: give --network or --graph, not both");
  }
  if (r.recipe.empty()) throw InputError("trace: --recipe R is required");
  const auto recipe = parse_recipe(r.recipe);
  if (!recipe) {
    throw InputError("trace: unknown recipe '" + r.recipe +
                     "' (expected one of: " + recipe_names() + ")");
  }
  const auto first_last = parse_first_last(r.first_last);
  if (!first_last) {
    throw InputError("trace: --first-last: expected fp16, hfp8 or recipe, found '" + r.first_last +
                     "'");
  }
  const uint64_t batch = r.batch.empty() ? 0 : parse_count("--batch", r.batch);

  Network net;
  Json source = Json::object();
  source["generator"] = "nibble trace";
  std::string what;
  if (!r.network.empty() && find_zoo_entry(r.network) == nullptr) {
    try {
      build_network(r.network, {});  // throws: unknown network, with the list
    } catch (const InputError& e) {
      throw InputError(std::string("trace: ") + e.what());
    }
  }
  if (!r.network.empty()) {
    const ZooEntry* entry = find_zoo_entry(r.network);
    if (batch == 0) throw InputError("trace: --batch B is required with --network");
    ZooOptions zoo;
    zoo.batch = batch;
    if (!r.input.empty()) {
      if (entry->input != ZooInput::kImage) {
        throw InputError("trace: --input applies to image networks, not to " + r.network +
                         (entry->input == ZooInput::kSequence ? " (use --seq-len)" : ""));
      }
      std::tie(zoo.height, zoo.width) = parse_size(r.input);
    }
    if (!r.seq_len.empty()) {
      if (entry->input != ZooInput::kSequence) {
        throw InputError(
            "trace: --seq-len applies to transformer-base, bert-base and lstm, not "
            "to " +
            r.network);
      }
      zoo.seq_len = parse_count("--seq-len", r.seq_len);
    }
    if (!r.classes.empty()) {
      if (!entry->has_classes) {
        throw InputError("trace: --classes applies to classifiers, not to " + r.network);
      }
      zoo.classes = parse_count("--classes", r.classes);
    }
    try {
      net = build_network(r.network, zoo);
    } catch (const InputError& e) {
      throw InputError(std::string("trace: ") + e.what());
    }
    source["network"] = r.network;
    source["batch"] = batch;
    source["recipe"] = r.recipe;
    std::string shape;
    if (entry->input == ZooInput::kImage) {
      const Layer& first = net.layers.front();
      shape = std::to_string(first.h) + "x" + std::to_string(first.w);
      source["input"] = shape;
      shape = "input " + shape;
    } else if (entry->input == ZooInput::kSequence) {
      const uint64_t len = net.layers.front().rows;  // the token embedding's rows
      source["seq_len"] = len;
      shape = "sequence length " + std::to_string(len);
    }
    if (entry->has_classes) {
      const Layer& logits = net.layers.back();
      source["classes"] = logits.elements;
    }
    what =
        r.network + " (batch " + std::to_string(batch) + (shape.empty() ? "" : ", " + shape) + ")";
  } else {
    for (const auto& [flag, text] :
         {std::pair<const char*, const std::string*>{"--input", &r.input},
          {"--seq-len", &r.seq_len},
          {"--classes", &r.classes}}) {
      if (!text->empty()) {
        throw InputError(std::string("trace: ") + flag +
                         " applies to --network only (a graph fixes its shapes)");
      }
    }
    net = read_network(r.graph);
    if (batch != 0) net.batch = batch;
    source["graph"] = r.graph;
    source["network"] = net.name;
    source["batch"] = net.batch;
    source["recipe"] = r.recipe;
    what = "the layer graph " + r.graph + " (" + net.name + ", batch " + std::to_string(net.batch) +
           ")";
  }
  source["first_last"] = r.first_last;
  const uint64_t per_sample = forward_macs(net);
  source["forward_macs"] = per_sample * net.batch;

  ExpandOptions expand;
  expand.recipe = *recipe;
  expand.first_last = *first_last;
  const std::string description = "One training iteration of " + what + " under the " + r.recipe +
                                  " recipe (first and last weight layers: " + r.first_last +
                                  "): forward, backward and update ops, written by nibble trace.";
  GeneratedTrace out;
  out.trace = make_trace(net, expand, description, source);
  out.what = what;
  out.per_sample_macs = per_sample;
  out.net = std::move(net);
  return out;
}

int trace_command(int argc, char* argv[]) {
  std::string network, graph, batch_text, recipe_text, input_text, seq_len_text, classes_text,
      first_last_text = "fp16", out_file, save_graph;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "network,n", po::value(&network)->value_name("NAME"), "a built-in network (listed above)")(
      "graph,g", po::value(&graph)->value_name("FILE"), "a layer graph (nibble-network JSON)")(
      "batch,b", po::value(&batch_text)->value_name("B"),
      "samples per iteration (required with --network; with --graph it replaces the graph's)")(
      "recipe,r", po::value(&recipe_text)->value_name("R"), "precision recipe (listed above)")(
      "input", po::value(&input_text)->value_name("HxW"),
      "image networks: input size (default 224x224; lenet 32x32)")(
      "seq-len", po::value(&seq_len_text)->value_name("L"),
      "transformer-base, bert-base, lstm: tokens per sequence (default 128; lstm 35)")(
      "classes", po::value(&classes_text)->value_name("N"),
      "classifiers: output classes (default 1000; mlp and lenet 10)")(
      "first-last", po::value(&first_last_text)->value_name("P"),
      "first and last weight layers in 4-bit and hfp8 recipes: fp16 (default), hfp8 or recipe")(
      "out,o", po::value(&out_file)->value_name("FILE"), "the trace to write")(
      "save-graph", po::value(&save_graph)->value_name("FILE"),
      "with --network: also write its layer graph (nibble-network JSON)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(std::string("trace: ") + e.what() + " (try 'nibble trace --help')");
  }
  if (vm.count("help")) {
    std::cout << usage() << options;
    return 0;
  }

  // Check every option before building or writing anything.
  // (-o is checked after the network, the recipe and --first-last, as it always was.)
  if (out_file.empty() && network.empty() != graph.empty() && parse_recipe(recipe_text) &&
      parse_first_last(first_last_text)) {
    throw InputError("trace: -o FILE (the trace to write) is required");
  }
  if (!save_graph.empty() && network.empty()) {
    throw InputError("trace: --save-graph applies to --network only (a graph fixes its shapes)");
  }
  TraceRequest request;
  request.network = network;
  request.graph = graph;
  request.batch = batch_text;
  request.recipe = recipe_text;
  request.input = input_text;
  request.seq_len = seq_len_text;
  request.classes = classes_text;
  request.first_last = first_last_text;
  const GeneratedTrace generated = generate_trace(request);
  const Json& trace = generated.trace;
  const Network& net = generated.net;
  const uint64_t per_sample = generated.per_sample_macs;

  if (!save_graph.empty()) write_output(save_graph, json_to_text(network_to_json(net)));
  write_output(out_file, json_to_text(trace));
  std::cout << "nibble trace: wrote " << out_file << ": " << trace["name"].get<std::string>()
            << ", " << trace["ops"].size() << " ops, " << with_commas(per_sample)
            << " forward MACs per sample\n";
  return 0;
}

}  // namespace nibble
