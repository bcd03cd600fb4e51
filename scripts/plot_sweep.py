#!/usr/bin/python3
"""Plots a merged `nibble sweep`: the Pareto front of two metrics and a heat-map over two axes.

usage: /usr/bin/python3 scripts/plot_sweep.py DIR [-o OUTDIR] [--x METRIC] [--y METRIC]
                                             [--heatmap KEY1,KEY2] [--metric METRIC]
                                             [--maximise METRIC]...

DIR is a `nibble sweep` output folder after `nibble sweep merge DIR` (points.json and
results.jsonl; format: sim/app/sweep.md). Writes into OUTDIR (default: DIR):

- pareto.png: --y (default energy_pj.total) against --x (default cycles), one marker per
  workload (per value of the first string key, trace.network say, where each point's trace is
  generated from its keys), with the Pareto front as a step line. Both metrics are minimised,
  except those named by --maximise (also --maximize; repeatable), which are better when higher
  (tops_per_w, say): the front's dominance and the plot's labels say so. pareto.csv: the front's
  points sorted by --x, also printed on stdout.
- heatmap.png: --metric (default: the sweep's first metric) over two axes: keys, or "workload"
  where the spec lists several. A key whose value follows from another varying key's, over the
  points of points.json, is no axis of its own: it depends on that key (trace.recipe zipped with
  config files, two of which share fp16, depends on config). Keys tied one to one (zipped keys,
  say) depend on each other and are one axis. A key tied to or depending on a heat-map axis is
  shown in that axis's label and ticks ("config / recipe", "rapid-4bit / int4-fp4"), not as
  panels. Without --heatmap, the two axes that vary (tied keys counting as one, depending keys
  not at all); with more than two and no --heatmap, no heat-map. Axes that vary besides the two
  chosen by --heatmap (and the keys tied to or depending on them) give one panel per combination
  of their values (at most 24); keys depending on those share their part of the panel titles.
  Values in the order of points.json; config files are shown by their file names without .json
  where those tell them apart.

Keys are shown by their shortest dotted suffix that no other key of the sweep ends with
(capacity_bytes, mac_array.rows beside log_grad.rows) in panel titles, axis labels, ticks and the
stdout lines; the heat-map's figure title gives the two axes' full keys. Only points with status
"ok" and a numeric value are plotted; stdout says how many were left out and why. The figures use
matplotlib's Agg backend and carry no timestamp or software version, so the same sweep gives
byte-identical PNGs. Exit status: 0 written, 2 bad input (one line on stderr, nothing written).
"""
import argparse
import csv
import io
import json
import math
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_output import InputError, read_json_file, write_outputs  # noqa: E402

plt = None  # matplotlib.pyplot, imported once the input has been read (bad input fails fast)

POINTS_FORMAT = "nibble-sweep-points"
WORKLOAD = "workload"  # the heat-map axis name of the points' workload
MAX_PANELS = 24
STATUSES = ("ok", "failed", "missing")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
GREY = "#d9d9d9"
# Whatever the host's matplotlib settings, the same figures.
STYLE = {"figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "axes.grid": False,
         "path.simplify": True, "image.cmap": "viridis"}




def string_list(doc, file, name):
    v = doc.get(name)
    if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
        raise InputError(f"{file}: \"{name}\": expected a list of names, found {describe(v)}")
    return v


def describe(v):
    if v is None:
        return "none"
    text = json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "..."


def load_points(folder):
    file = os.path.join(folder, "points.json")
    doc = read_json_file(file, "the points.json of a nibble sweep output folder")
    if not isinstance(doc, dict) or doc.get("format") != POINTS_FORMAT:
        found = describe(doc.get("format")) if isinstance(doc, dict) else "not an object"
        raise InputError(f"{file}: expected the points of a sweep (format \"{POINTS_FORMAT}\"), "
                         f"found format {found}")
    if doc.get("version") != 1:
        raise InputError(f"{file}: expected version 1, found {describe(doc.get('version'))}")
    keys = string_list(doc, file, "keys")
    metrics = string_list(doc, file, "metrics")
    if not metrics:
        raise InputError(f"{file}: \"metrics\": expected at least one metric, found none")
    if not isinstance(doc.get("points"), list):
        raise InputError(f"{file}: \"points\": expected a list, found "
                         f"{describe(doc.get('points'))}")
    points = []
    for i, p in enumerate(doc["points"]):
        where = f"{file}: points[{i}]"
        if not isinstance(p, dict):
            raise InputError(f"{where}: expected an object, found {describe(p)}")
        for name, kind in (("id", str), ("workload", str), ("assignments", dict)):
            if not isinstance(p.get(name), kind):
                raise InputError(f"{where}: \"{name}\": expected "
                                 f"{'an object' if kind is dict else 'a string'}, found "
                                 f"{describe(p.get(name))}")
        for key in keys:
            if key not in p["assignments"]:
                raise InputError(f"{where}: \"assignments\": expected a value for every key, "
                                 f"found none for \"{key}\"")
        points.append({"id": p["id"], "workload": p["workload"],
                       "assignments": p["assignments"]})
    return file, keys, metrics, points


