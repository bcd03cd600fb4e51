#!/usr/bin/python3
"""The trace format's JSON Schema (workloads/trace-v1.schema.json) against real traces.

Every shipped trace and every trace `nibble trace` writes must validate; traces that break one
rule each must not, and `nibble run` must refuse the same ones (exit 2), so the schema and the
reader agree. Run with Debian's /usr/bin/python3 (python3-jsonschema); NIBBLE names the binary.
"""
import copy
import glob
import json
import os
import subprocess
import tempfile
import unittest

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "workloads", "trace-v1.schema.json")
NIBBLE = os.environ.get("NIBBLE", os.path.join(ROOT, "build", "nibble"))


def validator():
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


GEMM = {"name": "g", "type": "gemm", "pass": "fwd", "M": 8, "N": 8, "K": 8,
        "precision": {"a": "uint4", "b": "int4", "out": "fp16"}}
GOOD = {"format": "nibble-trace", "version": 1, "iterations": 2, "source": {"by": "test"},
        "ops": [GEMM,
                {"name": "c", "type": "conv2d", "pass": "bwd_data", "C": 4, "H": 6, "W": 6,
                 "filters": 4, "R": 3, "S": 3, "padding": 1, "groups": 4, "deps": ["g"],
                 "precision": {"a": "fp4", "b": "int4", "out": "fp16"}},
                {"name": "q", "type": "quantize", "pass": "bwd_data", "elements": 64,
                 "to": "fp4", "phase": "even"},
                {"name": "s", "type": "rescale", "pass": "bwd_weight", "elements": 64,
                 "from": "fp32", "to": "fp16"},
                {"name": "a", "type": "allreduce", "pass": "update", "elements": 64},
                {"name": "v", "type": "vector", "pass": "update", "elements": 64,
                 "function": "sgd", "precision": "fp32"}]}


def broken(edit):
    t = copy.deepcopy(GOOD)
    edit(t)
    return t


# Each breaks one rule that both the schema and the reader enforce.
BAD = {
    "newer version": broken(lambda t: t.update(version=2)),
    "unknown top-level key": broken(lambda t: t.update(extra=1)),
    "no ops": broken(lambda t: t.update(ops=[])),
    "unknown op key": broken(lambda t: t["ops"][0].update(L=2)),
    "zero M": broken(lambda t: t["ops"][0].update(M=0)),
    "string K": broken(lambda t: t["ops"][0].update(K="8")),
    "unknown pass": broken(lambda t: t["ops"][0].update({"pass": "backward"})),
    "unknown precision": broken(lambda t: t["ops"][0]["precision"].update(a="int3")),
    "missing filters": broken(lambda t: t["ops"][1].pop("filters")),
    "phase name": broken(lambda t: t["ops"][2].update(phase="odd-even")),
    "quantize to fp16": broken(lambda t: t["ops"][2].update(to="fp16")),
    "vector precision": broken(lambda t: t["ops"][5].update(precision="int4")),
    "rescale to int4": broken(lambda t: t["ops"][3].update(to="int4")),
    "allreduce function": broken(lambda t: t["ops"][4].update(function="sum")),
    "zero iterations": broken(lambda t: t.update(iterations=0)),
    "deps not a list": broken(lambda t: t["ops"][1].update(deps="g")),
}


class Schema(unittest.TestCase):
    def setUp(self):
        self.v = validator()
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def errors(self, trace):
        return [e.message for e in self.v.iter_errors(trace)]

    def run_nibble(self, trace):
        path = os.path.join(self.tmp.name, "t.json")
        with open(path, "w") as f:
            json.dump(trace, f)
        out = os.path.join(self.tmp.name, "out")
        return subprocess.run([NIBBLE, "run", "--config", os.path.join(ROOT, "configs/default.json"),
                               "--workload", path, "--out", out, "--quiet"],
                              capture_output=True, text=True)

    def test_shipped_traces_validate(self):
        traces = sorted(glob.glob(os.path.join(ROOT, "workloads", "examples", "*.json")))
        self.assertGreaterEqual(len(traces), 4)
        for path in traces:
            with open(path) as f:
                self.assertEqual(self.errors(json.load(f)), [], path)

    def test_good_trace_validates_and_runs(self):
        self.assertEqual(self.errors(GOOD), [])
        r = self.run_nibble(GOOD)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_each_broken_rule_fails_the_schema_and_the_reader(self):
        for what, trace in BAD.items():
            with self.subTest(what):
                self.assertNotEqual(self.errors(trace), [], what)
                r = self.run_nibble(trace)
                self.assertEqual(r.returncode, 2, what + ": " + r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_generated_traces_validate(self):
        probe = subprocess.run([NIBBLE, "trace", "--help"], capture_output=True, text=True)
        if probe.returncode != 0:
            self.skipTest("this nibble has no trace command")
        for network in ["mlp", "resnet18", "mobilenetv2", "bert-base", "lstm"]:
            with self.subTest(network):
                path = os.path.join(self.tmp.name, network + ".json")
                args = [NIBBLE, "trace", "--network", network, "--batch", "2", "--recipe",
                        "int4-fp4", "-o", path]
                if network == "bert-base":
                    args += ["--seq-len", "16"]
                r = subprocess.run(args, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                with open(path) as f:
                    self.assertEqual(self.errors(json.load(f))[:3], [], network)


if __name__ == "__main__":
    unittest.main()
