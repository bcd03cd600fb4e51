#!/usr/bin/python3
"""Tests of scripts/onnx_to_trace.py, the ONNX importer.

Each test builds a small model with onnx.helper, runs the importer as a user would (a separate
process of this Python) and checks the exact layer graph, with every shape derived by hand beside
it, or the error. The end-to-end tests run the trace through `nibble trace --graph` and
`nibble run` and check the forward MACs; they are skipped while the nibble binary ($NIBBLE,
default build-hb/nibble in the repo) has no `trace --graph`.

Run: /usr/bin/python3 tests/scripts/test_onnx_to_trace.py
  or /usr/bin/python3 -m unittest tests/scripts/test_onnx_to_trace.py [-k NAME]
Needs python3-onnx and python3-numpy (scripts/setup installs them).
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # pragma: no cover - the message is the point
    print(f"test_onnx_to_trace: {e}: /usr/bin/python3 needs python3-onnx and python3-numpy; "
          "run scripts/setup", file=sys.stderr)
    sys.exit(1)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "onnx_to_trace.py")
NIBBLE = os.environ.get("NIBBLE") or os.path.join(REPO, "build-hb", "nibble")
RECIPE = os.environ.get("NIBBLE_RECIPE", "int4-fp4")
FLOAT = TensorProto.FLOAT


# ---------------------------------------------------------------------------------------------
# Model builders


def weight(name, *shape):
    rng = np.random.default_rng(len(name))
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def scalar(name, value):
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def model(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializers)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def tensor(name, shape, dtype=FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def cnn(batch=2):
    """conv(3->8, 3x3, stride 2, pad 1) + bn + relu + maxpool 2x2 + global avgpool + flatten +
    gemm (8->10)."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], "conv1",
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "be", "mu", "var"], ["n1"], "bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], "relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], "pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p1"], ["gap"], "gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], "flatten"),
        helper.make_node("Gemm", ["flat", "wfc", "bfc"], ["logits"], "fc", transB=1),
    ]
    inits = [weight("w1", 8, 3, 3, 3), weight("b1", 8), weight("g", 8), weight("be", 8),
             weight("mu", 8), weight("var", 8), weight("wfc", 10, 8), weight("bfc", 10)]
    return model(nodes, [tensor("x", [batch, 3, 32, 32])], [tensor("logits", [batch, 10])], inits)


# Per sample: conv1 out (32 + 2·1 − 3)//2 + 1 = 16 → 8×16×16 = 2048; pool 8×8×8 = 512; gap 8.
CNN_LAYERS = [
    {"name": "conv1", "kind": "conv2d", "inputs": ["input"], "C": 3, "H": 32, "W": 32,
     "filters": 8, "R": 3, "S": 3, "stride": 2, "padding": 1, "groups": 1},
    {"name": "bn1", "kind": "batchnorm", "inputs": ["conv1"], "elements": 2048},
    {"name": "relu1", "kind": "relu", "inputs": ["bn1"], "elements": 2048},
    {"name": "pool1", "kind": "maxpool", "inputs": ["relu1"], "elements": 512,
     "in_elements": 2048},
    {"name": "gap", "kind": "avgpool", "inputs": ["pool1"], "elements": 8, "in_elements": 512},
    {"name": "fc", "kind": "linear", "inputs": ["gap"], "in_features": 8, "out_features": 10,
     "rows": 1},
    {"name": "loss", "kind": "loss", "inputs": ["fc"], "elements": 10},
]
# Batch 2: conv1 2·(16·16)·8·(3·3·3) = 110,592; fc 2·8·10 = 160.
CNN_FWD_MACS = 2 * 16 * 16 * 8 * 27 + 2 * 8 * 10