def load_results(folder, points):
    file = os.path.join(folder, "results.jsonl")
    if not os.path.isfile(file):
        raise InputError(f"{file}: not found; run `nibble sweep merge {folder}` first")
    try:
        with open(file) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"{file}: cannot read ({e.strerror})")
    except ValueError as e:
        raise InputError(f"{file}: not text ({e})")
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            raise InputError(f"{file}: line {n}: not JSON ({e})")
        if not isinstance(r, dict):
            raise InputError(f"{file}: line {n}: expected an object, found {describe(r)}")
        if r.get("status") not in STATUSES:
            raise InputError(f"{file}: line {n}: \"status\": expected \"ok\", \"failed\" or "
                             f"\"missing\", found {describe(r.get('status'))}")
        if not isinstance(r.get("metrics"), dict):
            raise InputError(f"{file}: line {n}: \"metrics\": expected an object, found "
                             f"{describe(r.get('metrics'))}")
        k = len(rows)
        if k < len(points) and r.get("id") != points[k]["id"]:
            raise InputError(f"{file}: line {n}: expected point {points[k]['id']} (the order "
                             f"of points.json), found {describe(r.get('id'))}; run `nibble sweep "
                             f"merge {folder}` again")
        rows.append(r)
    if len(rows) != len(points):
        raise InputError(f"{file}: expected {len(points)} lines, one per point of points.json, "
                         f"found {len(rows)}; run `nibble sweep merge {folder}` again")
    return file, rows


def number(v):
    """The metric value as a float, or None where it is null, not a number or not finite."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def value_text(v):
    """An axis value as written in the spec: strings as they are, numbers and the rest as JSON."""
    return v if isinstance(v, str) else json.dumps(v)


def identity(v):
    # 1, 1.0 and true are different axis values, whatever Python's == says.
    return json.dumps(v, sort_keys=True)


def pick_metric(option, given, default, metrics, file):
    if given is None:
        if default is None or default not in metrics:
            raise InputError(f"{option}: no default: {file} has no \"{default}\" metric; choose "
                             f"one with {option} (metrics: {', '.join(metrics)})")
        return default
    if given not in metrics:
        raise InputError(f"{option}: \"{given}\" is not a metric of {file} (metrics: "
                         f"{', '.join(metrics)})")
    return given


def left_out(rows, names):
    """Splits point indices: those with a number for every metric in names, and the reasons."""
    kept, why = [], {"failed": 0, "missing": 0, "null metric": 0}
    for i, r in enumerate(rows):
        if r["status"] != "ok":
            why[r["status"]] += 1
        elif any(number(r["metrics"].get(n)) is None for n in names):
            why["null metric"] += 1
        else:
            kept.append(i)
    return kept, why


def count(n, thing):
    return f"{n} {thing}" + ("" if n == 1 else "s")


def why_text(why):
    return ", ".join(f"{n} {w}" for w, n in why.items())


def pareto_front(xy, maximise=(False, False)):
    """Indices into xy (a list of (x, y)) of the points no other point dominates. A coordinate is
    minimised unless its flag in maximise is set. A point is dominated by another that is at least
    as good in both coordinates and better in one. Sorted by x, then y, then index."""
    sign = [-1.0 if m else 1.0 for m in maximise]
    cost = [(sign[0] * x, sign[1] * y) for x, y in xy]  # both minimised from here on
    order = sorted(range(len(cost)), key=lambda i: (cost[i][0], cost[i][1], i))
    front, best_before = [], math.inf  # best_before: the least cost y among the smaller cost x
    k = 0
    while k < len(order):
        x = cost[order[k]][0]
        group = []
        while k < len(order) and cost[order[k]][0] == x:
            group.append(order[k])
            k += 1
        least = cost[group[0]][1]
        # Same x: only the least y survives (ties all do), and only below every smaller x's y.
        if least < best_before:
            front.extend(i for i in group if cost[i][1] == least)
        best_before = min(best_before, least)
    return sorted(front, key=lambda i: (xy[i][0], xy[i][1], i))


def short_labels(names):
    """Each dotted name's shortest suffix of whole parts that is no other name and that no other
    name ends with ("rows" stays "a.rows" beside "b.rows"); the full name where none is."""
    labels = {}
    for name in names:
        parts = name.split(".")
        labels[name] = name
        for k in range(1, len(parts) + 1):
            suffix = ".".join(parts[-k:])
            if not any(other != name and (other == suffix or other.endswith("." + suffix))
                       for other in names):
                labels[name] = suffix
                break
    return labels


def workload_labels(workloads):
    """Legend and tick text for the workloads: their file names where those tell them apart."""
    base = {w: os.path.basename(w) or w for w in workloads}
    if len(set(base.values())) == len(base):
        return base
    return {w: w for w in workloads}


def table(header, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    return ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
            for r in [header] + rows]


def csv_cell(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v)


def table_cell(v):
    return f"{v:.6g}" if isinstance(v, float) else csv_cell(v)


def axis_value(p, axis):
    return p["workload"] if axis == WORKLOAD else p["assignments"][axis]


def axis_values(points, axis):
    """The distinct values of an axis ("workload" or a key) in the order they first appear."""
    seen = {}
    for p in points:
        v = axis_value(p, axis)
        seen.setdefault(identity(v), v)
    return list(seen.values())


def workload_is_axis(points):
    """Whether the workload varies on its own: points with the same assignments run different
    workloads. It does not where each point's trace is generated from its trace.* keys."""
    seen = {}
    for p in points:
        seen.setdefault(identity(p["assignments"]), set()).add(p["workload"])
    return any(len(w) > 1 for w in seen.values())


