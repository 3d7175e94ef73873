#!/usr/bin/env python3
"""An independent all-MiniLM-L6-v2 sentence-embedding forward pass in numpy (BERT, mean pooling
over the attention mask, L2 normalization), written from the BERT architecture, to check the
benchmark's candle forward pass. Writes data/reference_embeddings.json: the embeddings of the
first few sentences of token_ids.json, each run alone (no padding).

    python3 -m pip install numpy
    python3 data/reference.py [~/.cache/haagenti/minilm/model.safetensors]
"""
import json
import math
import os
import struct
import sys

# data/tokenize.py would shadow the standard library's tokenize module, which numpy imports.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
import numpy as np  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/haagenti/minilm/model.safetensors")
COUNT = 6

with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
W = {}
for name, v in header.items():
    if name == "__metadata__" or v["dtype"] != "F32":
        continue
    a, b = v["data_offsets"]
    W[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).astype(np.float64)

erf = np.vectorize(math.erf)


def layer_norm(x, p, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * W[p + ".weight"] + W[p + ".bias"]


def dense(x, p):
    return x @ W[p + ".weight"].T + W[p + ".bias"]


def embed(ids):
    t = len(ids)
    x = W["embeddings.word_embeddings.weight"][ids]
    x = x + W["embeddings.position_embeddings.weight"][:t] + W["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, "embeddings.LayerNorm")
    heads, d = 12, 32
    for i in range(6):
        p = "encoder.layer.%d." % i
        q = dense(x, p + "attention.self.query").reshape(t, heads, d).transpose(1, 0, 2)
        k = dense(x, p + "attention.self.key").reshape(t, heads, d).transpose(1, 0, 2)
        v = dense(x, p + "attention.self.value").reshape(t, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(t, heads * d)
        x = layer_norm(dense(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = dense(x, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = layer_norm(dense(h, p + "output.dense") + x, p + "output.LayerNorm")
    e = x.mean(0)
    return e / np.linalg.norm(e)


with open(os.path.join(here, "token_ids.json"), encoding="utf-8") as f:
    tok = json.load(f)
out = {"model": "all-MiniLM-L6-v2 model.safetensors", "first": COUNT,
       "embeddings": [[round(float(x), 7) for x in embed(ids)] for ids in tok["ids"][:COUNT]]}
with open(os.path.join(here, "reference_embeddings.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print("first 8 dims of sentence 0:", [round(x, 4) for x in out["embeddings"][0][:8]])