def bottleneck(batch_dim=1):
    """ResNet bottleneck with a projection: 1x1 (16->4), 3x3/2 (4->4), 1x1 (4->32), each with
    batchnorm; shortcut 1x1/2 (16->32) + batchnorm."""
    def conv(name, x, w, **kw):
        return helper.make_node("Conv", [x, w], [name], name, **kw)

    inits = [weight("wa1", 4, 16, 1, 1), weight("wa2", 4, 4, 3, 3), weight("wa3", 32, 4, 1, 1),
             weight("wp", 32, 16, 1, 1)]

    def bn(name, x):
        channels = 32 if name in ("a_bn3", "proj_bn") else 4
        params = [f"{name}.{p}" for p in ("scale", "bias", "mean", "var")]
        inits.extend(weight(p, channels) for p in params)
        return helper.make_node("BatchNormalization", [x, *params], [name], name)

    nodes = [
        conv("a_conv1", "x", "wa1"), bn("a_bn1", "a_conv1"),
        helper.make_node("Relu", ["a_bn1"], ["a_relu1"], "a_relu1"),
        conv("a_conv2", "a_relu1", "wa2", strides=[2, 2], pads=[1, 1, 1, 1]),
        bn("a_bn2", "a_conv2"),
        helper.make_node("Relu", ["a_bn2"], ["a_relu2"], "a_relu2"),
        conv("a_conv3", "a_relu2", "wa3"), bn("a_bn3", "a_conv3"),
        conv("proj", "x", "wp", strides=[2, 2]), bn("proj_bn", "proj"),
        helper.make_node("Add", ["a_bn3", "proj_bn"], ["sum"], "add"),
        helper.make_node("Relu", ["sum"], ["y"], "out_relu"),
    ]
    return model(nodes, [tensor("x", [batch_dim, 16, 8, 8])], [tensor("y", None)], inits)


# Per sample: a_conv1 4×8×8 = 256; a_conv2 (8 + 2 − 3)//2 + 1 = 4 → 4×4×4 = 64; a_conv3 32×4×4 =
# 512; proj (8 − 1)//2 + 1 = 4 → 32×4×4 = 512. Ends in relu, not logits: no loss.
BOTTLENECK_LAYERS = [
    {"name": "a_conv1", "kind": "conv2d", "inputs": ["input"], "C": 16, "H": 8, "W": 8,
     "filters": 4, "R": 1, "S": 1, "stride": 1, "padding": 0, "groups": 1,
     "tags": ["bottom_1x1"]},
    {"name": "a_bn1", "kind": "batchnorm", "inputs": ["a_conv1"], "elements": 256},
    {"name": "a_relu1", "kind": "relu", "inputs": ["a_bn1"], "elements": 256},
    {"name": "a_conv2", "kind": "conv2d", "inputs": ["a_relu1"], "C": 4, "H": 8, "W": 8,
     "filters": 4, "R": 3, "S": 3, "stride": 2, "padding": 1, "groups": 1},
    {"name": "a_bn2", "kind": "batchnorm", "inputs": ["a_conv2"], "elements": 64},
    {"name": "a_relu2", "kind": "relu", "inputs": ["a_bn2"], "elements": 64},
    {"name": "a_conv3", "kind": "conv2d", "inputs": ["a_relu2"], "C": 4, "H": 4, "W": 4,
     "filters": 32, "R": 1, "S": 1, "stride": 1, "padding": 0, "groups": 1,
     "tags": ["top_1x1"]},
    {"name": "a_bn3", "kind": "batchnorm", "inputs": ["a_conv3"], "elements": 512},
    {"name": "proj", "kind": "conv2d", "inputs": ["input"], "C": 16, "H": 8, "W": 8,
     "filters": 32, "R": 1, "S": 1, "stride": 2, "padding": 0, "groups": 1,
     "tags": ["shortcut"]},
    {"name": "proj_bn", "kind": "batchnorm", "inputs": ["proj"], "elements": 512},
    {"name": "add", "kind": "add", "inputs": ["a_bn3", "proj_bn"], "elements": 512},
    {"name": "out_relu", "kind": "relu", "inputs": ["add"], "elements": 512},
]


