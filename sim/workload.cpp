#include "sim/workload.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_set>

#include "sim/config.h"
#include "sim/error.h"
#include "sim/strict_object.h"

namespace nibble {

namespace {

struct PrecisionInfo {
  Precision precision;
  const char* name;
  uint32_t bits;
  const char* datapath;
};

constexpr std::array<PrecisionInfo, 10> kPrecisions{{
    {Precision::kInt2, "int2", 2, "int2"},
    {Precision::kInt4, "int4", 4, "int4"},
    {Precision::kUint4, "uint4", 4, "int4"},
    {Precision::kInt8, "int8", 8, "int8"},
    {Precision::kFp4, "fp4", 4, "fp4"},
    {Precision::kHfp8_143, "hfp8_143", 8, "hfp8"},
    {Precision::kHfp8_152, "hfp8_152", 8, "hfp8"},
    {Precision::kFp16, "fp16", 16, "fp16"},
    {Precision::kDlfloat16, "dlfloat16", 16, "fp16"},
    {Precision::kFp32, "fp32", 32, "fp32"},
}};

const PrecisionInfo& info(Precision p) { return kPrecisions[static_cast<std::size_t>(p)]; }

// Dimensions above 2^30 are certainly typos, and the bound keeps every product we form in range.
constexpr uint64_t kMaxDim = uint64_t{1} << 30;
// An op of more than 2^60 MACs would take decades to simulate; it is a typo, not a workload.
constexpr uint64_t kMaxMacs = uint64_t{1} << 60;

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& where) {
  if (a != 0 && b > kMaxMacs / a) {
    throw InputError(where + ": the op is too large (more than 2^60 MACs); check its dimensions");
  }
  return a * b;
}

void check_macs(const GemmShape& g, const std::string& where) {
  checked_mul(checked_mul(g.m, g.n, where), g.k, where);
}

}  // namespace

const char* const kPrecisionNames =
    "\"int2\", \"int4\", \"uint4\", \"int8\", \"fp4\", \"hfp8_143\", \"hfp8_152\", \"fp16\", "
    "\"dlfloat16\", \"fp32\"";

const char* to_string(Pass pass) {
  switch (pass) {
    case Pass::kFwd:
      return "fwd";
    case Pass::kBwdData:
      return "bwd_data";
    case Pass::kBwdWeight:
      return "bwd_weight";
    case Pass::kUpdate:
      return "update";
  }
  return "?";
}

