#!/usr/bin/python3
"""Generate the icefall streaming fixture bundles (zipformer2, zipformer v1, lstm transducers; zipformer2 CTC).

Each bundle is a hand-built encoder.onnx / decoder.onnx / joiner.onnx / tokens.txt with
exactly the input/output names, dtypes, ranks and metadata keys of its family as
../shared/reference/MODEL-CONTRACT.md sections 1.1-1.4 give them. Only the dims that the
family's metadata drives are small (layers, encoder/attention dims, kernels, left context,
joiner dim, vocabulary); the state shapes are derived from that metadata exactly as the
reference says. Weights are designed, not trained: see README.md beside this file.

Run with Debian's python3 (python3-onnx, python3-numpy); the output is byte-for-byte
deterministic:

    /usr/bin/python3 tools/familymodels/gen_transducers.py

Outputs (paths relative to the repository root):
    testdata/models/families/sounds.json                      the sound -> token table
    testdata/models/families/<family>/{encoder,decoder,joiner}.onnx, tokens.txt, bundle.yaml
    testdata/models/families/zipformer2_ctc/{model.onnx,tokens.txt,bundle.yaml}
    decoder/onnx/testdata/families/*.onnx                      broken variants for the tests
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
FEATURE_DIM = 80          # kaldi fbank bins (fixed by the families: x is [N, T, 80])
SUBSAMPLING = 4           # feature frames per encoder output frame (icefall: 4)
SILENCE = -15.9453        # ln(FLT_EPSILON): fbank of digital silence
THRESHOLD = -10.0         # pooled band level above which a sound is present
FIRST_BAND = 10           # sound c lives in mel band FIRST_BAND + BAND_STEP*(c-1)
BAND_STEP = 2
CONTEXT_SIZE = 2

UNIT = 8.0                # pre-tanh swing of one joiner unit input
TOKEN_W = 20.0            # logit of a token whose unit fires, over its base
TOKEN_BASE = -10.0        # logit of a token whose units are off (blank is 0)

# ---- vocabulary -----------------------------------------------------------------

TOKENS = [
    "<blk>", "<sos/eos>", "<unk>",
    "\u2581THE", "\u2581CAT", "S", "\u2581SAT", "\u2581ON", "\u2581A", "\u2581MAT",
    "\u2581CAF", "<0xC3>", "<0x89>", "<0x41>", "\u2581", "\u2581HA", "\u2581NEW", "\u2581YORK",
]
V = len(TOKENS)
BLANK, UNK = 0, 2
# Tokens a ditto sound can repeat (everything but the control symbols).
DITTO_TOKENS = list(range(3, V))

# Sounds: class c (1..K) is energy in one mel band. A "token" sound makes the joiner
# emit that token; DITTO1 repeats the last emitted token (y[-1] of the decoder context),
# DITTO2 the one before it (y[-2]).
SOUNDS = []
for tid in range(2, V):
    name = {"<unk>": "UNK", "\u2581": "SPACE"}.get(TOKENS[tid])
    if name is None:
        name = TOKENS[tid].lstrip("\u2581").replace("<0x", "BYTE_").replace(">", "")
    SOUNDS.append({"name": name, "token": TOKENS[tid]})
SOUNDS.append({"name": "DITTO1", "ditto": 1})
SOUNDS.append({"name": "DITTO2", "ditto": 2})
for c, s in enumerate(SOUNDS, start=1):
    s["class"] = c
    s["band"] = FIRST_BAND + BAND_STEP * (c - 1)
K = len(SOUNDS)
BANDS = [s["band"] for s in SOUNDS]
CLASS_OF = {s["name"]: s["class"] for s in SOUNDS}

# Joiner hidden units: one per token sound, then one per (ditto 1, token), then one per
# (ditto 2, token).
TOKEN_SOUNDS = [s for s in SOUNDS if "token" in s]
REG_UNIT = {s["class"]: i for i, s in enumerate(TOKEN_SOUNDS)}
D1_UNIT = {v: len(TOKEN_SOUNDS) + i for i, v in enumerate(DITTO_TOKENS)}
D2_UNIT = {v: len(TOKEN_SOUNDS) + len(DITTO_TOKENS) + i for i, v in enumerate(DITTO_TOKENS)}
UNITS = len(TOKEN_SOUNDS) + 2 * len(DITTO_TOKENS)


# ---- graph helper ---------------------------------------------------------------


class Graph:
    """Collects nodes and initialisers with unique names."""

    def __init__(self, prefix):
        self.prefix, self.nodes, self.inits, self.count = prefix, [], [], 0

    def fresh(self, stem):
        self.count += 1
        return "%s/%s_%d" % (self.prefix, stem, self.count)

    def const(self, value, dtype=np.float32, stem="const"):
        name = self.fresh(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ints(self, values):
        return self.const(list(values), np.int64, "ints")

    def node(self, op, inputs, out=None, **attrs):
        out = out or self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def slice(self, x, start, end, axis):
        return self.node("Slice", [x, self.ints([start]), self.ints([end]), self.ints([axis])])

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.ints(axes)])


def finish(graph, name, inputs, outputs, meta, doc):
    g = helper.make_graph(graph.nodes, name, inputs, outputs, graph.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="subtitled tools/familymodels")
    model.ir_version = 7
    model.doc_string = doc
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def value_info(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


# ---- families: metadata and state layouts ---------------------------------------


def csv(values):
    return ",".join(str(v) for v in values)


FAMILIES = {
    "zipformer2": {
        "joiner_dim": 48,
        "meta": {
            "model_type": "zipformer2",
            "version": "1",
            "model_author": "subtitled (generated fixture, not trained)",
            "comment": "icefall zipformer2 streaming transducer fixture: tools/familymodels",
            "decode_chunk_len": "32",
            "T": "45",
            "num_encoder_layers": "1,2",
            "encoder_dims": "16,24",
            "cnn_module_kernels": "7,5",
            "left_context_len": "16,8",
            "query_head_dims": "4,4",
            "value_head_dims": "3,3",
            "num_heads": "2,3",
        },
    },
    "zipformer": {
        "joiner_dim": 56,
        "meta": {
            "model_type": "zipformer",
            "version": "1",
            "model_author": "subtitled (generated fixture, not trained)",
            "decode_chunk_len": "32",
            "T": "39",
            "num_encoder_layers": "1,2",
            "encoder_dims": "16,24",
            "attention_dims": "8,12",
            "cnn_module_kernels": "7,5",
            "left_context_len": "32,16",
        },
    },
    "lstm": {
        "joiner_dim": 64,
        "meta": {
            "model_type": "lstm",
            "version": "1",
            "model_author": "subtitled (generated fixture, not trained)",
            "decode_chunk_len": "4",
            "T": "9",
            "num_encoder_layers": "2",
            "d_model": "16",
            "rnn_hidden_size": "24",
        },
    },
}


def ilist(meta, key):
    return [int(v) for v in meta[key].split(",")]


def state_layout(family, meta):
    """The encoder's state tensors in input order, per MODEL-CONTRACT 1.2-1.4.

    Each entry: name, dtype, shape (with "N" at the batch axis), batch axis, time axis
    (None when the tensor has no time axis) and kind ("fifo", "processed_lens" or
    "cached_len")."""
    states = []

    def add(name, shape, axis, time, kind="fifo", dtype=TensorProto.FLOAT, cap=None):
        states.append({"name": name, "shape": shape, "axis": axis, "time": time,
                       "kind": kind, "dtype": dtype, "cap": cap})

    if family == "zipformer2":
        layers = ilist(meta, "num_encoder_layers")
        dims = ilist(meta, "encoder_dims")
        kernels = ilist(meta, "cnn_module_kernels")
        left = ilist(meta, "left_context_len")
        qhd = ilist(meta, "query_head_dims")
        vhd = ilist(meta, "value_head_dims")
        heads = ilist(meta, "num_heads")
        k = 0
        for s, n in enumerate(layers):
            for _ in range(n):
                add("cached_key_%d" % k, [left[s], "N", qhd[s] * heads[s]], 1, 0)
                add("cached_nonlin_attn_%d" % k, [1, "N", left[s], 3 * dims[s] // 4], 1, 2)
                add("cached_val1_%d" % k, [left[s], "N", vhd[s] * heads[s]], 1, 0)
                add("cached_val2_%d" % k, [left[s], "N", vhd[s] * heads[s]], 1, 0)
                add("cached_conv1_%d" % k, ["N", dims[s], kernels[s] // 2], 0, 2)
                add("cached_conv2_%d" % k, ["N", dims[s], kernels[s] // 2], 0, 2)
                k += 1
        add("embed_states", ["N", 128, 3, ((FEATURE_DIM - 1) // 2 - 1) // 2], 0, 2)
        add("processed_lens", ["N"], 0, None, "processed_lens", TensorProto.INT64)
    elif family == "zipformer":
        layers = ilist(meta, "num_encoder_layers")
        dims = ilist(meta, "encoder_dims")
        att = ilist(meta, "attention_dims")
        kernels = ilist(meta, "cnn_module_kernels")
        left = ilist(meta, "left_context_len")
        S = len(layers)
        for s in range(S):
            add("cached_len_%d" % s, [layers[s], "N"], 1, None, "cached_len", TensorProto.INT64,
                cap=left[s])
        for s in range(S):
            add("cached_avg_%d" % s, [layers[s], "N", dims[s]], 1, None)
        for s in range(S):
            add("cached_key_%d" % s, [layers[s], left[s], "N", att[s]], 2, 1)
        for s in range(S):
            add("cached_val_%d" % s, [layers[s], left[s], "N", att[s] // 2], 2, 1)
        for s in range(S):
            add("cached_val2_%d" % s, [layers[s], left[s], "N", att[s] // 2], 2, 1)
        for s in range(S):
            add("cached_conv1_%d" % s, [layers[s], "N", dims[s], kernels[s] - 1], 1, 3)
        for s in range(S):
            add("cached_conv2_%d" % s, [layers[s], "N", dims[s], kernels[s] - 1], 1, 3)
    elif family == "lstm":
        n = int(meta["num_encoder_layers"])
        add("state0", [n, "N", int(meta["d_model"])], 1, None)
        add("state1", [n, "N", int(meta["rnn_hidden_size"])], 1, None)
    else:
        raise ValueError(family)
    return states


# ---- encoder ----------------------------------------------------------------------


def encoder_table(joiner_dim):
    """Row c (sound class, 0 = none) is what the encoder outputs at an onset of c."""
    table = np.zeros((K + 1, joiner_dim), np.float32)
    for s in SOUNDS:
        c = s["class"]
        if "token" in s:
            table[c, REG_UNIT[c]] = UNIT
        elif s["ditto"] == 1:
            table[c, [D1_UNIT[v] for v in DITTO_TOKENS]] = UNIT
        else:
            table[c, [D2_UNIT[v] for v in DITTO_TOKENS]] = UNIT
    return table


def pattern_shape(st):
    """Shape of the per-element pattern: 1 at the batch and time axes."""
    return [1 if i in (st["axis"], st["time"]) else d for i, d in enumerate(st["shape"])]


def sound_codes(g, xs, out_frames, frames_per_out):
    """Sound code per output frame of xs [N, out_frames*frames_per_out, 80]: the mean
    band level over its feature frames, arg-max against the threshold (code 0 = no
    sound). Returns the int64 codes and their float copy, both [N, T']."""
    xb = g.node("Gather", [xs, g.const(BANDS, np.int64, "bands")], axis=2)  # [N,S,K]
    xr = g.node("Reshape", [xb, g.ints([0, out_frames, frames_per_out, K])])
    pooled = g.node("ReduceMean", [xr], axes=[2], keepdims=0)              # [N,T',K]
    thr = g.node("Add", [g.node("Mul", [g.slice(pooled, 0, 1, 2), g.const(0.0)]),
                         g.const(THRESHOLD)])                               # [N,T',1]
    code = g.node("ArgMax", [g.node("Concat", [thr, pooled], axis=2)], axis=2, keepdims=0)
    return code, g.node("Cast", [code], to=TensorProto.FLOAT)


def previous_code(g, states):
    """The previous chunk's last code [N, 1], read from every float state (the newest
    time step, width element 0). The states must agree and the int64 counters must say
    that the caches are filled; otherwise there is no usable history (0)."""
    reads, valids = [], []
    for st in states:
        name = st["name"]
        if st["kind"] in ("processed_lens", "counter"):
            valids.append(g.node("Cast", [g.node("Greater", [name, g.const(0, np.int64)])],
                                 to=TensorProto.FLOAT))
            continue
        if st["kind"] == "cached_len":
            least = g.node("ReduceMin", [name], axes=[0], keepdims=0)       # [N]
            valids.append(g.node("Cast", [g.node("Greater", [least, g.const(0, np.int64)])],
                                 to=TensorProto.FLOAT))
            continue
        r = name
        for ax, d in enumerate(st["shape"]):
            if ax == st["axis"]:
                continue
            if ax == st["time"]:
                r = g.slice(r, d - 1, d, ax)
            elif d > 1:
                r = g.slice(r, 0, 1, ax)
        reads.append(g.node("Reshape", [r, g.ints([-1])]))                  # [N]
    lo = g.node("Min", reads) if len(reads) > 1 else reads[0]
    hi = g.node("Max", reads) if len(reads) > 1 else reads[0]
    prev = g.node("Mul", [lo, g.node("Cast", [g.node("Equal", [lo, hi])], to=TensorProto.FLOAT)])
    for v in valids:
        prev = g.node("Mul", [prev, v])
    return g.unsqueeze(prev, [1])                                           # [N,1]


def previous_sequence(g, prev, codef, out_frames):
    """[N, T']: for each output frame the code of the frame before it."""
    if out_frames > 1:
        return g.node("Concat", [prev, g.slice(codef, 0, out_frames - 1, 1)], axis=1)
    return prev


def update_states(g, states, codef, out_frames, inc, skip=None):
    """Writes new_<name> (or st["out"]) for every state: FIFOs of the chunk's codes
    times a per-element pattern, counters advanced by inc (capped where the state has
    a cap). Returns the output value infos. A state named skip gets no output."""
    outputs = []
    for st in states:
        name, new = st["name"], st.get("out", "new_" + st["name"])
        if st is skip:
            continue
        outputs.append(value_info(new, st["dtype"], st.get("out_shape", st["shape"])))
        if st["kind"] == "processed_lens":
            g.node("Add", [name, g.const(inc, np.int64)], out=new)
            continue
        if st["kind"] in ("cached_len", "counter"):
            g.node("Min", [g.node("Add", [name, g.const(inc, np.int64)]),
                           g.const(st["cap"], np.int64)], out=new)
            continue
        axis, time, shape = st["axis"], st["time"], st["shape"]
        rows = 1 if time is None else shape[time]
        take = min(rows, out_frames)
        codes = g.slice(codef, out_frames - take, out_frames, 1)            # [N,take]
        if time is None:
            codes = g.node("Reshape", [codes, g.ints([-1])])                # [N]
            block = g.unsqueeze(codes, [i for i in range(len(shape)) if i != axis])
        else:
            if time < axis:
                codes = g.node("Transpose", [codes], perm=[1, 0])           # [take,N]
            block = g.unsqueeze(codes, [i for i in range(len(shape)) if i not in (axis, time)])
        pshape = pattern_shape(st)
        width = int(np.prod(pshape))
        pat = g.node("Reshape", [g.node("Range", [g.const(1.0), g.const(width + 1.0),
                                                  g.const(1.0)]), g.ints(pshape)])
        block = g.node("Mul", [block, pat])
        if time is not None and rows > take:
            g.node("Concat", [g.slice(name, take, rows, time), block], out=new, axis=time)
        else:
            g.node("Identity", [block], out=new)
    return outputs


def build_encoder(family, variant=None, head="transducer"):
    """The family's encoder. head "ctc" makes icefall's streaming zipformer2 CTC model
    instead (MODEL-CONTRACT 1.4): the same inputs and states, output 0 log_probs."""
    spec = FAMILIES[family]
    meta = dict(spec["meta"])
    J = spec["joiner_dim"]
    T, shift = int(meta["T"]), int(meta["decode_chunk_len"])
    out_frames = shift // SUBSAMPLING
    states = state_layout(family, meta)
    g = Graph("enc")

    feat_dim = 40 if variant == "wrong_feature_dim" else FEATURE_DIM
    inputs = [value_info("x", TensorProto.FLOAT, ["N", T, feat_dim])]
    for st in states:
        inputs.append(value_info(st["name"], st["dtype"], st["shape"]))

    xs = g.slice("x", 0, shift, 1)                                          # [N,S,80]
    code, codef = sound_codes(g, xs, out_frames, SUBSAMPLING)
    prev = previous_code(g, states)
    prevseq = previous_sequence(g, prev, codef, out_frames)
    onset = g.node("And", [g.node("Not", [g.node("Equal", [codef, prevseq])]),
                           g.node("Greater", [codef, g.const(0.0)])])
    onset_code = g.node("Mul", [code, g.node("Cast", [onset], to=TensorProto.INT64)])
    if head == "ctc":
        vocab = V + 4 if variant == "vocab_too_large" else V
        logits = g.node("Gather", [g.const(ctc_table(vocab), stem="onset_logits"), onset_code],
                        axis=0)                                             # [N,T',V]
        g.node("LogSoftmax", [logits], out="log_probs", axis=2)
        outputs = [value_info("log_probs", TensorProto.FLOAT, ["N", out_frames, vocab])]
    else:
        g.node("Gather", [g.const(encoder_table(J), stem="onset_embedding"), onset_code],
               out="encoder_out", axis=0)                                   # [N,T',J]
        outputs = [value_info("encoder_out", TensorProto.FLOAT, ["N", out_frames, J])]

    skip = states[-1] if variant == "missing_state_output" else None
    outputs += update_states(g, states, codef, out_frames, shift // 2, skip)

    if variant == "unknown_model_type":
        meta["model_type"] = "paraformer"
    if variant == "conformer":          # a family sherpa knows but this build does not run
        meta["model_type"] = "conformer"
    if variant == "no_model_type":
        del meta["model_type"]
    if variant == "whisper_features":
        meta["feature"] = "whisper"
    if variant == "inconsistent_metadata":
        meta["encoder_dims"] = "20,24"
    if head == "ctc":
        meta["comment"] = "icefall zipformer2 streaming CTC fixture: tools/familymodels"
        return finish(g, "%s_ctc" % family, inputs, outputs, meta,
                      "subtitled fixture: %s streaming CTC model (designed weights, "
                      "see tools/familymodels/README.md)" % family)
    return finish(g, "%s_encoder" % family, inputs, outputs, meta,
                  "subtitled fixture: %s streaming transducer encoder (designed weights, "
                  "see tools/familymodels/README.md)" % family)


def ctc_table(vocab):
    """Row c (sound class, 0 = none) is the CTC logits at an onset of c: the sound's
    token at +10, blank at 0, every other token at -10. Ditto sounds (which need a
    decoder context a CTC model does not have) and no sound give blank."""
    table = np.full((K + 1, vocab), TOKEN_BASE, np.float32)
    table[:, BLANK] = 0.0
    for s in SOUNDS:
        if "token" in s:
            table[s["class"], TOKENS.index(s["token"])] = -TOKEN_BASE
    if vocab > V:                       # a confident extra class past tokens.txt
        table[CLASS_OF["THE"], V + 2] = -TOKEN_BASE + 1.0
    return table


# ---- decoder and joiner -------------------------------------------------------------


def build_decoder(joiner_dim, variant=None):
    """icefall stateless decoder: embedding of the last CONTEXT_SIZE tokens (negative ids
    give a zero embedding), a depthwise convolution over the context, ReLU and a
    projection to joiner_dim. Here the embedding is one-hot twice, the convolution keeps
    the first copy for the newest token and the second for the older one."""
    g = Graph("dec")
    E = 2 * V
    emb = np.zeros((V, E), np.float32)
    for v in range(V):
        emb[v, v] = 1.0
        emb[v, V + v] = 1.0
    conv = np.zeros((CONTEXT_SIZE, E), np.float32)   # [position, channel]
    conv[1, :V] = 1.0                                 # y[:, 1] is the newest token
    conv[0, V:] = 1.0                                 # y[:, 0] the one before
    proj = np.zeros((E, joiner_dim), np.float32)
    bias = np.zeros(joiner_dim, np.float32)
    for v in DITTO_TOKENS:
        proj[v, D1_UNIT[v]] = UNIT
        proj[V + v, D2_UNIT[v]] = UNIT
        bias[D1_UNIT[v]] = bias[D2_UNIT[v]] = -1.5 * UNIT
    for u in REG_UNIT.values():
        bias[u] = -0.5 * UNIT

    y = g.node("Max", ["y", g.const(0, np.int64)])
    keep = g.node("Cast", [g.node("GreaterOrEqual", ["y", g.const(0, np.int64)])],
                  to=TensorProto.FLOAT)
    e = g.node("Mul", [g.node("Gather", [g.const(emb, stem="embedding"), y], axis=0),
                       g.unsqueeze(keep, [2])])                            # [N,C,E]
    c = g.node("ReduceSum", [g.node("Mul", [e, g.const(conv, stem="conv")]), g.ints([1])],
               keepdims=0)                                                 # [N,E]
    h = g.node("Relu", [c])
    g.node("Add", [g.node("MatMul", [h, g.const(proj, stem="proj")]), g.const(bias, stem="bias")],
           out="decoder_out")
    outputs = [value_info("decoder_out", TensorProto.FLOAT, ["N", joiner_dim])]
    if variant == "two_outputs":   # looks like a NeMo LSTM prediction network
        g.node("Identity", [h], out="next_states")
        outputs.append(value_info("next_states", TensorProto.FLOAT, ["N", E]))
    meta = {"context_size": str(CONTEXT_SIZE), "vocab_size": str(V)}
    if variant == "no_context_size":
        del meta["context_size"]
    return finish(g, "decoder", [value_info("y", TensorProto.INT64, ["N", CONTEXT_SIZE])],
                  outputs, meta,
                  "subtitled fixture: icefall stateless transducer decoder (designed weights)")


def build_joiner(joiner_dim, variant=None):
    """logit = Linear(tanh(encoder_out + decoder_out)). A unit that fires adds TOKEN_W
    to its token's logit; blank stays at 0 and every other token at TOKEN_BASE."""
    g = Graph("join")
    vocab = V + 4 if variant == "vocab_too_large" else V
    W = np.zeros((joiner_dim, vocab), np.float32)
    b = np.zeros(vocab, np.float32)
    b[1:] = TOKEN_BASE

    def connect(unit, token):
        W[unit, token] += TOKEN_W / 2     # (tanh + 1) / 2 * TOKEN_W
        b[token] += TOKEN_W / 2

    for s in TOKEN_SOUNDS:
        connect(REG_UNIT[s["class"]], TOKENS.index(s["token"]))
    for v in DITTO_TOKENS:
        connect(D1_UNIT[v], v)
        connect(D2_UNIT[v], v)
    if variant == "vocab_too_large":      # a confident extra token past tokens.txt
        connect(REG_UNIT[CLASS_OF["THE"]], V + 2)
        b[V + 2] += 1.0
    h = g.node("Tanh", [g.node("Add", ["encoder_out", "decoder_out"])])
    g.node("Add", [g.node("MatMul", [h, g.const(W, stem="weight")]), g.const(b, stem="bias")],
           out="logit")
    return finish(g, "joiner",
                  [value_info("encoder_out", TensorProto.FLOAT, ["N", joiner_dim]),
                   value_info("decoder_out", TensorProto.FLOAT, ["N", joiner_dim])],
                  [value_info("logit", TensorProto.FLOAT, ["N", vocab])],
                  {"joiner_dim": str(joiner_dim)},
                  "subtitled fixture: icefall transducer joiner (designed weights)")


# ---- files --------------------------------------------------------------------------


def save(model, path):
    with open(path, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))


def write_tokens(path, tokens=TOKENS):
    """tokens.txt: one "token id" line per token (shared by gen_nemo.py and gen_two_heads.py)."""
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(tokens):
            f.write("%s %d\n" % (t, i))


def write_sounds(path):
    table = {
        "comment": "Sound -> token table of the transducer family fixtures "
                   "(tools/familymodels/gen_transducers.py). A sound is log-mel energy in one "
                   "fbank band; the encoder codes each output frame (4 feature frames) by the "
                   "band whose mean level is highest and above threshold, and emits at onsets. "
                   "DITTO1 repeats the last emitted token, DITTO2 the one before it.",
        "feature_dim": FEATURE_DIM,
        "subsampling": SUBSAMPLING,
        "silence": SILENCE,
        "threshold": THRESHOLD,
        "context_size": CONTEXT_SIZE,
        "sounds": SOUNDS,
    }
    sounds = table.pop("sounds")
    head = json.dumps(table, ensure_ascii=False, indent=1)[:-2]
    rows = ",\n  ".join(json.dumps(s, ensure_ascii=False, sort_keys=True) for s in sounds)
    with open(path, "w", encoding="utf-8") as f:
        f.write('%s,\n "sounds": [\n  %s\n ]\n}\n' % (head, rows))


def write_family(root, family):
    out = os.path.join(root, family)
    os.makedirs(out, exist_ok=True)
    J = FAMILIES[family]["joiner_dim"]
    save(build_encoder(family), os.path.join(out, "encoder.onnx"))
    save(build_decoder(J), os.path.join(out, "decoder.onnx"))
    save(build_joiner(J), os.path.join(out, "joiner.onnx"))
    write_tokens(os.path.join(out, "tokens.txt"))
    with open(os.path.join(out, "bundle.yaml"), "w", encoding="utf-8") as f:
        f.write("# Generated by tools/familymodels/gen_transducers.py: a designed (untrained)\n"
                "# %s streaming transducer with the real I/O of its family. Not a speech model.\n"
                "name: fixture-%s\nlanguage: en\n" % (family, family))


def write_ctc_family(root):
    """icefall's streaming zipformer2 CTC (one model.onnx) with the zipformer2 encoder
    metadata and states and the transducer fixtures' tokens and sounds."""
    out = os.path.join(root, "zipformer2_ctc")
    os.makedirs(out, exist_ok=True)
    save(build_encoder("zipformer2", head="ctc"), os.path.join(out, "model.onnx"))
    write_tokens(os.path.join(out, "tokens.txt"))
    with open(os.path.join(out, "bundle.yaml"), "w", encoding="utf-8") as f:
        f.write("# Generated by tools/familymodels/gen_transducers.py: a designed (untrained)\n"
                "# zipformer2 streaming CTC model with the real I/O of its family. Not a speech model.\n"
                "name: fixture-zipformer2-ctc\nlanguage: en\n")


# Broken variants: (file name, builder). The tests copy the zipformer2 bundle (or the
# zipformer2 CTC bundle, for ctc_*) and replace one file with one of these.
VARIANTS = {
    "ctc_missing_state_output": lambda: build_encoder("zipformer2", "missing_state_output", "ctc"),
    "ctc_wrong_feature_dim": lambda: build_encoder("zipformer2", "wrong_feature_dim", "ctc"),
    "ctc_vocab_too_large": lambda: build_encoder("zipformer2", "vocab_too_large", "ctc"),
    "ctc_inconsistent_metadata": lambda: build_encoder("zipformer2", "inconsistent_metadata", "ctc"),
    "encoder_missing_state_output": lambda: build_encoder("zipformer2", "missing_state_output"),
    "encoder_wrong_feature_dim": lambda: build_encoder("zipformer2", "wrong_feature_dim"),
    "encoder_unknown_model_type": lambda: build_encoder("zipformer2", "unknown_model_type"),
    "encoder_inconsistent_metadata": lambda: build_encoder("zipformer2", "inconsistent_metadata"),
    "encoder_conformer": lambda: build_encoder("zipformer2", "conformer"),
    "encoder_no_model_type": lambda: build_encoder("zipformer2", "no_model_type"),
    "encoder_whisper_features": lambda: build_encoder("zipformer2", "whisper_features"),
    "decoder_two_outputs": lambda: build_decoder(FAMILIES["zipformer2"]["joiner_dim"], "two_outputs"),
    "decoder_no_context_size": lambda: build_decoder(FAMILIES["zipformer2"]["joiner_dim"],
                                                     "no_context_size"),
    "joiner_vocab_too_large": lambda: build_joiner(FAMILIES["zipformer2"]["joiner_dim"],
                                                   "vocab_too_large"),
}


def run(doc, sounds_name, write_sounds_fn, families, write_family_fn, variants, extra=None):
    """The command line of the family generators (this file and gen_nemo.py): --out gets the
    sound table, one bundle per family and extra(out); --variants the broken variants."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "testdata", "models", "families"))
    ap.add_argument("--variants", default=os.path.join(root, "decoder", "onnx", "testdata", "families"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    write_sounds_fn(os.path.join(args.out, sounds_name))
    for family in families:
        write_family_fn(args.out, family)
    if extra:
        extra(args.out)
    os.makedirs(args.variants, exist_ok=True)
    for name, build in sorted(variants.items()):
        save(build(), os.path.join(args.variants, name + ".onnx"))
    print("wrote %s and %s" % (args.out, args.variants))
    return 0


def main():
    return run(__doc__, "sounds.json", write_sounds, FAMILIES, write_family, VARIANTS, write_ctc_family)


if __name__ == "__main__":
    sys.exit(main())