def follows(points, a, b):
    """Whether axis b's value follows from axis a's over the points: b is a function of a (b
    depends on a), as trace.recipe on config where each config file has one recipe."""
    seen = {}
    for p in points:
        va, vb = identity(axis_value(p, a)), identity(axis_value(p, b))
        if seen.setdefault(va, vb) != vb:
            return False
    return True


def tied(points, a, b):
    """Whether axes a and b vary together: over the points, b's value follows from a's and a's
    from b's (a one-to-one mapping, as for zipped keys)."""
    return follows(points, a, b) and follows(points, b, a)


def tied_groups(points, axes):
    """The axes split into groups that vary together, in the order of axes (being one to one is
    an equivalence, so comparing with a group's first axis suffices)."""
    groups = []
    for a in axes:
        for g in groups:
            if tied(points, g[0], a):
                g.append(a)
                break
        else:
            groups.append([a])
    return groups


CONFIG = "config"  # the key of a sweep over config files


def config_labels(values):
    """Tick text for config files: the file name without .json ("../rapid-4bit.json":
    "rapid-4bit") where those tell them apart; none (the values as written) where not."""
    names = {}
    for v in values:
        if not isinstance(v, str):
            return {}
        name = os.path.basename(v)
        if name.endswith(".json") and len(name) > len(".json"):
            name = name[:-len(".json")]
        names[v] = name or v
    return names if len(set(names.values())) == len(names) else {}


