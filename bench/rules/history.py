#!/usr/bin/env python3
"""OpenMetrics history for the rules benchmark (promtool tsdb create-blocks-from
openmetrics): what a Prometheus that has watched USERS accounts for 8 days holds
and the shipped rules read.

  * the raw counter (postfix_sasl_user_messages_total) for the last
    RAW_MINUTES minutes at the exporter's 10s scrape, and the series the rules
    record from it that are read over a window: the 1m rate every 10s (the
    previous rules' avg_rate1m_1h reads it), and every minute the counter's
    sample (the shipped rules' 5m, 15m and 1h windows read it), the 1m rate's
    copy and the 5m and 15m increases;
  * the hourly series of the saslguard.user_history group for 8 days (the
    [8d] and [1d] windows read them), the peaks only where the rules record
    them (above floor / peak_factor).

Each user has a lognormal daily volume (median ~40 messages/day, a few
thousands), a working-day shape and Poisson noise. Labels match what Prometheus
attaches when it scrapes the exporter at INSTANCE with job saslguard-exporter.
Usage: history.py --part hourly|raw --rules RULES.yml --users N --instance HOST:PORT --end UNIX --out PREFIX
(writes PREFIX.<window start> per 2h window and prints their names)
"""
import argparse, math, random, re

ap = argparse.ArgumentParser()
ap.add_argument("--users", type=int, default=10000)
ap.add_argument("--instance", required=True)
ap.add_argument("--end", type=int, required=True)
ap.add_argument("--raw-minutes", type=int, default=65)
ap.add_argument("--days", type=int, default=8)
ap.add_argument("--out", required=True)
ap.add_argument("--rules", required=True, help="the shipped rules file (its thresholds decide which peaks exist)")
ap.add_argument("--shipped", action="store_true",
                help="raw: the last hour of the series the shipped rules record (else those of the older rule sets)")
ap.add_argument("--part", choices=["hourly", "raw"], required=True,
                help="hourly: the 8-day recorded series (slow to backfill); raw: the last hour's counter")
a = ap.parse_args()
rng = random.Random(3)
lab = 'instance="%s",job="saslguard-exporter",sasl_username="user%05d@example.org"'
# The thresholds, as the rules file sets them (group saslguard.thresholds).
th = {m[0]: float(m[1]) for m in re.findall(
    r"record: saslguard:threshold:(\w+)\n\s+expr: vector\(([0-9.]+)\)", open(a.rules).read())}
per_day = [min(20000.0, math.exp(rng.gauss(math.log(40), 1.2))) for _ in range(a.users)]
H = 3600
end_h = a.end - a.end % H
hours = list(range(end_h - a.days * 86400, end_h + 1, H))

def shape(t):  # share of a day's mail sent per hour at t
    tod = (t % 86400) / H
    return 0.07 if 8 <= tod < 18 else 0.3 / 14

hourly = {u: [max(0.0, rng.gauss(per_day[u] * shape(t), math.sqrt(per_day[u] * shape(t) + 0.01)))
             for t in hours] for u in range(a.users)}
# name, scale of the hour's volume, recorded only above (the rules record an
# hour's peak only where it can raise a threshold above its floor: floor /
# peak_factor, with the rules file's thresholds).
notable_rate = th["user_surge_floor_per_second"] / max(th["user_surge_peak_factor"], 1)
families = [
    ("sasl_username:postfix_sasl_user_messages:increase1h_hourly", 1.0, None),
    ("sasl_username:postfix_sasl_user_messages:increase1h_max1h", 1.3,
     th["user_volume_floor_1h"] / th["user_volume_peak_factor"]),
    ("sasl_username:postfix_sasl_user_messages:increase15m_max1h", 0.45,
     th["user_volume_floor_15m"] / th["user_volume_peak_factor"]),
    ("sasl_username:postfix_sasl_user_messages:rate1m_max1h", 1 / 600.0, notable_rate),
]
raw_t = list(range(a.end - a.raw_minutes * 60, a.end - 10, 10))
raw = {}
for u in range(a.users):
    c, r, vals = 1000.0 * rng.random(), per_day[u] / 86400, []
    for t in raw_t:
        c += r * 10 * shape(t) * 24 + (1 if rng.random() < r * 10 else 0)
        vals.append(int(c))
    raw[u] = vals