std::optional<Pass> parse_pass(const std::string& text) {
  for (Pass p : {Pass::kFwd, Pass::kBwdData, Pass::kBwdWeight, Pass::kUpdate}) {
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

const char* to_string(Precision precision) { return info(precision).name; }
uint32_t bits_of(Precision precision) { return info(precision).bits; }
const char* datapath_of(Precision precision) { return info(precision).datapath; }

std::optional<Precision> parse_precision(const std::string& text) {
  for (const auto& p : kPrecisions) {
    if (text == p.name) return p.precision;
  }
  return std::nullopt;
}

const char* to_string(OpType type) {
  switch (type) {
    case OpType::kGemm:
      return "gemm";
    case OpType::kConv2d:
      return "conv2d";
    case OpType::kQuantize:
      return "quantize";
    case OpType::kVector:
      return "vector";
    case OpType::kRescale:
      return "rescale";
    case OpType::kAllReduce:
      return "allreduce";
  }
  return "?";
}

GemmShape lower_conv2d(const ConvShape& conv, Pass pass, const std::string& where) {
  if (conv.h + 2 * conv.padding < conv.r || conv.w + 2 * conv.padding < conv.s) {
    throw InputError(
        where + ": the filter (R=" + std::to_string(conv.r) + ", S=" + std::to_string(conv.s) +
        ") is larger than the padded input (H+2p=" + std::to_string(conv.h + 2 * conv.padding) +
        ", W+2p=" + std::to_string(conv.w + 2 * conv.padding) + ")");
  }
  const uint64_t pixels =
      checked_mul(checked_mul(conv.batch, conv.out_h(), where), conv.out_w(), where);
  const uint64_t window = checked_mul(checked_mul(conv.r, conv.s, where), conv.c, where);
  GemmShape g;
  switch (pass) {
    case Pass::kFwd:
      g = {pixels, conv.filters, window};
      break;
    case Pass::kBwdData:
      g = {pixels, window, conv.filters};
      break;
    case Pass::kBwdWeight:
    case Pass::kUpdate:
      g = {window, conv.filters, pixels};
      break;
  }
  check_macs(g, where);
  return g;
}

GemmShape lower_conv2d_scalesim(const ConvShape& conv) {
  const uint64_t rows = (conv.h - conv.r + conv.stride + conv.stride - 1) / conv.stride;
  const uint64_t cols = (conv.w - conv.s + conv.stride + conv.stride - 1) / conv.stride;
  return {rows * cols, conv.filters, conv.r * conv.s * conv.c};
}

// ---------------------------------------------------------------------------------------------
// JSON traces

namespace {

// Trace objects are read strictly (sim/strict_object.h).
using TraceObject = StrictObject;

Precision precision_field(TraceObject& obj, const std::string& key) {
  const std::string expected = std::string("one of ") + kPrecisionNames;
  const Json& j = obj.require(key, expected);
  if (!j.is_string()) obj.fail(key, expected, j);
  const auto p = parse_precision(j.get<std::string>());
  if (!p) obj.fail(key, expected, j);
  return *p;
}

std::string tensor_path(TraceObject& t, const std::string& key, const std::string& trace_dir) {
  const Json* j = t.find(key);
  if (j == nullptr) return "";
  if (!j->is_string() || j->get<std::string>().empty()) t.fail(key, "a .npy file path", *j);
  const std::string p = j->get<std::string>();
  return p.front() == '/' || trace_dir.empty() ? p : trace_dir + "/" + p;
}

OpTensors read_tensors(const std::string& file, const Json& node, const std::string& path,
                       const Op& op) {
  const std::string dir =
      file.find('/') == std::string::npos ? "" : file.substr(0, file.rfind('/'));
  TraceObject t(file, node, path);
  OpTensors x;
  if (const Json* a = t.find("pact_alpha")) {
    if (!a->is_number() || a->get<double>() <= 0) t.fail("pact_alpha", "a number > 0", *a);
    x.pact_alpha = a->get<double>();
  }
  if (const Json* g = t.find("grad_scale_log2")) {
    if (!g->is_number_integer() || g->get<int64_t>() < -126 || g->get<int64_t>() > 127) {
      t.fail("grad_scale_log2", "an integer in [-126, 127]", *g);
    }
    x.grad_scale_log2 = static_cast<int>(g->get<int64_t>());
  }
  auto need = [&](const std::string& key, std::string& field) {
    field = tensor_path(t, key, dir);
    if (field.empty()) {
      throw InputError(file + ": " + path + "." + key + ": missing; a " + to_string(op.type) +
                       " op in pass \"" + to_string(op.pass) + "\" needs it");
    }
  };
  if (op.type == OpType::kQuantize) {
    need("input", x.input);
    // Each conversion takes only its own parameter: PACT/clip for integers, GradScale for FP4.
    const bool fp4 = op.precision.out == Precision::kFp4;
    const char* unused = fp4 ? "pact_alpha" : "grad_scale_log2";
    if (t.find(unused) != nullptr) {
      throw InputError(file + ": " + path + "." + unused + ": not used by a quantize op to \"" +
                       to_string(op.precision.out) + "\" (" +
                       (fp4 ? "FP4 takes grad_scale_log2" : "integer targets take pact_alpha") +
                       ")");
    }
  } else if (op.type == OpType::kGemm) {
    need("a", x.a);
    need("b", x.b);
  } else if (op.pass == Pass::kFwd) {
    need("input", x.input);
    need("weight", x.weight);
  } else if (op.pass == Pass::kBwdData) {
    need("grad_output", x.grad_output);
    need("weight", x.weight);
  } else {
    need("input", x.input);
    need("grad_output", x.grad_output);
  }
  t.finish();
  return x;
}

// A precision given as a string field, limited to `allowed`; `fallback` when absent (required when
// there is none).
Precision optional_precision(TraceObject& obj, const std::string& key,
                             std::optional<Precision> fallback,
                             const std::vector<Precision>& allowed) {
  std::string expected = "one of ";
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    expected += (i == 0 ? "\"" : ", \"") + std::string(to_string(allowed[i])) + "\"";
  }
  const Json* j = fallback ? obj.find(key) : &obj.require(key, expected);
  if (j == nullptr) return *fallback;
  if (!j->is_string()) obj.fail(key, expected, *j);
  const auto p = parse_precision(j->get<std::string>());
  if (!p || std::find(allowed.begin(), allowed.end(), *p) == allowed.end()) {
    obj.fail(key, expected, *j);
  }
  return *p;
}

void read_gemm_fields(TraceObject& obj, Op& op, const std::string& file, const std::string& path) {
  const Json& prec = obj.require("precision", "an object {\"a\", \"b\", \"out\"}");
  if (!prec.is_object()) obj.fail("precision", "an object {\"a\", \"b\", \"out\"}", prec);
  TraceObject p(file, prec, obj.where("precision"));
  op.precision.a = precision_field(p, "a");
  op.precision.b = precision_field(p, "b");
  op.precision.out = precision_field(p, "out");
  p.finish();

  if (op.type == OpType::kGemm) {
    op.gemm = {obj.dim("M", std::nullopt, 1), obj.dim("N", std::nullopt, 1),
               obj.dim("K", std::nullopt, 1)};
    op.gemm_batch = obj.dim("batch", 1, 1);
    check_macs(op.gemm, file + ": " + path);
    checked_mul(op.gemm_batch, op.gemm.macs(), file + ": " + path + " (batch × M·N·K)");
    return;
  }
  ConvShape c;
  c.batch = obj.dim("batch", 1, 1);
  c.c = obj.dim("C", std::nullopt, 1);
  c.h = obj.dim("H", std::nullopt, 1);
  c.w = obj.dim("W", std::nullopt, 1);
  c.filters = obj.dim("filters", std::nullopt, 1);
  c.r = obj.dim("R", std::nullopt, 1);
  c.s = obj.dim("S", std::nullopt, 1);
  c.stride = obj.dim("stride", 1, 1);
  c.padding = obj.dim("padding", 0, 0);
  c.groups = obj.dim("groups", 1, 1);
  for (const auto& [key, value] :
       {std::pair<const char*, uint64_t>{"C", c.c}, {"filters", c.filters}}) {
    if (value % c.groups != 0) {
      throw InputError(file + ": " + obj.where("groups") + ": " + std::to_string(c.groups) +
                       " groups do not divide " + key + " = " + std::to_string(value));
    }
  }
  op.conv = c;
  op.lowering = "im2col";
  // Each group is a convolution of C/groups channels into filters/groups filters.
  ConvShape group = c;
  group.c /= c.groups;
  group.filters /= c.groups;
  op.gemm = lower_conv2d(group, op.pass, file + ": " + path + " (\"" + op.name + "\")");
  op.gemm_batch = c.groups;
  checked_mul(op.gemm_batch, op.gemm.macs(), file + ": " + path + " (groups × M·N·K)");
}

// `dep_names` receives the op's `deps` (names; resolved to indices once all earlier ops are known).
Op read_op(const std::string& file, const Json& node, const std::string& path,
           std::vector<std::string>& dep_names) {
  if (!node.is_object()) {
    throw InputError(file + ": " + path + ": expected an op object, found " + describe_json(node));
  }
  TraceObject obj(file, node, path);
  Op op;
  op.name = obj.string("name");

  const char* const types =
      "\"gemm\", \"conv2d\", \"quantize\", \"rescale\", \"vector\" or \"allreduce\"";
  const Json& type = obj.require("type", types);
  if (type == "gemm") {
    op.type = OpType::kGemm;
  } else if (type == "conv2d") {
    op.type = OpType::kConv2d;
  } else if (type == "quantize") {
    op.type = OpType::kQuantize;
  } else if (type == "vector") {
    op.type = OpType::kVector;
  } else if (type == "rescale") {
    op.type = OpType::kRescale;
  } else if (type == "allreduce") {
    op.type = OpType::kAllReduce;
  } else {
    obj.fail("type", types, type);
  }

  const std::string pass_expected = std::string("one of ") + kPassNames;
  const Json& pass = obj.require("pass", pass_expected);
  if (!pass.is_string() || !parse_pass(pass.get<std::string>())) {
    obj.fail("pass", pass_expected, pass);
  }
  op.pass = *parse_pass(pass.get<std::string>());

  switch (op.type) {
    case OpType::kGemm:
    case OpType::kConv2d:
      read_gemm_fields(obj, op, file, path);
      break;
    case OpType::kQuantize: {
      op.vector = VectorShape{obj.dim("elements", std::nullopt, 1), ""};
      op.precision.a =
          optional_precision(obj, "from", Precision::kFp16, {Precision::kFp16, Precision::kFp32});
      op.precision.b = op.precision.a;
      op.precision.out = optional_precision(
          obj, "to", std::nullopt,
          {Precision::kUint4, Precision::kInt4, Precision::kInt2, Precision::kFp4});
      if (const Json* phase = obj.find("phase")) {
        const char* expected = "\"both\", \"even\" or \"odd\" (the TPR phases written)";
        if (op.precision.out != Precision::kFp4) {
          throw InputError(file + ": " + obj.where("phase") +
                           ": only a quantize op to \"fp4\" has TPR phases");
        }
        if (*phase != "both" && *phase != "even" && *phase != "odd") {
          obj.fail("phase", expected, *phase);
        }
        op.fp4_phase = phase->get<std::string>();
      }
      break;
    }
    case OpType::kRescale: {
      op.vector = VectorShape{obj.dim("elements", std::nullopt, 1), ""};
      const std::vector<Precision> floats = {Precision::kFp32, Precision::kFp16,
                                             Precision::kDlfloat16, Precision::kHfp8_143,
                                             Precision::kHfp8_152};
      op.precision.a = optional_precision(obj, "from", Precision::kFp32, floats);
      op.precision.b = op.precision.a;
      op.precision.out = optional_precision(obj, "to", Precision::kFp16, floats);
      break;
    }
    case OpType::kAllReduce: {
      op.vector = VectorShape{obj.dim("elements", std::nullopt, 1), ""};
      op.precision.a = optional_precision(obj, "precision", Precision::kFp32,
                                          {Precision::kFp32, Precision::kFp16});
      op.precision.b = op.precision.out = op.precision.a;
      break;
    }
    case OpType::kVector: {
      op.vector = VectorShape{obj.dim("elements", std::nullopt, 1), obj.string("function")};
      op.precision.a = optional_precision(obj, "precision", Precision::kFp16,
                                          {Precision::kFp16, Precision::kFp32});
      op.precision.b = op.precision.out = op.precision.a;
      break;
    }
  }
  if (const Json* split = obj.find("split")) {
    const bool gemm = op.type == OpType::kGemm || op.type == OpType::kConv2d;
    if (!split->is_string() || (*split != "m" && (!gemm || (*split != "n" && *split != "k")))) {
      obj.fail("split",
               gemm ? "\"m\", \"n\" or \"k\"" : "\"m\" (an element-wise op splits its elements)",
               *split);
    }
    op.split = split->get<std::string>();
  }
  if (const Json* t = obj.find("tensors")) {
    if (op.type == OpType::kVector || op.type == OpType::kRescale ||
        op.type == OpType::kAllReduce) {
      throw InputError(file + ": " + obj.where("tensors") + ": a " + to_string(op.type) +
                       " op carries no tensors (only gemm, conv2d and quantize ops do)");
    }
    if (op.gemm_batch > 1) {
      throw InputError(file + ": " + obj.where("tensors") +
                       ": tensors are supported on single GEMMs only (this op has batch/groups " +
                       std::to_string(op.gemm_batch) + ")");
    }
    if (!t->is_object()) obj.fail("tensors", "an object of tensor files", *t);
    op.tensors = read_tensors(file, *t, obj.where("tensors"), op);
  }
  if (const Json* deps = obj.find("deps")) {
    const char* expected = "an array of names of earlier ops";
    if (!deps->is_array()) obj.fail("deps", expected, *deps);
    for (std::size_t d = 0; d < deps->size(); ++d) {
      const Json& name = (*deps)[d];
      if (!name.is_string()) obj.fail("deps[" + std::to_string(d) + "]", expected, name);
      dep_names.push_back(name.get<std::string>());
    }
  }
  obj.finish();
  return op;
}

// `where(i)` names op i in the file (".ops[3].name" in a trace, "line 5" in a CSV).
template <typename Where>
void check_unique_names(const Workload& w, Where where) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    if (!seen.insert(w.ops[i].name).second) {
      throw InputError(w.file + ": " + where(i) + ": the name \"" + w.ops[i].name +
                       "\" is used by an earlier op; op names must be unique");
    }
  }
}

