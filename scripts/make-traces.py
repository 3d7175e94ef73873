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
    for name, make, seed in [("model-dense", model_dense, 4), ("model-moe", model_moe, 5), ("gallery", gallery, 6)]:
        write_accesses(os.path.join(out, name + ".csv"), make(random.Random(seed)))


def interleave(rng, sessions, span_ms):
    """Rows (session, time, name) of sessions starting at random times in `span_ms`; each
    session is a list of (gap_ms, name)."""
    rows = []
    for i, steps in enumerate(sessions):
        t = rng.randint(0, span_ms)
        for gap, name in steps:
            t += gap
            rows.append((t, "s%03d" % i, name))
    rows.sort()
    return rows


def model_dense(rng):
    """Dense models loaded layer by layer (embedding, blk.N.attn, blk.N.ffn, output). Three
    models of 24/28/32 layers, chosen 50/30/20%. 60% of loads skip one or two ranges of 2-8
    layers (held locally from an earlier visit, or skipped by an early-exit config)."""
    models = [("llama-3b", 28, 0.5), ("qwen-1.5b", 24, 0.3), ("phi-2", 32, 0.2)]
    sessions = []
    for _ in range(90):
        r, acc = rng.random(), 0.0
        for name, layers, p in models:
            acc += p
            if r < acc:
                break
        skipped = set()
        if rng.random() < 0.6:
            for _ in range(rng.choice([1, 2])):
                a = rng.randint(1, layers - 9)
                skipped.update(range(a, a + rng.randint(2, 8)))
        steps = [(rng.randint(5, 30), name + "/token_embd")]
        for i in range(layers):
            if i in skipped:
                continue
            steps.append((rng.randint(5, 30), "%s/blk.%d.attn" % (name, i)))
            steps.append((rng.randint(5, 30), "%s/blk.%d.ffn" % (name, i)))
        steps.append((rng.randint(5, 30), name + "/output"))
        sessions.append(steps)
    return interleave(rng, sessions, 60_000)


def model_moe(rng):
    """A mixture-of-experts model (16 layers, 8 experts, 2 per token) run with expert
    offloading: each session decodes 4-8 tokens, each token passing blk.N.attn then its two
    experts (ascending). Per layer, expert popularity is skewed (weights 1/(rank+1), ranks
    shuffled per layer); each session has one of four topics with a preferred pair per layer;
    a token reuses the previous token's pair at that layer with probability 0.6, else takes
    the topic's pair with probability 0.5, else two experts drawn by popularity."""
    layers, experts = 16, 8
    popularity = []
    for _ in range(layers):
        ranks = list(range(experts))
        rng.shuffle(ranks)
        popularity.append([1.0 / (ranks[e] + 1) for e in range(experts)])
    topics = [[tuple(sorted(rng.sample(range(experts), 2))) for _ in range(layers)] for _ in range(4)]

    def draw(layer):
        chosen = set()
        while len(chosen) < 2:
            chosen.add(rng.choices(range(experts), weights=popularity[layer])[0])
        return tuple(sorted(chosen))

    sessions = []
    for _ in range(60):
        topic = rng.choice(topics)
        last = [None] * layers
        steps = []
        for _ in range(rng.randint(4, 8)):
            for i in range(layers):
                if last[i] is not None and rng.random() < 0.6:
                    pair = last[i]
                elif rng.random() < 0.5:
                    pair = topic[i]
                else:
                    pair = draw(i)
                last[i] = pair
                steps.append((rng.randint(2, 10), "moe/blk.%d.attn" % i))
                for e in pair:
                    steps.append((rng.randint(2, 10), "moe/blk.%d.ffn_exp.%d" % (i, e)))
        sessions.append(steps)
    return interleave(rng, sessions, 60_000)


def gallery(rng):
    """Browsing a gallery of 300 images: a session enters at the first image (50%) or at one
    of 12 featured images, and views 20-60 images, spending 0.5-6 s on each. Moves: next 64%,
    previous 12%, back to one of the session's favourites (each viewed image becomes one with
    probability 0.15) 10%, to a featured image 6%, anywhere 8%."""
    n = 300
    featured = rng.sample(range(1, n + 1), 12)
    sessions = []
    for _ in range(150):
        cur = 1 if rng.random() < 0.5 else rng.choice(featured)
        favourites, steps = [], []
        for _ in range(rng.randint(20, 60)):
            steps.append((rng.randint(500, 6000), "gallery/img-%04d.jpg" % cur))
            if rng.random() < 0.15:
                favourites.append(cur)
            r = rng.random()
            if r < 0.64:
                cur = cur + 1 if cur < n else 1
            elif r < 0.76:
                cur = cur - 1 if cur > 1 else n
            elif r < 0.86 and favourites:
                cur = rng.choice(favourites)
            elif r < 0.92:
                cur = rng.choice(featured)
            else:
                cur = rng.randint(1, n)
        sessions.append(steps)
    return interleave(rng, sessions, 600_000)


def write_accesses(path, rows):
    with open(path, "w") as f:
        f.write("session,time_ms,name\n")
        for t, s, name in rows:
            f.write("%s,%d,%s\n" % (s, t, name))


if __name__ == "__main__":
    main()