def basic_block():
    """conv3x3 + relu + conv3x3 + identity shortcut (8 channels, 6x6): nothing to tag."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r0"], "stem_relu"),
        helper.make_node("Conv", ["r0", "w1"], ["c1"], "conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], "relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], "conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r0"], ["y"], "add"),
    ]
    inits = [weight("w1", 8, 8, 3, 3), weight("w2", 8, 8, 3, 3)]
    return model(nodes, [tensor("x", [1, 8, 6, 6])], [tensor("y", None)], inits)


def depthwise():
    """Depthwise 3x3 (8 channels, 10x10), pointwise 1x1 (8->16), then 3x3/2 (16->16) with
    pads [0, 0, 1, 1]."""
    nodes = [
        helper.make_node("Conv", ["x", "wd"], ["d"], "dw", group=8, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["d"], ["dr"], "dw_relu"),
        helper.make_node("Conv", ["dr", "wp"], ["p"], "pw"),
        helper.make_node("Conv", ["p", "ws"], ["y"], "down", strides=[2, 2], pads=[0, 0, 1, 1]),
    ]
    inits = [weight("wd", 8, 1, 3, 3), weight("wp", 16, 8, 1, 1), weight("ws", 16, 16, 3, 3)]
    return model(nodes, [tensor("x", [1, 8, 10, 10])], [tensor("y", None)], inits)


# dw: (10 + 2 − 3)//1 + 1 = 10 → 8×10×10 = 800. down: ONNX (10 + 0 + 1 − 3)//2 + 1 = 5; the
# symmetric padding 1 gives (10 + 2 − 3)//2 + 1 = 5 too (padding 0 would give 4), so padding 1.
# down is conv2d and a graph output: logits, loss over 16×5×5 = 400.
DEPTHWISE_LAYERS = [
    {"name": "dw", "kind": "conv2d", "inputs": ["input"], "C": 8, "H": 10, "W": 10,
     "filters": 8, "R": 3, "S": 3, "stride": 1, "padding": 1, "groups": 8},
    {"name": "dw_relu", "kind": "relu", "inputs": ["dw"], "elements": 800},
    {"name": "pw", "kind": "conv2d", "inputs": ["dw_relu"], "C": 8, "H": 10, "W": 10,
     "filters": 16, "R": 1, "S": 1, "stride": 1, "padding": 0, "groups": 1},
    {"name": "down", "kind": "conv2d", "inputs": ["pw"], "C": 16, "H": 10, "W": 10,
     "filters": 16, "R": 3, "S": 3, "stride": 2, "padding": 1, "groups": 1},
    {"name": "loss", "kind": "loss", "inputs": ["down"], "elements": 400},
]
# Batch 1: dw 10·10·8·9·(8/8) = 7,200; pw 100·16·8 = 12,800; down 5·5·16·9·16 = 57,600.
DEPTHWISE_FWD_MACS = 100 * 8 * 9 + 100 * 16 * 8 + 25 * 16 * 9 * 16


def attention(batch="N"):
    """One head-split attention block (T 4, D 8, 2 heads of 4), residual, LayerNorm, an erf-GELU
    MLP (8->16) and a 10-way head; MatMul + Add bias is exported PyTorch-style."""
    def mm(name, x, w):
        return helper.make_node("MatMul", [x, w], [name], name)

    nodes = [
        mm("q_mm", "x", "wq"), helper.make_node("Add", ["q_mm", "bq"], ["q"], "q_bias"),
        mm("k", "x", "wk"), mm("v", "x", "wv"),
        helper.make_node("Constant", [], ["heads_shape"], "heads_shape",
                         value=numpy_helper.from_array(np.array([0, 0, 2, 4], dtype=np.int64))),
        helper.make_node("Reshape", ["q", "heads_shape"], ["q4"], "q_reshape"),
        helper.make_node("Transpose", ["q4"], ["qh"], "q_t", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["k", "heads_shape"], ["k4"], "k_reshape"),
        helper.make_node("Transpose", ["k4"], ["kt"], "k_t", perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["v", "heads_shape"], ["v4"], "v_reshape"),
        helper.make_node("Transpose", ["v4"], ["vh"], "v_t", perm=[0, 2, 1, 3]),
        mm("scores", "qh", "kt"),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"], "scale"),
        helper.make_node("Softmax", ["scaled"], ["probs"], "softmax", axis=-1),
        mm("ctx", "probs", "vh"),
        helper.make_node("Transpose", ["ctx"], ["ctx_t"], "ctx_t", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ctx_t", "merge_shape"], ["ctx2"], "ctx_reshape"),
        mm("o_proj", "ctx2", "wo"),
        helper.make_node("Add", ["x", "o_proj"], ["res"], "residual"),
        helper.make_node("LayerNormalization", ["res", "ln_g", "ln_b"], ["ln"], "ln", axis=-1),
        mm("fc1_mm", "ln", "w1"), helper.make_node("Add", ["fc1_mm", "b1"], ["h"], "fc1_bias"),
        helper.make_node("Div", ["h", "sqrt2"], ["h_div"], "gelu_div"),
        helper.make_node("Erf", ["h_div"], ["h_erf"], "gelu_erf"),
        helper.make_node("Add", ["h_erf", "one"], ["h_add"], "gelu_add"),
        helper.make_node("Mul", ["h", "h_add"], ["h_mul"], "gelu_mul"),
        helper.make_node("Mul", ["h_mul", "half"], ["g"], "gelu_half"),
        mm("head", "g", "wh"),
    ]
    inits = [weight("wq", 8, 8), weight("bq", 8), weight("wk", 8, 8), weight("wv", 8, 8),
             scalar("scale", 0.5), ints("merge_shape", [0, 0, 8]), weight("wo", 8, 8),
             weight("ln_g", 8), weight("ln_b", 8), weight("w1", 8, 16), weight("b1", 16),
             scalar("sqrt2", 2 ** 0.5), scalar("one", 1.0), scalar("half", 0.5),
             weight("wh", 16, 10)]
    return model(nodes, [tensor("x", [batch, 4, 8])], [tensor("head", None)], inits)


# Per sample (T 4, D 8, heads 2 of 4): q/k/v/o_proj linear rows 4; scores [2, 4, 4] = count 2,
# M 4 (T), N 4 (T), K 4 (head dim) = 32 elements; ctx [2, 4, 4]: count 2, M 4, N 4 (head dim),
# K 4 (T); residual and ln 4·8 = 32; fc1 4·16 = 64 (the GELU's too); head logits 4·10 = 40.
ATTENTION_LAYERS = [
    {"name": "q_mm", "kind": "linear", "inputs": ["input"], "in_features": 8, "out_features": 8,
     "rows": 4},
    {"name": "k", "kind": "linear", "inputs": ["input"], "in_features": 8, "out_features": 8,
     "rows": 4},
    {"name": "v", "kind": "linear", "inputs": ["input"], "in_features": 8, "out_features": 8,
     "rows": 4},
    {"name": "scores", "kind": "matmul", "inputs": ["q_mm", "k"], "count": 2, "M": 4, "N": 4,
     "K": 4},
    {"name": "scale", "kind": "mul", "inputs": ["scores"], "elements": 32},
    {"name": "softmax", "kind": "softmax", "inputs": ["scale"], "elements": 32},
    {"name": "ctx", "kind": "matmul", "inputs": ["softmax", "v"], "count": 2, "M": 4, "N": 4,
     "K": 4},
    {"name": "o_proj", "kind": "linear", "inputs": ["ctx"], "in_features": 8, "out_features": 8,
     "rows": 4},
    {"name": "residual", "kind": "add", "inputs": ["input", "o_proj"], "elements": 32},
    {"name": "ln", "kind": "layernorm", "inputs": ["residual"], "elements": 32},
    {"name": "fc1_mm", "kind": "linear", "inputs": ["ln"], "in_features": 8, "out_features": 16,
     "rows": 4},
    {"name": "gelu_erf", "kind": "gelu", "inputs": ["fc1_mm"], "elements": 64},
    {"name": "head", "kind": "linear", "inputs": ["gelu_erf"], "in_features": 16,
     "out_features": 10, "rows": 4},
    {"name": "loss", "kind": "loss", "inputs": ["head"], "elements": 40},
]


def attention_fwd_macs(batch):
    """q, k, v, o_proj: 4·8·8 each; scores, ctx: 2·4·4·4 each; fc1 4·8·16; head 4·16·10."""
    return batch * (4 * 4 * 8 * 8 + 2 * 2 * 4 * 4 * 4 + 4 * 8 * 16 + 4 * 16 * 10)


def embedding(seq=5, learned_positions=False):
    """Token embedding (vocab 100, dim 8) + positions + tied output projection. Positions: a
    constant [5, 8] added, or looked up in a learned table (16 x 8) at ids Slice(arange(16), 0,
    seq) like BERT's exports."""
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"], "tok_emb"),
        helper.make_node("Add", ["e", "pos"], ["h"], "pos_add"),
        helper.make_node("Transpose", ["table"], ["table_t"], "table_t"),
        helper.make_node("MatMul", ["h", "table_t"], ["logits"], "lm_head"),
    ]
    inits = [weight("table", 100, 8)]
    if learned_positions:
        nodes[1:1] = [
            helper.make_node("Shape", ["ids"], ["ids_shape"], "ids_shape"),
            helper.make_node("Slice", ["ids_shape", "one", "two"], ["seq"], "seq_len"),
            helper.make_node("Slice", ["position_ids", "zero", "seq", "one"], ["pos_ids"],
                             "pos_ids"),
            helper.make_node("Gather", ["pos_table", "pos_ids"], ["pos"], "pos_emb"),
        ]
        inits += [weight("pos_table", 16, 8), ints("position_ids", [list(range(16))]),
                  ints("zero", [0]), ints("one", [1]), ints("two", [2])]
    else:
        inits.append(weight("pos", 5, 8))
    return model(nodes, [tensor("ids", ["N", seq], TensorProto.INT64)],
                 [tensor("logits", None)], inits)


