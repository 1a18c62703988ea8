#!/usr/bin/python3
"""export.py: export a trained checkpoint as a subtitled_ctc v1 streaming ONNX bundle.

    /usr/bin/python3 tools/demomodel/export.py --ckpt tools/demomodel/work/ckpt/best.pt \
        --out models/demo-en --chunk 32

Writes OUT/model.onnx (inputs x [N, S, 80] and the model's state tensors; outputs
log_probs [N, S/R, V] and the next states, in the same order; metadata per
docs/MODEL-BUNDLES.md) and OUT/tokens.txt. Before writing it checks in torch that
decoding chunk by chunk equals decoding the whole sequence, and it writes test
vectors to work/ortcheck/ so that the exported graph can be checked with ONNX Runtime
(tools/demomodel/ortcheck): a chunk sequence for a batch of streams (8 by default,
OC_N overrides) with the outputs of the trained torch model. The features are real
ones (validation utterances from work/feats/val) when that directory exists, else
random; the last chunk is half padding.

--graph matmul (the default for the conv model) exports model.MatMulConvCTC: the same
weights and states, with every convolution written as one Gemm over all the streams
of a batch (ONNX Runtime's CPU Conv loops over the batch). --graph conv exports the
training module's Conv1d graph as it is.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import TOKENS, MatMulConvCTC, StreamingConvCTC, build  # noqa: E402

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


def test_features(val, n, chunk, chunks=40):
    """n streams of features [n, chunks*chunk, 80] for the ORT test vectors, the last
    chunk ending in half a chunk of padding. Real features: stream i is the stretch of
    the first validation shard in val (its utterances run together) that starts at
    utterance 4i. Random features when val has no shard."""
    shards = sorted(f for f in os.listdir(val) if f.endswith(".pt")) if os.path.isdir(val) else []
    x = torch.full((n, chunks * chunk, 80), PAD_VALUE)
    m = chunks * chunk - chunk // 2
    if not shards:
        x[:, :m] = torch.randn(n, m, 80) * 3 - 8
        return x, "random"
    sh = torch.load(os.path.join(val, shards[0]))
    starts = [0] + torch.cumsum(sh["lens"], 0).tolist()
    for i in range(n):
        seg = sh["feats"][starts[4 * i]:starts[4 * i] + m].float()
        assert seg.shape[0] == m, f"{shards[0]} is too short for {n} streams of {chunks} chunks"
        x[i, :m] = seg
    return x, f"{shards[0]} of {val}, from utterances 0, 4, ..., {4 * (n - 1)}, run together"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(HERE, "work/ckpt/best.pt"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--comment", default="")
    ap.add_argument("--graph", choices=["matmul", "conv"], default="matmul",
                    help="ONNX graph of a conv model: Gemm form (default) or the training Conv1d form")
    ap.add_argument("--state-layout", choices=["channel", "time"], default="channel",
                    help="--graph matmul: caches [N, C, frames] as the Conv1d export (default) or "
                         "time-major [N, frames, C] (no Transposes in the graph)")
    ap.add_argument("--quant", choices=["none", "int8-row", "int8-tensor"], default="none",
                    help="int8 weights with dynamic int8 activations for the Gemms (quantize.py); "
                         "int8-row: one activation scale per row, batch-independent")
    ap.add_argument("--weight-bits", type=int, choices=[8, 7], default=8,
                    help="with --quant: 7 avoids int16 saturation in ONNX Runtime's AVX2 (non-VNNI) kernel")
    ap.add_argument("--contrib", action="store_true",
                    help="with --quant int8-row: ONNX Runtime's com.microsoft MatMulIntegerToFloat")
    ap.add_argument("--val", default=os.path.join(HERE, "work/feats/val"),
                    help="validation feature shards for the test vectors (random features if absent)")
    a = ap.parse_args()
    assert a.chunk % 4 == 0
    ck = torch.load(a.ckpt)
    model = build(ck.get("cfg", {}))
    model.load_state_dict(ck["model"])
    model.eval()
    torch.manual_seed(0)
    graph = model
    if a.graph == "matmul" and isinstance(model, StreamingConvCTC):
        graph = MatMulConvCTC(model, a.chunk, time_major_state=a.state_layout == "time").eval()

    # 1. streaming equals full-sequence inference (torch), for the trained module and
    # for the graph that is exported
    with torch.no_grad():
        x = torch.randn(3, a.chunk * 7, 80) * 3 - 8
        full = model.forward_full(x)
        for name, g in (("trained", model), ("exported", graph)):
            st = stream(g, x, a.chunk)
            d = (full - st).abs().max().item()
            print(f"torch {name} module streaming vs full: max abs diff {d:.2e}")
            assert d < 1e-4, d
            # any grouping: a batch of streams equals each stream alone
            one = stream(g, x[1:2], a.chunk)
            d1 = (one - st[1:2]).abs().max().item()
            print(f"torch {name} module batch-3 vs batch-1 stream: max abs diff {d1:.2e}")
            assert d1 < 1e-4, d1

    # 2. export
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "model.onnx")
    st0 = graph.initial_state(1)
    names = model.state_names()
    axes = model.state_batch_axes()
    xin = torch.zeros(1, a.chunk, 80)
    dyn = {"x": {0: "N"}, "log_probs": {0: "N"}}
    for n, ax in zip(names, axes):
        dyn[n] = {ax: "N"}
        dyn["next_" + n] = {ax: "N"}
    torch.onnx.export(
        Streamer(graph).eval(), (xin, *st0), path, opset_version=17,
        input_names=["x"] + names, output_names=["log_probs"] + ["next_" + n for n in names],
        dynamic_axes=dyn, do_constant_folding=True)
    import onnx
    m = onnx.load(path)
    if ck.get("cfg", {}).get("arch", "gru") == "conv":
        arch = (f"causal conv x4 subsampling + {len(model.dilations)} dilated causal conv blocks "
                f"({model.channels} channels)")
    else:
        arch = f"causal conv x{model.subsampling} + {model.layers}-layer GRU ({model.hidden})"
    quant_note = "" if a.quant == "none" else f", {a.weight_bits}-bit weights ({a.quant} dynamic activations)"
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
        "comment": a.comment or (f"subtitled demo-en: {arch}, character CTC{quant_note}, "
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
    if a.quant != "none":
        assert a.graph == "matmul", "--quant needs --graph matmul"
        from quantize import quantize
        k = quantize(m, a.quant.split("-")[1], a.weight_bits, contrib=a.contrib)
        if a.contrib:
            m.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
        print(f"quantised {k} Gemms: {a.quant}, {a.weight_bits}-bit weights per output column")
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
    # 3. test vectors for the ONNX Runtime check: batch OC_N (8), last chunk half padding;
    # the reference outputs come from the trained module, not the exported one
    vec = os.path.join(HERE, "work/ortcheck")
    os.makedirs(vec, exist_ok=True)
    for f in os.listdir(vec):
        if f.endswith(".f32"):
            os.remove(os.path.join(vec, f))
    x, source = test_features(a.val, int(os.environ.get("OC_N", "8")), a.chunk)
    print(f"test vectors: {x.shape[0]} streams x {x.shape[1] // a.chunk} chunks, {source}")
    with torch.no_grad():
        st = model.initial_state(x.shape[0])
        calls = []
        for c in range(x.shape[1] // a.chunk):
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
        json.dump({"model": os.path.abspath(path), "features": source, "calls": manifest}, f, indent=1)
    print(f"wrote ONNX Runtime test vectors to {vec}")


if __name__ == "__main__":
    main()