std::string stem_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto dot = base.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

}  // namespace

namespace {

// FNV-1a, 64 bits: op names are checked for uniqueness (and deps resolved) through their hashes,
// 8 bytes per op whatever the name's length. Two different names colliding (about 3·10⁻⁸ for a
// million ops) would be reported as a duplicate.
uint64_t name_hash(const std::string& name) {
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

// The set of names seen so far, as hashes, in about 8 bytes per name: a sorted array, plus a
// hash set of the latest ones that is merged into the array when it grows large.
class NameIndex {
 public:
  bool contains(uint64_t h) const {
    return recent_.count(h) != 0 || std::binary_search(sorted_.begin(), sorted_.end(), h);
  }
  bool insert(uint64_t h) {
    if (contains(h)) return false;
    recent_.insert(h);
    if (recent_.size() == kRecent) {
      const std::size_t old = sorted_.size();
      sorted_.insert(sorted_.end(), recent_.begin(), recent_.end());
      std::sort(sorted_.begin() + static_cast<std::ptrdiff_t>(old), sorted_.end());
      std::inplace_merge(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(old),
                         sorted_.end());
      recent_.clear();
    }
    return true;
  }
  void clear() {
    sorted_.clear();
    sorted_.shrink_to_fit();
    recent_.clear();
  }

 private:
  static constexpr std::size_t kRecent = 1 << 16;
  std::vector<uint64_t> sorted_;
  std::unordered_set<uint64_t> recent_;
};

// A pull scanner over a JSON text: finds the boundaries of values without building them, so the
// ops array can be taken one element at a time. Strings are scanned with their escapes.
class JsonScanner {
 public:
  JsonScanner(std::istream& in, const std::string& file) : buf_(*in.rdbuf()), file_(file) {}

  int peek() { return buf_.sgetc(); }
  int get() {
    const int c = buf_.sbumpc();
    if (c == '\n') ++line_;
    return c;
  }
  void skip_ws() {
    for (int c = peek(); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = peek()) get();
  }
  [[noreturn]] void fail(const std::string& expected) {
    const int c = peek();
    const std::string found = c == std::char_traits<char>::eof()
                                  ? std::string("the end of the file")
                                  : "'" + std::string(1, static_cast<char>(c)) + "'";
    throw InputError(file_ + ": not valid JSON: line " + std::to_string(line_) + ": expected " +
                     expected + ", found " + found);
  }
  void expect(char c, const char* what) {
    skip_ws();
    if (peek() != c) fail(what);
    get();
  }
  // One value's text (appended to `out` when not null), from its first to its last character.
  void value(std::string* out) {
    skip_ws();
    const int first = peek();
    if (first == std::char_traits<char>::eof()) fail("a value");
    if (first == '"') return string(out);
    if (first != '{' && first != '[') {
      // A number or a literal: up to the next delimiter; Json::parse judges it.
      for (int c = peek(); c != std::char_traits<char>::eof() && c != ',' && c != ']' && c != '}' &&
                           c != ' ' && c != '\n' && c != '\t' && c != '\r';
           c = peek()) {
        if (out) out->push_back(static_cast<char>(c));
        get();
      }
      return;
    }
    std::string stack;
    do {
      const int c = peek();
      if (c == std::char_traits<char>::eof()) fail(stack.back() == '{' ? "'}'" : "']'");
      if (c == '"') {
        string(out);
        continue;
      }
      if (c == '{' || c == '[') stack.push_back(c == '{' ? '{' : '[');
      if (c == '}' || c == ']') {
        if (stack.back() != (c == '}' ? '{' : '[')) fail(stack.back() == '{' ? "'}'" : "']'");
        stack.pop_back();
      }
      if (out) out->push_back(static_cast<char>(c));
      get();
    } while (!stack.empty());
  }
  void string(std::string* out) {
    if (peek() != '"') fail("'\"'");
    if (out) out->push_back('"');
    get();
    for (;;) {
      const int c = get();
      if (c == std::char_traits<char>::eof() || c == '\n') fail("the end of a string");
      if (out) out->push_back(static_cast<char>(c));
      if (c == '"') return;
      if (c == '\\') {
        const int e = get();
        if (e == std::char_traits<char>::eof()) fail("an escape");
        if (out) out->push_back(static_cast<char>(e));
      }
    }
  }
  uint64_t line() const { return line_; }
  void set_line(uint64_t line) { line_ = line; }

 private:
  std::streambuf& buf_;
  const std::string& file_;
  uint64_t line_ = 1;
};

}  // namespace

struct WorkloadReader::Impl {
  Workload header;
  bool json = false;
  // JSON: the file, where the ops array begins, and the scan state.
  std::ifstream in;
  std::unique_ptr<JsonScanner> scan;
  std::streampos ops_pos;
  uint64_t ops_line = 1;
  bool started = false, done = false;
  // CSV: every op (topologies are small).
  std::vector<Op> csv_ops;
  uint64_t index = 0;
  NameIndex names;
};

WorkloadReader::WorkloadReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  {
    std::ifstream probe(path);
    if (!probe)
      throw InputError(path + ": cannot open workload file (does it exist and is it readable?)");
    char ch = 0;
    while (probe.get(ch) && std::isspace(static_cast<unsigned char>(ch))) {
    }
    if (!probe) throw InputError(path + ": empty file; expected a JSON trace or a SCALE-Sim CSV");
    m.json = ch == '{';
  }
  if (!m.json) {
    Workload w = read_scalesim_csv(path);
    m.csv_ops = std::move(w.ops);
    w.ops.clear();
    m.header = std::move(w);
    return;
  }
  m.in.open(path, std::ios::binary);
  if (!m.in)
    throw InputError(path + ": cannot open workload file (does it exist and is it readable?)");
  m.scan = std::make_unique<JsonScanner>(m.in, path);
  JsonScanner& sc = *m.scan;
  // The top-level object: every member but `ops` is read whole; `ops` is only stepped over, and
  // where it begins is kept for next().
  Json root = Json::object();
  bool have_ops = false;
  sc.expect('{', "a trace object at the top level ('{')");
  sc.skip_ws();
  if (sc.peek() == '}') {
    sc.get();
  } else {
    for (;;) {
      sc.skip_ws();
      std::string key_text;
      sc.string(&key_text);
      const std::string key = Json::parse(key_text).get<std::string>();
      sc.expect(':', "':'");
      sc.skip_ws();
      if (key == "ops" && !have_ops) {
        have_ops = true;
        m.ops_line = sc.line();
        m.ops_pos = m.in.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
        if (sc.peek() == '[') {
          sc.value(nullptr);
          root["ops"] = Json::array({nullptr});  // stands for the elements next() reads
        } else {
          std::string text;
          sc.value(&text);
          root["ops"] = Json::parse(text, nullptr, false);
        }
      } else {
        std::string text;
        const uint64_t line = sc.line();
        sc.value(&text);
        try {
          root[key] = Json::parse(text);
        } catch (const Json::parse_error& e) {
          throw InputError(path + ": not valid JSON: line " + std::to_string(line) + ": ." + key +
                           ": " + e.what());
        }
      }
      sc.skip_ws();
      if (sc.peek() == ',') {
        sc.get();
        continue;
      }
      sc.expect('}', "',' or '}'");
      break;
    }
  }
  sc.skip_ws();
  if (sc.peek() != std::char_traits<char>::eof()) sc.fail("the end of the file");

