#!/usr/bin/python3
"""export.py: export a trained checkpoint as a subtitled_ctc v1 streaming ONNX bundle.

    /usr/bin/python3 tools/demomodel/export.py --ckpt tools/demomodel/work/ckpt/best.pt \
        --out models/demo-en --chunk 32

Writes OUT/model.onnx (inputs x [N, S, 80] and the model's state tensors; outputs
log_probs [N, S/R, V] and the next states, in the same order; metadata per
docs/MODEL-BUNDLES.md) and OUT/tokens.txt. Before writing it checks in torch that
decoding chunk by chunk equals decoding the whole sequence, and it writes test
vectors (a random chunk sequence, batch 3, with the torch outputs) to
work/ortcheck/ so that the exported graph can be checked with ONNX Runtime
(tools/demomodel/ortcheck).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import TOKENS, build  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PAD_VALUE = -15.9453


class Streamer(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x, *states):
        return self.m.forward_stream(x, *states)


def stream(model, x, chunk):
    """Run x [N, T, F] (T a multiple of chunk) chunk by chunk with explicit state."""
    st = model.initial_state(x.shape[0])
    outs = []
    for c in range(x.shape[1] // chunk):
        o, *st = model.forward_stream(x[:, c * chunk:(c + 1) * chunk], *st)
        outs.append(o)
    return torch.cat(outs, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(HERE, "work/ckpt/best.pt"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--comment", default="")
    a = ap.parse_args()
    assert a.chunk % 4 == 0
    ck = torch.load(a.ckpt)
    model = build(ck.get("cfg", {}))
    model.load_state_dict(ck["model"])
    model.eval()
    torch.manual_seed(0)

    # 1. streaming equals full-sequence inference (torch)
    with torch.no_grad():
        x = torch.randn(3, a.chunk * 7, 80) * 3 - 8
        full = model.forward_full(x)
        st = stream(model, x, a.chunk)
        d = (full - st).abs().max().item()
        print(f"torch streaming vs full: max abs diff {d:.2e}")
        assert d < 1e-4, d
        # any grouping: a batch of streams equals each stream alone
        one = stream(model, x[1:2], a.chunk)
        d1 = (one - st[1:2]).abs().max().item()
        print(f"torch batch-3 vs batch-1 stream: max abs diff {d1:.2e}")
        assert d1 < 1e-4, d1

    # 2. export
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "model.onnx")
    st0 = model.initial_state(1)
    names = model.state_names()
    axes = model.state_batch_axes()
    xin = torch.zeros(1, a.chunk, 80)
    dyn = {"x": {0: "N"}, "log_probs": {0: "N"}}
    for n, ax in zip(names, axes):
        dyn[n] = {ax: "N"}
        dyn["next_" + n] = {ax: "N"}
    torch.onnx.export(
        Streamer(model).eval(), (xin, *st0), path, opset_version=17,
        input_names=["x"] + names, output_names=["log_probs"] + ["next_" + n for n in names],
        dynamic_axes=dyn, do_constant_folding=True)
    import onnx
    m = onnx.load(path)
    if ck.get("cfg", {}).get("arch", "gru") == "conv":
        arch = (f"causal conv x4 subsampling + {len(model.dilations)} dilated causal conv blocks "
                f"({model.channels} channels)")
    else:
        arch = f"causal conv x{model.subsampling} + {model.layers}-layer GRU ({model.hidden})"
    meta = {
        "model_type": "subtitled_ctc",
        "contract_version": "1",
        "feature_type": "kaldi_fbank",
        "feature_dim": "80",
        "sample_rate": "16000",
        "chunk_frames": str(a.chunk),
        "chunk_shift": str(a.chunk),
        "subsampling_factor": str(model.subsampling),
        "blank_id": "0",
        "state_batch_axes": ",".join(str(x) for x in axes),
        "pad_value": str(PAD_VALUE),
        "vocab_size": str(len(TOKENS)),
        "language": "en",
        "demo": "true",
        "comment": a.comment or (f"subtitled demo-en: {arch}, character CTC, "
                                 "trained on synthetic speech only (espeak-ng, flite, festival)"),
    }
    # pin every non-batch dimension of the outputs (the contract wants fixed state shapes)
    fixed = {"log_probs": [None, a.chunk // model.subsampling, len(TOKENS)]}
    for n, ax, t in zip(names, axes, st0):
        shape = list(t.shape)
        shape[ax] = None
        fixed["next_" + n] = shape
    for o in m.graph.output:
        for d, v in zip(o.type.tensor_type.shape.dim, fixed[o.name]):
            if v is None:
                d.dim_param = "N"
            else:
                d.dim_value = int(v)
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)
    with open(os.path.join(a.out, "tokens.txt"), "w") as f:
        for i, t in enumerate(TOKENS):
            f.write(f"{t} {i}\n")
    print(f"wrote {path} ({os.path.getsize(path)/1e6:.2f} MB) and tokens.txt")
    for i in m.graph.input:
        print("  input", i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
    for o in m.graph.output:
        print("  output", o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim])

    model.eval()  # export restores the wrapper's mode; the vectors must be inference mode
    # 3. test vectors for the ONNX Runtime check: 5 chunks, batch 3, last chunk padded
    vec = os.path.join(HERE, "work/ortcheck")
    os.makedirs(vec, exist_ok=True)
    with torch.no_grad():
        x = torch.randn(int(os.environ.get("OC_N", "3")), a.chunk * 5, 80) * 3 - 8
        x[:, -a.chunk // 2:] = PAD_VALUE
        st = model.initial_state(x.shape[0])
        calls = []
        for c in range(5):
            xi = x[:, c * a.chunk:(c + 1) * a.chunk]
            ins = [xi] + list(st)
            o, *st = model.forward_stream(xi, *st)
            calls.append({"inputs": ins, "outputs": [o] + list(st)})
    manifest = []
    for c, call in enumerate(calls):
        ent = {"inputs": [], "outputs": []}
        for kind in ("inputs", "outputs"):
            for j, t in enumerate(call[kind]):
                fn = f"call{c}_{kind}{j}.f32"
                t.numpy().astype("<f4").tofile(os.path.join(vec, fn))
                ent[kind].append({"file": fn, "shape": list(t.shape)})
        manifest.append(ent)
    with open(os.path.join(vec, "manifest.json"), "w") as f:
        json.dump({"model": os.path.abspath(path), "calls": manifest}, f, indent=1)
    print(f"wrote ONNX Runtime test vectors to {vec}")


if __name__ == "__main__":
    main()