# Recorded from the raw counter: name -> (every how many raw samples, window in
# samples, scale, recorded only above). The shipped rules copy the 1m rate each
# minute only for users Prometheus did not see an hour ago (none here: the raw
# hour covers everyone) and keep the minutes over floor / peak_factor for the
# hour's busiest minute; the older rule sets copy every user's.
# (A window of 0: the counter itself, sampled.)
derived = [("sasl_username:postfix_sasl_user_messages:rate1m", 1, 6, 1 / 60.0, None),
           ("sasl_username:postfix_sasl_user_messages:increase15m", 6, 90, 1.0, None)]
if a.shipped:
    # The shipped rules read their 5m, 15m and 1h windows from a once-a-minute
    # sample of the counter.
    derived += [("sasl_username:postfix_sasl_user_messages:rate1m_notable", 1, 6, 1 / 60.0, notable_rate),
                ("sasl_username:postfix_sasl_user_messages_total:sampled1m", 6, 0, 1.0, None)]
else:
    derived += [("sasl_username:postfix_sasl_user_messages:rate1m_each_minute", 6, 6, 1 / 60.0, None),
                ("sasl_username:postfix_sasl_user_messages:increase5m", 6, 30, 1.0, None)]

# promtool 2.42 re-reads its whole input once per 2h block it writes: one file per
# 2h window keeps that linear (run.sh feeds them one by one).
W = 2 * H
windows = sorted({t - t % W for t in hours} | {t - t % W for t in raw_t})
if a.part == "hourly":
    raw_t = []
else:
    hours, families = [], []
windows = sorted({t - t % W for t in hours} | {t - t % W for t in raw_t})
for w in windows:
    with open(f"{a.out}.{w}", "w") as f:
        for name, k, above in families:
            f.write(f"# TYPE {name} unknown\n")
            idx = [i for i, t in enumerate(hours) if w <= t < w + W]
            for u in range(a.users):
                l = lab % (a.instance, u)
                for i in idx:
                    v = hourly[u][i] * k
                    if above is None or v > above:
                        f.write(f"{name}{{{l}}} {v:.6g} {hours[i]}\n")
        idx = [i for i, t in enumerate(raw_t) if w <= t < w + W]
        if idx:
            f.write("# TYPE postfix_sasl_user_messages_total unknown\n")
            for u in range(a.users):
                l = lab % (a.instance, u)
                for i in idx:
                    f.write(f"postfix_sasl_user_messages_total{{{l}}} {raw[u][i]} {raw_t[i]}\n")
            for name, every, win, scale, above in derived:
                f.write(f"# TYPE {name} unknown\n")
                for u in range(a.users):
                    l = lab % (a.instance, u)
                    for i in idx:
                        if i >= win and i % every == 0:
                            v = (raw[u][i] - (raw[u][i - win] if win else 0)) * scale
                            if above is None or v > above:
                                f.write(f"{name}{{{l}}} {v:.6g} {raw_t[i]}\n")
            if a.shipped:
                # user_age's marker (every 2 minutes), as an 8-day-old
                # Prometheus has it: without it, whether a server's first
                # user_windows evaluation comes before its first user_age
                # one (their phases follow the rule file's path) decided
                # whether every user counted as young for that minute, and
                # then, through the [1h] average, for the whole measurement.
                name = "instance:saslguard_user_age:evaluated"
                f.write(f"# TYPE {name} unknown\n")
                l = 'instance="%s",job="saslguard-exporter"' % a.instance
                for i in idx:
                    if i % 12 == 0:
                        f.write(f"{name}{{{l}}} 1 {raw_t[i]}\n")
        f.write("# EOF\n")
    print(f"{a.out}.{w}")