  TraceObject top(path, root, "");
  Workload& w = m.header;
  w.file = path;
  w.format = "nibble-trace";
  top.require_format("nibble-trace", "trace format");
  w.name = stem_of(path);
  if (const Json* name = top.find("name")) {
    if (!name->is_string() || name->get<std::string>().empty()) {
      top.fail("name", "a non-empty string", *name);
    }
    w.name = name->get<std::string>();
  }
  if (const Json* d = top.find("description"); d != nullptr && !d->is_string()) {
    top.fail("description", "a string", *d);
  }
  w.iterations = top.dim("iterations", 1, 1);
  if (const Json* source = top.find("source")) {
    if (!source->is_object()) top.fail("source", "an object (free-form)", *source);
    w.source = *source;
  }
  const Json& ops = top.require("ops", "a non-empty array of ops");
  if (!ops.is_array()) top.fail("ops", "a non-empty array of ops", ops);
  top.finish();
  rewind();
  // An empty array is refused here, before anyone reads ops.
  JsonScanner& s = *m.scan;
  s.get();  // '['
  s.skip_ws();
  if (s.peek() == ']') top.fail("ops", "a non-empty array of ops", Json::array());
  rewind();
}

WorkloadReader::~WorkloadReader() = default;

const Workload& WorkloadReader::header() const { return impl_->header; }

