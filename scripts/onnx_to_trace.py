#!/usr/bin/python3
"""Import an ONNX model into Nibble: write its layer graph and the trace of one training iteration.

Usage (Debian's Python, which has python3-onnx):

    /usr/bin/python3 scripts/onnx_to_trace.py MODEL.onnx -o TRACE.json --recipe R [--batch B]
        [--graph-out GRAPH.json] [--nibble PATH] [--graph-only] [--no-loss] [--dim NAME=N ...]

Steps:
  1. Load the model and fix its input shapes: the batch is the first input's leading dimension when
     static, else --batch (required then); --batch overrides it. Other dynamic input dimensions
     need --dim NAME=N (NAME is the ONNX dim_param).
  2. Infer every tensor's shape (onnx.shape_inference), evaluating shape computations
     (Shape -> Gather -> Concat -> Reshape, ...) and feeding their values back until all are known.
  3. Map the nodes, in topological order, to layers of a Nibble layer graph ("nibble-network",
     version 1; shapes per sample). Shape-only ops make no layer: their consumers read their
     producer. Nodes whose inputs are all constants are folded (no layer).
  4. Add a softmax cross-entropy `loss` layer over logits outputs (unless --no-loss) and tag
     residual projections and bottleneck 1x1 convolutions.
  5. Run `nibble trace --graph GRAPH --recipe R [--batch B] -o TRACE` (--graph-only: write the
     graph to -o instead).

Bad input (a missing file, not ONNX, an unsupported op, a shape it cannot resolve) is one line on
stderr naming the file, the node (name and op type) and what was expected and found; the exit
status is 2 and no output file is left behind (outputs are written to a temporary name and renamed).

scripts/onnx_to_trace.md describes the mapping, the heuristics and the limits.
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper, shape_inference

PROG = "onnx_to_trace"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Ops that only reshape, reorder, select or relabel data: no layer, consumers read the producer of
# their first input.
SHAPE_ONLY = {
    "Reshape", "Flatten", "Transpose", "Identity", "Dropout", "Squeeze", "Unsqueeze", "Cast",
    "Slice", "Split",
}
# Ops whose outputs describe a shape, not data: always constants.
SHAPE_OF = {"Shape", "Size"}
# Element-wise ops: layer kind, with `elements` = output elements per sample. Clip (ReLU6 in
# MobileNetV2 exports; its bounds are constant inputs) costs what a relu does: one compare-select
# per bound, taken as relu's.
ELEMENTWISE = {
    "Relu": "relu", "Clip": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Gelu": "gelu",
    "Add": "add", "Sub": "add", "Mul": "mul", "Div": "mul",
    "BatchNormalization": "batchnorm", "LayerNormalization": "layernorm",
    "Softmax": "softmax", "Concat": "concat",
}
POOLS = {
    "MaxPool": "maxpool", "GlobalMaxPool": "maxpool",
    "AveragePool": "avgpool", "GlobalAveragePool": "avgpool",
}
SUPPORTED = sorted(SHAPE_ONLY | SHAPE_OF | set(ELEMENTWISE) | set(POOLS)
                   | {"Conv", "Gemm", "MatMul", "Gather", "Constant", "Erf (in GELU)",
                      "ReduceMean (in LayerNorm)"})
# Layer kinds whose output is taken as logits when it is a graph output.
LOGIT_KINDS = {"linear", "conv2d", "matmul"}
ONNX_DOMAINS = {"", "ai.onnx"}
SMALL = 4096  # the most elements of a constant whose values are read (shape computations)


class InputError(Exception):
    """Bad input: reported as one line on stderr, exit status 2."""


class NodeError(InputError):
    """Bad input at one node: the message names the node and its op type."""

    def __init__(self, node, message):
        if node.name:
            where = f'node "{node.name}" ({node.op_type})'
        else:
            output = node.output[0] if node.output else ""
            where = f'unnamed node ({node.op_type}) writing "{output}"'
        super().__init__(f"{where}: {message}")


def one_line(text):
    """Text squeezed onto one line."""
    return " ".join(str(text).split())


def prod(values):
    return math.prod(values)


def attributes(node):
    """The node's attributes as Python values (strings decoded)."""
    out = {}
    for a in node.attribute:
        value = onnx.helper.get_attribute_value(a)
        out[a.name] = value.decode() if isinstance(value, bytes) else value
    return out


# ---------------------------------------------------------------------------------------------
# Loading, batch and shapes


def load_model(path):
    if not os.path.exists(path):
        raise InputError("no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a partial decode is a warning: make it an error
            model = onnx.load(path, load_external_data=False)
    except Exception as e:  # protobuf's DecodeError, ...
        raise InputError(f"not an ONNX model ({one_line(e)})") from None
    if not model.graph.node:
        raise InputError("not an ONNX model (expected a graph with nodes, found none)")
    strip_weights(model)
    return model


def strip_weights(model):
    """Drop the values of large initializers: only their shapes matter here, and every round of
    shape inference copies the model. (External data is never loaded.)"""
    for t in model.graph.initializer:
        if prod(t.dims) > SMALL:
            for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data",
                          "uint64_data", "string_data"):
                t.ClearField(field)


def network_inputs(graph):
    """Graph inputs that are not initializers (older exporters list weights as inputs too)."""
    weights = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in weights]


