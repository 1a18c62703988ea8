#!/usr/bin/python3
"""Generate the tone-alphabet fixture model (subtitled_ctc v1).

The model is a hand-built ONNX graph, no training: token k is "spoken" by a
pure tone at the centre frequency of mel band b(k). See README.md beside this
file for the design. Run with Debian's python3 (python3-onnx, python3-numpy):

    /usr/bin/python3 tools/tonemodel/gen_tone_model.py            # write everything
    /usr/bin/python3 tools/tonemodel/gen_tone_model.py --check    # also self-check on audio

Outputs (paths relative to the repository root):
    testdata/models/tone/{model.onnx,tokens.txt,bundle.yaml,tones.json}
    decoder/onnx/testdata/tone_golden.json   reference outputs of the numpy model
    decoder/onnx/testdata/variants/*.onnx    broken models for the validation tests
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# ---- the contract -----------------------------------------------------------

SAMPLE_RATE = 16000
FEATURE_DIM = 80          # kaldi fbank bins
CHUNK_FRAMES = 8          # T
CHUNK_SHIFT = 8           # S
SUBSAMPLING = 4           # R
PAD_VALUE = -15.9453      # ln(FLT_EPSILON): digital silence
OPSET = 13
LOOKAHEAD_EXTRA = 2       # frames of look-ahead of the "lookahead" test variant

# ---- the alphabet -------------------------------------------------------------

SYMBOLS = ["\u2581"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]
K = len(SYMBOLS)          # tone tokens (ids 1..K)
V = K + 1                 # + blank (id 0)
FIRST_BAND = 16           # 503 Hz
BAND_STEP = 2             # every 2nd mel band: neighbours never share a triangle
BANDS = [FIRST_BAND + BAND_STEP * i for i in range(K)]

# ---- the detector -------------------------------------------------------------

THRESHOLD = 8.0           # nats a band must rise above the background level
ALPHA_UP = 0.02           # background follows rising energy slowly ...
ALPHA_DOWN = 0.1          # ... and falling energy faster (per 10 ms frame)
HIST = 2                  # frames of SNR history carried to the next chunk
POOL = 5                  # output frame i pools frames [4i-2, 4i+3) around 4i
SCALE = 2.0               # logit scale

# ---- recommended synthesis (written to tones.json) ------------------------------

AMPLITUDE = 0.25
TONE_MS = 100
GAP_MS = 120
LEAD_IN_MS = 200
RAMP_MS = 5


def mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def inv_mel(m):
    return 700.0 * (np.exp(np.asarray(m, dtype=np.float64) / 1127.0) - 1.0)


def band_centres(nbins=FEATURE_DIM, low=20.0, high=SAMPLE_RATE / 2 - 400.0):
    ml, mh = mel(low), mel(high)
    d = (mh - ml) / (nbins + 1)
    return inv_mel(ml + d * (np.arange(nbins) + 1))


# ---- numpy reference of the graph ---------------------------------------------


def reference_step(x, bg, hist):
    """One call. x [N,T,F], bg [N,1] (background level), hist [HIST,N,K]."""
    x = x.astype(np.float64)
    xs = x[:, :, BANDS]                       # [N,T,K]
    m = x.mean(axis=2)                        # [N,T] mean band level
    mu = bg[:, 0].astype(np.float64).copy()
    snr = np.zeros((x.shape[0], CHUNK_SHIFT, K))
    for t in range(CHUNK_SHIFT):
        snr[:, t, :] = np.maximum(xs[:, t, :] - mu[:, None], 0.0)
        d = m[:, t] - mu
        mu = mu + ALPHA_UP * np.maximum(d, 0.0) - ALPHA_DOWN * np.maximum(-d, 0.0)
    full = np.concatenate([hist.transpose(1, 0, 2), snr], axis=1)   # frames cS-2 ..
    outs = CHUNK_SHIFT // SUBSAMPLING
    p = np.stack([full[:, SUBSAMPLING * i:SUBSAMPLING * i + POOL].max(axis=1)
                  for i in range(outs)], axis=1)                  # [N,outs,K]
    thr = np.full(p.shape[:2] + (1,), THRESHOLD)
    logits = SCALE * np.concatenate([thr, p], axis=2)
    mx = logits.max(axis=2, keepdims=True)
    lp = logits - mx - np.log(np.exp(logits - mx).sum(axis=2, keepdims=True))
    next_hist = full[:, CHUNK_SHIFT:CHUNK_SHIFT + HIST].transpose(1, 0, 2)
    return lp.astype(np.float32), mu[:, None].astype(np.float32), next_hist.astype(np.float32)


# ---- the ONNX graph -------------------------------------------------------------


class G:
    """Tiny graph-building helper: unique names, constants, nodes."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, p):
        self.n += 1
        return "%s_%d" % (p, self.n)

    def const(self, arr, dtype=np.float32, p="c"):
        n = self.name(p)
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), n))
        return n

    def op(self, typ, inputs, out=None, **attrs):
        out = out or self.name(typ.lower())
        self.nodes.append(helper.make_node(typ, inputs, [out], **attrs))
        return out

    def slice(self, x, start, end, axis):
        return self.op("Slice", [x, self.const([start], np.int64), self.const([end], np.int64),
                                 self.const([axis], np.int64)])