uint64_t WorkloadReader::index() const { return impl_->index; }

void WorkloadReader::rewind() {
  Impl& m = *impl_;
  m.index = 0;
  m.names.clear();
  m.started = m.done = false;
  if (m.json) {
    m.in.clear();
    m.in.rdbuf()->pubseekpos(m.ops_pos, std::ios::in);
    m.scan->set_line(m.ops_line);
  }
}

bool WorkloadReader::next(Op& op) {
  Impl& m = *impl_;
  const std::string& path = m.header.file;
  if (!m.json) {
    if (m.index == m.csv_ops.size()) return false;
    op = m.csv_ops[m.index++];
    return true;
  }
  if (m.done) return false;
  JsonScanner& sc = *m.scan;
  if (!m.started) {
    m.started = true;
    sc.get();  // '['
  }
  sc.skip_ws();
  if (sc.peek() == ']') {
    m.done = true;
    return false;
  }
  if (m.index > 0) {
    sc.expect(',', "',' or ']' after an op");
    sc.skip_ws();
  }
  const std::string where = ".ops[" + std::to_string(m.index) + "]";
  std::string text;
  const uint64_t line = sc.line();
  sc.value(&text);
  Json node;
  try {
    node = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw InputError(path + ": not valid JSON: line " + std::to_string(line) + ": " + where + ": " +
                     e.what());
  }
  std::vector<std::string> deps;
  op = read_op(path, node, where, deps);
  for (std::size_t d = 0; d < deps.size(); ++d) {
    if (!m.names.contains(name_hash(deps[d]))) {
      throw InputError(path + ": " + where + ".deps[" + std::to_string(d) +
                       "]: expected the name of an earlier op, found \"" + deps[d] + "\"");
    }
  }
  op.deps = std::move(deps);
  op.deps_listed = node.contains("deps");
  if (!m.names.insert(name_hash(op.name))) {
    throw InputError(path + ": " + where + ".name: the name \"" + op.name +
                     "\" is used by an earlier op; op names must be unique");
  }
  ++m.index;
  return true;
}