class Axes:
    """The sweep's axes: the workload where it varies on its own, then the keys. Which of them
    vary, which vary together, which depend on others, their short names and the text of their
    values. A group is a list of axes shown as one: an axis, the axes tied to it and those
    depending on it."""

    def __init__(self, points, keys):
        self.points = points
        self.names = ([WORKLOAD] if workload_is_axis(points) else []) + keys
        self.varying = [a for a in self.names if len(axis_values(points, a)) > 1]
        self.groups = tied_groups(points, self.varying)
        self.short = short_labels([WORKLOAD] + keys)
        self.workloads = workload_labels(axis_values(points, WORKLOAD))
        self.configs = config_labels(axis_values(points, CONFIG)) if CONFIG in keys else {}
        self.same = {}
        self.follow = {}
        # The tied groups that depend on no other: the axes of their own.
        self.primary = [g for g in self.groups
                        if not any(h is not g and self.follows(h[0], g[0]) for h in self.groups)]

    def follows(self, a, b):
        """Whether axis b depends on axis a (see follows())."""
        if (a, b) not in self.follow:
            self.follow[(a, b)] = follows(self.points, a, b)
        return self.follow[(a, b)]

    def group(self, axis):
        """axis and the axes tied to it, axis first."""
        for g in self.groups:
            if axis in g:
                return [axis] + [a for a in g if a != axis]
        return [axis]

    def fold(self, heads, candidates=None):
        """Folds the tied groups among candidates (default: all) that depend on a head (a tied
        group, its axis first) into it. One depending on several heads joins the one that itself
        depends on the others (the coarsest: with heads config and trace.recipe, a recipe family
        depending on both joins trace.recipe), else the first. Returns the heads with their
        folded axes after their own, and the candidates that depend on none (those sharing an
        axis with a head left out)."""
        used = {a for h in heads for a in h}
        folded, free = [list(h) for h in heads], []
        for g in self.groups if candidates is None else candidates:
            if used & set(g):
                continue
            owners = [n for n, h in enumerate(heads) if self.follows(h[0], g[0])]
            if not owners:
                free.append(g)
                continue
            best = next((n for n in owners if all(self.follows(heads[m][0], heads[n][0])
                                                  for m in owners if m != n)), owners[0])
            folded[best].extend(g)
        return folded, free

    def split(self, group):
        """A group's axes split into their tied groups, in the group's order."""
        parts = []
        for a in group:
            tied_to = set(self.group(a))
            for part in parts:
                if part[0] in tied_to:
                    part.append(a)
                    break
            else:
                parts.append([a])
        return parts

    def text(self, axis, v):
        """An axis value's text: workloads by file name where that tells them apart, config files
        by file name without .json where that does, other values as written in the spec."""
        if axis == WORKLOAD:
            return self.workloads[v]
        if axis == CONFIG and isinstance(v, str) and v in self.configs:
            return self.configs[v]
        return value_text(v)

    def texts(self, group, p):
        return [self.text(a, axis_value(p, a)) for a in group]

    def same_text(self, group):
        """Whether the tied axes of group read the same at every point (zipped [4, 8] with
        [4, 8], say), so that one value stands for all."""
        k = tuple(group)
        if k not in self.same:
            self.same[k] = all(len(set(self.texts(group, p))) == 1 for p in self.points)
        return self.same[k]

    def label(self, group, full=False):
        """An axis label: "mac_array.rows (= log_grad.rows)" where the tied keys read the same,
        "mac_array.rows / log_grad.rows" (values "4 / 2") where not; a depending key follows
        after " / " ("config / recipe")."""
        return " / ".join(self.tied_label(part, full) for part in self.split(group))

    def tick(self, group, p):
        """The text of group's values at point p: "4", "4 / 2" where the tied axes differ,
        "rapid-4bit / int4-fp4" with a depending key."""
        return " / ".join(self.tied_tick(part, p) for part in self.split(group))

    def setting(self, group, p):
        """A panel title's part: "capacity_bytes=524288", "mac_array.rows=log_grad.rows=4",
        "mac_array.rows/log_grad.rows=4/2", or with a depending key "config=fp16-iso-area /
        recipe=fp16"."""
        return " / ".join(self.tied_setting(part, p) for part in self.split(group))

    def tied_label(self, group, full=False):
        """The label of tied axes: "mac_array.rows (= log_grad.rows)" or "a / b"."""
        names = list(group) if full else [self.short[a] for a in group]
        if len(names) == 1:
            return names[0]
        if self.same_text(group):
            return f"{names[0]} (= {', '.join(names[1:])})"
        return " / ".join(names)

    def tied_tick(self, group, p):
        """The text of tied axes' values at point p: "4", or "4 / 2" where they differ."""
        texts = self.texts(group, p)
        return texts[0] if self.same_text(group) else " / ".join(texts)

    def tied_setting(self, group, p):
        """Tied axes' part of a panel title: "capacity_bytes=524288",
        "mac_array.rows=log_grad.rows=4" or "mac_array.rows/log_grad.rows=4/2"."""
        names, texts = [self.short[a] for a in group], self.texts(group, p)
        if self.same_text(group):
            return "=".join(names + texts[:1])
        return "/".join(names) + "=" + "/".join(texts)


def marker_axis(points, keys):
    """The Pareto plot's groups (one colour and marker each): the workload, or where that does not
    vary on its own, the first varying key whose values are strings (trace.network, say)."""
    if not workload_is_axis(points):
        for key in keys:
            values = axis_values(points, key)
            if len(values) > 1 and all(isinstance(v, str) for v in values):
                return key
    return WORKLOAD


def sense(metric, maximised):
    return " (higher is better)" if metric in maximised else ""


