#!/usr/bin/python3
"""Generate the NeMo cache-aware streaming FastConformer fixture bundles (CTC, RNNT, Nemotron).

Each bundle is hand-built with exactly the input/output names, dtypes, ranks and order
and the metadata keys that ../shared/reference/MODEL-CONTRACT.md section 2 gives for
sherpa-onnx's NeMo exports (2.1 metadata, 2.2 encoder/decoder/joiner, 2.4 CTC, 2.5
Nemotron). Only dims that the metadata drives are small (layers, cache sizes, d_model,
prediction network, vocabulary); feature dims (80 / 128), subsampling (8) and the
window/shift arithmetic are the real ones. Weights are designed, not trained: see
README.md beside this file.

Run with Debian's python3 (python3-onnx, python3-numpy); the output is byte-for-byte
deterministic:

    /usr/bin/python3 tools/familymodels/gen_nemo.py

Outputs (paths relative to the repository root):
    testdata/models/families/nemo_sounds.json                  the sound -> token table
    testdata/models/families/nemo_ctc/{model.onnx,tokens.txt,bundle.yaml}
    testdata/models/families/{nemo_transducer,nemotron}/{encoder,decoder,joiner}.onnx, ...
    decoder/onnx/testdata/families/nemo_*.onnx                 broken variants for the tests
"""

import json
import os
import sys

import numpy as np
from onnx import TensorProto

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_transducers as base  # noqa: E402  (shared graph helpers and state logic)
from gen_transducers import Graph, finish, save, value_info  # noqa: E402

SUBSAMPLING = 8           # NeMo FastConformer: 80 ms output frames
PICK = 4                  # output frame t codes feature frame P + 8t + PICK of the window
SILENCE = base.SILENCE
THRESHOLD = base.THRESHOLD
FIRST_BAND, BAND_STEP = 10, 2

UNIT = 8.0
TOKEN_W = 20.0
TOKEN_BASE = -10.0

# ---- vocabulary: SentencePiece-like, cased and punctuated, blank last -------------

TOKENS = [
    "<unk>", "\u2581The", "\u2581cat", "s", "\u2581sat", "\u2581on", "\u2581a", "\u2581mat",
    "\u2581ha", ",", "\u2581New", "\u2581York", ".", "\u2581caf", "<0xC3>", "<0xA9>", "\u2581",
    "<blk>",
]
V = len(TOKENS)
BLANK = V - 1             # NeMo: blank is the last id (vocab_size + 1 classes)
VOCAB_SIZE = V - 1        # the metadata's vocab_size excludes blank
ID = {t: i for i, t in enumerate(TOKENS)}

NAMES = {"<unk>": "UNK", ",": "COMMA", ".": "PERIOD", "\u2581": "SPACE"}
SOUNDS = []
for tid in range(BLANK):
    t = TOKENS[tid]
    name = NAMES.get(t) or t.lstrip("\u2581").upper().replace("<0X", "BYTE_").replace(">", "")
    SOUNDS.append({"name": name, "token": t})
# DITTO1 doubles the newest emitted token (once); NEW_YORK emits two tokens in one frame.
SOUNDS.append({"name": "DITTO1", "ditto": 1})
SOUNDS.append({"name": "NEW_YORK", "tokens": ["\u2581New", "\u2581York"]})
for c, s in enumerate(SOUNDS, start=1):
    s["class"] = c
    s["band"] = FIRST_BAND + BAND_STEP * (c - 1)
K = len(SOUNDS)
BANDS = [s["band"] for s in SOUNDS]
CLASS_OF = {s["name"]: s["class"] for s in SOUNDS}
DITTO_TOKENS = list(range(BLANK))   # every token but blank can be doubled

# ---- families ----------------------------------------------------------------------

