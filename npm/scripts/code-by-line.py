#!/usr/bin/env python3
"""Where a wasm module's code bytes come from, by source function, inlining seen through.

Each function body of FILE.wasm (the rustc output, before wasm-bindgen and wasm-opt, built with
DWARF line tables) is sampled every STEP bytes; `addr2line -i` names the chain of inlined
frames at each sample, and the sample's bytes go to the innermost frame in one of our crates
(standard-library and dependency code inlined into ours counts as the caller's). Prints the
source functions with the most bytes, then each big function's share by source function, and
the source functions inlined into the most functions (the candidates for `#[inline(never)]`).

    cargo install addr2line --features "bin,object/wasm" --locked     # once
    CARGO_PROFILE_WASM_DECODE_DEBUG=line-tables-only \\
      RUSTFLAGS="--remap-path-prefix=$PWD=/haagenti" CARGO_TARGET_DIR=/tmp/dbg \\
      cargo build --target wasm32-unknown-unknown -p haagenti-wasm --profile wasm-decode --no-default-features
    python3 npm/scripts/code-by-line.py /tmp/dbg/wasm32-unknown-unknown/wasm-decode/haagenti_wasm.wasm

Sizes are of the rustc output; wasm-opt shrinks and re-inlines some of it, so they rank the
sources rather than give the shipped bytes (`twiggy top` on the shipped file does that).
"""
import collections
import subprocess
import sys

OURS = "/haagenti/crates/"


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def functions(b):
    """(name, start, end) of every function body, offsets from the code section's start."""
    i, imported, code, names = 8, 0, None, {}
    while i < len(b):
        sid = b[i]
        n, j = leb(b, i + 1)
        end = j + n
        if sid == 2:  # imports: count the functions, which come first in the index space
            cnt, k = leb(b, j)
            for _ in range(cnt):
                for _ in range(2):
                    ln, k = leb(b, k)
                    k += ln
                kind = b[k]
                k += 1
                if kind == 0:
                    _, k = leb(b, k)
                    imported += 1
                elif kind == 1:
                    k += 1
                    flags, k = leb(b, k)
                    _, k = leb(b, k)
                    if flags & 1:
                        _, k = leb(b, k)
                elif kind == 2:
                    flags, k = leb(b, k)
                    _, k = leb(b, k)
                    if flags & 1:
                        _, k = leb(b, k)
                elif kind == 3:
                    k += 2
                else:
                    k += 1
                    _, k = leb(b, k)
        elif sid == 10:
            code = (j, end)
        elif sid == 0:
            ln, k = leb(b, j)
            if b[k : k + ln] == b"name":
                k += ln
                while k < end:
                    sub = b[k]
                    sl, k = leb(b, k + 1)
                    if sub == 1:
                        cnt, q = leb(b, k)
                        for _ in range(cnt):
                            idx, q = leb(b, q)
                            l2, q = leb(b, q)
                            names[idx] = b[q : q + l2].decode("utf8", "replace")
                            q += l2
                    k += sl
        i = end
    if code is None:
        sys.exit("no code section")
    start, _ = code
    cnt, k = leb(b, start)
    out = []
    for f in range(cnt):
        size, body = leb(b, k)
        out.append((names.get(imported + f, f"func {imported + f}"), body - start, body + size - start))
        k = body + size
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path, step = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4
    funcs = [f for f in functions(open(path, "rb").read()) if "__wbindgen_describe" not in f[0]]
    samples = [(name, a) for name, s, e in funcs for a in range(s, e, step)]
    run = subprocess.run(
        ["addr2line", "-e", path, "-i", "-f", "-C", "-a"],
        input="".join(f"{a:#x}\n" for _, a in samples).encode(),
        capture_output=True,
        check=True,
    )
    frames, cur = [], None
    for line in run.stdout.decode("utf8", "replace").split("\n"):
        if line.startswith("0x"):
            if cur is not None:
                frames.append(cur)
            cur = []
        elif line and cur is not None:
            cur.append(line)
    frames.append(cur)
    by_source = collections.Counter()
    by_function = collections.defaultdict(collections.Counter)
    for (name, _), fr in zip(samples, frames):
        own = [(fn, fl) for fn, fl in zip(fr[0::2], fr[1::2]) if OURS in fl]
        key = f"{own[0][0]} @ {own[0][1].split(OURS)[1].rsplit(':', 1)[0]}" if own else f"[dependency] {fr[-2] if fr else '?'}"
        by_source[key] += step
        by_function[name][key] += step
    print(f"# {path}: {len(funcs)} functions, {len(samples) * step} bytes of code sampled every {step}")
    print("\n## bytes by source function")
    for key, n in by_source.most_common(40):
        print(f"{n:7} {key[:120]}")
    print("\n## the largest functions, by source function")
    for name in sorted(by_function, key=lambda f: -sum(by_function[f].values()))[:8]:
        print(f"{sum(by_function[name].values()):7} {name[:110]}")
        for key, n in by_function[name].most_common(8):
            print(f"        {n:6} {key[:110]}")
    print("\n## source functions inlined into the most functions")
    spread = collections.defaultdict(dict)
    for name, keys in by_function.items():
        for key, n in keys.items():
            spread[key][name] = n
    rows = sorted(((sum(v.values()), len(v), k) for k, v in spread.items() if len(v) > 1), reverse=True)
    for total, n, key in rows[:25]:
        print(f"{total:7} in {n:3} functions: {key[:100]}")


if __name__ == "__main__":
    main()
