#!/usr/bin/python3
"""`nibble train` end to end and scripts/plot_train.py on its output.

Two epochs of the mlp on the shipped digits with --seeds 0,1 write train.csv (a header and one row
per seed and epoch) and train.json, whose final mean and standard deviation are those of the two
seeds' last epochs; a rerun with the same seeds and threads writes byte-identical files; bad input
(unknown recipe, model, data path, epochs 0, a trace step past the run) exits 2 with one line and
writes nothing; SIGINT after the first epoch exits 130 and writes the finished epochs, marked
incomplete; plot_train.py draws accuracy.png and loss.png, byte-identical on a rerun, and
exits 2 on a file that is not a train.json. Needs NIBBLE (the binary) and Debian's /usr/bin/python3
with python3-matplotlib.
"""
import csv
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NIBBLE = os.environ.get("NIBBLE", os.path.join(ROOT, "build", "nibble"))
PLOT = os.path.join(ROOT, "scripts", "plot_train.py")


def run(args):
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class TrainCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "a")
        cls.args = [NIBBLE, "train", "--dataset", "digits", "--model", "mlp", "--recipe",
                    "int4-fp4", "--epochs", "2", "--seeds", "0,1", "--threads", "2"]
        cls.first = run(cls.args + ["--out", cls.out])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_outputs(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        with open(os.path.join(self.out, "train.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([(r["seed"], r["epoch"]) for r in rows],
                         [("0", "1"), ("0", "2"), ("1", "1"), ("1", "2")])
        with open(os.path.join(self.out, "train.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["format"], "nibble-train")
        self.assertEqual((doc["train_images"], doc["test_images"]), (1437, 360))
        last = [run_["epochs"][-1]["test_accuracy"] for run_ in doc["runs"]]
        mean = (last[0] + last[1]) / 2
        std = math.sqrt(((last[0] - mean) ** 2 + (last[1] - mean) ** 2) / 1)  # n - 1 = 1
        self.assertAlmostEqual(doc["final_test_accuracy"]["mean"], mean, places=15)
        self.assertAlmostEqual(doc["final_test_accuracy"]["std"], std, places=15)
        # The first and last layers stay FP32: fc2 and fc3 are quantized, with FP4 figures.
        layers = doc["runs"][0]["epochs"][0]["layers"]
        self.assertEqual([l["layer"] for l in layers], ["fc2", "fc3"])
        self.assertGreater(layers[0]["fp4_values"], 0)

    def test_rerun_is_byte_identical(self):
        again = os.path.join(self.tmp.name, "b")
        self.assertEqual(run(self.args + ["--out", again]).returncode, 0)
        for name in ("train.csv", "train.json"):
            self.assertEqual(read(os.path.join(self.out, name)), read(os.path.join(again, name)))

    def test_bad_input(self):
        base = [NIBBLE, "train", "--dataset", "digits", "--model", "mlp", "--recipe", "fp32"]
        cases = [
            ([NIBBLE, "train", "--dataset", "digits", "--model", "mlp", "--recipe", "int3"],
             "--recipe: expected fp32"),
            ([NIBBLE, "train", "--dataset", "digits", "--model", "vgg", "--recipe", "fp32"],
             "--model: expected mlp or cnn"),
            (base + ["--data", "/nonexistent/digits.csv.gz"], "/nonexistent/digits.csv.gz"),
            (base + ["--epochs", "0"], "--epochs: expected a positive integer, found 0"),
            (base + ["--epochs", "1", "--emit-trace", "t.json", "--trace-step", "13"],
             "--trace-step: expected a step in [1, 12]"),
            ([NIBBLE, "train", "--dataset", "mnist", "--model", "mlp", "--recipe", "fp32"],
             "--dataset: expected fashion-mnist or digits"),
        ]
        for args, message in cases:
            out = os.path.join(self.tmp.name, "bad")
            p = run(args + ["--out", out])
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(message, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertFalse(os.path.exists(out), args)

    def test_interrupt_keeps_finished_epochs(self):
        out = os.path.join(self.tmp.name, "interrupted")
        p = subprocess.Popen([NIBBLE, "train", "--dataset", "digits", "--model", "mlp",
                              "--recipe", "fp32", "--epochs", "100", "--threads", "1",
                              "--out", out], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if "epoch 1:" in line:
                p.send_signal(signal.SIGINT)
                break
        rest = p.stderr.read()
        p.wait(timeout=120)
        p.stdout.close()
        p.stderr.close()
        self.assertEqual(p.returncode, 130, rest)
        self.assertIn("interrupted; wrote the finished epochs", rest)
        with open(os.path.join(out, "train.json")) as f:
            doc = json.load(f)
        self.assertFalse(doc["complete"])
        finished = len(doc["runs"][0]["epochs"])
        self.assertGreaterEqual(finished, 1)
        self.assertLess(finished, 100)
        self.assertEqual(doc["final_test_accuracy"]["seeds"], 0)  # no run completed
        with open(os.path.join(out, "train.csv")) as f:
            self.assertEqual(len(f.read().splitlines()), 1 + finished)

    def test_plot(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        plots = [os.path.join(self.tmp.name, d) for d in ("p1", "p2")]
        for d in plots:
            p = run(["/usr/bin/python3", PLOT, self.out, "-o", d])
            self.assertEqual(p.returncode, 0, p.stderr)
        for name in ("accuracy.png", "loss.png"):
            data = read(os.path.join(plots[0], name))
            self.assertTrue(data.startswith(b"\x89PNG\r\n\x1a\n"))
            self.assertEqual(data, read(os.path.join(plots[1], name)))
        bad = os.path.join(self.tmp.name, "not-train.json")
        with open(bad, "w") as f:
            json.dump({"format": "nibble-report"}, f)
        out = os.path.join(self.tmp.name, "p3")
        p = run(["/usr/bin/python3", PLOT, bad, "-o", out])
        self.assertEqual(p.returncode, 2)
        self.assertIn("expected a nibble train.json", p.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