def plan_pareto(points, rows, keys, x, y, maximised=()):
    kept, why = left_out(rows, [x, y])
    xy = [(number(rows[i]["metrics"][x]), number(rows[i]["metrics"][y])) for i in kept]
    front = [kept[j] for j in pareto_front(xy, (x in maximised, y in maximised))]
    header = ["id", "workload"] + keys + [x, y]
    records = [[points[i]["id"], points[i]["workload"]]
               + [points[i]["assignments"][k] for k in keys]
               + [rows[i]["metrics"][x], rows[i]["metrics"][y]] for i in front]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for r in records:
        writer.writerow([csv_cell(v) for v in r])
    axes = Axes(points, keys)
    return {"x": x, "y": y, "maximised": [m for m in (x, y) if m in maximised],
            "kept": kept, "why": why, "front": front, "csv": text.getvalue(), "axes": axes,
            "group": marker_axis(points, keys),
            "table": table(["id", "workload"] + [axes.short[k] for k in keys] + [x, y],
                           [[r[0], os.path.basename(r[1])] + [table_cell(v) for v in r[2:]]
                            for r in records])}


def first_points(points, axis):
    """For each value of axis (by identity), the first point that has it."""
    first = {}
    for p in points:
        first.setdefault(identity(axis_value(p, axis)), p)
    return first


def plan_heatmap(points, rows, keys, chosen, metric, maximised=()):
    """The heat-map's layout, or a line saying why there is none. chosen: the --heatmap pair."""
    axes = Axes(points, keys)
    if chosen is None:
        # The axes of their own; keys tied to one count with it, keys depending on one not at all.
        if len(axes.primary) != 2:
            n = len(axes.primary)
            folded, _ = axes.fold(axes.primary)
            names = ", ".join(" = ".join(g) + (f" (+ {', '.join(f[len(g):])})" if f[len(g):]
                                                else "")
                              for g, f in zip(axes.primary, folded)) or "none"
            vary = "axis varies" if n == 1 else "axes vary"
            return None, (f"heatmap.png: skipped: {n} {vary} ({names}), the heat-map needs two"
                          + ("; choose two with --heatmap KEY1,KEY2" if n > 2 else ""))
        chosen = [g[0] for g in axes.primary]
    else:
        valid = [WORKLOAD] + keys
        for a in chosen:
            if a not in valid:
                raise InputError(f"--heatmap: \"{a}\" is not an axis of the sweep (valid: "
                                 f"{', '.join(valid)})")
    row_tied, col_tied = axes.group(chosen[0]), axes.group(chosen[1])
    if chosen[1] in row_tied:
        raise InputError(f"--heatmap: \"{chosen[0]}\" and \"{chosen[1]}\" vary together (each "
                         f"one's value follows from the other's), so they are one axis; choose "
                         f"two that do not")
    row_axis, col_axis = chosen
    # Keys tied to or depending on an axis are shown with it; the others give the panels.
    (row_group, col_group), free = axes.fold([row_tied, col_tied])
    # One panel per combination of the values of the free keys that depend on no other free key;
    # the free keys that do are shown with one they depend on. Every such key depends on one of
    # those: dependence is transitive, and two groups depending on each other would be tied.
    heads = [g for g in free if not any(h is not g and axes.follows(h[0], g[0]) for h in free)]
    panel_groups, rest = axes.fold(heads, free)
    panel_groups += rest  # none, as said; should there be any, they would only add title parts
    others = [g[0] for g in panel_groups]

    combos = {}
    for p in points:
        combos.setdefault(tuple(identity(axis_value(p, a)) for a in others), p)
    if len(combos) > MAX_PANELS:
        raise InputError(f"--heatmap: {len(combos)} panels, one per combination of "
                         f"{', '.join(others)}, at most {MAX_PANELS} allowed; choose axes that "
                         f"leave fewer combinations")
    row_values = axis_values(points, row_axis)
    col_values = axis_values(points, col_axis)
    row_index = {identity(v): n for n, v in enumerate(row_values)}
    col_index = {identity(v): n for n, v in enumerate(col_values)}
    panel_index = {c: n for n, c in enumerate(combos)}
    # cells[panel][row][column]: (status, value); None where no point falls.
    cells = [[[None] * len(col_values) for _ in row_values] for _ in combos]
    doubled = 0
    for p, r in zip(points, rows):
        panel = panel_index[tuple(identity(axis_value(p, a)) for a in others)]
        i = row_index[identity(axis_value(p, row_axis))]
        j = col_index[identity(axis_value(p, col_axis))]
        if cells[panel][i][j] is not None:
            doubled += 1
            continue
        v = number(r["metrics"].get(metric)) if r["status"] == "ok" else None
        status = r["status"] if r["status"] != "ok" or v is not None else "null metric"
        cells[panel][i][j] = (status, v)
    _, why = left_out(rows, [metric])
    title_parts = [[axes.setting(g, p) for g in panel_groups] for p in combos.values()]
    row_first, col_first = first_points(points, row_axis), first_points(points, col_axis)
    row_label, col_label = axes.label(row_group), axes.label(col_group)
    coloured = sum(1 for panel in cells for row in panel for c in row
                   if c is not None and c[1] is not None)
    per = (f" (one per {', '.join(axes.label(g) for g in panel_groups)})" if panel_groups
           else "")
    notes = [f"heatmap.png: {count(len(cells), 'panel')}{per}, "
             f"rows={row_label}, columns={col_label}",
             f"heatmap.png: {metric}, {coloured} of {len(points)} points coloured (left out: "
             f"{why_text(why)})"]
    if doubled:
        notes.append(f"heatmap.png: {doubled} points share a cell with an earlier point and are "
                     f"not shown")
    return {"metric": metric, "higher_is_better": metric in maximised,
            "rows": row_axis, "columns": col_axis, "others": others,
            "row_tied": row_tied[1:], "col_tied": col_tied[1:],
            "row_dependent": row_group[len(row_tied):], "col_dependent": col_group[len(col_tied):],
            "panel_groups": panel_groups,
            "row_label": row_label, "col_label": col_label,
            "row_label_full": axes.label(row_group, full=True),
            "col_label_full": axes.label(col_group, full=True),
            "row_ticks": [axes.tick(row_group, row_first[identity(v)]) for v in row_values],
            "col_ticks": [axes.tick(col_group, col_first[identity(v)]) for v in col_values],
            "title_parts": title_parts, "titles": [", ".join(t) for t in title_parts],
            "cells": cells, "notes": notes}, None


