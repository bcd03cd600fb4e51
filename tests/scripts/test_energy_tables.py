#!/usr/bin/python3
"""The energy tables (configs/energy/*.json) and scripts/make-energy-tables, which derives the 7 nm
tables from the hand-written 45 nm one.

The generated tables are golden files: the script must reproduce the committed ones byte for
byte. Every table must be well-formed (what sim/energy.cpp reads, plus the rules that keep the
numbers traceable: a source of the table's sources, a derivation on every derived entry), and the
scaling factors must equal the ones computed by hand below. Standard library only.
"""
import importlib.machinery
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENERGY = os.path.join(ROOT, "configs", "energy")
SCRIPT = os.path.join(ROOT, "scripts", "make-energy-tables")
GENERATED = ("7nm.json", "7nm-0.55v.json")
TABLES = ("45nm.json",) + GENERATED

# By hand, f(V) = a·V² + b·V + c (Stillmaker & Baas; reference section 5.2):
#   f45(0.9)  = 1.103·0.81   − 0.362·0.9    + 0.2767  = 0.89343 − 0.3258    + 0.2767  = 0.84433
#   f7(0.75)  = 0.1776·0.5625 − 0.09097·0.75 + 0.02447 = 0.0999 − 0.0682275 + 0.02447 = 0.0561425
#   f7(0.55)  = 0.1776·0.3025 − 0.09097·0.55 + 0.02447 = 0.053724 − 0.0500335 + 0.02447 = 0.0281605
#   f7(0.95)  = 0.1776·0.9025 − 0.09097·0.95 + 0.02447 = 0.160284 − 0.0864215 + 0.02447 = 0.0983325
#   f7(0.70)  = 0.1776·0.49  − 0.09097·0.7  + 0.02447 = 0.087024 − 0.063679 + 0.02447 = 0.047815
FACTOR_075 = 0.0561425 / 0.84433  # 0.0664936: 7 nm at the chip's 0.75 V peak point
FACTOR_055 = 0.0281605 / 0.84433  # 0.0333525: 7 nm at its 0.55 V low-voltage point
FACTOR_SRAM_095 = 0.0983325 / 0.84433  # 0.116462: the SRAM rail at the peak point
FACTOR_SRAM_070 = 0.047815 / 0.84433  # 0.0566307: the SRAM rail at the low-voltage point
# Leakage: area factor 0.059 × supply ratio.
LEAK_075, LEAK_055 = 0.059 * 0.75 / 0.9, 0.059 * 0.55 / 0.9
LEAK_SRAM_095, LEAK_SRAM_070 = 0.059 * 0.95 / 0.9, 0.059 * 0.70 / 0.9

# Per generated table: (logic factor, SRAM factor, logic leakage factor, SRAM leakage factor).
EXPECTED = {
    "7nm.json": (FACTOR_075, FACTOR_SRAM_095, LEAK_075, LEAK_SRAM_095),
    "7nm-0.55v.json": (FACTOR_055, FACTOR_SRAM_070, LEAK_055, LEAK_SRAM_070),
}
SRAM_EVENTS = ("scratchpad.read_byte", "scratchpad.write_byte", "shared_buffer.read_byte",
               "shared_buffer.write_byte")
LEAKAGE_UNITS = {"mac_array": "core", "log_grad": "core", "rescale": "core", "sfu": "core",
                 "scratchpad": "core", "dma": "core", "shared_buffer": "chip", "dram": "chip",
                 "ring": "chip"}
# Events every table must price (the ones the simulator's units emit).
REQUIRED_EVENTS = ("mac.int2_int2", "mac.int4_int4", "mac.int8_int8", "mac.int4_fp4",
                   "mac.hfp8_hfp8", "mac.fp16_fp16", "mac.fp32_fp32", "rescale.element",
                   "rescale.fp4_element", "sfu.fp16_flop", "sfu.fp32_flop", "dram.read_byte",
                   "dram.write_byte", "ring.byte_hop", "clock.core_cycle") + SRAM_EVENTS


def load(name):
    with open(os.path.join(ENERGY, name), encoding="utf-8") as f:
        return json.load(f)