AUTHOR = "subtitled (generated fixture, not trained)"
FAMILIES = {
    # stt_en_fastconformer_hybrid_large_streaming_480ms-like CTC branch.
    "nemo_ctc": {
        "feat_dim": 80, "window": 57, "shift": 48, "layers": 2, "cache": 10, "d_model": 24,
        "conv": 4,
        "meta": {"model_type": "EncDecHybridRNNTCTCBPEModel", "model_author": AUTHOR,
                 "comment": "NeMo cache-aware FastConformer CTC fixture: tools/familymodels"},
    },
    # stt_en_fastconformer_hybrid_large_streaming_80ms-like transducer branch.
    "nemo_transducer": {
        "feat_dim": 80, "window": 17, "shift": 8, "layers": 2, "cache": 6, "d_model": 24,
        "conv": 4, "pred_layers": 2, "pred_hidden": 40,
        "meta": {"model_type": "EncDecHybridRNNTCTCBPEModel", "model_author": AUTHOR,
                 "comment": "NeMo cache-aware FastConformer RNNT fixture: tools/familymodels"},
    },
    # nemotron-speech-streaming-en-0.6b, 560 ms chunks, 128-bin features.
    "nemotron": {
        "feat_dim": 128, "window": 65, "shift": 56, "layers": 3, "cache": 8, "d_model": 20,
        "conv": 3, "pred_layers": 2, "pred_hidden": 40, "chunk_size_ms": 56 * 10,
        "meta": {"model_type": "EncDecRNNTBPEModel", "model_author": AUTHOR,
                 "comment": "Nemotron speech streaming (cache-aware FastConformer RNNT) fixture: "
                            "tools/familymodels"},
    },
}


def metadata(family, variant=None):
    f = FAMILIES[family]
    meta = dict(f["meta"])
    meta.update({
        "vocab_size": str(VOCAB_SIZE),
        "window_size": str(f["window"]),
        "chunk_shift": str(f["shift"]),
        "subsampling_factor": str(SUBSAMPLING),
        "normalize_type": "",
        "cache_last_channel_dim1": str(f["layers"]),
        "cache_last_channel_dim2": str(f["cache"]),
        "cache_last_channel_dim3": str(f["d_model"]),
        "cache_last_time_dim1": str(f["layers"]),
        "cache_last_time_dim2": str(f["d_model"]),
        "cache_last_time_dim3": str(f["conv"]),
        "feat_dim": str(f["feat_dim"]),
    })
    if "pred_layers" in f:
        meta["pred_rnn_layers"] = str(f["pred_layers"])
        meta["pred_hidden"] = str(f["pred_hidden"])
    if "chunk_size_ms" in f:
        meta["chunk_size_ms"] = str(f["chunk_size_ms"])
    if variant == "inconsistent_metadata":
        meta["chunk_size_ms"] = "160"          # says 16 frames per step, chunk_shift says 56
    if variant == "per_feature":
        meta["normalize_type"] = "per_feature"
    return meta


def encoder_states(f):
    """The encoder's cache tensors in input order (MODEL-CONTRACT 2.2), in the state
    format of gen_transducers: batch axis 0 for all three."""
    L, C, D, Kc = f["layers"], f["cache"], f["d_model"], f["conv"]
    return [
        {"name": "cache_last_channel", "out": "cache_last_channel_next",
         "shape": ["N", L, C, D], "axis": 0, "time": 2, "kind": "fifo",
         "dtype": TensorProto.FLOAT, "cap": None},
        {"name": "cache_last_time", "out": "cache_last_time_next",
         "shape": ["N", L, D, Kc], "axis": 0, "time": 3, "kind": "fifo",
         "dtype": TensorProto.FLOAT, "cap": None},
        {"name": "cache_last_channel_len", "out": "cache_last_channel_next_len",
         "shape": ["N"], "axis": 0, "time": None, "kind": "counter",
         "dtype": TensorProto.INT64, "cap": C},
    ]


# ---- encoder -------------------------------------------------------------------------


