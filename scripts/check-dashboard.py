#!/usr/bin/env python3
"""Checks the Grafana dashboard deploy/grafana/ddrouter.json (run by scripts/check-dashboard.sh
in `make test`):

  1. it is valid JSON (no duplicate keys), a dashboard with panels whose ids are unique;
  2. every PromQL expression (panel targets, and the metric of a `label_values(...)` variable)
     names only metrics the daemon exports (Sources/Daemon/Observability/MetricCatalogue.swift;
     `_bucket`, `_sum`, `_count` only of a histogram), and no expression selects by `__name__`;
  3. every metric of the catalogue is on the dashboard at least once;
  4. every expression parses: they are written, Grafana's `$__rate_interval` and `$instance`
     replaced, into a temporary rule file for `promtool check rules` (the caller passes
     --promtool PATH; without it the parse is skipped and says so).

Before the real file, the same checks run on small bad dashboards (a metric the daemon does not
export, `_bucket` of a gauge, a `__name__` selector, a catalogue metric left off, a duplicate
key): each must be refused, so a checker that stopped looking fails here.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, "Sources/Daemon/Observability/MetricCatalogue.swift")
DASHBOARD = os.path.join(ROOT, "deploy/grafana/ddrouter.json")


def catalogue(path):
    """name → kind (counter, gauge, histogram) from the DaemonMetric enum."""
    text = open(path, encoding="utf-8").read()
    cases = dict(re.findall(r'^\s*case (\w+) = "(ddrouter_[a-z0-9_]+)"', text, re.M))
    if not cases:
        raise SystemExit(f"check-dashboard: no metric names found in {path}")
    kind_block = re.search(r"public var kind: Kind \{(.*?)\n    \}", text, re.S)
    if not kind_block:
        raise SystemExit(f"check-dashboard: no `kind` switch found in {path}")
    kinds = {}
    for members, kind in re.findall(r"case ([^:]+):\s*\.(counter|gauge|histogram)", kind_block.group(1)):
        for member in re.findall(r"\.(\w+)", members):
            kinds[member] = kind
    missing = sorted(set(cases) - set(kinds))
    if missing:
        raise SystemExit(f"check-dashboard: no kind found for {missing} in {path}")
    return {name: kinds[case] for case, name in cases.items()}


def no_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression selects (plus problems it cannot be checked for)."""
    problems = []
    if "__name__" in expr:
        problems.append("selects by __name__ (cannot be checked)")
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)   # strings
    e = re.sub(r"\{[^}]*\}", " ", e)                                               # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                                              # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)  # label lists
    e = re.sub(r"\$\{[^}]*\}|\$\w+", " ", e)                                       # Grafana variables
    names = []
    for m in re.finditer(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        if word in KEYWORDS or re.match(r"\s*\(", e[m.end():]):   # keyword, function or aggregation
            continue
        names.append(word)
    return names, problems


def expressions(dashboard):
    """(where, PromQL) for every panel target and every query variable."""
    out = []

    def walk(panels, trail):
        for p in panels or []:
            title = p.get("title", f"panel {p.get('id')}")
            for t in p.get("targets") or []:
                if "expr" in t:
                    out.append((f"{trail}{title!r} {t.get('refId', '?')}", t["expr"]))
            walk(p.get("panels"), f"{trail}{title!r} > ")

    walk(dashboard.get("panels"), "")
    for v in (dashboard.get("templating") or {}).get("list") or []:
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q or "")
        out.append((f"variable ${v.get('name')}", m.group(1) if m else q or ""))
    return out


def panel_ids(dashboard):
    ids = []

    def walk(panels):
        for p in panels or []:
            ids.append(p.get("id"))
            walk(p.get("panels"))

    walk(dashboard.get("panels"))
    return ids