namespace {

// Every op of a reader, in memory (for workloads known to be small: tests, tools).
Workload read_all(WorkloadReader& reader) {
  Workload w = reader.header();
  Op op;
  while (reader.next(op)) w.ops.push_back(std::move(op));
  return w;
}

}  // namespace

Workload read_json_trace(const std::string& path) {
  WorkloadReader reader(path);
  return read_all(reader);
}

// ---------------------------------------------------------------------------------------------
// SCALE-Sim topology CSVs

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(trim(cell));
  // SCALE-Sim writes a trailing comma on every line.
  while (!cells.empty() && cells.back().empty()) cells.pop_back();
  return cells;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

const std::vector<std::string> kConvHeader = {"layer name",    "ifmap height", "ifmap width",
                                              "filter height", "filter width", "channels",
                                              "num filter",    "strides"};
const std::vector<std::string> kGemmHeader = {"layer name", "m", "n", "k"};

uint64_t csv_dim(const std::string& file, std::size_t line_no, const std::string& column,
                 const std::string& cell) {
  const std::string where =
      file + ": line " + std::to_string(line_no) + ", column '" + column + "'";
  const bool digits = !cell.empty() && std::all_of(cell.begin(), cell.end(), [](unsigned char ch) {
    return std::isdigit(ch) != 0;
  });
  if (!digits || cell.size() > 10 || std::stoull(cell) < 1 || std::stoull(cell) > kMaxDim) {
    throw InputError(where + ": expected an integer in [1, " + std::to_string(kMaxDim) +
                     "], found '" + abbreviate(cell) + "'");
  }
  return std::stoull(cell);
}

}  // namespace