def leading_dim(value_info):
    """The static leading dimension of a graph input, or None when dynamic."""
    shape = value_info.type.tensor_type.shape
    if not value_info.type.tensor_type.HasField("shape") or not shape.dim:
        raise InputError(f'input "{value_info.name}": expected a tensor of rank >= 1 with a '
                         f"batch dimension, found no shape")
    d = shape.dim[0]
    return d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None


def fix_input_shapes(model, batch_arg, dims):
    """Make every network input's shape static. Returns (graph batch, batch shapes are inferred at).

    Per-sample shapes are the inferred shapes divided by the batch they were inferred at, so a
    --batch that overrides a static batch only changes the graph's `batch`.
    """
    inputs = network_inputs(model.graph)
    if not inputs:
        raise InputError("expected a graph input that is not an initializer, found none")
    first = inputs[0]
    lead = leading_dim(first)
    if lead is None and batch_arg is None:
        param = first.type.tensor_type.shape.dim[0].dim_param or "?"
        raise InputError(f'input "{first.name}": expected a static batch (leading) dimension, '
                         f'found dynamic "{param}" (pass --batch B)')
    infer_batch = lead if lead is not None else batch_arg
    for inp in inputs:
        tt = inp.type.tensor_type
        if not tt.HasField("shape"):
            raise InputError(f'input "{inp.name}": expected a shape, found none')
        for i, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                continue
            if d.dim_param in dims:
                d.dim_value = dims[d.dim_param]
            elif i == 0:
                d.dim_value = infer_batch
            else:
                name = d.dim_param or "?"
                raise InputError(f'input "{inp.name}" dimension {i}: expected a static size, '
                                 f'found dynamic "{name}" (pass --dim {name}=N)')
    graph_batch = batch_arg if batch_arg is not None else lead
    return graph_batch, infer_batch


def infer_shapes(model):
    """The model with every shape that onnx can infer (leaving unknown what it cannot)."""
    try:
        return shape_inference.infer_shapes(model, data_prop=True)
    except Exception as e:
        raise InputError(f"shape inference failed: {one_line(e)}") from None


def inference_problems(model):
    """{node name: why shape inference failed there}, from a strict pass (for error messages)."""
    problems = {}
    try:
        shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as e:
        for m in re.finditer(r"\(op_type:[^,]*, node name: ([^)]*)\): (.*?)(?=\(op_type:|$)",
                             str(e), re.S):
            problems.setdefault(m.group(1), one_line(m.group(2)))
    return problems


def known(shape):
    return shape is not None and all(d is not None for d in shape)


def shape_table(graph):
    """Tensor name -> list of dims (None where unknown), from the inferred graph."""
    shapes = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None
                               for d in tt.shape.dim]
    for t in graph.initializer:
        shapes[t.name] = list(t.dims)
    return shapes


# ---------------------------------------------------------------------------------------------
# Shape computations: exporters often compute a Reshape's target from the input's shape
# (Shape -> Gather -> Unsqueeze -> Concat -> Reshape). onnx 1.12's shape inference does not carry
# those values into Reshape, so they are evaluated here (with numpy, once the input shapes are
# static) and fed to their consumers as initializers, and the shapes inferred again.

def _axes(node, ins, index):
    """An op's axes: the attribute (older opsets) or the input at index."""
    attr = attributes(node).get("axes")
    if attr is not None:
        return list(attr)
    return [int(a) for a in ins[index]] if len(ins) > index and ins[index] is not None else None


def _fold_shape(node, ins, shape):
    a = attributes(node)
    start, end = a.get("start", 0), a.get("end", len(shape))
    return np.array(shape[start:end], dtype=np.int64)


def _fold_unsqueeze(node, ins, shape):
    x, axes = ins[0], _axes(node, ins, 1)
    rank = x.ndim + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = np.expand_dims(x, axis)
    return x


def _fold_squeeze(node, ins, shape):
    axes = _axes(node, ins, 1)
    return np.squeeze(ins[0], axis=None if axes is None else tuple(axes))


def _fold_slice(node, ins, shape):
    a = attributes(node)
    if "starts" in a:  # opset < 10
        starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
    else:
        starts, ends = ins[1], ins[2]
        axes = ins[3] if len(ins) > 3 and ins[3] is not None else None
        steps = ins[4] if len(ins) > 4 and ins[4] is not None else None
    x = ins[0]
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        index[int(ax)] = slice(int(st), int(en), int(sp))
    return x[tuple(index)]


def _fold_reshape(node, ins, shape):
    x, target = ins[0], [int(d) for d in ins[1]]
    if not attributes(node).get("allowzero", 0):
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return x.reshape(target)


def _fold_div(node, ins, shape):
    a, b = ins
    if np.issubdtype(a.dtype, np.integer):
        return (np.trunc(a / b)).astype(a.dtype)
    return a / b


def _fold_constant(node, ins, shape):
    a = attributes(node)
    if "value" in a:
        return numpy_helper.to_array(a["value"])
    for key, dtype in (("value_int", np.int64), ("value_ints", np.int64),
                       ("value_float", np.float32), ("value_floats", np.float32)):
        if key in a:
            return np.array(a[key], dtype=dtype)
    raise ValueError("unsupported Constant")


def _fold_constant_of_shape(node, ins, shape):
    value = attributes(node).get("value")
    fill = numpy_helper.to_array(value) if value is not None else np.zeros(1, np.float32)
    return np.full([int(d) for d in ins[0]], fill.flatten()[0], dtype=fill.dtype)