def build_encoder(family, head, variant=None):
    """NeMo cache-aware encoder. head "ctc": output 0 is the CTC log-probs [N, T', V]
    (2.4); head "rnnt": output 0 is the encoder output [N, d_model, T'] (2.2)."""
    f = FAMILIES[family]
    F, W, S = f["feat_dim"], f["window"], f["shift"]
    P = W - S                                  # the pre-encode cache at the window start
    n = S // SUBSAMPLING                       # T'
    D = f["d_model"]
    states = encoder_states(f)
    g = Graph("enc")

    fin = 40 if variant == "wrong_feature_dim" else F
    inputs = [value_info("audio_signal", TensorProto.FLOAT,
                         ["audio_signal_dynamic_axes_1", fin, "audio_signal_dynamic_axes_2"]),
              value_info("length", TensorProto.INT64, ["length_dynamic_axes_1"])]
    for st in states:
        inputs.append(value_info(st["name"], st["dtype"], st["shape"]))

    # Code of output frame t: the sound whose band is above threshold (the loudest) in
    # feature frame P + 8t + PICK of the window, 0 for none.
    picks = [P + SUBSAMPLING * t + PICK for t in range(n)]
    xt = g.node("Gather", ["audio_signal", g.const(picks, np.int64, "picks")], axis=2)  # [N,F,T']
    xb = g.node("Gather", [xt, g.const(BANDS, np.int64, "bands")], axis=1)             # [N,K,T']
    xb = g.node("Transpose", [xb], perm=[0, 2, 1])                                     # [N,T',K]
    thr = g.node("Add", [g.node("Mul", [g.slice(xb, 0, 1, 2), g.const(0.0)]), g.const(THRESHOLD)])
    code = g.node("ArgMax", [g.node("Concat", [thr, xb], axis=2)], axis=2, keepdims=0)  # [N,T']
    codef = g.node("Cast", [code], to=TensorProto.FLOAT)

    # A sound is emitted when it ends: at the first frame whose code differs from the
    # previous frame's non-zero code. For frame 0 the previous code comes from the caches.
    prev = base.previous_code(g, states)
    prevseq = base.previous_sequence(g, prev, codef, n)
    offset = g.node("And", [g.node("Not", [g.node("Equal", [codef, prevseq])]),
                            g.node("Greater", [prevseq, g.const(0.0)])])
    emit = g.node("Cast", [g.node("Mul", [prevseq, g.node("Cast", [offset], to=TensorProto.FLOAT)])],
                  to=TensorProto.INT64)                                                 # [N,T']

    if head == "ctc":
        vocab = V + 4 if variant == "vocab_too_large" else V
        logits = g.node("Gather", [g.const(ctc_table(vocab), stem="offset_logits"), emit], axis=0)
        g.node("LogSoftmax", [logits], out="logprobs", axis=2)                        # [N,T',V]
        outputs = [value_info("logprobs", TensorProto.FLOAT, ["N", n, vocab])]
    else:
        e = g.node("Gather", [g.const(encoder_table(D), stem="offset_embedding"), emit], axis=0)
        g.node("Transpose", [e], out="outputs", perm=[0, 2, 1])                        # [N,D,T']
        outputs = [value_info("outputs", TensorProto.FLOAT, ["N", D, n])]
    # encoded_lengths: T' for every stream.
    g.node("Add", [g.node("Mul", ["length", g.const(0, np.int64)]), g.const(n, np.int64)],
           out="encoded_lengths")
    outputs.append(value_info("encoded_lengths", TensorProto.INT64, ["N"]))
    skip = states[0] if variant == "missing_state_output" else None
    outputs += base.update_states(g, states, codef, n, n, skip)

    meta = metadata(family, variant)
    return finish(g, "%s_encoder" % family, inputs, outputs, meta,
                  "subtitled fixture: %s cache-aware streaming encoder (designed weights, "
                  "see tools/familymodels/README.md)" % family)


def ctc_table(vocab):
    """Row c (sound class, 0 = none) is the CTC logits when sound c ends: its token at
    +10, blank at 0, every other token at -10. DITTO1 and NEW_YORK, which need a
    prediction network, give blank."""
    table = np.full((K + 1, vocab), TOKEN_BASE, np.float32)
    table[:, BLANK] = 0.0
    for s in SOUNDS:
        if "token" in s:
            table[s["class"], ID[s["token"]]] = -TOKEN_BASE
    if vocab > V:
        table[CLASS_OF["THE"], V + 2] = -TOKEN_BASE + 1.0
    return table


def encoder_table(d_model):
    """Row c is the encoder output when sound c ends: one-hot of c (dim c-1)."""
    assert d_model >= K
    table = np.zeros((K + 1, d_model), np.float32)
    for c in range(1, K + 1):
        table[c, c - 1] = 1.0
    return table


# ---- prediction network and joiner --------------------------------------------------


