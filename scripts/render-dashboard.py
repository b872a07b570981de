#!/usr/bin/env python3
"""Renders the saslguard Grafana dashboard to a PNG without Grafana.

Grafana is not in Debian, so this draws the same queries itself: it reads the
dashboard JSON, runs every panel's PromQL against a Prometheus over a time
range (range queries, variables substituted as Grafana would), and lays the
panels out with gnuplot exactly where the dashboard's gridPos puts them.
Threshold series (dashed in Grafana) are dashed red; firing saslguard alerts
(the dashboard's "saslguard alerts" annotation) are vertical red lines.

    render-dashboard.py --prometheus URL [--start UNIX] [--end UNIX] [--step S]
                        [--dashboard FILE] [--out docs/img/dashboard.png]

python3 standard library and gnuplot (Debian gnuplot-nox) only.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DASH = os.path.join(ROOT, "grafana", "provisioning", "dashboards", "saslguard", "saslguard.json")
PALETTE = ["#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#1F78C1", "#BA43A9", "#705DA0", "#508642",
           "#CCA300", "#447EBC", "#C15C17", "#890F02"]
COLOURS = {"red": "#E02F44", "orange": "#FF9830", "green": "#56A64B", "blue": "#3274D9"}
PX_PER_COL, PX_PER_ROW = 100, 34  # 24 columns → 2400 px wide


def api(url, path, params):
    q = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url.rstrip('/')}{path}?{q}", timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{path} {params}: {body}")
    return body["data"]


def substitute(expr, start, end):
    rng = max(60, int(end - start))
    for k, v in {"$instance": ".*", "$receiver": ".*", "$__rate_interval": "1m",
                 "$__range": f"{rng}s", "$__interval": "10s", "${datasource}": ""}.items():
        expr = expr.replace(k, v)
    return expr


def legend(fmt, metric):
    if not fmt:
        return ",".join(f"{k}={v}" for k, v in sorted(metric.items()) if k != "__name__") or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt).strip()


def gp_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_format(unit):
    """gnuplot y tic format and axis label for a Grafana unit."""
    if unit == "percentunit":
        return '"%.0f%%"', "", 100.0
    if unit.startswith("suffix:"):
        return '"%g"', unit.split(":", 1)[1].strip(), 1.0
    if unit == "s":
        return '"%g"', "seconds", 1.0
    return '"%g"', "", 1.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--dashboard", default=DEFAULT_DASH)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "img", "dashboard.png"))
    ap.add_argument("--end", type=float, default=time.time())
    ap.add_argument("--start", type=float)
    ap.add_argument("--step", type=float, default=5)
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    start = a.start or a.end - 900
    d = json.load(open(a.dashboard))

    # Alert annotations: the first sample of each firing ALERTS series.
    marks = []
    for ann in d["annotations"]["list"]:
        if ann.get("name") == "saslguard alerts":
            for s in api(a.prometheus, "/api/v1/query_range",
                         {"query": substitute(ann["expr"], start, a.end), "start": start, "end": a.end,
                          "step": a.step})["result"]:
                marks.append((float(s["values"][0][0]), s["metric"].get("alertname", "")))

    grid_h = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in d["panels"])
    title_h = 2
    total_rows = grid_h + title_h
    width, height = 24 * PX_PER_COL, total_rows * PX_PER_ROW
    work = tempfile.mkdtemp(prefix="saslguard-render-")
    gp = [f'set terminal pngcairo size {width},{height} font "DejaVu Sans,11" noenhanced background "#111217"',
          f'set output {gp_str(a.out)}',
          'set multiplot',
          'set border lc "#8e8e8e"; set tics textcolor "#cccccc"; set key textcolor "#cccccc"',
          'set xdata time; set timefmt "%s"; set format x "%H:%M"',
          'set grid lc "#2c3235"', 'set datafile missing "NaN"']
    span_s = a.end - start
    xstep = next((st for st in (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600) if span_s / st <= 7), 86400)
    xtics = f'set xtics {xstep} format "%H:%M"'
    gp.append(xtics)
    head = a.title or d["title"]
    span = f'{time.strftime("%Y-%m-%d %H:%M", time.localtime(start))} – {time.strftime("%H:%M", time.localtime(a.end))}'
    gp += ['set origin 0,0; set size 1,1; unset border; unset tics; unset key; unset grid; unset title',
           f'set label 1 {gp_str(head)} at screen 0.01, screen {1 - 0.9 / total_rows} font ",20" tc "#ffffff"',
           f'set label 2 {gp_str("rendered from Prometheus by scripts/render-dashboard.py · " + span)} '
           f'at screen 0.99, screen {1 - 0.9 / total_rows} right font ",11" tc "#8e8e8e"',
           'plot [0:1][0:1] NaN notitle', 'unset label 1; unset label 2',
           'set border lc "#8e8e8e"; set tics textcolor "#cccccc"; set xtics; set ytics; set grid', xtics]

    def frame(p):
        g = p["gridPos"]
        x0, w = g["x"] / 24, g["w"] / 24
        y0 = 1 - (g["y"] + g["h"] + title_h) / total_rows
        return f'set origin {x0:.4f},{y0:.4f}; set size {w:.4f},{g["h"] / total_rows:.4f}'

    report = []
    for p in d["panels"]:
        title = p.get("title", "")
        if p["type"] == "row":
            g = p["gridPos"]
            y = 1 - (g["y"] + title_h + 0.7) / total_rows
            gp += [f'set label 9 {gp_str(title)} at screen 0.005, screen {y:.4f} font ",15" tc "#d8d9da"',
                   'set origin 0,0; set size 1,1; unset border; unset tics; unset grid; unset title',
                   'plot [0:1][0:1] NaN notitle', 'unset label 9',
                   'set border lc "#8e8e8e"; set xtics; set ytics; set grid', xtics]
            continue
        defaults = p["fieldConfig"]["defaults"]
        unit = defaults.get("unit", "")
        fmt, ylabel, scale = unit_format(unit)
        dashed = {o["matcher"]["options"] for o in p["fieldConfig"].get("overrides", [])
                  if any(pr["id"] == "custom.lineStyle" for pr in o["properties"])}
        gp.append(frame(p))
        gp.append(f'set title {gp_str(title)} tc "#ffffff" font ",12"')

        if p["type"] in ("stat", "bargauge"):
            rows = []
            for t in p["targets"]:
                res = api(a.prometheus, "/api/v1/query", {"query": substitute(t["expr"], start, a.end),
                                                          "time": a.end})["result"]
                for s in res:
                    rows.append((legend(t.get("legendFormat", ""), s["metric"]), float(s["value"][1])))
            report.append(f"{title}: {len(rows)} values")
            steps = defaults.get("thresholds", {}).get("steps", [])
            mapping = {}
            for m in defaults.get("mappings", []):
                for k, v in m.get("options", {}).items():
                    mapping[k] = v.get("text", k)

            def colour(v):
                c = steps[0]["color"] if steps else "green"
                for st in steps:
                    if st["value"] is not None and v >= st["value"]:
                        c = st["color"]
                return COLOURS.get(c, c)
            if p["type"] == "stat":
                v = rows[0][1] if rows else float("nan")
                text = "no data" if math.isnan(v) else mapping.get(f"{v:g}", f"{v * scale:.3g}" + (f" {ylabel}" if ylabel else ""))
                gp += ['unset border; unset tics; unset grid; unset xdata',
                       f'set object 1 rect from graph 0,0 to graph 1,1 fc rgb "{colour(v) if not math.isnan(v) else "#333333"}" fs solid 0.85 noborder behind',
                       f'set label 3 {gp_str(text)} at graph 0.5, graph 0.45 center font ",26" tc "#ffffff" front',
                       'plot [0:1][0:1] NaN notitle',
                       'unset object 1; unset label 3; set border; set xtics; set ytics; set grid; set xdata time', xtics]
            else:
                rows.sort(key=lambda r: r[1])
                data = os.path.join(work, f"p{p['id']}.dat")
                with open(data, "w") as f:
                    for i, (name, v) in enumerate(rows):
                        f.write(f'{i} {v} "{name}" {int(colour(v).lstrip("#"), 16)}\n')
                n = max(1, len(rows))
                gp += ['unset xdata; set xtics autofreq; set format x "%g"; set style fill solid 0.9 noborder',
                       f'set yrange [-0.6:{n - 0.4}]; set xrange [0:*]; set ytics font ",9"; unset key',
                       f'plot {gp_str(data)} using 2:1:(0):2:($1-0.38):($1+0.38):4:ytic(3) '
                       f'with boxxyerror lc rgb variable notitle' if rows else
                       'set label 4 "no data" at graph 0.5, graph 0.5 center tc "#8e8e8e" font ",14"; '
                       'set xrange [0:1]; set yrange [0:1]; plot -1 notitle; unset label 4',
                       'set xdata time; set autoscale; set ytics font ",11"', xtics]
            continue

        series = []
        for t in p["targets"]:
            res = api(a.prometheus, "/api/v1/query_range",
                      {"query": substitute(t["expr"], start, a.end), "start": start, "end": a.end, "step": a.step})
            for s in res["result"]:
                series.append((legend(t.get("legendFormat", ""), s["metric"]), s["values"]))
        report.append(f"{title}: {len(series)} series")
        plots = []
        k = 0
        for i, (name, values) in enumerate(series):
            data = os.path.join(work, f"p{p['id']}_{i}.dat")
            with open(data, "w") as f:
                prev = None
                for ts, v in values:
                    ts = float(ts)
                    if prev is not None and ts - prev > 2.5 * a.step:
                        f.write("\n")  # a gap, as Grafana leaves one
                    f.write(f"{ts} {float(v) * scale}\n")
                    prev = ts
            if name in dashed:
                style = f'lc rgb "{COLOURS["red"]}" lw 2 dt (8,6)'
            else:
                style = f'lc rgb "{PALETTE[k % len(PALETTE)]}" lw 2'
                k += 1
            plots.append(f'{gp_str(data)} using 1:2 with lines {style} title {gp_str(name[:40])}')
        gp.append(f'set format y {fmt}; set ylabel {gp_str(ylabel)} tc "#cccccc"')
        gp.append(f'set xrange [{start}:{a.end}]; set yrange [0:*]')
        if "max" in defaults:
            gp.append(f'set yrange [0:{defaults["max"] * scale * 1.05}]')
        gp.append('set key outside right top vertical font ",9" samplen 2 spacing 0.9 maxrows 10')
        for j, (ts, name) in enumerate(marks[:20]):
            gp.append(f'set arrow {j + 10} from {ts}, graph 0 to {ts}, graph 1 nohead lc rgb "{COLOURS["red"]}" dt 3 lw 1')
        if plots:
            gp.append("plot " + ", ".join(plots))
        else:
            gp += ['set label 4 "no data" at graph 0.5, graph 0.5 center tc "#8e8e8e" font ",14"',
                   'set yrange [0:1]; plot -1 notitle', 'unset label 4']
        gp.append("unset arrow; set ylabel ''; set autoscale")
    gp.append("unset multiplot")
    script = os.path.join(work, "dashboard.gp")
    with open(script, "w") as f:
        f.write("\n".join(gp) + "\n")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        print(f"render-dashboard: gnuplot failed; script kept in {script}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)  # kept above, on failure, for debugging
    for line in report:
        print("  " + line)
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