FOLD = {
    "Constant": _fold_constant,
    "Shape": _fold_shape,
    "Size": lambda node, ins, shape: np.array(prod(shape), dtype=np.int64),
    "Identity": lambda node, ins, shape: ins[0],
    "Cast": lambda node, ins, shape: ins[0].astype(
        onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[attributes(node)["to"]]),
    "Gather": lambda node, ins, shape: np.take(ins[0], ins[1],
                                               axis=attributes(node).get("axis", 0)),
    "Unsqueeze": _fold_unsqueeze,
    "Squeeze": _fold_squeeze,
    "Concat": lambda node, ins, shape: np.concatenate(
        [np.atleast_1d(x) for x in ins], axis=attributes(node)["axis"]),
    "Slice": _fold_slice,
    "Reshape": _fold_reshape,
    "Add": lambda node, ins, shape: ins[0] + ins[1],
    "Sub": lambda node, ins, shape: ins[0] - ins[1],
    "Mul": lambda node, ins, shape: ins[0] * ins[1],
    "Div": _fold_div,
    "Equal": lambda node, ins, shape: np.equal(ins[0], ins[1]),
    "Where": lambda node, ins, shape: np.where(ins[0], ins[1], ins[2]),
    "ConstantOfShape": _fold_constant_of_shape,
    "Range": lambda node, ins, shape: np.arange(ins[0], ins[1], ins[2]),
}


def constant_values(graph, nodes, shapes):
    """Tensor name -> numpy value, for the small constants that can be evaluated here."""
    values = {}
    for t in graph.initializer:
        small = prod(t.dims) <= (SMALL if t.data_type in (TensorProto.INT64, TensorProto.INT32)
                                 else 16)
        if small and t.data_location != TensorProto.EXTERNAL:
            values[t.name] = numpy_helper.to_array(t)
    for node in nodes:
        fold = FOLD.get(node.op_type)
        ins = [t for t in node.input]
        if fold is None:
            continue
        if node.op_type in SHAPE_OF:
            shape = shapes.get(ins[0])
            if not known(shape):
                continue
        elif not all(t in values for t in ins if t):
            continue
        else:
            shape = None
        try:
            with np.errstate(all="ignore"):
                value = np.asarray(fold(node, [values.get(t) if t else None for t in ins], shape))
        except Exception:  # anything odd: leave it to shape inference
            continue
        if value.size <= SMALL and node.output:
            values[node.output[0]] = value
    return values


def feed_constants(graph, values, shapes):
    """Give each evaluated constant as an initializer to the consumers whose output shapes are
    still unknown. Returns whether any was given."""
    initializers = {t.name for t in graph.initializer}
    fed = {}
    for node in graph.node:
        if node.output and all(t in values for t in node.output if t):
            continue  # evaluated itself: its inputs need nothing
        if all(known(shapes.get(t)) for t in node.output if t):
            continue
        for i, t in enumerate(node.input):
            if t and t in values and t not in initializers:
                if t not in fed:
                    fed[t] = f"{t}.folded"
                    graph.initializer.append(numpy_helper.from_array(values[t], fed[t]))
                node.input[i] = fed[t]
    return bool(fed)


def infer_with_folding(model, rounds=8):
    """Shapes inferred, shape computations evaluated and fed back, until nothing changes."""
    for _ in range(rounds):
        inferred = infer_shapes(model)
        graph = inferred.graph
        shapes = shape_table(graph)
        values = constant_values(graph, topological_order(graph), shapes)
        if not feed_constants(model.graph, values, shapes):
            break
    return inferred


def topological_order(graph):
    """The nodes in an order where every input is produced before it is read."""
    ready = {t.name for t in graph.initializer} | {i.name for i in graph.input} | {""}
    pending, order = list(graph.node), []
    while pending:
        waiting = []
        for node in pending:
            if all(t in ready for t in node.input):
                order.append(node)
                ready.update(node.output)
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            node = waiting[0]
            missing = next(t for t in node.input if t not in ready)
            raise NodeError(node, f'expected input "{missing}" to be produced by a node, an '
                                  "initializer or a graph input, found none (or a cycle)")
        pending = waiting
    return order


FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}


def is_fixed_lookup(node, const, initializers):
    """A Gather of constant indices (e.g. position ids) from a 2-D float weight: an embedding
    lookup whose table is trained, not a constant."""
    if node.op_type != "Gather" or len(node.input) < 2 or node.input[1] not in const:
        return False
    table = initializers.get(const.get(node.input[0]))
    return table is not None and table.data_type in FLOAT_TYPES and len(table.dims) == 2


def find_constants(nodes, graph):
    """Tensor name -> the initializer it is (a reshaped view of), or None, for every constant.

    Constants: initializers, Constant outputs, Shape/Size outputs, and the outputs of any node
    whose inputs are all constants (shape arithmetic, folded weights), except embedding lookups
    of constant indices.
    """
    initializers = {t.name: t for t in graph.initializer}
    const = {t.name: t.name for t in graph.initializer}
    for node in nodes:
        ins = [t for t in node.input if t]
        if has_subgraph(node):
            continue  # If, Loop, Scan: their bodies read outer tensors the inputs do not list
        if is_fixed_lookup(node, const, initializers):
            continue
        if node.op_type in SHAPE_OF or all(t in const for t in ins):
            if node.op_type == "Constant":
                origin = node.output[0]
            elif node.op_type in SHAPE_ONLY and ins:
                origin = const[ins[0]]
            else:
                origin = None
            for t in node.output:
                if t:
                    const[t] = origin
    return const


def has_subgraph(node):
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for a in node.attribute)