def build_decoder(family, variant=None):
    """NeMo RNNT prediction network I/O (2.2) with a designed 'LSTM': the state keeps the
    one-hot of the newest token fed (layer 0) and of the one before (layer 1), in both h
    and c. The output is [newest, older] one-hots (blank embeds to zero, as NeMo's
    blank-as-pad); older is read as min(h[0], c[0]), so it is lost unless both states
    are fed back."""
    f = FAMILIES[family]
    L, H = f["pred_layers"], f["pred_hidden"]
    assert L >= 2 and H >= 2 * V
    g = Graph("dec")
    emb = np.eye(V, H, dtype=np.float32)
    emb[BLANK] = 0.0
    y = g.node("Cast", [g.node("Reshape", ["targets", g.ints([-1])])], to=TensorProto.INT64)  # [N]
    newest = g.node("Gather", [g.const(emb, stem="embedding"), y], axis=0)                  # [N,H]
    h0 = g.node("Reshape", [g.slice("states.1", 0, 1, 0), g.ints([-1, H])])
    c0 = g.node("Reshape", [g.slice("onnx::LSTM_3", 0, 1, 0), g.ints([-1, H])])
    older = g.node("Min", [h0, c0])                                                          # [N,H]
    layers = [g.unsqueeze(newest, [0]), g.unsqueeze(older, [0])]
    for _ in range(L - 2):
        layers.append(g.unsqueeze(g.node("Mul", [newest, g.const(0.0)]), [0]))
    nh = g.node("Concat", layers, out="states", axis=0)
    g.node("Identity", [nh], out="74")
    shift = np.zeros((H, H), np.float32)              # older one-hot moves to dims V..2V-1
    for i in range(V):
        shift[i, V + i] = 1.0
    out = g.node("Add", [newest, g.node("MatMul", [older, g.const(shift, stem="older")])])
    g.node("Unsqueeze", [out, g.ints([2])], out="outputs")                                   # [N,H,1]
    g.node("Identity", ["target_length"], out="prednet_lengths")
    st = [L, "N", H]
    inputs = [value_info("targets", TensorProto.INT32, ["N", 1]),
              value_info("target_length", TensorProto.INT32, ["N"]),
              value_info("states.1", TensorProto.FLOAT, st),
              value_info("onnx::LSTM_3", TensorProto.FLOAT, st)]
    outputs = [value_info("outputs", TensorProto.FLOAT, ["N", H, 1]),
               value_info("prednet_lengths", TensorProto.INT32, ["N"]),
               value_info("states", TensorProto.FLOAT, st),
               value_info("74", TensorProto.FLOAT, st)]
    if variant == "missing_state_output":
        outputs = outputs[:3]
    return finish(g, "decoder", inputs, outputs, {},
                  "subtitled fixture: NeMo RNNT prediction network (designed weights)")


def joiner_units():
    """Hidden units of the joiner: (token emitted, encoder class, decoder conditions, bias).
    Decoder conditions are (dimension of the decoder output, weight)."""
    units = []
    newest = lambda v: v            # decoder output dim of the newest token's one-hot
    older = lambda v: V + v         # ... of the older token's
    for s in SOUNDS:
        c = s["class"]
        if "token" in s:            # emit the token unless it is already the newest
            v = ID[s["token"]]
            units.append((v, c, [(newest(v), -2 * UNIT)], -0.5 * UNIT))
        elif s.get("ditto") == 1:   # repeat the newest token v unless it is doubled already
            for v in DITTO_TOKENS:
                units.append((v, c, [(newest(v), UNIT), (older(v), -2 * UNIT)], -1.5 * UNIT))
        else:                       # NEW_YORK: New unless New or York is newest; then York
            a, b = [ID[t] for t in s["tokens"]]
            units.append((a, c, [(newest(a), -2 * UNIT), (newest(b), -2 * UNIT)], -0.5 * UNIT))
            units.append((b, c, [(newest(a), UNIT)], -1.5 * UNIT))
    return units


def build_joiner(family, variant=None):
    """logits = Wo tanh(We enc + Wd dec + b) + bo: each hidden unit is an AND gate of the
    encoder class and the decoder's newest/older tokens; a unit that fires gives its
    token +10 (blank stays 0, every other token -10)."""
    f = FAMILIES[family]
    D, H = f["d_model"], f["pred_hidden"]
    units = joiner_units()
    U = len(units)
    vocab = V + 4 if variant == "vocab_too_large" else V
    We = np.zeros((D, U), np.float32)
    Wd = np.zeros((H, U), np.float32)
    b = np.zeros(U, np.float32)
    Wo = np.zeros((U, vocab), np.float32)
    bo = np.full(vocab, TOKEN_BASE, np.float32)
    bo[BLANK] = 0.0
    for u, (tok, c, conds, bias) in enumerate(units):
        We[c - 1, u] = UNIT
        for dim, w in conds:
            Wd[dim, u] += w
        b[u] = bias
        Wo[u, tok] += TOKEN_W / 2
        bo[tok] += TOKEN_W / 2
    if variant == "vocab_too_large":
        Wo[0, V + 2] += TOKEN_W / 2
        bo[V + 2] += TOKEN_W / 2 + 1.0
    g = Graph("join")
    e = g.node("Reshape", ["encoder_outputs", g.ints([-1, D])])
    d = g.node("Reshape", ["decoder_outputs", g.ints([-1, H])])
    pre = g.node("Add", [g.node("Add", [g.node("MatMul", [e, g.const(We, stem="enc_proj")]),
                                        g.node("MatMul", [d, g.const(Wd, stem="pred_proj")])]),
                         g.const(b, stem="bias")])
    logits = g.node("Add", [g.node("MatMul", [g.node("Tanh", [pre]), g.const(Wo, stem="out")]),
                            g.const(bo, stem="out_bias")])
    g.node("Reshape", [logits, g.ints([-1, 1, 1, vocab])], out="outputs")
    return finish(g, "joiner",
                  [value_info("encoder_outputs", TensorProto.FLOAT, ["N", D, 1]),
                   value_info("decoder_outputs", TensorProto.FLOAT, ["N", H, 1])],
                  [value_info("outputs", TensorProto.FLOAT, ["N", 1, 1, vocab])], {},
                  "subtitled fixture: NeMo RNNT joiner (designed weights)")