# Per sample: 5 tokens; embedding 5×8 = 40 elements; lm_head linear 8 -> 100 over 5 rows, the
# transposed embedding table; logits 5·100 = 500.
EMBEDDING_LAYERS = [
    {"name": "tok_emb", "kind": "embedding", "inputs": ["input"], "vocab": 100, "dim": 8,
     "rows": 5},
    {"name": "pos_add", "kind": "add", "inputs": ["tok_emb"], "elements": 40},
    {"name": "lm_head", "kind": "linear", "inputs": ["pos_add"], "in_features": 8,
     "out_features": 100, "rows": 5, "shares_weights_with": "tok_emb"},
    {"name": "loss", "kind": "loss", "inputs": ["lm_head"], "elements": 500},
]


def cnn_with_computed_flatten():
    """cnn() with a dynamic batch and Flatten exported as x.view(x.size(0), -1):
    Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    m = cnn()
    nodes = list(m.graph.node)
    flatten = next(i for i, n in enumerate(nodes) if n.op_type == "Flatten")
    nodes[flatten:flatten + 1] = [
        helper.make_node("Shape", ["gap"], ["gap_shape"], "size"),
        helper.make_node("Constant", [], ["zero"], "zero",
                         value=numpy_helper.from_array(np.array(0, dtype=np.int64))),
        helper.make_node("Gather", ["gap_shape", "zero"], ["size0"], "size0", axis=0),
        helper.make_node("Unsqueeze", ["size0", "axis0"], ["size0_1d"], "unsqueeze"),
        helper.make_node("Concat", ["size0_1d", "minus_one"], ["view_shape"], "view_shape", axis=0),
        helper.make_node("Reshape", ["gap", "view_shape"], ["flat"], "view"),
    ]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    m.graph.initializer.extend([ints("axis0", [0]), ints("minus_one", [-1])])
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    m.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    # At opset 13, onnx 1.12's own shape inference leaves the Reshape's output unknown: the
    # importer has to evaluate the shape computation itself.
    m.opset_import[0].version = 13
    return m


def decomposed_layernorm():
    """LayerNorm over 8 features as exported before opset 17, then ReLU; x is [2, 4, 8]. Node
    names are PyTorch's (/scope/Op)."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], "/enc/ln/ReduceMean", axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["d"], "/enc/ln/Sub"),
        helper.make_node("Pow", ["d", "two"], ["d2"], "/enc/ln/Pow"),
        helper.make_node("ReduceMean", ["d2"], ["var"], "/enc/ln/ReduceMean_1", axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["var_eps"], "/enc/ln/Add"),
        helper.make_node("Sqrt", ["var_eps"], ["std"], "/enc/ln/Sqrt"),
        helper.make_node("Div", ["d", "std"], ["normed"], "/enc/ln/Div"),
        helper.make_node("Mul", ["normed", "gamma"], ["scaled"], "/enc/ln/Mul"),
        helper.make_node("Add", ["scaled", "beta"], ["ln"], "/enc/ln/Add_1"),
        helper.make_node("Relu", ["ln"], ["y"], "/enc/act/Relu"),
    ]
    inits = [scalar("two", 2.0), scalar("eps", 1e-5), weight("gamma", 8), weight("beta", 8)]
    return model(nodes, [tensor("x", [2, 4, 8])], [tensor("y", None)], inits)