def wide_span(values):
    return bool(values) and min(values) > 0 and max(values) / min(values) > 20


# The width of a character of DejaVu Sans at 1 pt, in inches: 0.6 em, a little over its average
# for lower case, digits and punctuation, so that text sized with it fits.
CHAR_IN = 0.6 / 72


def chars(inches, fontsize):
    """How many characters of text at fontsize fit in a length."""
    return max(8, int(inches / (CHAR_IN * fontsize)))


def pack(parts, width, sep=", "):
    """parts joined by sep, on as few lines of at most width characters as whole parts allow."""
    lines = []
    for part in parts:
        if lines and len(lines[-1]) + len(sep) + len(part) <= width:
            lines[-1] += sep + part
        else:
            if lines:
                lines[-1] += sep.rstrip()
            lines.append(part)
    return "\n".join(lines)


def wrap(text, width):
    """text on lines of at most width characters, broken at spaces only, and not inside "(= ":
    "mac_array.rows (= log_grad.rows)" breaks before its "(", not after."""
    glue = "\0"
    lines = textwrap.wrap(text.replace("(= ", "(=" + glue), width, break_long_words=False,
                          break_on_hyphens=False)
    return "\n".join(lines).replace(glue, " ") or text


def save(fig, path):
    # No "Software" (matplotlib's version) and no creation time in the PNG's text chunks.
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def plot_pareto(points, rows, plan, path):
    x, y, kept, front = plan["x"], plan["y"], plan["kept"], plan["front"]
    maximised, axes = plan["maximised"], plan["axes"]
    fig, ax = plt.subplots(figsize=(7.2, 5.0))
    if kept:
        xs = {i: number(rows[i]["metrics"][x]) for i in kept}
        ys = {i: number(rows[i]["metrics"][y]) for i in kept}
        group = axes.group(plan["group"])
        groups = {}
        for i in kept:
            groups.setdefault(identity(axis_value(points[i], group[0])), []).append(i)
        cmap = plt.get_cmap("tab10")
        for n, mine in enumerate(groups.values()):
            ax.scatter([xs[i] for i in mine], [ys[i] for i in mine], s=28, alpha=0.8,
                       color=cmap(n % 10), marker=MARKERS[n % len(MARKERS)],
                       label=axes.tick(group, points[mine[0]]), zorder=2)
        fx, fy = [xs[i] for i in front], [ys[i] for i in front]
        # The front sorted by x bounds the region its points dominate: along x first where x is
        # minimised (that region lies to the right), along y first where x is maximised.
        steps = "steps-pre" if x in maximised else "steps-post"
        ax.plot(fx, fy, drawstyle=steps, color="black", linewidth=1.0, zorder=1,
                label=f"Pareto front ({count(len(front), 'point')})")
        ax.scatter(fx, fy, s=90, facecolors="none", edgecolors="black", linewidths=1.2,
                   zorder=3)
        if len(front) <= 10:
            # Points at the same place share one label.
            at = {}
            for i in front:
                at.setdefault((xs[i], ys[i]), []).append(points[i]["id"].split("-")[0])
            for xy, ids in at.items():
                ax.annotate(", ".join(ids), xy, xytext=(5, 4), textcoords="offset points",
                            fontsize=7)
        if wide_span(list(xs.values())):
            ax.set_xscale("log")
        if wide_span(list(ys.values())):
            ax.set_yscale("log")
        ax.legend(fontsize=8, frameon=False, loc="best", title=axes.label(group),
                  title_fontsize=8)
    else:
        ax.text(0.5, 0.5, f"no ok point with both {x} and {y}", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel(x + sense(x, maximised))
    ax.set_ylabel(y + sense(y, maximised))
    if not maximised:
        goal = "both minimised"
    elif len(maximised) == 2:
        goal = "both maximised"
    else:
        goal = ", ".join(f"{m} {'maximised' if m in maximised else 'minimised'}" for m in (x, y))
    out = sum(plan["why"].values())
    ax.set_title(f"{y} against {x}, {goal}: {count(len(kept), 'point')}"
                 + (f" ({out} left out)" if out else ""), fontsize=9)
    fig.tight_layout()
    save(fig, path)


def plot_heatmap(plan, path):
    import matplotlib.colors
    cells, metric = plan["cells"], plan["metric"]
    n_rows, n_cols = len(plan["row_ticks"]), len(plan["col_ticks"])
    values = [c[1] for panel in cells for row in panel for c in row
              if c is not None and c[1] is not None]
    if wide_span(values):
        norm = matplotlib.colors.LogNorm(vmin=min(values), vmax=max(values))
    elif values:
        norm = matplotlib.colors.Normalize(vmin=min(values), vmax=max(values))
    else:
        norm = matplotlib.colors.Normalize(vmin=0.0, vmax=1.0)
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad(GREY)
    panels = len(cells)
    grid_cols = min(panels, 4 if panels > 6 else 2 if panels in (2, 4) else 3)
    grid_rows = -(-panels // grid_cols)
    long_ticks = max(len(t) for t in plan["col_ticks"]) > 8
    # A panel is wide enough for its cells and for the longest part of any title on one line
    # (the tick labels left of a panel take about 0.8 in); titles wrap between parts.
    title_size = 8
    longest = max((len(s) for parts in plan["title_parts"] for s in parts), default=0)
    panel_w = max(3.2, 0.95 * n_cols + 1.6, longest * CHAR_IN * title_size + 0.9)
    panel_w = min(panel_w, (40.0 - 1.2) / grid_cols)
    title_width = chars(panel_w - 0.9, title_size)
    titles = [pack(parts, title_width) for parts in plan["title_parts"]]
    title_lines = max((t.count("\n") + 1 for t in titles if t), default=0)
    panel_h = (max(2.4, 0.42 * n_rows + 1.3 + (0.6 if long_ticks else 0.0))
               + 0.15 * max(0, title_lines - 1))
    fig_w = min(max(panel_w * grid_cols + 1.2, 6.4), 40.0)
    fig, axes = plt.subplots(grid_rows, grid_cols, squeeze=False, layout="constrained",
                             figsize=(fig_w, min(panel_h * grid_rows + 0.9, 40.0)))
    fontsize = 8 if n_cols <= 6 and n_rows <= 12 else 6
    row_label = wrap(plan["row_label"], chars(panel_h - 1.0, 8))
    col_label = wrap(plan["col_label"], chars(panel_w - 0.9, 8))
    image = None
    for n, ax in enumerate(axes.flat):
        if n >= panels:
            ax.set_visible(False)
            continue
        grid = [[math.nan if c is None or c[1] is None else c[1] for c in row]
                for row in cells[n]]
        image = ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
        for i, row in enumerate(cells[n]):
            for j, c in enumerate(row):
                if c is None:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, color="white"))
                    continue
                status, v = c
                if v is None:
                    text, color = ("failed" if status == "failed" else "\u2014"), "black"
                else:
                    r, g, b, _ = cmap(norm(v))
                    text = f"{v:.4g}"
                    color = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize=fontsize)
        ax.set_xticks(range(n_cols))
        if long_ticks:
            ax.set_xticklabels(plan["col_ticks"], rotation=30, ha="right")
        else:
            ax.set_xticklabels(plan["col_ticks"])
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels(plan["row_ticks"])
        # The axis names once: columns under the bottom panels, rows left of the first column.
        if n + grid_cols >= panels:
            ax.set_xlabel(col_label, fontsize=8)
        if n % grid_cols == 0:
            ax.set_ylabel(row_label, fontsize=8)
        if titles[n]:
            ax.set_title(titles[n], fontsize=title_size)
    label = metric + (" (higher is better)" if plan["higher_is_better"] else "")
    if values:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9, label=label)
    grey = any(c is not None and c[1] is None for panel in cells for row in panel for c in row)
    width = chars(fig_w - 0.4, 9)
    fig.suptitle("\n".join([wrap(label + (" (grey: failed or no value)" if grey else ""), width),
                            wrap(f"rows: {plan['row_label_full']}", width),
                            wrap(f"columns: {plan['col_label_full']}", width)]), fontsize=9)
    save(fig, path)