# ---- files ---------------------------------------------------------------------------


def write_sounds(path):
    table = {
        "comment": "Sound -> token table of the NeMo family fixtures (tools/familymodels/"
                   "gen_nemo.py). A sound is log-mel energy in one band of the model's NeMo "
                   "filterbank (80 or 128 bins); output frame t of a window codes feature frame "
                   "P + 8t + pick (P = window - shift), and a sound is emitted at the frame where "
                   "it ends. DITTO1 doubles the newest emitted token once; NEW_YORK emits two "
                   "tokens in one frame (transducers only; CTC gives blank for both).",
        "subsampling": SUBSAMPLING,
        "pick": PICK,
        "silence": SILENCE,
        "threshold": THRESHOLD,
        "sounds": SOUNDS,
    }
    sounds = table.pop("sounds")
    head = json.dumps(table, ensure_ascii=False, indent=1)[:-2]
    rows = ",\n  ".join(json.dumps(s, ensure_ascii=False, sort_keys=True) for s in sounds)
    with open(path, "w", encoding="utf-8") as f:
        f.write('%s,\n "sounds": [\n  %s\n ]\n}\n' % (head, rows))


def write_bundle_yaml(path, family, what):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Generated by tools/familymodels/gen_nemo.py: a designed (untrained)\n"
                "# %s with the real I/O of its family. Not a speech model.\n"
                "name: fixture-%s\nlanguage: en\n" % (what, family.replace("_", "-")))


def write_family(root, family):
    out = os.path.join(root, family)
    os.makedirs(out, exist_ok=True)
    if family == "nemo_ctc":
        save(build_encoder(family, "ctc"), os.path.join(out, "model.onnx"))
        what = "NeMo cache-aware FastConformer CTC model"
    else:
        save(build_encoder(family, "rnnt"), os.path.join(out, "encoder.onnx"))
        save(build_decoder(family), os.path.join(out, "decoder.onnx"))
        save(build_joiner(family), os.path.join(out, "joiner.onnx"))
        what = "NeMo cache-aware streaming RNNT (%s)" % family
    base.write_tokens(os.path.join(out, "tokens.txt"), TOKENS)
    write_bundle_yaml(os.path.join(out, "bundle.yaml"), family, what)


VARIANTS = {
    "nemo_ctc_missing_state_output": lambda: build_encoder("nemo_ctc", "ctc", "missing_state_output"),
    "nemo_ctc_wrong_feature_dim": lambda: build_encoder("nemo_ctc", "ctc", "wrong_feature_dim"),
    "nemo_ctc_vocab_too_large": lambda: build_encoder("nemo_ctc", "ctc", "vocab_too_large"),
    "nemo_encoder_missing_state_output": lambda: build_encoder("nemo_transducer", "rnnt",
                                                               "missing_state_output"),
    "nemo_encoder_wrong_feature_dim": lambda: build_encoder("nemo_transducer", "rnnt",
                                                            "wrong_feature_dim"),
    "nemo_encoder_per_feature": lambda: build_encoder("nemo_transducer", "rnnt", "per_feature"),
    "nemo_decoder_missing_state_output": lambda: build_decoder("nemo_transducer",
                                                               "missing_state_output"),
    "nemo_joiner_vocab_too_large": lambda: build_joiner("nemo_transducer", "vocab_too_large"),
    "nemotron_encoder_inconsistent_metadata": lambda: build_encoder("nemotron", "rnnt",
                                                                    "inconsistent_metadata"),
}


def main():
    return base.run(__doc__, "nemo_sounds.json", write_sounds, FAMILIES, write_family, VARIANTS)


if __name__ == "__main__":
    sys.exit(main())
