#!/usr/bin/python3
"""Plots `nibble train` curves: test accuracy and training loss per epoch, one line per run.

usage: /usr/bin/python3 scripts/plot_train.py DIR_OR_JSON... [-o OUTDIR]

Each argument is a `nibble train` output folder (or its train.json). Every seed of every input is
one line, labelled "<model> <recipe>[ all-layers] seed S". Writes accuracy.png and loss.png into
OUTDIR (default: nibble-out/train-plots). matplotlib's Agg backend, no timestamps: the same inputs
give byte-identical PNGs. Exit status: 0 written, 2 bad input (one line on stderr, nothing
written).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_output import InputError, read_json_file, write_outputs  # noqa: E402

FILES = ("accuracy.png", "loss.png")
STYLE = {"figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "path.simplify": True}


def load(path):
    file = os.path.join(path, "train.json") if os.path.isdir(path) else path
    doc = read_json_file(file, "a nibble train.json")
    if not isinstance(doc, dict) or doc.get("format") != "nibble-train":
        raise InputError(f"{file}: expected a nibble train.json (format \"nibble-train\")")
    for key in ("model", "recipe", "runs"):
        if key not in doc:
            raise InputError(f"{file}: expected a nibble train.json, found no \"{key}\"")
    return file, doc


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("-o", "--out", default="nibble-out/train-plots")
    a = ap.parse_args(argv)
    docs = [load(p) for p in a.inputs]

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update(STYLE)

    def draw(tmps):
        for tmp, key, label in ((tmps[0], "test_accuracy", "test accuracy"),
                                (tmps[1], "train_loss", "training loss")):
            fig, ax = plt.subplots(figsize=(6.4, 4.0))
            for _, doc in docs:
                name = doc["model"] + " " + doc["recipe"] + (" all-layers" if doc.get(
                    "all_layers") else "")
                for run in doc["runs"]:
                    epochs = [e["epoch"] for e in run["epochs"]]
                    values = [e[key] for e in run["epochs"]]
                    ax.plot(epochs, values, label=f"{name} seed {run['seed']}", linewidth=1)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.set_title(docs[0][1].get("dataset", "") + ": " + label)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(tmp, format="png", metadata={"Software": None})
            plt.close(fig)

    for path in write_outputs(a.out, FILES, draw, "the train.json inputs: not as expected"):
        print(path)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except InputError as e:
        print(f"plot_train.py: {e}", file=sys.stderr)
        sys.exit(2)
