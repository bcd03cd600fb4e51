#!/usr/bin/python3
"""scripts/plot_compare.py on `nibble compare` results of the MLP under int4-fp4 and fp16.

The three PNGs are written (real PNGs of the expected size, no software or time stamp), the same
compare.json gives byte-identical files, variants of compare.json (leakage inside the units,
layers on one side only, speed-ups over a wide range) plot too, and bad input exits 2 with one
line and no file. Run with Debian's /usr/bin/python3 (python3-matplotlib); NIBBLE names the binary.
"""
import copy
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NIBBLE = os.environ.get("NIBBLE", os.path.join(ROOT, "build", "nibble"))
PLOT = os.path.join(ROOT, "scripts", "plot_compare.py")
FILES = ("energy_by_unit.png", "layer_speedup.png", "passes.png")
# figsize × dpi 100 in the script: 6.4×4.8 in, the layer chart at least as wide, 10×4.4 in.
SIZES = {"energy_by_unit.png": (640, 480), "passes.png": (1000, 440)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, **kw)


def png_size(data):
    # The IHDR chunk comes first: length, "IHDR", width, height (big-endian).
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def read(path):
    with open(path, "rb") as f:
        return f.read()


class PlotCompare(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        traces = {}
        for recipe in ("int4-fp4", "fp16"):
            traces[recipe] = os.path.join(cls.tmp.name, f"mlp-{recipe}.json")
            r = run([NIBBLE, "trace", "--network", "mlp", "--batch", "8", "--recipe", recipe,
                     "-o", traces[recipe]])
            assert r.returncode == 0, r.stderr
        cls.compare = os.path.join(cls.tmp.name, "compare")
        r = run([NIBBLE, "compare", "--config", "configs/rapid-4bit.json", "--baseline",
                 "configs/rapid-4bit.json", "--workload", traces["int4-fp4"],
                 "--baseline-workload", traces["fp16"], "--out", cls.compare, "--quiet"])
        assert r.returncode == 0, r.stderr
        with open(os.path.join(cls.compare, "compare.json")) as f:
            cls.doc = json.load(f)
        cls.pngs = os.path.join(cls.tmp.name, "pngs")
        cls.first = run([sys.executable, PLOT, cls.compare, "-o", cls.pngs])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out_dir(self, name):
        return os.path.join(self.tmp.name, self.id().split(".")[-1] + "-" + name)

    def plot(self, source, out=None):
        args = [sys.executable, PLOT, source] + (["-o", out] if out else [])
        return run(args)

    def check_pngs(self, folder):
        for name in FILES:
            path = os.path.join(folder, name)
            self.assertTrue(os.path.isfile(path), path)
            data = read(path)
            self.assertGreater(len(data), 1000, path)
            self.assertEqual(data[:8], PNG_SIGNATURE, path)
            self.assertNotIn(b"Software", data, path)  # no matplotlib version stamp
            self.assertNotIn(b"Creation Time", data, path)
            if name in SIZES:
                self.assertEqual(png_size(data), SIZES[name], path)
        self.assertEqual(sorted(f for f in os.listdir(folder) if f.startswith(".")), [])

    def variant(self, name, edit):
        doc = copy.deepcopy(self.doc)
        edit(doc)
        path = os.path.join(self.tmp.name, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def test_the_recipes_compare_has_what_the_plots_need(self):
        self.assertEqual(self.doc["candidate"]["recipe"], "int4-fp4")
        self.assertEqual(self.doc["baseline"]["recipe"], "fp16")
        self.assertEqual([p["pass"] for p in self.doc["passes"]],
                         ["fwd", "bwd_data", "bwd_weight", "update"])
        self.assertGreaterEqual(len([l for l in self.doc["layers"] if l["speedup"]]), 4)

    def test_writes_three_pngs(self):
        out, r = self.pngs, self.first
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.splitlines(),
                         [f"plot_compare.py: wrote {os.path.join(out, n)}" for n in FILES])
        self.check_pngs(out)
        # The layer chart is at least as wide as the others, as tall.
        width, height = png_size(read(os.path.join(out, "layer_speedup.png")))
        self.assertGreaterEqual(width, 640)
        self.assertEqual(height, 480)

    def test_default_output_is_the_compare_folder(self):
        folder = os.path.join(self.tmp.name, "copy")
        os.makedirs(folder)
        with open(os.path.join(folder, "compare.json"), "w") as f:
            json.dump(self.doc, f)
        r = self.plot(folder)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_pngs(folder)

    def test_same_compare_gives_byte_identical_pngs(self):
        one, two = self.pngs, self.out_dir("two")
        self.assertEqual(self.first.returncode, 0)
        self.assertEqual(self.plot(os.path.join(self.compare, "compare.json"), two).returncode, 0)
        for name in FILES:
            self.assertEqual(read(os.path.join(one, name)), read(os.path.join(two, name)), name)

    def test_variants_plot(self):
        def leakage_in_units(doc):
            # A report whose units include leakage: the leakage row is not stacked again.
            for u in doc["units"]:
                if u["kind"] == "leakage":
                    break
            else:
                doc["units"].append({"unit": "leakage", "kind": "leakage",
                                     "candidate": {"energy_pj": 1.0, "share": 0.0},
                                     "baseline": {"energy_pj": 1.0, "share": 0.0},
                                     "energy_ratio": 1.0})
            for side in ("candidate", "baseline"):
                doc[side]["energy_pj"] *= 3

        def wide_speedups(doc):
            for i, layer in enumerate(doc["layers"]):
                layer["speedup"] = [0.01, 3.0, 150.0][i % 3]

        def one_sided_everything(doc):
            for layer in doc["layers"]:
                layer["speedup"] = None
            doc["units"] = [u for u in doc["units"] if u["kind"] == "unit"]
            doc["units"][0]["baseline"] = None
            doc["units"][0]["energy_ratio"] = None

        for name, edit in (("leakage-in-units", leakage_in_units), ("wide", wide_speedups),
                           ("one-sided", one_sided_everything)):
            with self.subTest(name):
                out = self.out_dir(name)
                r = self.plot(self.variant(name, edit), out)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.check_pngs(out)

    def test_bad_input_exits_2_with_one_line_and_writes_nothing(self):
        cases = {
            "missing": os.path.join(self.tmp.name, "no-such-folder"),
            "not json": self.variant("not-json", lambda d: None) + ".txt",
            "no passes": self.variant("no-passes", lambda d: d.pop("passes")),
            "a layer without its name": self.variant("no-layer-name",
                                                     lambda d: d["layers"][0].pop("layer")),
        }
        with open(cases["not json"], "w") as f:
            f.write("{ not json")
        for what, source in cases.items():
            with self.subTest(what):
                out = self.out_dir(what.replace(" ", "-"))
                r = self.plot(source, out)
                self.assertEqual(r.returncode, 2, what + ": " + r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertTrue(r.stderr.startswith("plot_compare.py: error: "), r.stderr)
                self.assertFalse(os.path.exists(out), what)


if __name__ == "__main__":
    unittest.main()