def with_node(m, node):
    """m with node inserted before its last node, feeding it."""
    nodes = list(m.graph.node)
    last = nodes[-1]
    node.input[0] = last.input[0]
    last.input[0] = node.output[0]
    del m.graph.node[:]
    m.graph.node.extend(nodes[:-1] + [node, last])
    return m


# ---------------------------------------------------------------------------------------------
# Running the importer


class ImporterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="onnx_to_trace_test-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def save(self, m, name="model.onnx"):
        path = os.path.join(self.dir, name)
        onnx.save(m, path)
        return path

    def run_script(self, *args, nibble=None):
        env = dict(os.environ)
        if nibble:
            env["NIBBLE"] = nibble
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                              env=env, timeout=300)

    def graph(self, m, *args):
        """The layer graph the importer writes for m (--graph-only)."""
        out = os.path.join(self.dir, "graph.json")
        p = self.run_script(self.save(m), "-o", out, "--graph-only", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        with open(out) as f:
            return json.load(f)

    def assert_fails(self, path, *args, mentions=()):
        """The importer exits 2 with one line naming path and `mentions`, writing nothing."""
        out = os.path.join(self.dir, "out.json")
        p = self.run_script(path, "-o", out, "--graph-only", *args)
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        for text in (path, *mentions):
            self.assertIn(text, lines[0])
        self.assertFalse(os.path.exists(out))
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".")], [],
                         "a temporary file was left behind")
        return lines[0]