def consumer_table(nodes, graph):
    """Tensor name -> consuming nodes; graph outputs count as a consumer (None)."""
    consumers = {}
    for node in nodes:
        for t in node.input:
            if t:
                consumers.setdefault(t, []).append(node)
    for o in graph.output:
        consumers.setdefault(o.name, []).append(None)
    return consumers


# ---------------------------------------------------------------------------------------------
# Fused patterns: element-wise subgraphs that are one layer.
#   GELU (erf form, as PyTorch exports it): x * 0.5 * (1 + erf(x / sqrt(2))) -> gelu
#   LayerNorm before opset 17: (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) [* g] [+ b]
#   -> layernorm


class Patterns:
    """Finds the fused patterns. ends: id(last node) -> (kind, x, naming node); absorbed: ids of
    the other nodes, which make no layer. Every inner result must feed only the pattern."""

    def __init__(self, nodes, const, consumers):
        self.const = const
        self.consumers = consumers
        self.producer = {t: n for n in nodes for t in n.output}
        self.ends, self.absorbed = {}, set()
        for node in nodes:
            if node.op_type == "Erf":
                self.match(self.gelu(node), "gelu", node)
            elif node.op_type == "ReduceMean":
                self.match(self.layernorm(node), "layernorm", node)

    def match(self, found, kind, naming):
        if found is not None:
            x, parts = found
            self.ends[id(parts[-1])] = (kind, x, naming)
            self.absorbed.update(id(n) for n in parts[:-1])

    def sole_consumer(self, t, op=None):
        c = self.consumers.get(t, [])
        node = c[0] if len(c) == 1 else None
        return node if node is not None and (op is None or node.op_type == op) else None

    def activation_operand(self, node):
        """The operand of a two-input node whose other operand is a constant, else None."""
        if node is None or len(node.input) != 2:
            return None
        a, b = node.input
        if (a in self.const) == (b in self.const):
            return None
        return b if a in self.const else a

    def gelu(self, erf):
        scale = self.producer.get(erf.input[0])
        if scale is None or scale.op_type not in ("Div", "Mul") or \
                self.sole_consumer(scale.output[0]) is not erf:
            return None
        x = self.activation_operand(scale)
        one = self.sole_consumer(erf.output[0], "Add")
        if x is None or self.activation_operand(one) != erf.output[0]:
            return None
        mul = self.sole_consumer(one.output[0], "Mul")
        if mul is None or len(mul.input) != 2:
            return None
        other = mul.input[1] if mul.input[0] == one.output[0] else mul.input[0]
        half = self.producer.get(other)
        if other == x:  # (x * (1 + erf)) * 0.5
            last = self.sole_consumer(mul.output[0], "Mul")
            if self.activation_operand(last) != mul.output[0]:
                return None
            return x, [scale, erf, one, mul, last]
        if half is not None and half.op_type == "Mul" and self.activation_operand(half) == x \
                and self.sole_consumer(half.output[0]) is mul:  # (x * 0.5) * (1 + erf)
            return x, [half, scale, erf, one, mul]
        return None

    def layernorm(self, mean):
        x = mean.input[0]
        if x in self.const:
            return None
        sub = self.sole_consumer(mean.output[0], "Sub")
        if sub is None or list(sub.input) != [x, mean.output[0]]:
            return None
        d = sub.output[0]
        users = self.consumers.get(d, [])
        if len(users) != 2 or None in users:
            return None
        div = next((n for n in users if n.op_type == "Div"), None)
        square = next((n for n in users if n is not div), None)
        if div is None or list(div.input[:1]) != [d]:
            return None
        if not ((square.op_type == "Pow" and self.activation_operand(square) == d)
                or (square.op_type == "Mul" and list(square.input) == [d, d])):
            return None
        var = self.sole_consumer(square.output[0], "ReduceMean")
        eps = var and self.sole_consumer(var.output[0], "Add")
        if eps is None or self.activation_operand(eps) != var.output[0]:
            return None
        sqrt = self.sole_consumer(eps.output[0], "Sqrt")
        if sqrt is None or list(div.input) != [d, sqrt.output[0]] or \
                self.sole_consumer(sqrt.output[0]) is not div:
            return None
        parts = [mean, sub, square, var, eps, sqrt, div]
        for op in ("Mul", "Add"):  # the optional scale and shift
            nxt = self.sole_consumer(parts[-1].output[0], op)
            if nxt is None or self.activation_operand(nxt) != parts[-1].output[0]:
                break
            parts.append(nxt)
        return x, parts


# ---------------------------------------------------------------------------------------------
# Names


def sanitize(name):
    """An ONNX node name as a layer name: '/' becomes '.', other odd characters '_'."""
    s = name.strip().strip("/").replace("/", ".")
    s = re.sub(r"[^A-Za-z0-9_.-]", "_", s)
    return s.strip("._")


def scope(name):
    """A node's scope: its name up to the last '/' ("/enc/act/Erf" -> "/enc/act"), else the name."""
    head = name.strip("/").rpartition("/")[0]
    return head or name


class Names:
    """Unique layer names; "input" is the network input's."""

    def __init__(self):
        self.taken = {"input"}

    def make(self, base):
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


# ---------------------------------------------------------------------------------------------
# Node -> layer