Workload read_scalesim_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw InputError(path + ": cannot open workload file (does it exist and is it readable?)");
  Workload w;
  w.file = path;
  w.format = "scalesim-csv";
  w.name = stem_of(path);
  std::string line;
  std::size_t line_no = 0;
  std::vector<std::string> header;
  std::vector<std::size_t> op_lines;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    auto cells = split_csv_line(line);
    if (header.empty()) {
      for (auto& c : cells) header.push_back(lower(c));
      if (header != kConvHeader && header != kGemmHeader) {
        throw InputError(path + ": line " + std::to_string(line_no) +
                         ": expected a SCALE-Sim topology header, either 'Layer name, IFMAP "
                         "Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                         "Strides,' or 'Layer Name, M, N, K,', found '" +
                         abbreviate(trim(line), 80) + "'");
      }
      continue;
    }
    if (cells.size() != header.size()) {
      throw InputError(path + ": line " + std::to_string(line_no) + ": expected " +
                       std::to_string(header.size()) + " fields, found " +
                       std::to_string(cells.size()));
    }
    Op op;
    op.name = cells[0];
    if (op.name.empty()) {
      throw InputError(path + ": line " + std::to_string(line_no) + ": empty layer name");
    }
    op.pass = Pass::kFwd;
    op.precision = {Precision::kInt4, Precision::kInt4, Precision::kFp16};
    if (header == kGemmHeader) {
      op.type = OpType::kGemm;
      op.gemm = {csv_dim(path, line_no, "M", cells[1]), csv_dim(path, line_no, "N", cells[2]),
                 csv_dim(path, line_no, "K", cells[3])};
    } else {
      ConvShape c;
      c.h = csv_dim(path, line_no, "IFMAP Height", cells[1]);
      c.w = csv_dim(path, line_no, "IFMAP Width", cells[2]);
      c.r = csv_dim(path, line_no, "Filter Height", cells[3]);
      c.s = csv_dim(path, line_no, "Filter Width", cells[4]);
      c.c = csv_dim(path, line_no, "Channels", cells[5]);
      c.filters = csv_dim(path, line_no, "Num Filter", cells[6]);
      c.stride = csv_dim(path, line_no, "Strides", cells[7]);
      if (c.r > c.h || c.s > c.w) {
        throw InputError(path + ": line " + std::to_string(line_no) + " (\"" + op.name +
                         "\"): the filter (" + std::to_string(c.r) + "x" + std::to_string(c.s) +
                         ") is larger than the input (" + std::to_string(c.h) + "x" +
                         std::to_string(c.w) + ")");
      }
      op.type = OpType::kConv2d;
      op.conv = c;
      op.lowering = "scalesim";
      op.gemm = lower_conv2d_scalesim(c);
    }
    check_macs(op.gemm, path + ": line " + std::to_string(line_no));
    w.ops.push_back(std::move(op));
    op_lines.push_back(line_no);
  }
  if (header.empty()) throw InputError(path + ": empty file; expected a SCALE-Sim topology CSV");
  if (w.ops.empty()) throw InputError(path + ": the topology has a header but no layers");
  check_unique_names(w, [&](std::size_t i) { return "line " + std::to_string(op_lines[i]); });
  return w;
}

Workload read_workload(const std::string& path) {
  WorkloadReader reader(path);
  return read_all(reader);
}

}  // namespace nibble