class GraphTest(ImporterTest):
    def test_cnn(self):
        g = self.graph(cnn())
        self.assertEqual(g["format"], "nibble-network")
        self.assertEqual(g["version"], 1)
        self.assertEqual(g["name"], "model")
        self.assertEqual(g["batch"], 2)
        self.assertEqual(g["layers"], CNN_LAYERS)

    def test_no_loss(self):
        g = self.graph(cnn(), "--no-loss")
        self.assertEqual(g["layers"], CNN_LAYERS[:-1])

    def test_bottleneck_with_projection_shortcut(self):
        self.assertEqual(self.graph(bottleneck())["layers"], BOTTLENECK_LAYERS)

    def test_identity_shortcut_tags_nothing(self):
        # conv1, conv2: (6 + 2 − 3) + 1 = 6 → 8×6×6 = 288 per sample.
        conv = {"kind": "conv2d", "C": 8, "H": 6, "W": 6, "filters": 8, "R": 3, "S": 3,
                "stride": 1, "padding": 1, "groups": 1}
        self.assertEqual(self.graph(basic_block())["layers"], [
            {"name": "stem_relu", "kind": "relu", "inputs": ["input"], "elements": 288},
            {"name": "conv1", **conv, "inputs": ["stem_relu"]},
            {"name": "relu1", "kind": "relu", "inputs": ["conv1"], "elements": 288},
            {"name": "conv2", **conv, "inputs": ["relu1"]},
            {"name": "add", "kind": "add", "inputs": ["conv2", "stem_relu"], "elements": 288},
        ])

    def test_depthwise_and_asymmetric_padding(self):
        self.assertEqual(self.graph(depthwise())["layers"], DEPTHWISE_LAYERS)

    def test_clip_is_a_relu(self):
        # ReLU6 as exported (opset 11+: the bounds are constant inputs) after the depthwise conv.
        m = depthwise()
        relu = next(n for n in m.graph.node if n.name == "dw_relu")
        relu.op_type = "Clip"
        relu.input.extend(["lo", "hi"])
        m.graph.initializer.extend([numpy_helper.from_array(np.array(0, dtype=np.float32), "lo"),
                                    numpy_helper.from_array(np.array(6, dtype=np.float32), "hi")])
        self.assertEqual(self.graph(m)["layers"], DEPTHWISE_LAYERS)

    def test_attention(self):
        g = self.graph(attention(), "--batch", "3")
        self.assertEqual(g["batch"], 3)
        self.assertEqual(g["layers"], ATTENTION_LAYERS)

    def test_embedding_with_tied_output(self):
        g = self.graph(embedding(), "--batch", "2")
        self.assertEqual(g["layers"], EMBEDDING_LAYERS)

    def test_learned_positions_are_an_embedding(self):
        # pos_emb reads fixed ids (1 × 5), the same 5 rows for every sample.
        g = self.graph(embedding(learned_positions=True), "--batch", "2")
        self.assertEqual(g["layers"], [
            EMBEDDING_LAYERS[0],
            {"name": "pos_emb", "kind": "embedding", "inputs": ["input"], "vocab": 16, "dim": 8,
             "rows": 5},
            {**EMBEDDING_LAYERS[1], "inputs": ["tok_emb", "pos_emb"]},
            *EMBEDDING_LAYERS[2:],
        ])

    def test_dynamic_sequence_length_from_dim(self):
        g = self.graph(embedding(seq="seq"), "--batch", "2", "--dim", "seq=5")
        self.assertEqual(g["layers"], EMBEDDING_LAYERS)

    def test_shape_computed_reshape(self):
        g = self.graph(cnn_with_computed_flatten(), "--batch", "32")
        self.assertEqual(g["batch"], 32)
        self.assertEqual(g["layers"], CNN_LAYERS)

    def test_decomposed_layernorm(self):
        # 4 tokens × 8 features = 32 elements per sample; the nine nodes are one layer, named
        # after their scope. "/" becomes ".".
        self.assertEqual(self.graph(decomposed_layernorm())["layers"], [
            {"name": "enc.ln", "kind": "layernorm", "inputs": ["input"], "elements": 32},
            {"name": "enc.act.Relu", "kind": "relu", "inputs": ["enc.ln"], "elements": 32},
        ])

    def test_gelu_with_half_first(self):
        # (x * 0.5) * (1 + erf(x / sqrt 2)): the other order PyTorch emits; fc1 out 4·16 = 64.
        m = attention()
        nodes = list(m.graph.node)
        i = next(i for i, n in enumerate(nodes) if n.name == "gelu_mul")
        nodes[i:i + 2] = [helper.make_node("Mul", ["h", "half"], ["h_half"], "gelu_half"),
                          helper.make_node("Mul", ["h_half", "h_add"], ["g"], "gelu_mul")]
        del m.graph.node[:]
        m.graph.node.extend(nodes)
        self.assertEqual(self.graph(m, "--batch", "1")["layers"], ATTENTION_LAYERS)

    def test_final_softmax_becomes_the_loss(self):
        m = cnn()
        m.graph.node.append(helper.make_node("Softmax", ["logits"], ["probs"], "probs"))
        m.graph.output[0].name = "probs"
        self.assertEqual(self.graph(m)["layers"], CNN_LAYERS)

    def test_unnamed_nodes_get_unique_names(self):
        m = basic_block()
        for node in m.graph.node:
            node.name = ""
        names = [layer["name"] for layer in self.graph(m)["layers"]]
        self.assertEqual(names, ["relu", "conv", "relu_2", "conv_2", "add"])