def conv_padding(node, attrs, hw, rs, stride, pq):
    """The one padding (every side) that gives the inferred output size.

    Symmetric pads are used as they are. Asymmetric ones (e.g. SAME padding at stride 2) become
    the symmetric padding nearest their mean that gives the same output size, so the MACs are
    exact; when none does, an error.
    """
    (h, w), (r, s), (p_out, q_out) = hw, rs, pq
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        pads = [0, 0, 0, 0]
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        th = max((p_out - 1) * stride + r - h, 0)
        tw = max((q_out - 1) * stride + s - w, 0)
        pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
    else:
        pads = list(attrs.get("pads", [0, 0, 0, 0]))

    def fits(p):
        return (h + 2 * p - r) // stride + 1 == p_out and (w + 2 * p - s) // stride + 1 == q_out

    if len(set(pads)) == 1 and fits(pads[0]):
        return pads[0]
    for p in sorted(range(max(pads) + 1), key=lambda p: (abs(4 * p - sum(pads)), p)):
        if fits(p):
            return p
    raise NodeError(node, f"expected the same padding on every side, found pads {pads} (no "
                          f"single padding gives the {p_out}x{q_out} output)")


class Converter:
    """Walks the nodes and builds the layer list."""

    def __init__(self, graph, nodes, shapes, batch, diagnose):
        self.graph = graph
        self.nodes = nodes
        self.shapes = shapes
        self.diagnose = diagnose  # () -> {node name: why shape inference failed there}
        self.written_by = {t: n for n in nodes for t in n.output}
        self.batch = batch  # the batch the shapes were inferred at
        self.const = find_constants(nodes, graph)
        self.consumers = consumer_table(nodes, graph)
        patterns = Patterns(nodes, self.const, self.consumers)
        self.fused, self.absorbed = patterns.ends, patterns.absorbed
        self.producer = {i.name: "input" for i in network_inputs(graph)}
        self.direct = {}  # tensor -> the layer whose node wrote it (not via shape-only ops)
        self.weight_users = {}  # initializer -> first layer that uses it
        self.layers = []
        self.names = Names()

    # --- helpers ---

    def shape(self, node, t):
        s = self.shapes.get(t)
        if not known(s):
            found = "no shape" if s is None else "shape [" + ", ".join(
                "?" if d is None else str(d) for d in s) + "]"
            writer = self.written_by.get(t)
            problems = self.diagnose()
            if writer is not None and writer.name in problems:
                why = (f'shape inference failed at node "{writer.name}" ({writer.op_type}): '
                       f"{problems[writer.name]}")
            else:
                why = "export with static shapes, or pass --dim"
            raise NodeError(node, f'expected a static shape for "{t}" after shape inference, '
                                  f"found {found} ({why})")
        return s

    def per_sample(self, node, t):
        s = self.shape(node, t)
        n = prod(s)
        if n % self.batch:
            raise NodeError(node, f'expected "{t}" to hold whole samples at batch {self.batch}, '
                                  f"found shape {s}")
        return n // self.batch

    def activation(self, node, t, what):
        if t in self.const:
            raise NodeError(node, f'expected {what} "{t}" to be an activation, found a constant')
        if t not in self.producer:
            raise NodeError(node, f'expected {what} "{t}" to be produced by a layer, found a '
                                  "tensor consumed only inside a fused pattern")
        return self.producer[t]

    def weight(self, node, t, what):
        if t not in self.const:
            raise NodeError(node, f'expected {what} "{t}" to be a weight (initializer), found an '
                                  "activation")
        return self.const[t]

    def inputs_of(self, node, tensors):
        names = []
        for t in tensors:
            name = self.activation(node, t, "input")
            if name not in names:
                names.append(name)
        return names

    def add_layer(self, node, kind, inputs, fields, weight=None, base=None):
        name = self.names.make(base or sanitize(node.name) or node.op_type.lower())
        layer = {"name": name, "kind": kind, "inputs": inputs, **fields}
        if weight is not None:
            if weight in self.weight_users:
                layer["shares_weights_with"] = self.weight_users[weight]
            else:
                self.weight_users[weight] = name
        self.layers.append(layer)
        for t in node.output:
            if t:
                self.producer[t] = name
                self.direct[t] = layer
        return layer

    # --- the walk ---

    def run(self):
        for node in self.nodes:
            if id(node) in self.absorbed:
                continue
            if id(node) in self.fused:
                kind, x, naming = self.fused[id(node)]
                self.add_layer(node, kind, [self.activation(node, x, "input")],
                               {"elements": self.per_sample(node, node.output[0])},
                               base=sanitize(scope(naming.name)) or kind)
                continue
            if all(t in self.const for t in node.output if t):
                continue  # a constant: shape arithmetic or a folded weight
            self.convert(node)
        return self.layers

    def convert(self, node):
        op = node.op_type
        if node.domain not in ONNX_DOMAINS:
            raise NodeError(node, f'unsupported op (domain "{node.domain}"); expected one of the '
                                  f"default domain's: {', '.join(SUPPORTED)}")
        if op in SHAPE_ONLY:
            self.pass_through(node)
        elif op == "Gather":
            self.gather(node)
        elif op == "Conv":
            self.conv(node)
        elif op == "Gemm":
            self.gemm(node)
        elif op == "MatMul":
            self.matmul(node)
        elif op in POOLS:
            self.pool(node, POOLS[op])
        elif op in ELEMENTWISE:
            self.elementwise(node, ELEMENTWISE[op])
        else:
            raise NodeError(node, f"unsupported op; expected one of: {', '.join(SUPPORTED)}")

    def pass_through(self, node):
        source = self.activation(node, node.input[0], "data input")
        for t in node.output:
            if t:
                self.producer[t] = source

    def gather(self, node):
        data, indices = node.input[0], node.input[1]
        if data in self.const:
            table = self.shape(node, data)
            axis = attributes(node).get("axis", 0)
            if len(table) != 2 or axis != 0:
                raise NodeError(node, f"expected an embedding lookup (2-D table, axis 0), found "
                                      f"table shape {table}, axis {axis}")
            if indices in self.const:  # fixed ids (positions): the same rows for every sample
                ids = self.shape(node, indices)
                shared = not ids or ids[0] != self.batch or self.batch == 1
                source, rows = "input", prod(ids) // (1 if shared else self.batch)
            else:
                source = self.activation(node, indices, "indices")
                rows = self.per_sample(node, indices)
            self.add_layer(node, "embedding", [source],
                           {"vocab": table[0], "dim": table[1], "rows": rows},
                           weight=self.const[data])
        elif data not in self.const and indices in self.const:
            self.pass_through(node)  # selects rows of an activation, e.g. the CLS token
        else:
            raise NodeError(node, "expected an initializer table with activation indices "
                                  "(embedding) or constant indices into an activation, found "
                                  "activation indices into an activation")

    def conv(self, node):
        x, w = node.input[0], node.input[1]
        source = self.activation(node, x, "input X")
        origin = self.weight(node, w, "weight W")
        if len(node.input) > 2 and node.input[2]:
            self.weight(node, node.input[2], "bias B")
        xs, ws, ys = self.shape(node, x), self.shape(node, w), self.shape(node, node.output[0])
        if len(xs) != 4 or len(ws) != 4:
            raise NodeError(node, "expected a 2-D convolution (input N x C x H x W), found input "
                                  f"shape {xs}")
        if xs[0] != self.batch:
            raise NodeError(node, f"expected the input's leading dimension to be the batch "
                                  f"{self.batch}, found shape {xs}")
        attrs = attributes(node)
        dilations = list(attrs.get("dilations", [1, 1]))
        if any(d != 1 for d in dilations):
            raise NodeError(node, f"expected dilations [1, 1], found {dilations}")
        strides = list(attrs.get("strides", [1, 1]))
        if strides[0] != strides[1]:
            raise NodeError(node, f"expected the same stride along H and W, found {strides}")
        groups = attrs.get("group", 1)
        _, c, h, wd = xs
        filters, c_per_group, r, s = ws
        if c_per_group * groups != c:
            raise NodeError(node, f"expected weight channels x groups = input channels {c}, found "
                                  f"{c_per_group} x {groups}")
        padding = conv_padding(node, attrs, (h, wd), (r, s), strides[0], (ys[2], ys[3]))
        self.add_layer(node, "conv2d", [source],
                       {"C": c, "H": h, "W": wd, "filters": filters, "R": r, "S": s,
                        "stride": strides[0], "padding": padding, "groups": groups},
                       weight=origin)

    def linear(self, node, a, w, in_features, out_features):
        source = self.activation(node, a, "input A")
        s = self.shape(node, a)
        if s[-1] != in_features:
            raise NodeError(node, f"expected the input's last dimension to be in_features "
                                  f"{in_features}, found shape {s}")
        rows = self.per_sample(node, a) // in_features
        if rows * self.batch * in_features != prod(s):
            raise NodeError(node, f"expected the input to hold whole rows per sample at batch "
                                  f"{self.batch}, found shape {s}")
        self.add_layer(node, "linear", [source],
                       {"in_features": in_features, "out_features": out_features, "rows": rows},
                       weight=self.const[w])

    def gemm(self, node):
        a, b = node.input[0], node.input[1]
        self.weight(node, b, "B")
        if len(node.input) > 2 and node.input[2]:
            self.weight(node, node.input[2], "bias C")
        attrs = attributes(node)
        if attrs.get("transA", 0):
            raise NodeError(node, "expected transA = 0, found 1")
        bs = self.shape(node, b)
        if len(bs) != 2:
            raise NodeError(node, f"expected a 2-D weight B, found shape {bs}")
        in_f, out_f = (bs[1], bs[0]) if attrs.get("transB", 0) else (bs[0], bs[1])
        self.linear(node, a, b, in_f, out_f)

    def matmul(self, node):
        a, b = node.input[0], node.input[1]
        if a in self.const:
            raise NodeError(node, f'expected an activation as the first operand, found the '
                                  f'constant "{a}"')
        if b in self.const:
            bs = self.shape(node, b)
            if len(bs) != 2:
                raise NodeError(node, f"expected a 2-D weight, found shape {bs}")
            self.linear(node, a, b, bs[0], bs[1])
            return
        as_, bs, ys = self.shape(node, a), self.shape(node, b), self.shape(node, node.output[0])
        if len(as_) < 2 or len(bs) < 2:
            raise NodeError(node, f"expected operands of rank >= 2, found shapes {as_} and {bs}")
        m, n, k = ys[-2], ys[-1], as_[-1]
        count = self.per_sample(node, node.output[0]) // (m * n)
        if count * m * n * self.batch != prod(ys):
            raise NodeError(node, f"expected whole products per sample at batch {self.batch}, "
                                  f"found output shape {ys}")
        self.add_layer(node, "matmul", self.inputs_of(node, [a, b]),
                       {"count": count, "M": m, "N": n, "K": k})

    def pool(self, node, kind):
        x = node.input[0]
        source = self.activation(node, x, "input X")
        self.add_layer(node, kind, [source],
                       {"elements": self.per_sample(node, node.output[0]),
                        "in_elements": self.per_sample(node, x)})

    def elementwise(self, node, kind):
        acts = [t for t in node.input if t and t not in self.const]
        if node.op_type == "Add" and self.fold_bias(node, acts):
            return
        self.add_layer(node, kind, self.inputs_of(node, acts),
                       {"elements": self.per_sample(node, node.output[0])})

    def fold_bias(self, node, acts):
        """Add(MatMul(x, W), b) is a linear layer's bias: the Add makes no layer."""
        if len(acts) != 1:
            return False
        layer = self.direct.get(acts[0])
        if layer is None or layer["kind"] != "linear" or len(self.consumers[acts[0]]) != 1:
            return False
        bias = next(t for t in node.input if t and t != acts[0])
        if prod(self.shape(node, bias)) != layer["out_features"]:
            return False
        self.producer[node.output[0]] = layer["name"]
        return True

    # --- after the walk ---

    def add_losses(self):
        """A softmax cross-entropy loss over each graph output that is logits.

        Logits: the output of a linear, conv2d or matmul layer. A Softmax that is a graph output
        and feeds nothing else is the forward half of the loss: it is replaced by the loss.
        """
        by_name = {layer["name"]: layer for layer in self.layers}
        read = {i for layer in self.layers for i in layer["inputs"]}
        for out in self.graph.output:
            layer = by_name.get(self.producer.get(out.name))
            if layer is None:
                continue
            if layer["kind"] in LOGIT_KINDS:
                inputs, elements = [layer["name"]], self.loss_elements(out.name)
            elif layer["kind"] == "softmax" and layer["name"] not in read:
                self.layers.remove(layer)
                inputs, elements = layer["inputs"], layer["elements"]
            else:
                continue
            self.layers.append({"name": self.names.make("loss"), "kind": "loss",
                                "inputs": inputs, "elements": elements})

    def loss_elements(self, t):
        s = self.shapes.get(t)
        if not known(s) or prod(s) % self.batch:
            raise InputError(f'graph output "{t}": expected logits with a static shape holding '
                             f"whole samples at batch {self.batch}, found {s}")
        return prod(s) // self.batch