def check(text, exported, promtool=None):
    """Problems with a dashboard's text (empty: good)."""
    try:
        dashboard = json.loads(text, object_pairs_hook=no_duplicate_keys)
    except ValueError as error:
        return [f"not valid JSON: {error}"]
    if not isinstance(dashboard, dict) or not dashboard.get("panels"):
        return ["not a dashboard: no panels"]
    problems = []
    ids = panel_ids(dashboard)
    dupes = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if dupes:
        problems.append(f"panel ids used twice: {dupes}")
    exprs = expressions(dashboard)
    if not exprs:
        problems.append("no PromQL expression found")
    used = set()
    for where, expr in exprs:
        names, trouble = metric_names(expr)
        problems += [f"{where}: {t}: {expr}" for t in trouble]
        for name in names:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name in exported:
                used.add(name)
            elif base != name and exported.get(base) == "histogram":
                used.add(base)
            else:
                problems.append(f"{where}: names {name}, which the daemon does not export: {expr}")
    for name in sorted(set(exported) - used):
        problems.append(f"catalogue metric {name} is on no panel")
    if promtool and not problems:
        problems += parse_with_promtool(promtool, exprs)
    return problems


def parse_with_promtool(promtool, exprs):
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}",
         "expr": expr.replace("$__rate_interval", "5m").replace("$instance", ".*")}
        for i, (_, expr) in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump(rules, f)   # JSON is YAML
        path = f.name
    try:
        r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    if r.returncode == 0:
        return []
    out = re.sub(r"dashboard:expr_(\d+)\b", lambda m: f"{m.group(0)} ({exprs[int(m.group(1))][0]})", r.stdout + r.stderr)
    return [f"promtool check rules refuses an expression:\n{out.strip()}"]


def self_test(exported):
    """The checks must refuse these; returns what they let through."""
    good_targets = [{"expr": f"{n}_bucket" if k == "histogram" else n, "refId": "A"} for n, k in exported.items()]

    def dash(extra_expr=None, drop=None, raw=None):
        if raw is not None:
            return raw
        targets = [t for t in good_targets if t["expr"] != drop]
        if extra_expr:
            targets.append({"expr": extra_expr, "refId": "B"})
        return json.dumps({"panels": [{"id": 1, "type": "timeseries", "title": "t", "targets": targets}]})

    gauge = next(n for n, k in exported.items() if k == "gauge")
    counter = next(n for n, k in exported.items() if k == "counter")
    bad = {
        "a metric the daemon does not export": dash('sum(rate(ddrouter_bogus_total{instance=~"$instance"}[$__rate_interval]))'),
        "_bucket of a gauge": dash(f"histogram_quantile(0.9, rate({gauge}_bucket[5m]))"),
        "a __name__ selector": dash('{__name__=~"ddrouter_.+"}'),
        "a catalogue metric left off": dash(drop=gauge),
        "a duplicate key": '{"panels": [], "panels": []}',
        "an expression of another exporter": dash(f"{counter} / node_cpu_seconds_total"),
    }
    if check(dash(), exported):
        return [f"its good dashboard is refused: {check(dash(), exported)}"]
    return [f"a dashboard with {why} was not refused" for why, text in bad.items() if not check(text, exported)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dashboard", nargs="?", default=DASHBOARD)
    parser.add_argument("--promtool", help="promtool, to parse every expression")
    args = parser.parse_args()
    exported = catalogue(CATALOGUE)
    slipped = self_test(exported)
    if slipped:
        for why in slipped:
            print(f"check-dashboard: self-test: {why}", file=sys.stderr)
        return 1
    with open(args.dashboard, encoding="utf-8") as f:
        problems = check(f.read(), exported, args.promtool)
    for p in problems:
        print(f"check-dashboard: {args.dashboard}: {p}", file=sys.stderr)
    if problems:
        return 1
    n = len(expressions(json.load(open(args.dashboard, encoding="utf-8"))))
    parsed = "parsed by promtool" if args.promtool else "NOT parsed (no promtool given)"
    print(f"check-dashboard: {n} expressions over all {len(exported)} catalogue metrics, {parsed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
