#!/usr/bin/env python3
"""The `haagenti` CLI against the reference `zstd` CLI on the same large frames, as a user runs
them: whole processes reading a file and writing to /dev/null. Alternates the two, reports the
median wall time with the run-to-run range and each program's peak resident memory (wait4).

    scripts/bench-cli.py [--runs N] [--haagenti PATH] [--out docs/cli-bench.md]

Input: the MiniLM weights (scripts/fetch-minilm.sh) followed by the text corpus of tests/data,
about 93 MB of mixed real data, compressed by `zstd -3` and `zstd -19` (cached under
~/.cache/haagenti/bench)."""

import argparse, datetime, os, platform, shutil, statistics, subprocess, sys, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
cache = Path.home() / ".cache/haagenti/bench"


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def run(cmd, stdin_path):
    """Wall seconds of one run, output discarded."""
    with open(stdin_path, "rb") as src, open(os.devnull, "wb") as dst:
        start = time.perf_counter()
        status = subprocess.run(cmd, stdin=src, stdout=dst).returncode
        wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {status}")
    return wall


def peak_rss(cmd, stdin_path):
    """Peak resident bytes of one run: the program's own high-water mark (VmHWM), polled while
    it runs. Its rusage would not do: the child of a vfork-style spawn counts this process's
    memory as its own until it execs."""
    peak = 0
    with open(stdin_path, "rb") as src, open(os.devnull, "wb") as dst:
        p = subprocess.Popen(cmd, stdin=src, stdout=dst)
        while p.poll() is None:
            try:
                for line in open(f"/proc/{p.pid}/status"):
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
            except (OSError, ValueError):
                pass
            time.sleep(0.002)
    return peak


def measure(cmds, stdin_path, runs):
    for c in cmds.values():  # warm up: page cache and CPU frequency
        run(c, stdin_path)
    times = {k: [] for k in cmds}
    for _ in range(runs):
        for k, c in cmds.items():
            times[k].append(run(c, stdin_path))
    # Memory in runs of their own, so polling does not slow the timed ones.
    rss = {k: peak_rss(c, stdin_path) for k, c in cmds.items()}
    return times, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--haagenti", default=None)
    ap.add_argument("--out", default=str(root / "docs/cli-bench.md"))
    a = ap.parse_args()
    haagenti = a.haagenti
    if haagenti is None:
        target = os.environ.get("CARGO_TARGET_DIR", str(root / "target"))
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "haagenti-cli"], cwd=root, check=True)
        haagenti = str(Path(target) / "release/haagenti")
    zstd = shutil.which("zstd") or sys.exit("the reference zstd program is needed")
    version = subprocess.run([zstd, "--version"], capture_output=True, text=True).stdout.strip()

    cache.mkdir(parents=True, exist_ok=True)
    mix = cache / "mix.bin"
    if not mix.exists():
        model = Path.home() / ".cache/haagenti/minilm/model.safetensors"
        if not model.exists():
            subprocess.run(["bash", str(root / "scripts/fetch-minilm.sh"), str(model.parent)], check=True)
        with open(mix, "wb") as out:
            out.write(model.read_bytes())
            for f in sorted((root / "tests/data/corpus").iterdir()):
                out.write(f.read_bytes())
    size = mix.stat().st_size
    rows = []
    for level in (3, 19):
        frame = cache / f"mix.{level}.zst"
        if not frame.exists():
            subprocess.run([zstd, "-q", "-f", f"-{level}", "-T1", str(mix), "-o", str(frame)], check=True)
        times, rss = measure(
            {"haagenti": [haagenti, "decompress", "-", "-o", "-"], "zstd": [zstd, "-q", "-d", "-c"]}, frame, a.runs
        )
        rows.append((f"decompress (zstd -{level} frame, {frame.stat().st_size / 1e6:.1f} MB)", times, rss))
    times, rss = measure(
        {"haagenti": [haagenti, "compress", "-l", "3", "-", "-o", "-"], "zstd": [zstd, "-q", "-3", "-T1", "-c"]},
        mix,
        max(3, a.runs // 3),
    )
    rows.append(("compress -3", times, rss))

    def fmt(ts):
        return f"{statistics.median(ts):.3f} s ({min(ts):.3f}-{max(ts):.3f})"

    lines = [
        f"# CLI benchmark: `haagenti` against `zstd` ({version})",
        "",
        f"{datetime.date.today().isoformat()}, {machine()}. Input: {size / 1e6:.1f} MB (the MiniLM weights, then the",
        "text corpus of tests/data); each program reads a file on standard input and writes to /dev/null.",
        f"Median wall time of {a.runs} alternating runs (compress: {max(3, a.runs // 3)}) after one warm-up, with the",
        "range over runs; peak resident memory (VmHWM) of the process in a separate run. Speed is zstd's time over ours (above 1: we are faster).",
        "Command: `scripts/bench-cli.py`.",
        "",
        "| operation | haagenti | zstd | speed vs zstd | haagenti memory | zstd memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, times, rss in rows:
        ratio = statistics.median(times["zstd"]) / statistics.median(times["haagenti"])
        lines.append(
            f"| {name} | {fmt(times['haagenti'])} | {fmt(times['zstd'])} | {ratio:.2f}x "
            f"| {rss['haagenti'] / 2**20:.1f} MiB | {rss['zstd'] / 2**20:.1f} MiB |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