# ---------------------------------------------------------------------------------------------
# Tags: residual projections and bottleneck 1x1 convolutions


def conv_macs(layer):
    p = (layer["H"] + 2 * layer["padding"] - layer["R"]) // layer["stride"] + 1
    q = (layer["W"] + 2 * layer["padding"] - layer["S"]) // layer["stride"] + 1
    return p * q * layer["filters"] * layer["R"] * layer["S"] * layer["C"] // layer["groups"]


def tag_residuals(layers):
    """Tag "shortcut" on residual projections and "bottom_1x1"/"top_1x1" on bottlenecks.

    For every add of two inputs: a projection is a conv2d (optionally followed by batchnorm) on
    one input whose own input, the block input, is a proper ancestor of the other input while
    the conv itself is not (the two branches leave the block input separately). If both inputs
    qualify, the conv with fewer MACs is the projection. Without one, the shortcut is the
    identity: the block input is the input that is an ancestor of the other. The other input is
    the main branch: when it is conv 1x1 -> conv -> conv 1x1 (with batchnorm/relu between) and
    the first conv reads the block input, the 1x1s are tagged bottom_1x1 and top_1x1.
    """
    by_name = {layer["name"]: layer for layer in layers}
    above = {"input": set()}  # layer -> every layer (and "input") it depends on
    for layer in layers:
        above[layer["name"]] = set().union(*({i} | above[i] for i in layer["inputs"]))

    def ancestors(name):
        return above[name]

    def conv_behind(name, through):
        """The conv2d reached from name going back through single-input layers of `through`."""
        layer = by_name.get(name)
        while layer is not None and layer["kind"] in through and len(layer["inputs"]) == 1:
            layer = by_name.get(layer["inputs"][0])
        return layer if layer is not None and layer["kind"] == "conv2d" else None

    def tag(layer, t):
        tags = layer.setdefault("tags", [])
        if t not in tags:
            tags.append(t)

    def is_1x1(layer):
        return layer is not None and layer["R"] == 1 and layer["S"] == 1

    for add in layers:
        if add["kind"] != "add" or len(add["inputs"]) != 2:
            continue
        a, b = add["inputs"]
        projections = []
        for mine, other in ((a, b), (b, a)):
            conv = conv_behind(mine, {"batchnorm"})
            if conv is None:
                continue
            block_in = conv["inputs"][0]
            if other != block_in and block_in in ancestors(other) and \
                    conv["name"] not in ancestors(other):
                projections.append((conv_macs(conv), conv, other, block_in))
        if projections:
            _, conv, main, block_in = min(projections, key=lambda p: p[0])
            tag(conv, "shortcut")
        elif a in ancestors(b):
            main, block_in = b, a
        elif b in ancestors(a):
            main, block_in = a, b
        else:
            continue
        top = conv_behind(main, {"batchnorm"})
        middle = top and conv_behind(top["inputs"][0], {"batchnorm", "relu"})
        bottom = middle and conv_behind(middle["inputs"][0], {"batchnorm", "relu"})
        if is_1x1(top) and is_1x1(bottom) and bottom["inputs"][0] == block_in:
            tag(bottom, "bottom_1x1")
            tag(top, "top_1x1")