def build_model(meta_overrides=None, variant=None):
    """Build the ModelProto. variant injects one defect for the validation tests."""
    g = G()
    hist_frames = HIST + 1 if variant == "state_shape_mismatch" else HIST
    frames = CHUNK_FRAMES + LOOKAHEAD_EXTRA if variant == "lookahead" else CHUNK_FRAMES
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", frames, FEATURE_DIM])
    bg = helper.make_tensor_value_info("bg", TensorProto.FLOAT, ["N", 1])
    hist = helper.make_tensor_value_info("hist", TensorProto.FLOAT, [hist_frames, "N", K])
    inputs = [x, bg, hist]
    if variant == "state_count_mismatch":
        inputs.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, ["N", 3]))

    xin = "x"
    if variant == "lookahead":          # same model, but fed T+2 frames of which it uses T
        xin = g.slice("x", 0, CHUNK_FRAMES, 1)
    xs = g.op("Gather", [xin, g.const(BANDS, np.int64, "bands")], axis=2)        # [N,T,K]
    m = g.op("ReduceMean", [xin], axes=[2], keepdims=1)                           # [N,T,1]
    mu = g.op("Unsqueeze", ["bg", g.const([2], np.int64)])                        # [N,1,1]
    a_up, a_dn = g.const(ALPHA_UP), g.const(ALPHA_DOWN)
    snrs = []
    for t in range(CHUNK_SHIFT):
        xt = g.slice(xs, t, t + 1, 1)                                             # [N,1,K]
        mt = g.slice(m, t, t + 1, 1)                                              # [N,1,1]
        snrs.append(g.op("Relu", [g.op("Sub", [xt, mu])]))
        d = g.op("Sub", [mt, mu])
        up = g.op("Mul", [g.op("Relu", [d]), a_up])
        dn = g.op("Mul", [g.op("Relu", [g.op("Neg", [d])]), a_dn])
        mu = g.op("Sub", [g.op("Add", [mu, up]), dn])
    snr = g.op("Concat", snrs, axis=1)                                            # [N,S,K]
    hist_t = g.op("Transpose", ["hist"], perm=[1, 0, 2])                          # [N,H,K]
    full = g.op("Concat", [hist_t, snr], axis=1)                                  # [N,H+S,K]
    pooled = []
    for i in range(CHUNK_SHIFT // SUBSAMPLING):
        w = g.slice(full, SUBSAMPLING * i, SUBSAMPLING * i + POOL, 1)
        pooled.append(g.op("ReduceMax", [w], axes=[1], keepdims=1))
    p = g.op("Concat", pooled, axis=1)                                            # [N,S/R,K]
    shp = g.op("Shape", [p])
    bshape = g.op("Concat", [g.slice(shp, 0, 2, 0), g.const([1], np.int64)], axis=0)
    thr = g.op("Expand", [g.const([[[THRESHOLD]]]), bshape])                      # [N,S/R,1]
    logits = g.op("Mul", [g.op("Concat", [thr, p], axis=2), g.const(SCALE)])
    g.op("LogSoftmax", [logits], out="log_probs", axis=2)
    nh = g.slice(full, CHUNK_SHIFT, CHUNK_SHIFT + HIST, 1)
    g.op("Transpose", [nh], out="next_hist", perm=[1, 0, 2])
    if variant == "state_dtype_mismatch":
        sq = g.op("Squeeze", [mu, g.const([2], np.int64)])
        g.op("Cast", [sq], out="next_bg", to=TensorProto.DOUBLE)
        bg_type = TensorProto.DOUBLE
    else:
        g.op("Squeeze", [mu, g.const([2], np.int64)], out="next_bg")
        bg_type = TensorProto.FLOAT

    outputs = [
        helper.make_tensor_value_info("log_probs", TensorProto.FLOAT,
                                      ["N", CHUNK_SHIFT // SUBSAMPLING, V]),
        helper.make_tensor_value_info("next_bg", bg_type, ["N", 1]),
        helper.make_tensor_value_info("next_hist", TensorProto.FLOAT, [HIST, "N", K]),
    ]
    graph = helper.make_graph(g.nodes, "tone_alphabet", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="subtitled tools/tonemodel")
    model.ir_version = 7
    model.doc_string = ("Tone-alphabet fixture: token k <-> a tone at the centre of mel band "
                        "b(k); see tools/tonemodel/README.md.")
    meta = metadata()
    for k, v in (meta_overrides or {}).items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def metadata():
    return {
        "model_type": "subtitled_ctc",
        "contract_version": "1",
        "feature_type": "kaldi_fbank",
        "feature_dim": str(FEATURE_DIM),
        "sample_rate": str(SAMPLE_RATE),
        "chunk_frames": str(CHUNK_FRAMES),
        "chunk_shift": str(CHUNK_SHIFT),
        "subsampling_factor": str(SUBSAMPLING),
        "blank_id": "0",
        "state_batch_axes": "0,1",
        "pad_value": str(PAD_VALUE),
        "vocab_size": str(V),
        "comment": "tone-alphabet fixture model, generated by tools/tonemodel (no training)",
    }


VARIANTS = {
    # name: (metadata overrides, graph variant)
    "wrong_model_type": ({"model_type": "zipformer2"}, None),
    "no_model_type": ({"model_type": None}, None),
    "bad_contract_version": ({"contract_version": "2"}, None),
    "feature_dim_mismatch": ({"feature_dim": "40"}, None),
    "chunk_frames_mismatch": ({"chunk_frames": "16", "chunk_shift": "16"}, None),
    "shift_not_multiple": ({"chunk_shift": "6", "chunk_frames": "8"}, None),
    "shift_over_frames": ({"chunk_shift": "12"}, None),
    "missing_batch_axes": ({"state_batch_axes": None}, None),
    "batch_axes_count": ({"state_batch_axes": "0"}, None),
    "batch_axis_range": ({"state_batch_axes": "0,3"}, None),
    "batch_axis_fixed_dim": ({"state_batch_axes": "0,2"}, None),
    "vocab_size_mismatch": ({"vocab_size": "30"}, None),
    "bad_feature_type": ({"feature_type": "nemo_mel"}, None),
    "state_count_mismatch": ({"state_batch_axes": "0,1,0"}, "state_count_mismatch"),
    "state_shape_mismatch": ({}, "state_shape_mismatch"),
    "state_dtype_mismatch": ({}, "state_dtype_mismatch"),
    # A valid model: the tone model with 2 frames of (ignored) look-ahead.
    "lookahead": ({"chunk_frames": str(CHUNK_FRAMES + LOOKAHEAD_EXTRA)}, "lookahead"),
}


# ---- files ------------------------------------------------------------------------


def tones_table():
    centres = band_centres()
    return [{"id": i + 1, "symbol": s, "band": b, "hz": round(float(centres[b]), 1)}
            for i, (s, b) in enumerate(zip(SYMBOLS, BANDS))]


def write_bundle(out):
    os.makedirs(out, exist_ok=True)
    onnx.save(build_model(), os.path.join(out, "model.onnx"))
    with open(os.path.join(out, "tokens.txt"), "w", encoding="utf-8") as f:
        f.write("<blk> 0\n")
        for i, s in enumerate(SYMBOLS):
            f.write("%s %d\n" % (s, i + 1))
    with open(os.path.join(out, "bundle.yaml"), "w", encoding="utf-8") as f:
        f.write("# Tone-alphabet fixture model: generated by tools/tonemodel/gen_tone_model.py.\n"
                "# Not a speech model: it spells text from pure tones (see tones.json).\n"
                "name: tone-alphabet\nlanguage: en\nmodel: model.onnx\ntokens: tokens.txt\n")
    table = {
        "comment": "Token -> tone table of the tone-alphabet fixture model. A token is a pure "
                   "tone at hz (the centre of kaldi fbank mel band `band`, 0-based, 80 bins, "
                   "20..7600 Hz). Spell text as letter tones separated by silence; a repeated "
                   "letter needs the gap. Generated by tools/tonemodel/gen_tone_model.py.",
        "sample_rate": SAMPLE_RATE,
        "feature_dim": FEATURE_DIM,
        "amplitude": AMPLITUDE,
        "tone_ms": TONE_MS,
        "gap_ms": GAP_MS,
        "lead_in_ms": LEAD_IN_MS,
        "ramp_ms": RAMP_MS,
        "word_break": "\u2581",
        "threshold_nats": THRESHOLD,
        "tokens": tones_table(),
    }
    tokens = table.pop("tokens")
    head = json.dumps(table, ensure_ascii=False, indent=1)[:-2]
    rows = ",\n  ".join(json.dumps(t, ensure_ascii=False) for t in tokens)
    with open(os.path.join(out, "tones.json"), "w", encoding="utf-8") as f:
        f.write('%s,\n "tokens": [\n  %s\n ]\n}\n' % (head, rows))


def write_variants(out):
    os.makedirs(out, exist_ok=True)
    for name, (meta, variant) in sorted(VARIANTS.items()):
        onnx.save(build_model(meta, variant), os.path.join(out, name + ".onnx"))


def rounded(a, digits):
    return [round(float(v), digits) for v in np.asarray(a).ravel()]


def write_golden(path, seed=7, calls=5, n=2):
    """Random-ish inputs through the numpy reference, for the Go/ORT comparison."""
    rng = np.random.default_rng(seed)
    bg = np.zeros((n, 1), np.float32)
    hist = np.zeros((HIST, n, K), np.float32)
    steps = []
    for c in range(calls):
        x = rng.uniform(-16, -6, size=(n, CHUNK_FRAMES, FEATURE_DIM)).astype(np.float32)
        for s in range(n):              # some tones so that tokens win now and then
            for t in range(CHUNK_FRAMES):
                if rng.random() < 0.5:
                    x[s, t, BANDS[rng.integers(K)]] = rng.uniform(0, 8)
        x = np.round(x, 3)
        lp, bg2, hist2 = reference_step(x, bg, hist)
        steps.append({"x": rounded(x, 3), "log_probs": rounded(lp, 5),
                      "next_bg": rounded(bg2, 5), "next_hist": rounded(hist2, 5)})
        bg, hist = bg2, hist2
    with open(path, "w") as f:
        json.dump({"comment": "numpy reference outputs of the tone model "
                              "(tools/tonemodel/gen_tone_model.py write_golden); "
                              "state layout: bg [N,1], hist [2,N,K]",
                   "batch": n, "steps": steps}, f)
        f.write("\n")


# ---- self-check on real audio (numpy kaldi fbank, MODEL-CONTRACT §3.1) --------------


def fbank(x):
    nfft, shift, length = 512, 160, 400
    centres_mel = mel(band_centres())
    ml, mh = mel(20.0), mel(SAMPLE_RATE / 2 - 400.0)
    d = (mh - ml) / (FEATURE_DIM + 1)
    fk = mel(np.arange(nfft // 2) * SAMPLE_RATE / nfft)
    w = np.zeros((FEATURE_DIM, nfft // 2))
    for b in range(FEATURE_DIM):
        left, c, right = centres_mel[b] - d, centres_mel[b], centres_mel[b] + d
        tri = np.minimum((fk - left) / (c - left), (right - fk) / (right - c))
        w[b] = np.where((fk > left) & (fk < right), np.maximum(tri, 0.0), 0.0)
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / (length - 1))) ** 0.85
    n = len(x)
    nf = int(round(n / shift))
    out = np.zeros((nf, FEATURE_DIM))
    for f in range(nf):
        idx = np.arange(shift * f + shift // 2 - length // 2, shift * f + shift // 2 + length // 2)
        idx = np.where(idx < 0, -idx - 1, idx)
        idx = np.where(idx >= n, 2 * n - 1 - idx, idx)
        fr = x[idx].astype(np.float64)
        fr = fr - fr.mean()
        pe = fr.copy()
        pe[1:] = fr[1:] - 0.97 * fr[:-1]
        pe[0] = fr[0] - 0.97 * fr[0]
        spec = np.abs(np.fft.rfft(pe * win, nfft))[: nfft // 2] ** 2
        out[f] = np.log(np.maximum(w @ spec, np.finfo(np.float32).eps))
    return out


def synth(text, amp=AMPLITUDE, tone_ms=TONE_MS, gap_ms=GAP_MS, lead_ms=LEAD_IN_MS):
    hz = {t["symbol"]: t["hz"] for t in tones_table()}
    out, onsets, pos = [np.zeros(lead_ms * 16)], [], lead_ms * 16
    n, ramp = tone_ms * 16, RAMP_MS * 16
    env = np.ones(n)
    env[:ramp] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    env[-ramp:] = env[:ramp][::-1]
    for ch in text:
        sym = "\u2581" if ch == " " else ch
        onsets.append((sym, pos / 16.0))
        out.append(amp * env * np.sin(2 * np.pi * hz[sym] * np.arange(n) / SAMPLE_RATE))
        out.append(np.zeros(gap_ms * 16))
        pos += n + gap_ms * 16
    out.append(np.zeros(LEAD_IN_MS * 16))
    return np.concatenate(out), onsets


def decode(feats, reset_each_chunk=False):
    L = feats.shape[0]
    calls = -(-L // CHUNK_SHIFT)
    pad = np.full((calls * CHUNK_SHIFT + CHUNK_FRAMES, FEATURE_DIM), PAD_VALUE)
    pad[:L] = feats
    bg, hist = np.zeros((1, 1), np.float32), np.zeros((HIST, 1, K), np.float32)
    ids = []
    for c in range(calls):
        if reset_each_chunk:
            bg, hist = np.zeros_like(bg), np.zeros_like(hist)
        x = pad[c * CHUNK_SHIFT:c * CHUNK_SHIFT + CHUNK_FRAMES][None].astype(np.float32)
        lp, bg, hist = reference_step(x, bg, hist)
        ids.extend(int(i) for i in lp[0].argmax(axis=1))
    text, emitted, prev = "", [], 0
    for i, k in enumerate(ids):
        if k != prev and k != 0:
            s = SYMBOLS[k - 1]
            text += " " if s == "\u2581" else s
            emitted.append((s, i * SUBSAMPLING * 10.0))
        prev = k
    return text.strip(), emitted


def margins():
    centres = band_centres()
    worst, levels = 1e9, []
    for b in BANDS:
        t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
        f = fbank(AMPLITUDE * np.sin(2 * np.pi * round(centres[b], 1) * t))[20:80].mean(axis=0)
        worst = min(worst, f[b] - max(f[o] for o in BANDS if o != b))
        levels.append(f[b])
    return worst, min(levels), max(levels)


def self_check():
    worst, lo, hi = margins()
    print("steady tones at amplitude %.2f: band level %.2f..%.2f nats, worst margin over "
          "the other token bands %.2f nats" % (AMPLITUDE, lo, hi, worst))
    ok = True
    rng = np.random.default_rng(3)
    for text in ["hello world", "the quick brown fox jumps over the lazy dog", "don't"]:
        for amp, noise in [(AMPLITUDE, 0.0), (0.05, 0.0), (0.8, 0.0), (AMPLITUDE, 0.003)]:
            audio, onsets = synth(text, amp=amp)
            audio = audio + noise * rng.standard_normal(len(audio))
            got, emitted = decode(fbank(audio))
            errs = [e[1] - o[1] for e, o in zip(emitted, onsets)]
            good = got == text and len(emitted) == len(onsets) and max(map(abs, errs)) <= 30
            ok &= good
            print("%-4s amp %.2f noise %.3f: %r  onset error %+.0f..%+.0f ms" % (
                "ok" if good else "FAIL", amp, noise, got,
                min(errs) if errs else 0, max(errs) if errs else 0))
        got, _ = decode(fbank(synth(text)[0]), reset_each_chunk=True)
        print("     state reset every chunk: %r (must differ)" % got)
        ok &= got != text
    return ok


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "testdata", "models", "tone"))
    ap.add_argument("--testdata", default=os.path.join(root, "decoder", "onnx", "testdata"))
    ap.add_argument("--check", action="store_true", help="self-check on synthesised audio")
    args = ap.parse_args()
    write_bundle(args.out)
    write_variants(os.path.join(args.testdata, "variants"))
    write_golden(os.path.join(args.testdata, "tone_golden.json"))
    print("wrote %s, %s" % (args.out, args.testdata))
    if args.check and not self_check():
        print("self-check FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
