#!/usr/bin/python3
"""Plots a `nibble compare` result: energy by unit, per-layer speed-up, time and energy per pass.

usage: /usr/bin/python3 scripts/plot_compare.py DIR [-o OUTDIR]

DIR is a `nibble compare` output folder (or its compare.json; schema: sim/app/compare.md). Writes
energy_by_unit.png, layer_speedup.png and passes.png into OUTDIR (default: DIR). The figures use
matplotlib's Agg backend and carry no timestamp or software version, so the same compare.json
gives byte-identical PNGs. Exit status: 0 written, 2 bad input (one line on stderr, nothing
written).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_output import InputError, read_json_file, write_outputs  # noqa: E402

plt = None  # matplotlib.pyplot, imported once the input has been read (bad input fails fast)

FILES = ("energy_by_unit.png", "layer_speedup.png", "passes.png")
SIDES = ("candidate", "baseline")
COLORS = {"candidate": "#1f77b4", "baseline": "#ff7f0e"}
# Whatever the host's matplotlib settings, the same figures.
STYLE = {"figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "axes.grid": False,
         "path.simplify": True}




def load(path):
    file = os.path.join(path, "compare.json") if os.path.isdir(path) else path
    c = read_json_file(file, "a nibble compare.json")
    if not isinstance(c, dict):
        raise InputError(f"{file}: expected a nibble compare.json object")
    for key in ("candidate", "baseline", "passes", "units", "layers"):
        if key not in c:
            raise InputError(f"{file}: expected a nibble compare.json, found no \"{key}\"")
    return file, c


def energy_scale(values_pj):
    """A unit for energies of this size: (divisor, label)."""
    top = max([abs(v) for v in values_pj] + [0.0])
    for div, label in ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ")):
        if top >= div:
            return div, label
    return 1.0, "pJ"


def time_scale(values_s):
    top = max([abs(v) for v in values_s] + [0.0])
    for div, label in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if top >= div:
            return div, label
    return 1e-9, "ns"


def side_label(c, side):
    s = c[side]
    return f"{side}\n{s.get('recipe', '')}\n{os.path.basename(s.get('config', ''))}"


def ratio_text(r):
    return "-" if r is None else f"{r:.2f}x" if 0.1 <= r < 1000 else f"{r:.3g}x"


def save(fig, path):
    # No "Software" (matplotlib's version) and no creation time in the PNG's text chunks.
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def plot_energy_by_unit(c, path):
    rows = [u for u in c["units"] if u.get("kind", "unit") == "unit"]
    leak = [u for u in c["units"] if u.get("kind") == "leakage"]
    totals = [c[s]["energy_pj"] for s in SIDES]
    segments = [(u["unit"], [(u[s] or {}).get("energy_pj", 0.0) for s in SIDES]) for u in rows]
    note = ""
    if leak:
        leak_pj = [(leak[0][s] or {}).get("energy_pj", 0.0) for s in SIDES]
        unit_sums = [sum(v[i] for _, v in segments) for i in range(2)]
        # Reports that split total into dynamic (by_unit) + leakage stack it on top; reports whose
        # units already include it show the units only.
        if all(abs(unit_sums[i] + leak_pj[i] - totals[i]) <= 1e-6 * max(totals[i], 1.0)
               for i in range(2)):
            segments.append(("leakage", leak_pj))
        else:
            note = " (units include leakage)"
    div, label = energy_scale(totals)
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    x = [0, 1]
    bottom = [0.0, 0.0]
    for i, (name, values) in enumerate(segments):
        scaled = [v / div for v in values]
        hatch = "//" if name == "leakage" else None
        ax.bar(x, scaled, 0.55, bottom=bottom, label=name, color=cmap(i % 20), hatch=hatch,
               edgecolor="white", linewidth=0.5)
        bottom = [b + v for b, v in zip(bottom, scaled)]
    for i, s in enumerate(SIDES):
        ax.text(x[i], bottom[i], f"{totals[i] / div:.4g} {label}", ha="center", va="bottom")
    ax.set_xticks(x)
    ax.set_xticklabels([side_label(c, s) for s in SIDES])
    ax.set_ylabel(f"energy ({label})")
    ax.set_ylim(0, max(bottom + [1e-30]) * 1.12)
    ax.set_title(f"Energy by unit{note}: baseline / candidate = "
                 f"{ratio_text(c['totals'].get('energy_ratio'))}")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5),
              fontsize=8, frameon=False)
    fig.tight_layout()
    save(fig, path)


def plot_layer_speedup(c, path):
    layers = [(l["layer"], l["speedup"]) for l in c["layers"] if l.get("speedup") is not None]
    fig_w = min(max(6.4, 0.22 * len(layers) + 1.5), 40.0)
    fig, ax = plt.subplots(figsize=(fig_w, 4.8))
    if layers:
        values = [v for _, v in layers]
        positive = [v for v in values if v > 0]
        log = bool(positive) and max(positive) / min(positive) > 20
        colors = [COLORS["candidate"] if v >= 1 else COLORS["baseline"] for v in values]
        x = list(range(len(layers)))
        if log:
            ax.set_yscale("log")
            values = [v if v > 0 else min(positive) for v in values]
        # Bars grow from 1: up where the candidate is faster, down where the baseline is.
        ax.bar(x, [v - 1.0 for v in values], 0.8, bottom=1.0, color=colors)
        if not log:
            ax.set_ylim(0, max(values + [1.0]) * 1.1)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel("layers in trace order; blue: the candidate is faster, orange: the "
                      "baseline is", fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels([n for n, _ in layers], rotation=90, fontsize=7 if len(x) > 30 else 8)
        ax.set_xlim(-0.6, len(x) - 0.4)
    else:
        ax.text(0.5, 0.5, "no layer on both sides", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_xticks([])
    only = len(c["layers"]) - len(layers)
    ax.set_ylabel("speed-up (baseline time / candidate time)")
    ax.set_title(f"Speed-up per layer, {c['candidate'].get('recipe', '')} vs "
                 f"{c['baseline'].get('recipe', '')} (total "
                 f"{ratio_text(c['totals'].get('speedup'))})"
                 + (f"; {only} layers on one side only" if only else ""))
    fig.tight_layout()
    save(fig, path)


def plot_passes(c, path):
    passes = c["passes"]
    names = [p["pass"] for p in passes]
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.4))
    for ax, key, what, ratio_key in ((axes[0], "seconds", "time", "speedup"),
                                     (axes[1], "energy_pj", "energy", "energy_ratio")):
        values = {s: [p[s][key] if p[s] else 0.0 for p in passes] for s in SIDES}
        if key == "seconds":
            div, unit = time_scale(values["candidate"] + values["baseline"])
        else:
            div, unit = energy_scale(values["candidate"] + values["baseline"])
        x = list(range(len(passes)))
        width = 0.38
        tops = []
        for k, s in enumerate(SIDES):
            scaled = [v / div for v in values[s]]
            ax.bar([i + (k - 0.5) * width for i in x], scaled, width, label=side_label(c, s)
                   .replace("\n", ", "), color=COLORS[s])
            tops.append(scaled)
        for i in x:
            top = max(tops[0][i], tops[1][i])
            ax.text(i, top, ratio_text(passes[i].get(ratio_key)), ha="center", va="bottom",
                    fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels(names)
        ax.set_ylabel(f"{what} ({unit})")
        highest = max([v for t in tops for v in t] + [1e-30])
        ax.set_ylim(0, highest * 1.15)
        ax.set_title(f"{what} per pass (labels: baseline / candidate)")
    axes[0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    save(fig, path)


def main(argv):
    global plt
    parser = argparse.ArgumentParser(
        prog="plot_compare.py",
        description="Plot a nibble compare result (energy by unit, per-layer speed-up, passes).")
    parser.add_argument("compare", help="a nibble compare output folder, or its compare.json")
    parser.add_argument("-o", "--out", help="folder for the PNGs (default: the compare's)")
    args = parser.parse_args(argv)
    try:
        file, c = load(args.compare)
        out = args.out or os.path.dirname(file) or "."
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot
        plt = matplotlib.pyplot
        plt.rcParams.update(STYLE)

        def draw(tmps):
            plot_energy_by_unit(c, tmps[0])
            plot_layer_speedup(c, tmps[1])
            plot_passes(c, tmps[2])

        paths = write_outputs(out, FILES, draw, f"{file}: not a nibble compare.json as expected")
    except InputError as e:
        print(f"plot_compare.py: error: {e}", file=sys.stderr)
        return 2
    for p in paths:
        print(f"plot_compare.py: wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