# ---------------------------------------------------------------------------------------------
# The whole conversion and the outputs


def convert(path, batch_arg=None, dims=None, loss=True):
    """The layer graph (a dict) of the ONNX model at path. Raises InputError."""
    model = load_model(path)
    graph_batch, infer_batch = fix_input_shapes(model, batch_arg, dims or {})
    inferred = infer_with_folding(model)
    graph = inferred.graph
    nodes = topological_order(graph)
    converter = Converter(graph, nodes, shape_table(graph), infer_batch,
                          lambda: inference_problems(model))
    converter.run()
    if loss:
        converter.add_losses()
    layers = converter.layers
    if not layers:
        raise InputError("expected at least one layer, found only shape-only and constant nodes")
    tag_residuals(layers)
    name = os.path.splitext(os.path.basename(path))[0]
    return {"format": "nibble-network", "version": 1, "name": name, "batch": graph_batch,
            "layers": layers}


def format_graph(graph):
    """The graph as JSON text, one layer a line."""
    head = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in graph.items()
                     if k != "layers")
    layers = ",\n".join("    " + json.dumps(layer) for layer in graph["layers"])
    return "{ " + head + ',\n  "layers": [\n' + layers + "\n  ]\n}\n"


def write_atomic(path, text):
    """Write text to path through a temporary file in the same directory, renamed at the end."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                                   suffix=".tmp")
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
        raise


def find_nibble(option):
    path = option or os.environ.get("NIBBLE") or os.path.join(REPO_ROOT, "build", "nibble")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise InputError(f"{path}: expected the nibble binary, found none (build it, or pass "
                         "--nibble PATH or set NIBBLE)")
    return path


class ToolFailed(Exception):
    """nibble trace failed; it has printed why."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def run_trace(nibble, graph_text, args):
    """Run nibble trace on the graph, writing the trace to a temporary name renamed to -o.

    Without --graph-out the graph is a temporary file; where nibble names it (the trace's
    source.graph and description, its messages) the ONNX model's path stands instead.
    """
    out_dir = os.path.dirname(os.path.abspath(args.output))
    try:
        work = tempfile.mkdtemp(dir=out_dir, prefix=".onnx_to_trace-")
    except OSError as e:
        raise InputError(f"{args.output}: cannot write ({e.strerror or e})") from None
    try:
        graph_path = args.graph_out or os.path.join(work, "graph.json")
        if not args.graph_out:
            with open(graph_path, "w") as f:
                f.write(graph_text)
        tmp_out = os.path.join(work, os.path.basename(args.output))
        cmd = [nibble, "trace", "--graph", graph_path, "--recipe", args.recipe]
        if args.batch is not None:
            cmd += ["--batch", str(args.batch)]
        cmd += ["-o", tmp_out]
        renames = [(tmp_out, args.output)]
        if not args.graph_out:
            renames.append((graph_path, args.model))

        def restore(text, quoted=False):
            for old, new in renames:
                if quoted:
                    old, new = json.dumps(old)[1:-1], json.dumps(new)[1:-1]
                text = text.replace(old, new)
            return text

        p = subprocess.run(cmd, capture_output=True, text=True)
        sys.stdout.write(restore(p.stdout))
        sys.stderr.write(restore(p.stderr))
        if p.returncode != 0:
            raise ToolFailed(2 if p.returncode == 2 else 1)
        if not os.path.isfile(tmp_out):
            raise InputError(f"{nibble} trace exited 0 but wrote no trace")
        with open(tmp_out) as f:
            trace = restore(f.read(), quoted=True)
        with open(tmp_out, "w") as f:
            f.write(trace)
        os.replace(tmp_out, args.output)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found '{text}'")
    return value