class BatchTest(ImporterTest):
    def test_static_batch(self):
        self.assertEqual(self.graph(cnn(batch=2))["batch"], 2)

    def test_batch_option_overrides_static_batch(self):
        g = self.graph(cnn(batch=2), "--batch", "64")
        self.assertEqual(g["batch"], 64)
        self.assertEqual(g["layers"], CNN_LAYERS)  # per-sample shapes do not change

    def test_dynamic_batch_with_batch_option(self):
        g = self.graph(bottleneck(batch_dim="N"), "--batch", "4")
        self.assertEqual(g["batch"], 4)
        self.assertEqual(g["layers"], BOTTLENECK_LAYERS)

    def test_dynamic_batch_without_batch_option(self):
        line = self.assert_fails(self.save(bottleneck(batch_dim="N")),
                                 mentions=('input "x"', '"N"', "--batch"))
        self.assertIn("dynamic", line)

    def test_dynamic_sequence_length_without_dim(self):
        self.assert_fails(self.save(embedding(seq="seq")), "--batch", "2",
                          mentions=('input "ids"', '"seq"', "--dim seq=N"))


class ErrorTest(ImporterTest):
    def test_unsupported_op(self):
        m = with_node(cnn(), helper.make_node("LeakyRelu", ["?"], ["leaky"], "weird_act"))
        line = self.assert_fails(self.save(m), mentions=('node "weird_act"', "(LeakyRelu)",
                                                         "unsupported op", "expected one of"))
        self.assertIn("Conv", line)

    def test_unsupported_op_also_fails_the_trace_run(self):
        m = with_node(cnn(), helper.make_node("LeakyRelu", ["?"], ["leaky"], "weird_act"))
        out = os.path.join(self.dir, "trace.json")
        p = self.run_script(self.save(m), "-o", out, "--recipe", RECIPE,
                            "--nibble", "/nonexistent/nibble")
        self.assertEqual(p.returncode, 2)
        self.assertIn('node "weird_act" (LeakyRelu)', p.stderr)
        self.assertFalse(os.path.exists(out))

    def test_dilation(self):
        m = cnn()
        m.graph.node[0].attribute.append(helper.make_attribute("dilations", [2, 2]))
        self.assert_fails(self.save(m), mentions=('node "conv1" (Conv)', "dilations [1, 1]",
                                                  "[2, 2]"))

    def test_pads_no_single_padding_reproduces(self):
        # A 1×3 kernel padded along W only: H needs padding 0 ((10 − 1) + 1 = 10), W padding 1.
        nodes = [helper.make_node("Conv", ["x", "w"], ["y"], "wide", pads=[0, 1, 0, 1])]
        m = model(nodes, [tensor("x", [1, 4, 10, 10])], [tensor("y", None)],
                  [weight("w", 4, 4, 1, 3)])
        self.assert_fails(self.save(m), mentions=('node "wide" (Conv)', "pads [0, 1, 0, 1]"))

    def test_missing_file(self):
        self.assert_fails(os.path.join(self.dir, "absent.onnx"), mentions=("no such file",))

    def test_not_onnx(self):
        path = os.path.join(self.dir, "text.onnx")
        with open(path, "w") as f:
            f.write("this is not a protobuf\n")
        self.assert_fails(path, mentions=("not an ONNX model",))

    def test_existing_output_is_kept_on_error(self):
        out = os.path.join(self.dir, "graph.json")
        with open(out, "w") as f:
            f.write("old\n")
        p = self.run_script(self.save(bottleneck(batch_dim="N")), "-o", out, "--graph-only")
        self.assertEqual(p.returncode, 2)
        with open(out) as f:
            self.assertEqual(f.read(), "old\n")

    def test_recipe_required_without_graph_only(self):
        p = self.run_script(self.save(cnn()), "-o", os.path.join(self.dir, "t.json"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("--recipe", p.stderr)


# ---------------------------------------------------------------------------------------------
# End to end: nibble trace --graph, then nibble run


def nibble_has_trace_graph():
    if not (os.path.isfile(NIBBLE) and os.access(NIBBLE, os.X_OK)):
        return False
    p = subprocess.run([NIBBLE, "trace", "--help"], capture_output=True, text=True, timeout=60)
    return p.returncode == 0 and "--graph" in p.stdout + p.stderr


def forward_macs(ops):
    """Σ of the MACs of a trace's fwd gemm and conv2d ops (each field's default as the reader)."""
    total = 0
    for op in ops:
        if op["pass"] != "fwd":
            continue
        if op["type"] == "gemm":
            total += op["M"] * op["N"] * op["K"] * op.get("batch", 1)
        elif op["type"] == "conv2d":
            stride, pad = op.get("stride", 1), op.get("padding", 0)
            p = (op["H"] + 2 * pad - op["R"]) // stride + 1
            q = (op["W"] + 2 * pad - op["S"]) // stride + 1
            total += (op.get("batch", 1) * p * q * op["filters"] * op["R"] * op["S"] * op["C"]
                      // op.get("groups", 1))
    return total


@unittest.skipUnless(nibble_has_trace_graph(),
                     f"{NIBBLE} is missing or has no 'nibble trace --graph' yet (set NIBBLE)")
class EndToEndTest(ImporterTest):
    def trace_and_run(self, m, *args):
        trace = os.path.join(self.dir, "trace.json")
        graph = os.path.join(self.dir, "graph.json")
        p = self.run_script(self.save(m), "-o", trace, "--recipe", RECIPE, "--graph-out", graph,
                            *args, nibble=NIBBLE)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.isfile(graph))
        with open(trace) as f:
            ops = json.load(f)["ops"]
        out = os.path.join(self.dir, "run")
        config = os.path.join(REPO, "configs", "default.json")
        r = subprocess.run([NIBBLE, "run", "--config", config, "--workload", trace, "-o", out,
                            "--quiet"],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        self.assertEqual(report["status"], "complete")
        with open(trace) as f:
            source = json.load(f)["source"]
        self.assertEqual(source["forward_macs"], forward_macs(ops))
        report_fwd = sum(op["macs"] for op in report["ops"]
                         if op["pass"] == "fwd" and op["type"] in ("gemm", "conv2d"))
        return forward_macs(ops), report_fwd

    def test_cnn(self):
        self.assertEqual(self.trace_and_run(cnn()), (CNN_FWD_MACS, CNN_FWD_MACS))

    def test_depthwise(self):
        self.assertEqual(self.trace_and_run(depthwise()),
                         (DEPTHWISE_FWD_MACS, DEPTHWISE_FWD_MACS))

    def test_bottleneck(self):
        # Tags reach nibble. Batch 1: a_conv1 8·8·4·16 = 4,096; a_conv2 4·4·4·(3·3·4) = 2,304;
        # a_conv3 4·4·32·4 = 2,048; proj 4·4·32·16 = 8,192.
        macs = 4096 + 2304 + 2048 + 8192
        self.assertEqual(self.trace_and_run(bottleneck()), (macs, macs))

    def test_embedding(self):
        # shares_weights_with reaches nibble. Batch 2: lm_head 2·5·8·100 = 8,000 (the lookup
        # makes no MACs).
        self.assertEqual(self.trace_and_run(embedding(), "--batch", "2"), (8000, 8000))

    def test_attention(self):
        macs = attention_fwd_macs(3)
        self.assertEqual(self.trace_and_run(attention(), "--batch", "3"), (macs, macs))

    def test_nibble_error_leaves_no_trace(self):
        trace = os.path.join(self.dir, "trace.json")
        p = self.run_script(self.save(cnn()), "-o", trace, "--recipe", "no-such-recipe",
                            nibble=NIBBLE)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertFalse(os.path.exists(trace))
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".")], [])


if __name__ == "__main__":
    unittest.main()
