#!/usr/bin/python3
"""scripts/plot_sweep.py on sweep folders written by hand (points.json and results.jsonl).

A 3 x 2 grid with a failed and a missing point, a grid of three axes and a sweep of two workloads
give the expected Pareto front (pareto.csv, stdout), the expected heat-map axes and panels, and
byte-identical files on a rerun; keys tied one to one, or depending on another (trace.recipe on
config, zipped where two configs share a recipe), are shown with that key's axis or panel title,
not as axes of their own; bad input exits 2 with one line and no file. Run with Debian's
/usr/bin/python3 (python3-matplotlib); no nibble binary is needed.
"""
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLOT = os.path.join(ROOT, "scripts", "plot_sweep.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROWS = "accelerator.core.mac_array.rows"
CAPACITY = "accelerator.core.scratchpad.capacity_bytes"
RECIPE = "trace.recipe"
BANDWIDTH = "accelerator.dram.bandwidth_gbps"
LOG_ROWS = "accelerator.core.log_grad.rows"  # "rows" alone names neither it nor ROWS


def load_script():
    spec = importlib.util.spec_from_file_location("plot_sweep", PLOT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args):
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def png_size(data):
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def point_id(i):
    return f"p{i:04d}-{i * 0x1111 + 0xa0:08x}"


def write_sweep(folder, keys, metrics, points, results=True):
    """points: (workload, assignments, status, metrics) tuples; writes points.json and, unless
    results is False, results.jsonl the way `nibble sweep merge` does."""
    os.makedirs(folder)
    doc = {"format": "nibble-sweep-points", "version": 1, "spec": "spec.json",
           "config": "configs/default.json", "set": [], "keys": keys, "metrics": metrics,
           "points": [{"id": point_id(i), "workload": w, "assignments": a}
                      for i, (w, a, _, _) in enumerate(points)]}
    with open(os.path.join(folder, "points.json"), "w") as f:
        json.dump(doc, f, indent=2)
    if results:
        with open(os.path.join(folder, "results.jsonl"), "w") as f:
            for i, (w, a, status, values) in enumerate(points):
                row = {"id": point_id(i), "workload": w, "assignments": a, "status": status}
                if status == "failed":
                    row.update(error="config: rows out of range", exit=2)
                row["metrics"] = {m: (values or {}).get(m) for m in metrics}
                f.write(json.dumps(row) + "\n")
    return folder


MLP = "../../workloads/examples/mlp.json"
CNN = "../../workloads/examples/cnn.json"

# The 3 x 2 grid: rows 8, 16, 32 by capacities 131072 then 65536 (not in string or number order).
GRID = [
    (MLP, {ROWS: 8, CAPACITY: 131072}, "ok",
     {"cycles": 400, "energy_pj.total": 10.25, "tops_per_w": 1.0}),
    (MLP, {ROWS: 8, CAPACITY: 65536}, "ok",
     {"cycles": 420, "energy_pj.total": 9.5, "tops_per_w": 1.5}),
    (MLP, {ROWS: 16, CAPACITY: 131072}, "failed", None),
    (MLP, {ROWS: 16, CAPACITY: 65536}, "ok",
     {"cycles": 300, "energy_pj.total": 12.0, "tops_per_w": 2.0}),
    (MLP, {ROWS: 32, CAPACITY: 131072}, "missing", None),
    (MLP, {ROWS: 32, CAPACITY: 65536}, "ok",
     {"cycles": 300, "energy_pj.total": 15.0, "tops_per_w": 0.5}),
]
# Plotted: p0 (400, 10.25), p1 (420, 9.5), p3 (300, 12), p5 (300, 15); p2 failed, p4 missing.
# p5 is dominated by p3 (same cycles, less energy). p3 has the fewest cycles; p0 and p1 each have
# less energy than every point with fewer cycles. Sorted by cycles:
GRID_FRONT = [3, 0, 1]

# Two workloads by rows 16, 32, 64.
TWO = [
    (MLP, {ROWS: 16}, "ok", {"cycles": 100, "energy_pj.total": 50}),
    (MLP, {ROWS: 32}, "ok", {"cycles": 80, "energy_pj.total": 60}),
    (MLP, {ROWS: 64}, "ok", {"cycles": 70, "energy_pj.total": None}),
    (CNN, {ROWS: 16}, "ok", {"cycles": 100, "energy_pj.total": 50}),
    (CNN, {ROWS: 32}, "ok", {"cycles": 120, "energy_pj.total": 40}),
    (CNN, {ROWS: 64}, "ok", {"cycles": 90, "energy_pj.total": 70}),
]
# p2 has no energy (left out). p5 (90, 70) is dominated by p1 (80, 60). p0 and p3 are the same
# (100, 50): neither is strictly better, so both stay, in point order. p1 has the fewest cycles,
# p0/p3 and p4 (120, 40) each less energy than all with fewer cycles. Sorted by cycles:
TWO_FRONT = [1, 0, 3, 4]


# Traces generated per point from trace.network and trace.recipe: each point's workload differs,
# but it follows from the keys, so it is no axis of its own.
GENERATED = [(f"traces/{net}-b8-{recipe}-{i:08x}.json", {"trace.network": net, RECIPE: recipe},
              "ok", {"cycles": 1000 + i, "energy_pj.total": 2000 - i})
             for i, (net, recipe) in enumerate((n, r) for n in ("resnet18", "bert-base")
                                               for r in ("fp16", "int4-fp4"))]


def three_axes():
    points = []
    for rows in (16, 32):
        for recipe in ("int4-fp4", "fp16"):
            for capacity in (131072, 262144):
                cycles = 160000 * 16 // rows + (capacity // 65536) * 100
                energy = 3.0e9 * (1.5 if recipe == "fp16" else 1.0) + rows * 1e6
                points.append((MLP, {ROWS: rows, RECIPE: recipe, CAPACITY: capacity}, "ok",
                               {"cycles": cycles, "energy_pj.total": energy}))
    return points


def zipped(capacities, bandwidths, rows, log_rows):
    """Points of a grid of capacities by bandwidths and a zip of (rows, log_rows), in the order of
    nibble sweep: grid keys in spec order, the last fastest, then the zip tuples."""
    points = []
    for capacity in capacities:
        for bandwidth in bandwidths:
            for r, lg in zip(rows, log_rows):
                a = {k: v for k, v in ((CAPACITY, capacity), (BANDWIDTH, bandwidth), (ROWS, r),
                                       (LOG_ROWS, lg)) if v is not None}
                cycles = int(1e6 / (r * bandwidth)) + (capacity or 0) // 1024
                points.append((MLP, a, "ok", {"cycles": cycles, "energy_pj.total": 1e3 * r}))
    return points


# Two grid keys (2 capacities x 2 bandwidths) and two zipped keys (rows and log_grad.rows, 4, 8,
# 16 each): 12 points. The zipped keys are one axis: 3 axes vary.
ZIPPED = zipped((131072, 262144), (102.4, 204.8), (4, 8, 16), (4, 8, 16))
# One grid key (2 bandwidths) and two zipped keys whose values differ (rows 4, 8, 16 with
# log_grad.rows 2, 4, 8): 6 points, 2 axes, so the heat-map comes without --heatmap.
ZIPPED_AUTO = zipped((None,), (102.4, 204.8), (4, 8, 16), (2, 4, 8))


CONFIGS = ["../rapid-4bit.json", "../hfp8.json", "../fp16-baseline.json", "../fp16-iso-area.json"]
NETWORKS = ["resnet18", "bert-base"]


def config_recipe():
    """trace.network (a grid of 2) by config zipped with trace.recipe, in the order of nibble
    sweep: 8 points. Two configs share fp16, so the recipe follows from the config but not the
    config from the recipe; each trace follows from network and recipe."""
    points = []
    for n, net in enumerate(NETWORKS):
        for c, (config, recipe) in enumerate(zip(CONFIGS, ["int4-fp4", "hfp8", "fp16", "fp16"])):
            points.append((f"traces/{net}-b8-{recipe}.json",
                           {"trace.network": net, "config": config, RECIPE: recipe}, "ok",
                           {"cycles": 1000 * (n + 1) + c, "energy_pj.total": 100.0 * (n + 1) - c}))
    return points


def tiered():
    """Bandwidths (2) by rows (2) by capacities zipped with a tier that repeats (small, small,
    large): 12 points; the tier follows from the capacity alone."""
    return [(MLP, {BANDWIDTH: bw, ROWS: r, CAPACITY: cap, "tier": tier}, "ok",
             {"cycles": int(1e6 / (r * bw)) + cap // 1024, "energy_pj.total": 1e3 * r})
            for bw in (102.4, 204.8) for r in (8, 16)
            for cap, tier in zip((131072, 262144, 524288), ("small", "small", "large"))]


class PlotSweep(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.script = load_script()
        top = cls.tmp.name
        metrics = ["cycles", "energy_pj.total", "tops_per_w"]
        cls.grid = write_sweep(os.path.join(top, "grid"), [ROWS, CAPACITY], metrics, GRID)
        cls.two = write_sweep(os.path.join(top, "two"), [ROWS], metrics[:2], TWO)
        cls.three = write_sweep(os.path.join(top, "three"), [ROWS, RECIPE, CAPACITY],
                                metrics[:2], three_axes())
        cls.zipped = write_sweep(os.path.join(top, "zipped"),
                                 [CAPACITY, BANDWIDTH, ROWS, LOG_ROWS], metrics[:2], ZIPPED)
        cls.first = run([sys.executable, PLOT, cls.grid])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out_dir(self, name):
        return os.path.join(self.tmp.name, self.id().split(".")[-1] + "-" + name)

    def plot(self, *args):
        return run([sys.executable, PLOT] + list(args))

    def check_png(self, path):
        self.assertTrue(os.path.isfile(path), path)
        data = read(path)
        self.assertGreater(len(data), 1000, path)
        self.assertEqual(data[:8], PNG_SIGNATURE, path)
        self.assertNotIn(b"Software", data, path)  # no matplotlib version stamp
        self.assertNotIn(b"Creation Time", data, path)
        return data

    def plan(self, folder, heatmap=None, metric=None):
        s = self.script
        _, keys, metrics, points = s.load_points(folder)
        _, rows = s.load_results(folder, points)
        return s.plan_heatmap(points, rows, keys, heatmap, metric or metrics[0])

    def test_grid_writes_the_front_and_the_heatmap(self):
        r = self.first
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "pareto.png: energy_pj.total against cycles, 4 of 6 points "
                                   "plotted (left out: 1 failed, 1 missing, 0 null metric)")
        self.assertEqual(lines[1], "pareto.csv: the Pareto front, 3 points, sorted by cycles:")
        self.assertEqual([line.split()[0] for line in lines[3:6]],
                         [point_id(i) for i in GRID_FRONT])
        # Keys by their shortest unambiguous dotted suffix.
        self.assertIn("heatmap.png: 1 panel, rows=rows, columns=capacity_bytes", lines)
        self.assertEqual(lines[2].split(), ["id", "workload", "rows", "capacity_bytes",
                                            "cycles", "energy_pj.total"])
        self.assertIn("heatmap.png: cycles, 4 of 6 points coloured (left out: 1 failed, "
                      "1 missing, 0 null metric)", lines)
        self.assertEqual(lines[-3:], [f"plot_sweep.py: wrote {os.path.join(self.grid, n)}"
                                      for n in ("pareto.png", "pareto.csv", "heatmap.png")])
        with open(os.path.join(self.grid, "pareto.csv")) as f:
            self.assertEqual(f.read(),
                             f"id,workload,{ROWS},{CAPACITY},cycles,energy_pj.total\n"
                             f"{point_id(3)},{MLP},16,65536,300,12.0\n"
                             f"{point_id(0)},{MLP},8,131072,400,10.25\n"
                             f"{point_id(1)},{MLP},8,65536,420,9.5\n")
        self.assertEqual(png_size(self.check_png(os.path.join(self.grid, "pareto.png"))),
                         (720, 500))
        self.check_png(os.path.join(self.grid, "heatmap.png"))
        self.assertEqual(sorted(f for f in os.listdir(self.grid) if f.startswith(".")), [])

    def test_grid_heatmap_cells_in_first_appearance_order(self):
        plan, skipped = self.plan(self.grid)
        self.assertIsNone(skipped)
        self.assertEqual((plan["rows"], plan["columns"], plan["others"]), (ROWS, CAPACITY, []))
        self.assertEqual(plan["row_ticks"], ["8", "16", "32"])
        self.assertEqual(plan["col_ticks"], ["131072", "65536"])
        self.assertEqual(plan["titles"], [""])
        self.assertEqual(plan["cells"], [[[("ok", 400.0), ("ok", 420.0)],
                                          [("failed", None), ("ok", 300.0)],
                                          [("missing", None), ("ok", 300.0)]]])
        plan, _ = self.plan(self.grid, heatmap=[CAPACITY, ROWS], metric="tops_per_w")
        self.assertEqual((plan["rows"], plan["columns"]), (CAPACITY, ROWS))
        self.assertEqual(plan["cells"][0][1], [("ok", 1.5), ("ok", 2.0), ("ok", 0.5)])

    def test_rerun_gives_byte_identical_files(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        out = self.out_dir("again")
        r = self.plot(self.grid, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("pareto.png", "pareto.csv", "heatmap.png"):
            self.assertEqual(read(os.path.join(self.grid, name)), read(os.path.join(out, name)),
                             name)

    def test_two_workloads(self):
        out = self.out_dir("two")
        r = self.plot(self.two, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "pareto.png: energy_pj.total against cycles, 5 of 6 points "
                                   "plotted (left out: 0 failed, 0 missing, 1 null metric)")
        self.assertIn("heatmap.png: 1 panel, rows=workload, columns=rows", lines)
        with open(os.path.join(out, "pareto.csv")) as f:
            self.assertEqual(f.read(), f"id,workload,{ROWS},cycles,energy_pj.total\n"
                                       f"{point_id(1)},{MLP},32,80,60\n"
                                       f"{point_id(0)},{MLP},16,100,50\n"
                                       f"{point_id(3)},{CNN},16,100,50\n"
                                       f"{point_id(4)},{CNN},32,120,40\n")
        self.assertEqual([line.split()[0] for line in lines[3:7]],
                         [point_id(i) for i in TWO_FRONT])
        self.check_png(os.path.join(out, "pareto.png"))
        self.check_png(os.path.join(out, "heatmap.png"))
        plan, _ = self.plan(self.two, metric="energy_pj.total")
        self.assertEqual(plan["row_ticks"], ["mlp.json", "cnn.json"])
        self.assertEqual(plan["col_ticks"], ["16", "32", "64"])
        self.assertEqual(plan["cells"][0][0][2], ("null metric", None))

    def test_three_axes_skip_the_heatmap_unless_chosen(self):
        out = self.out_dir("default")
        r = self.plot(self.three, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"heatmap.png: skipped: 3 axes vary ({ROWS}, {RECIPE}, {CAPACITY}), the "
                      f"heat-map needs two; choose two with --heatmap KEY1,KEY2",
                      r.stdout.splitlines())
        self.assertEqual(sorted(os.listdir(out)), ["pareto.csv", "pareto.png"])

        out = self.out_dir("chosen")
        r = self.plot(self.three, "-o", out, "--heatmap", f"{ROWS},{CAPACITY}",
                      "--metric", "energy_pj.total")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("heatmap.png: 2 panels (one per recipe), rows=rows, columns=capacity_bytes",
                      r.stdout.splitlines())
        self.check_png(os.path.join(out, "heatmap.png"))
        plan, _ = self.plan(self.three, heatmap=[ROWS, CAPACITY])
        self.assertEqual(plan["others"], [RECIPE])
        self.assertEqual(plan["titles"], ["recipe=int4-fp4", "recipe=fp16"])

        r = self.plot(self.three, "-o", self.out_dir("recipe"), "--heatmap", f"{RECIPE},{ROWS}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("heatmap.png: 2 panels (one per capacity_bytes), rows=recipe, columns=rows",
                      r.stdout.splitlines())

    def test_generated_traces_are_no_workload_axis(self):
        folder = write_sweep(os.path.join(self.tmp.name, "generated"), ["trace.network", RECIPE],
                             ["cycles", "energy_pj.total"], GENERATED)
        out = self.out_dir("generated")
        r = self.plot(folder, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("heatmap.png: 1 panel, rows=network, columns=recipe",
                      r.stdout.splitlines())
        plan, _ = self.plan(folder)
        self.assertEqual(plan["row_ticks"], ["resnet18", "bert-base"])
        self.assertEqual(plan["col_ticks"], ["fp16", "int4-fp4"])
        s = self.script
        _, keys, _, points = s.load_points(folder)
        self.assertEqual(s.marker_axis(points, keys), "trace.network")
        _, keys, _, points = s.load_points(self.two)
        self.assertEqual(s.marker_axis(points, keys), "workload")
        # Cycles rise and energy falls along the points: none dominates another.
        with open(os.path.join(out, "pareto.csv")) as f:
            self.assertEqual([line.split(",")[0] for line in f.read().splitlines()[1:]],
                             [point_id(i) for i in range(4)])

    def test_pareto_front_ties(self):
        front = self.script.pareto_front
        self.assertEqual(front([]), [])
        self.assertEqual(front([(1, 1)]), [0])
        self.assertEqual(front([(2, 2), (2, 2), (2, 3)]), [0, 1])  # equal: neither dominates
        # (1, 4) loses to (1, 3), (3, 3) to (2, 2); the others each beat all to their left.
        self.assertEqual(front([(3, 1), (1, 3), (2, 2), (3, 3), (1, 4)]), [1, 2, 0])

    def test_zipped_keys_are_one_axis(self):
        out = self.out_dir("zipped")
        r = self.plot(self.zipped, "-o", out, "--heatmap", f"{ROWS},{BANDWIDTH}")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        # log_grad.rows goes with the rows, not into the panels: one panel per capacity.
        self.assertIn("heatmap.png: 2 panels (one per capacity_bytes), "
                      "rows=mac_array.rows (= log_grad.rows), columns=bandwidth_gbps", lines)
        self.assertIn("heatmap.png: cycles, 12 of 12 points coloured (left out: 0 failed, "
                      "0 missing, 0 null metric)", lines)
        self.assertEqual(lines[2].split(), ["id", "workload", "capacity_bytes", "bandwidth_gbps",
                                            "mac_array.rows", "log_grad.rows", "cycles",
                                            "energy_pj.total"])
        self.check_png(os.path.join(out, "heatmap.png"))
        plan, _ = self.plan(self.zipped, heatmap=[ROWS, BANDWIDTH])
        self.assertEqual((plan["others"], plan["row_tied"], plan["col_tied"]),
                         ([CAPACITY], [LOG_ROWS], []))
        self.assertEqual(plan["titles"], ["capacity_bytes=131072", "capacity_bytes=262144"])
        self.assertEqual(plan["row_ticks"], ["4", "8", "16"])
        self.assertEqual(plan["col_ticks"], ["102.4", "204.8"])
        self.assertEqual(plan["row_label_full"], f"{ROWS} (= {LOG_ROWS})")
        self.assertTrue(all(c is not None for panel in plan["cells"] for row in panel
                            for c in row))  # every row of every panel filled
        # Either zipped key names the axis; the other one follows it.
        plan, _ = self.plan(self.zipped, heatmap=[BANDWIDTH, LOG_ROWS])
        self.assertEqual((plan["others"], plan["col_tied"], plan["col_label"]),
                         ([CAPACITY], [ROWS], "log_grad.rows (= mac_array.rows)"))
        # With the zipped keys as panels: 3 panels, one title part each.
        plan, _ = self.plan(self.zipped, heatmap=[CAPACITY, BANDWIDTH])
        self.assertEqual(plan["titles"], ["mac_array.rows=log_grad.rows=4",
                                          "mac_array.rows=log_grad.rows=8",
                                          "mac_array.rows=log_grad.rows=16"])

        # No --heatmap: 3 axes, not 4.
        out = self.out_dir("zipped-default")
        r = self.plot(self.zipped, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"heatmap.png: skipped: 3 axes vary ({CAPACITY}, {BANDWIDTH}, {ROWS} = "
                      f"{LOG_ROWS}), the heat-map needs two; choose two with --heatmap KEY1,KEY2",
                      r.stdout.splitlines())
        self.assertEqual(sorted(os.listdir(out)), ["pareto.csv", "pareto.png"])

    def test_zipped_keys_and_one_grid_key_get_a_heatmap_without_choosing(self):
        folder = write_sweep(os.path.join(self.tmp.name, "zipped-auto"),
                             [BANDWIDTH, ROWS, LOG_ROWS], ["cycles", "energy_pj.total"],
                             ZIPPED_AUTO)
        out = self.out_dir("auto")
        r = self.plot(folder, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The zipped values differ, so the label and the ticks give both.
        self.assertIn("heatmap.png: 1 panel, rows=bandwidth_gbps, "
                      "columns=mac_array.rows / log_grad.rows", r.stdout.splitlines())
        self.check_png(os.path.join(out, "heatmap.png"))
        plan, _ = self.plan(folder)
        self.assertEqual(plan["col_ticks"], ["4 / 2", "8 / 4", "16 / 8"])
        self.assertEqual(plan["others"], [])

    def test_tied_means_one_to_one(self):
        s = self.script
        points = [{"id": point_id(i), "workload": MLP,
                   "assignments": {"a": a, "b": b, "c": c, "d": d}}
                  for i, (a, b, c, d) in enumerate([(1, "x", 10, 7), (2, "x", 20, 7),
                                                    (3, "y", 30, 7), (4, "y", 40, 7)])]
        # b follows from a but not a from b; c and a determine each other; d does not vary.
        self.assertFalse(s.tied(points, "a", "b"))
        self.assertTrue(s.tied(points, "a", "c"))
        axes = s.Axes(points, ["a", "b", "c", "d"])
        self.assertEqual(axes.varying, ["a", "b", "c"])
        self.assertEqual(axes.groups, [["a", "c"], ["b"]])
        self.assertEqual(axes.group("c"), ["c", "a"])
        self.assertEqual(axes.label(["a", "c"]), "a / c")
        self.assertEqual(axes.tick(["a", "c"], points[1]), "2 / 20")
        # b depends on a (and c): no axis of its own; a and c depend on each other.
        self.assertTrue(s.follows(points, "a", "b") and s.follows(points, "c", "b"))
        self.assertFalse(s.follows(points, "b", "a"))
        self.assertEqual(axes.primary, [["a", "c"]])
        self.assertEqual(axes.label(["a", "c", "b"]), "a / c / b")
        # 1 and 1.0 are different values: the keys below are not one to one.
        mixed = [{"id": point_id(i), "workload": MLP, "assignments": {"a": a, "b": b}}
                 for i, (a, b) in enumerate([(1, 5), (1.0, 5), (2, 6)])]
        self.assertFalse(s.tied(mixed, "a", "b"))

    def test_a_key_depending_on_an_axis_folds_into_it(self):
        folder = write_sweep(os.path.join(self.tmp.name, "config-recipe"),
                             ["trace.network", "config", RECIPE], ["cycles", "energy_pj.total"],
                             config_recipe())
        out = self.out_dir("auto")
        r = self.plot(folder, "-o", out, "--metric", "energy_pj.total")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        # The recipe follows from the config: 2 axes, not 3, so the heat-map comes unasked.
        self.assertIn("heatmap.png: 1 panel, rows=network, columns=config / recipe", lines)
        self.assertIn("heatmap.png: energy_pj.total, 8 of 8 points coloured (left out: 0 failed, "
                      "0 missing, 0 null metric)", lines)
        self.check_png(os.path.join(out, "heatmap.png"))
        # The stdout table and pareto.csv keep the configs' paths.
        self.assertEqual(lines[3].split()[2:5], ["resnet18", "../rapid-4bit.json", "int4-fp4"])
        with open(os.path.join(out, "pareto.csv")) as f:
            self.assertEqual(f.read().splitlines()[1].split(",")[2:5],
                             ["resnet18", "../rapid-4bit.json", "int4-fp4"])
        plan, _ = self.plan(folder)
        self.assertEqual((plan["rows"], plan["columns"], plan["others"]),
                         ("trace.network", "config", []))
        self.assertEqual((plan["row_dependent"], plan["col_dependent"], plan["col_tied"]),
                         ([], [RECIPE], []))
        self.assertEqual(plan["row_ticks"], ["resnet18", "bert-base"])
        self.assertEqual(plan["col_ticks"], ["rapid-4bit / int4-fp4", "hfp8 / hfp8",
                                             "fp16-baseline / fp16", "fp16-iso-area / fp16"])
        self.assertEqual(plan["col_label_full"], f"config / {RECIPE}")
        self.assertEqual(plan["titles"], [""])
        self.assertEqual(plan["cells"], [[[("ok", 1000.0 + c) for c in range(4)],
                                          [("ok", 2000.0 + c) for c in range(4)]]])
        # Chosen, the same; the other way round, the rows carry the recipe.
        chosen, _ = self.plan(folder, heatmap=["trace.network", "config"])
        self.assertEqual(chosen, plan)
        plan, _ = self.plan(folder, heatmap=["config", "trace.network"])
        self.assertEqual((plan["row_label"], plan["col_label"], len(plan["cells"])),
                         ("config / recipe", "network", 1))
        self.assertEqual(plan["row_ticks"][2:], ["fp16-baseline / fp16", "fp16-iso-area / fp16"])
        # The config follows from neither network nor recipe: one panel per config, most of each
        # empty.
        plan, _ = self.plan(folder, heatmap=["trace.network", RECIPE])
        self.assertEqual(plan["notes"][0], "heatmap.png: 4 panels (one per config), "
                                           "rows=network, columns=recipe")
        self.assertEqual(plan["others"], ["config"])
        self.assertEqual(plan["titles"], ["config=rapid-4bit", "config=hfp8",
                                          "config=fp16-baseline", "config=fp16-iso-area"])
        self.assertEqual(plan["cells"][3], [[None, None, ("ok", 1003.0)],
                                            [None, None, ("ok", 2003.0)]])
        # A recipe chosen with the config it follows from is still an axis of its own.
        plan, _ = self.plan(folder, heatmap=["config", RECIPE])
        self.assertEqual((plan["row_dependent"], plan["others"], len(plan["cells"])),
                         ([], ["trace.network"], 2))

    def test_a_key_depending_on_neither_axis_gives_panels(self):
        folder = write_sweep(os.path.join(self.tmp.name, "tiered"),
                             [BANDWIDTH, ROWS, CAPACITY, "tier"], ["cycles", "energy_pj.total"],
                             tiered())
        out = self.out_dir("chosen")
        r = self.plot(folder, "-o", out, "--heatmap", f"{ROWS},{BANDWIDTH}")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The tier follows from the capacity, a panel key: it shares the capacity's title part.
        self.assertIn("heatmap.png: 3 panels (one per capacity_bytes / tier), rows=rows, "
                      "columns=bandwidth_gbps", r.stdout.splitlines())
        self.check_png(os.path.join(out, "heatmap.png"))
        plan, _ = self.plan(folder, heatmap=[ROWS, BANDWIDTH])
        self.assertEqual(plan["others"], [CAPACITY])
        self.assertEqual(plan["panel_groups"], [[CAPACITY, "tier"]])
        self.assertEqual(plan["titles"], ["capacity_bytes=131072 / tier=small",
                                          "capacity_bytes=262144 / tier=small",
                                          "capacity_bytes=524288 / tier=large"])
        # With the tier as an axis, the capacity follows from neither axis: panels by bandwidth
        # and capacity, each only partly filled.
        plan, _ = self.plan(folder, heatmap=["tier", ROWS])
        self.assertEqual((plan["others"], plan["row_ticks"]), ([BANDWIDTH, CAPACITY],
                                                               ["small", "large"]))
        self.assertEqual(len(plan["cells"]), 6)
        self.assertEqual(plan["cells"][2][0], [None, None])  # 524288 bytes: no small tier
        # Unasked: 3 axes (the tier not one of them), so no heat-map.
        plan, skipped = self.plan(folder)
        self.assertIsNone(plan)
        self.assertEqual(skipped, f"heatmap.png: skipped: 3 axes vary ({BANDWIDTH}, {ROWS}, "
                                  f"{CAPACITY} (+ tier)), the heat-map needs two; choose two "
                                  f"with --heatmap KEY1,KEY2")

    def test_dependence_and_folding(self):
        s = self.script
        # family follows from recipe, recipe from config; net is a grid key beside them.
        rows = [("c1.json", "int4", "int", "a"), ("c2.json", "fp16", "float", "a"),
                ("c3.json", "fp16", "float", "a"), ("c4.json", "hfp8", "float", "a")]
        rows += [(c, r, f, "b") for c, r, f, _ in rows]
        points = [{"id": point_id(i), "workload": MLP,
                   "assignments": {"config": c, "recipe": r, "family": f, "net": n}}
                  for i, (c, r, f, n) in enumerate(rows)]
        axes = s.Axes(points, ["config", "recipe", "family", "net"])
        self.assertTrue(axes.follows("config", "family") and axes.follows("recipe", "family"))
        self.assertFalse(axes.follows("family", "recipe"))
        self.assertEqual(axes.primary, [["config"], ["net"]])
        # The family follows from both heads: it joins the recipe, which follows from the config.
        self.assertEqual(axes.fold([["config"], ["recipe"]]),
                         ([["config"], ["recipe", "family"]], [["net"]]))
        self.assertEqual(axes.fold([["recipe"], ["config"]]),
                         ([["recipe", "family"], ["config"]], [["net"]]))
        self.assertEqual(axes.fold([["net"], ["config"]]),
                         ([["net"], ["config", "recipe", "family"]], []))
        self.assertEqual(axes.tick(["config", "recipe", "family"], points[2]), "c3 / fp16 / float")
        self.assertEqual(axes.setting(["config", "recipe"], points[0]), "config=c1 / recipe=int4")
        # Config files by name without .json where those tell them apart, else as written.
        self.assertEqual(s.config_labels(["../a/x.json", "y.json", "z"]),
                         {"../a/x.json": "x", "y.json": "y", "z": "z"})
        self.assertEqual(s.config_labels(["a/x.json", "b/x.json"]), {})
        self.assertEqual(s.config_labels(["x.json", "x"]), {})

    def test_short_labels(self):
        labels = self.script.short_labels(
            ["workload", ROWS, LOG_ROWS, CAPACITY, BANDWIDTH, "trace.network", "x.rows.y",
             "rows.y"])
        self.assertEqual(labels, {"workload": "workload", ROWS: "mac_array.rows",
                                  LOG_ROWS: "log_grad.rows", CAPACITY: "capacity_bytes",
                                  BANDWIDTH: "bandwidth_gbps", "trace.network": "network",
                                  "x.rows.y": "x.rows.y", "rows.y": "rows.y"})
        # A name that another ends with keeps all of it.
        self.assertEqual(self.script.short_labels(["b.c", "a.b.c"]), {"b.c": "b.c",
                                                                      "a.b.c": "a.b.c"})

    def test_maximise(self):
        # GRID as (energy_pj.total, tops_per_w): p0 (10.25, 1.0), p1 (9.5, 1.5), p3 (12.0, 2.0),
        # p5 (15.0, 0.5); p2 failed, p4 missing. Less energy and more tops_per_w are better:
        # p1 beats p0 (less energy, more tops_per_w) and p3 beats p5 (less energy, more
        # tops_per_w). p1 has the least energy and p3 the most tops_per_w, so neither is beaten.
        # Sorted by energy:
        front = [1, 3]
        out = self.out_dir("y")
        r = self.plot(self.grid, "-o", out, "--x", "energy_pj.total", "--y", "tops_per_w",
                      "--maximise", "tops_per_w")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "pareto.png: tops_per_w against energy_pj.total (higher is "
                                   "better: tops_per_w), 4 of 6 points plotted (left out: 1 "
                                   "failed, 1 missing, 0 null metric)")
        self.assertEqual(lines[1], "pareto.csv: the Pareto front, 2 points, sorted by "
                                   "energy_pj.total:")
        self.assertEqual([line.split()[0] for line in lines[3:5]], [point_id(i) for i in front])
        self.check_png(os.path.join(out, "pareto.png"))
        # Both minimised, the same points give another front: p1 has the least energy, p0 (1.0)
        # and p5 (0.5) each less tops_per_w than every point with less energy; p3 (2.0) has more
        # than p0, which has less energy.
        xy = [(10.25, 1.0), (9.5, 1.5), (12.0, 2.0), (15.0, 0.5)]  # p0, p1, p3, p5
        ids = [0, 1, 3, 5]
        self.assertEqual([ids[j] for j in self.script.pareto_front(xy)], [1, 0, 5])
        self.assertEqual([ids[j] for j in self.script.pareto_front(xy, (False, True))], front)
        # The same front with tops_per_w on x, spelt --maximize; sorted by tops_per_w.
        out = self.out_dir("x")
        r = self.plot(self.grid, "-o", out, "--x", "tops_per_w", "--y", "energy_pj.total",
                      "--maximize", "tops_per_w")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "pareto.csv")) as f:
            self.assertEqual(f.read(), f"id,workload,{ROWS},{CAPACITY},tops_per_w,"
                                       f"energy_pj.total\n"
                                       f"{point_id(1)},{MLP},8,65536,1.5,9.5\n"
                                       f"{point_id(3)},{MLP},16,65536,2.0,12.0\n")
        # Both maximised: (1, 1) and (2, 2) lose to (3, 3); (0, 5) has the most y.
        self.assertEqual(self.script.pareto_front([(1, 1), (3, 3), (2, 2), (0, 5)],
                                                  (True, True)), [3, 1])

    def test_bad_input_exits_2_with_one_line_and_writes_nothing(self):
        top = self.tmp.name
        merged = self.grid
        unmerged = write_sweep(os.path.join(top, "unmerged"), [ROWS],
                               ["cycles", "energy_pj.total"], TWO, results=False)
        no_cycles = write_sweep(os.path.join(top, "no-cycles"), [ROWS], ["energy_pj.total"],
                                TWO)
        many = write_sweep(os.path.join(top, "many"), ["a", "b", "c"],
                           ["cycles", "energy_pj.total"],
                           [(MLP, {"a": i, "b": 1, "c": 2}, "ok",
                             {"cycles": i, "energy_pj.total": 25 - i}) for i in range(25)])
        not_json = os.path.join(top, "not-json")
        shutil.copytree(merged, not_json)
        with open(os.path.join(not_json, "points.json"), "w") as f:
            f.write("{ not json")
        bad_line = os.path.join(top, "bad-line")
        shutil.copytree(merged, bad_line)
        with open(os.path.join(bad_line, "results.jsonl"), "a") as f:
            f.write("not json\n")
        stale = os.path.join(top, "stale")
        shutil.copytree(merged, stale)
        with open(os.path.join(stale, "results.jsonl")) as f:
            lines = f.readlines()
        with open(os.path.join(stale, "results.jsonl"), "w") as f:
            f.writelines(lines[1:2] + lines[:1] + lines[2:])
        cases = {
            "missing results.jsonl": ([unmerged], ["results.jsonl", "nibble sweep merge"]),
            "no sweep": ([os.path.join(top, "nothing")], ["points.json"]),
            "unknown --x": ([merged, "--x", "watts"], ["--x", "watts", "points.json"]),
            "no default --x": ([no_cycles], ["--x", "cycles"]),
            "unknown --metric": ([merged, "--metric", "area"], ["--metric", "area"]),
            "bad --heatmap key": ([merged, "--heatmap", f"{ROWS},columns"],
                                  ["--heatmap", "columns", CAPACITY]),
            "one --heatmap key": ([merged, "--heatmap", ROWS], ["--heatmap"]),
            "too many panels": ([many, "--heatmap", "b,c"], ["--heatmap", "25 panels"]),
            "tied --heatmap keys": ([self.zipped, "--heatmap", f"{LOG_ROWS},{ROWS}"],
                                    ["--heatmap", "vary together", LOG_ROWS, ROWS]),
            "unknown --maximise": ([merged, "--maximise", "area"], ["--maximise", "area"]),
            "points.json not JSON": ([not_json], ["points.json", "not JSON"]),
            "results.jsonl line not JSON": ([bad_line], ["results.jsonl: line 7", "not JSON"]),
            "results out of order": ([stale], ["results.jsonl: line 1", point_id(0)]),
        }
        for what, (args, words) in cases.items():
            with self.subTest(what):
                out = self.out_dir(what.replace(" ", "-"))
                before = sorted(os.listdir(args[0])) if os.path.isdir(args[0]) else None
                r = self.plot(*args, "-o", out)
                self.assertEqual(r.returncode, 2, what + ": " + r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertTrue(r.stderr.startswith("plot_sweep.py: error: "), r.stderr)
                for word in words:
                    self.assertIn(word, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertFalse(os.path.exists(out), what)
                if before is not None:
                    self.assertEqual(sorted(os.listdir(args[0])), before, what)
        # Without -o, nothing lands in the sweep's folder either.
        r = self.plot(unmerged)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(sorted(os.listdir(unmerged)), ["points.json"])


if __name__ == "__main__":
    unittest.main()