def dim_setting(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=N, found '{text}'")
    return name, positive_int(value)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog=PROG, description="Import an ONNX model: write its Nibble layer graph and run "
                               "'nibble trace' on it to write the trace of one training iteration.")
    p.add_argument("model", metavar="MODEL.onnx", help="the ONNX model")
    p.add_argument("-o", "--output", required=True, metavar="TRACE.json",
                   help="the trace to write (with --graph-only: the layer graph)")
    p.add_argument("--recipe", metavar="R", help="the training recipe, passed to nibble trace "
                                                 "(required unless --graph-only)")
    p.add_argument("--batch", type=positive_int, metavar="B",
                   help="the batch (default: the first input's leading dimension when static)")
    p.add_argument("--graph-out", metavar="GRAPH.json", help="also write the layer graph here")
    p.add_argument("--graph-only", action="store_true",
                   help="write only the layer graph, to -o; do not run nibble")
    p.add_argument("--nibble", metavar="PATH",
                   help="the nibble binary (default: $NIBBLE, else build/nibble in the repo)")
    p.add_argument("--no-loss", action="store_true", help="add no loss layer over the logits")
    p.add_argument("--dim", type=dim_setting, action="append", default=[], metavar="NAME=N",
                   help="the size of a dynamic input dimension named NAME (repeatable)")
    args = p.parse_args(argv)
    if not args.graph_only and not args.recipe:
        p.error("--recipe R is required (unless --graph-only)")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        graph = convert(args.model, args.batch, dict(args.dim), loss=not args.no_loss)
    except InputError as e:
        print(f"{PROG}: error: {args.model}: {one_line(e)}", file=sys.stderr)
        return 2
    text = format_graph(graph)
    try:
        if args.graph_out:
            write_atomic(args.graph_out, text)
        if args.graph_only:
            write_atomic(args.output, text)
        else:
            run_trace(find_nibble(args.nibble), text, args)
    except ToolFailed as e:
        return e.status
    except InputError as e:
        print(f"{PROG}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: error: {one_line(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