def script_module():
    loader = importlib.machinery.SourceFileLoader("make_energy_tables", SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def positive_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


class Regenerates(unittest.TestCase):
    def test_script_reproduces_the_committed_tables_byte_for_byte(self):
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run([sys.executable, SCRIPT, "--out-dir", out], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(os.listdir(out)), sorted(GENERATED))
            for name in GENERATED:
                with open(os.path.join(out, name), "rb") as f:
                    fresh = f.read()
                with open(os.path.join(ENERGY, name), "rb") as f:
                    committed = f.read()
                self.assertEqual(fresh, committed,
                                 f"configs/energy/{name} is stale: run scripts/make-energy-tables")

    def test_check_mode_agrees_and_notices_a_stale_file(self):
        r = subprocess.run([sys.executable, SCRIPT, "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, SCRIPT, "--out-dir", out], check=True,
                           capture_output=True)
            with open(os.path.join(out, "7nm.json"), "a", encoding="utf-8") as f:
                f.write(" ")
            r = subprocess.run([sys.executable, SCRIPT, "--check", "--out-dir", out],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("7nm.json", r.stderr)


class Factors(unittest.TestCase):
    def test_stillmaker_baas_factors_equal_the_hand_computed_ones(self):
        m = script_module()
        self.assertAlmostEqual(m.energy_factor("45nm", 0.9), 0.84433, places=12)
        self.assertAlmostEqual(m.scale_factor(0.75), FACTOR_075, places=12)
        self.assertAlmostEqual(m.scale_factor(0.55), FACTOR_055, places=12)
        self.assertAlmostEqual(m.scale_factor(0.95), FACTOR_SRAM_095, places=12)
        self.assertAlmostEqual(m.scale_factor(0.70), FACTOR_SRAM_070, places=12)
        self.assertAlmostEqual(FACTOR_075, 0.0664936, places=7)
        self.assertAlmostEqual(FACTOR_055, 0.0333525, places=7)
        self.assertAlmostEqual(m.leakage_factor(0.75), LEAK_075, places=12)
        self.assertAlmostEqual(m.leakage_factor(0.55), LEAK_055, places=12)
        # The reference's own check: 45 -> 7 nm at 0.8 V on both sides is about x0.094.
        self.assertAlmostEqual(m.energy_factor("7nm", 0.8) / m.energy_factor("45nm", 0.8), 0.094,
                               places=3)

    def test_generated_tables_apply_the_factors(self):
        base = load("45nm.json")
        for name, (logic, sram, leak, leak_sram) in EXPECTED.items():
            table = load(name)
            for event, entry in table["events"].items():
                unit = event.split(".")[0]
                if unit == "dram":
                    continue
                f = sram if event in SRAM_EVENTS else logic
                self.assertAlmostEqual(entry["pj"] / (base["events"][event]["pj"] * f), 1,
                                       places=5, msg=f"{name}: {event}")
            for unit, entry in table["leakage"].items():
                if unit == "dram":
                    continue
                f = leak_sram if unit in ("scratchpad", "shared_buffer") else leak
                key = next(k for k in ("mw", "mw_per_kib", "mw_per_lane") if k in entry)
                self.assertAlmostEqual(entry[key] / (base["leakage"][unit][key] * f), 1, places=5,
                                       msg=f"{name}: leakage.{unit}")

    def test_int4_mac_at_both_points(self):
        self.assertAlmostEqual(load("7nm.json")["events"]["mac.int4_int4"]["pj"],
                               0.1 * FACTOR_075, places=8)
        self.assertAlmostEqual(load("7nm-0.55v.json")["events"]["mac.int4_int4"]["pj"],
                               0.1 * FACTOR_055, places=8)

    def test_dram_is_not_scaled_with_logic(self):
        base = load("45nm.json")
        for name in GENERATED:
            events = load(name)["events"]
            for e in ("dram.read_byte", "dram.write_byte"):
                self.assertEqual(events[e]["pj"], 31.2, f"{name}: {e} (HBM2 3.9 pJ/bit x 8)")
                self.assertNotEqual(events[e]["pj"], base["events"][e]["pj"])

    def test_size_exponent_fits_horowitz_reads(self):
        # Least squares of log E on log C over 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ: 0.4726.
        xs = [math.log(8), math.log(32), math.log(1024)]
        ys = [math.log(10), math.log(20), math.log(100)]
        mx, my = sum(xs) / 3, sum(ys) / 3
        slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
                 / sum((x - mx) ** 2 for x in xs))
        self.assertAlmostEqual(slope, 0.4726, places=4)
        base = load("45nm.json")["events"]
        self.assertEqual(base["scratchpad.read_byte"]["ref_bytes"], 32768)
        self.assertEqual(base["shared_buffer.read_byte"]["ref_bytes"], 1048576)
        for name in TABLES:
            for event in SRAM_EVENTS:
                entry = load(name)["events"][event]
                self.assertAlmostEqual(entry["size_exponent"], slope, delta=0.005,
                                       msg=f"{name}: {event}")
                self.assertEqual(entry["ref_bytes"], base[event]["ref_bytes"],
                                 f"{name}: {event}: ref_bytes is kept")


class WellFormed(unittest.TestCase):
    def test_every_event_entry(self):
        for name in TABLES:
            table = load(name)
            self.assertEqual(set(table) - {"name", "technology", "description", "sources",
                                           "events", "leakage"}, set(), name)
            self.assertIsInstance(table["name"], str)
            self.assertEqual(table["name"] + ".json", name)
            sources = table["sources"]
            self.assertTrue(sources and all(isinstance(v, str) and v for v in sources.values()))
            for event in REQUIRED_EVENTS:
                self.assertIn(event, table["events"], f"{name}: {event}")
            for event, e in table["events"].items():
                where = f"{name}: events.{event}"
                self.assertEqual(set(e) - {"pj", "per", "source", "derivation", "ref_bytes",
                                           "size_exponent"}, set(), where)
                self.assertTrue(positive_number(e.get("pj")), where + ".pj must be > 0")
                self.assertTrue(isinstance(e.get("per"), str) and e["per"], where + ".per")
                self.assertIn(e.get("source"), sources, where + ".source")
                # Every entry of these tables is derived (even H14 figures are combined or
                # divided per byte), so every one carries its derivation.
                self.assertTrue(isinstance(e.get("derivation"), str) and e["derivation"],
                                where + ".derivation")
                self.assertEqual("ref_bytes" in e, "size_exponent" in e, where)
                self.assertEqual("ref_bytes" in e, event in SRAM_EVENTS, where)
                if "ref_bytes" in e:
                    self.assertTrue(positive_number(e["ref_bytes"]), where + ".ref_bytes")
                    self.assertTrue(positive_number(e["size_exponent"]), where + ".size_exponent")
                if name in GENERATED:
                    d = e["derivation"]
                    if event.startswith("dram."):
                        self.assertTrue(d.startswith("not scaled from 45nm.json"), where)
                    else:
                        logic, sram = EXPECTED[name][:2]
                        f = sram if event in SRAM_EVENTS else logic
                        self.assertTrue(d.startswith(f"45nm.json × {f:.6g} ("), where + ": " + d)

    def test_every_leakage_entry(self):
        for name in TABLES:
            table = load(name)
            leakage = table.get("leakage")
            self.assertIsInstance(leakage, dict, name)
            self.assertEqual(set(leakage), set(LEAKAGE_UNITS), name)
            for unit, e in leakage.items():
                where = f"{name}: leakage.{unit}"
                self.assertEqual(set(e) - {"mw", "mw_per_kib", "mw_per_lane", "per", "source",
                                           "derivation"}, set(), where)
                power = [k for k in ("mw", "mw_per_kib", "mw_per_lane") if k in e]
                self.assertEqual(len(power), 1,
                                 where + ": exactly one of mw, mw_per_kib and mw_per_lane")
                self.assertTrue(positive_number(e[power[0]]), where + "." + power[0])
                self.assertEqual(e.get("per"), LEAKAGE_UNITS[unit], where + ".per")
                self.assertIn(e.get("source"), table["sources"], where + ".source")
                self.assertTrue(isinstance(e.get("derivation"), str) and e["derivation"], where)
                if unit in ("scratchpad", "shared_buffer"):
                    self.assertEqual(power, ["mw_per_kib"], where + ": SRAMs scale per KiB")
                if unit in ("mac_array", "log_grad", "rescale", "sfu"):
                    self.assertEqual(power, ["mw_per_lane"], where + ": datapaths scale per lane")
                if name in GENERATED and unit != "dram":
                    leak, leak_sram = EXPECTED[name][2:]
                    f = leak_sram if unit in ("scratchpad", "shared_buffer") else leak
                    self.assertTrue(e["derivation"].startswith(f"45nm.json × {f:.6g} ("), where)


if __name__ == "__main__":
    unittest.main()