def main(argv):
    global plt
    parser = argparse.ArgumentParser(
        prog="plot_sweep.py",
        description="Plot a merged nibble sweep (Pareto front of two metrics, heat-map).")
    parser.add_argument("sweep", help="a nibble sweep output folder, after nibble sweep merge")
    parser.add_argument("-o", "--out", help="folder for the outputs (default: the sweep's)")
    parser.add_argument("--x", help="the Pareto plot's x metric (default: cycles)")
    parser.add_argument("--y", help="the Pareto plot's y metric (default: energy_pj.total)")
    parser.add_argument("--heatmap", metavar="KEY1,KEY2",
                        help="the heat-map's row and column axes (config keys or workload)")
    parser.add_argument("--metric", help="the heat-map's metric (default: the sweep's first)")
    parser.add_argument("--maximise", "--maximize", metavar="METRIC", action="append",
                        default=[], help="a metric that is better when higher (tops_per_w, "
                        "say); repeatable. Metrics not named are minimised")
    args = parser.parse_args(argv)
    try:
        file, keys, metrics, points = load_points(args.sweep)
        _, rows = load_results(args.sweep, points)
        x = pick_metric("--x", args.x, "cycles", metrics, file)
        y = pick_metric("--y", args.y, "energy_pj.total", metrics, file)
        metric = pick_metric("--metric", args.metric, metrics[0], metrics, file)
        maximised = [pick_metric("--maximise", m, None, metrics, file) for m in args.maximise]
        chosen = None
        if args.heatmap is not None:
            chosen = args.heatmap.split(",")
            if len(chosen) != 2 or not all(chosen) or chosen[0] == chosen[1]:
                raise InputError(f"--heatmap: expected two different axes as KEY1,KEY2, found "
                                 f"\"{args.heatmap}\" (valid: "
                                 f"{', '.join([WORKLOAD] + keys)})")
        pareto = plan_pareto(points, rows, keys, x, y, maximised)
        heatmap, skipped = plan_heatmap(points, rows, keys, chosen, metric, maximised)
        out = args.out or args.sweep
        names = ["pareto.png", "pareto.csv"] + (["heatmap.png"] if heatmap else [])
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot
        plt = matplotlib.pyplot
        plt.rcParams.update(STYLE)

        def draw(tmps):
            plot_pareto(points, rows, pareto, tmps[0])
            with open(tmps[1], "w") as f:
                f.write(pareto["csv"])
            if heatmap:
                plot_heatmap(heatmap, tmps[2])

        paths = write_outputs(out, names, draw, f"{file}: not a nibble sweep as expected")
    except InputError as e:
        print(f"plot_sweep.py: error: {e}", file=sys.stderr)
        return 2
    goal = (f" (higher is better: {', '.join(pareto['maximised'])})" if pareto["maximised"]
            else "")
    print(f"pareto.png: {y} against {x}{goal}, {len(pareto['kept'])} of {len(points)} points "
          f"plotted (left out: {why_text(pareto['why'])})")
    print(f"pareto.csv: the Pareto front, {count(len(pareto['front']), 'point')}, sorted by {x}:")
    for line in pareto["table"]:
        print("  " + line)
    for line in heatmap["notes"] if heatmap else [skipped]:
        print(line)
    for p in paths:
        print(f"plot_sweep.py: wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
