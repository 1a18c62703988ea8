"""model.py: the demo model, a causal streaming CTC recognizer over characters.

Two architectures: StreamingConvCTC (arch "conv", the shipped one) and the earlier
StreamingCTC (arch "gru"), described next.

Features (80-bin Kaldi fbank, unnormalised) -> fixed per-bin normalisation (baked in)
-> two causal 1-D convolutions (x2 subsampling by default, x4 optional; their left
context is carried as explicit cache tensors when streaming) -> unidirectional GRU layers -> linear ->
log-softmax over the character tokens.

forward_full() runs a whole utterance; forward_stream() runs one chunk with explicit
state and is what export.py turns into ONNX. Both compute the same function: the
causal convolutions pad with zeros (in normalised space) on the left, and the stream's
initial caches are zeros.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# Token 0 is the CTC blank, 1 is the word separator (U+2581, as the Go CTC search expects).
TOKENS = ["<blk>", "\u2581"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]
TOKEN_ID = {t: i for i, t in enumerate(TOKENS)}


def encode_text(s):
    """Token ids of a normalised sentence (spaces become the word separator)."""
    return [TOKEN_ID["\u2581" if ch == " " else ch] for ch in s]


def decode_ids(ids):
    """Greedy CTC: collapse repeats, drop blanks, map the separator back to spaces."""
    out, prev = [], -1
    for i in ids:
        if i != prev and i != 0:
            out.append(" " if i == 1 else TOKENS[i])
        prev = i
    return " ".join("".join(out).split())


class StreamingCTC(nn.Module):
    """Causal conv subsampling (x4) + GRU + CTC head."""

    def __init__(self, feat_dim=80, conv_ch=192, hidden=192, layers=2, vocab=len(TOKENS), kernel=5,
                 subsampling=2):
        super().__init__()
        self.feat_dim, self.conv_ch, self.hidden, self.layers = feat_dim, conv_ch, hidden, layers
        self.kernel, self.subsampling = kernel, subsampling
        assert subsampling in (2, 4)
        s2 = subsampling // 2
        # left context frames each causal conv needs (kernel - stride)
        self.cache1, self.cache2 = kernel - 2, kernel - s2
        self.register_buffer("mean", torch.zeros(feat_dim))
        self.register_buffer("istd", torch.ones(feat_dim))
        self.conv1 = nn.Conv1d(feat_dim, conv_ch, kernel, stride=2)
        self.conv2 = nn.Conv1d(conv_ch, conv_ch, kernel, stride=s2)
        self.gru = nn.GRU(conv_ch, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def normalise(self, x):
        return (x - self.mean) * self.istd

    def forward_full(self, x, specaug=None):
        """x: [N, T, F] raw fbank, T a multiple of R -> log-probs [N, T/R, V]."""
        x = self.normalise(x)
        if specaug is not None:
            x = specaug(x)
        y = x.transpose(1, 2)
        y = F.relu(self.conv1(F.pad(y, (self.cache1, 0))))
        y = F.relu(self.conv2(F.pad(y, (self.cache2, 0))))
        y, _ = self.gru(y.transpose(1, 2))
        return F.log_softmax(self.out(y), dim=-1)

    def initial_state(self, n):
        return (torch.zeros(n, self.feat_dim, self.cache1),
                torch.zeros(n, self.conv_ch, self.cache2),
                torch.zeros(self.layers, n, self.hidden))

    def state_names(self):
        return ["conv1_cache", "conv2_cache", "gru_state"]

    def state_batch_axes(self):
        return [0, 0, 1]

    def forward_stream(self, x, c1, c2, h):
        """One chunk. x: [N, S, F] (S a multiple of R); c1: [N, F, k-2]; c2: [N, C, k-R/2];
        h: [L, N, H]. Returns log-probs [N, S/R, V] and the next (c1, c2, h)."""
        y = self.normalise(x).transpose(1, 2)
        y = torch.cat([c1, y], dim=2)
        nc1 = y[:, :, -self.cache1:]
        y = F.relu(self.conv1(y))
        y = torch.cat([c2, y], dim=2)
        nc2 = y[:, :, -self.cache2:]
        y = F.relu(self.conv2(y))
        y, nh = self.gru(y.transpose(1, 2), h)
        return F.log_softmax(self.out(y), dim=-1), nc1, nc2, nh


class SpecAugment(nn.Module):
    """Light SpecAugment on normalised features: frequency and time masks set to 0."""

    def __init__(self, fmasks=2, fwidth=10, tmasks=2, twidth=20):
        super().__init__()
        self.fmasks, self.fwidth, self.tmasks, self.twidth = fmasks, fwidth, tmasks, twidth

    def forward(self, x):
        n, t, f = x.shape
        x = x.clone()
        for b in range(n):
            for _ in range(self.fmasks):
                w = int(torch.randint(0, self.fwidth + 1, ()))
                s = int(torch.randint(0, max(1, f - w), ()))
                x[b, :, s:s + w] = 0
            for _ in range(self.tmasks):
                w = int(torch.randint(0, min(self.twidth, max(1, t // 8)) + 1, ()))
                s = int(torch.randint(0, max(1, t - w), ()))
                x[b, s:s + w, :] = 0
        return x



class StreamingConvCTC(nn.Module):
    """Causal convolutional CTC model: x4 causal subsampling, then residual blocks of
    dilated causal convolutions with per-frame layer norm, then a linear CTC head.

    Every convolution sees only past frames, so the model streams exactly: each block
    carries its last (kernel-1)*dilation input frames as a cache tensor [N, C, cache].
    Unlike a GRU, training runs in parallel over time, which is what makes a useful
    model trainable on two CPU cores in about 90 minutes.
    """

    def __init__(self, feat_dim=80, channels=256, dilations=(1, 2, 4, 8, 1, 2, 4, 8), kernel=3,
                 vocab=len(TOKENS), dropout=0.1):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.feat_dim, self.channels, self.kernel = feat_dim, channels, kernel
        self.dilations = list(dilations)
        self.subsampling = 4
        self.register_buffer("mean", torch.zeros(feat_dim))
        self.register_buffer("istd", torch.ones(feat_dim))
        # stride-2 convolutions with kernel 3 need kernel-stride = 1 frame of left context
        self.sub1 = nn.Conv1d(feat_dim, channels, kernel, stride=2)
        self.sub2 = nn.Conv1d(channels, channels, kernel, stride=2)
        self.blocks = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d) for d in self.dilations)
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in self.dilations)
        self.out = nn.Linear(channels, vocab)

    def cache_sizes(self):
        return [self.kernel - 2, self.kernel - 2] + [(self.kernel - 1) * d for d in self.dilations]

    def normalise(self, x):
        return (x - self.mean) * self.istd

    def _run(self, y, caches):
        """y: [N, F, T] normalised features; caches: one tensor per conv (None = zeros).
        Returns log-probs [N, T/4, V] and each conv's next cache."""
        nxt = []

        def causal(conv, y, cache, size):
            if cache is None:
                y = F.pad(y, (size, 0))
            else:
                y = torch.cat([cache, y], dim=2)
            nxt.append(y[:, :, y.shape[2] - size:])
            return conv(y)

        sizes = self.cache_sizes()
        y = F.relu(causal(self.sub1, y, caches[0], sizes[0]))
        y = F.relu(causal(self.sub2, y, caches[1], sizes[1]))
        for i, (conv, norm) in enumerate(zip(self.blocks, self.norms)):
            h = self.drop(F.relu(causal(conv, y, caches[2 + i], sizes[2 + i])))
            y = norm((y + h).transpose(1, 2)).transpose(1, 2)
        return F.log_softmax(self.out(y.transpose(1, 2)), dim=-1), nxt

    def forward_full(self, x, specaug=None):
        """x: [N, T, F] raw fbank, T a multiple of 4 -> log-probs [N, T/4, V]."""
        x = self.normalise(x)
        if specaug is not None:
            x = specaug(x)
        lp, _ = self._run(x.transpose(1, 2), [None] * len(self.cache_sizes()))
        return lp

    def initial_state(self, n):
        chans = [self.feat_dim] + [self.channels] * (len(self.cache_sizes()) - 1)
        return tuple(torch.zeros(n, c, s) for c, s in zip(chans, self.cache_sizes()))

    def state_names(self):
        return ["sub1_cache", "sub2_cache"] + [f"block{i}_cache" for i in range(len(self.dilations))]

    def state_batch_axes(self):
        return [0] * len(self.cache_sizes())

    def forward_stream(self, x, *caches):
        """One chunk. x: [N, S, F] (S a multiple of 4); caches as initial_state().
        Returns log-probs [N, S/4, V] and the next caches."""
        lp, nxt = self._run(self.normalise(x).transpose(1, 2), list(caches))
        return (lp, *nxt)


def build(cfg):
    """The model a checkpoint's cfg describes (arch 'gru' when absent, for old checkpoints)."""
    cfg = dict(cfg)
    arch = cfg.pop("arch", "gru")
    if arch == "conv":
        return StreamingConvCTC(**cfg)
    return StreamingCTC(**cfg)


class MatMulConvCTC(nn.Module):
    """Inference-only form of a trained StreamingConvCTC, for export: the same function
    with the same weights and the same state tensors, written with matrix products.

    ONNX Runtime's CPU Conv runs an im2col and one small GEMM per batch item (8 output
    frames per chunk), so a batch of streams gives the GEMMs no more rows. Here the
    activations are time-major ([N, T, C]) and each causal convolution (kernel 3,
    dilation d) is the concatenation of the frames t, t+d and t+2d of [cache; input]
    along channels, [N, T, 3C], times a [3C, C] matrix: one Gemm with N*T rows for the
    whole batch. The stride-2 subsampling convolutions take frames 2t and 2t+1 as one
    row (a reshape of [N, 2T, C] to [N, T, 2C]) and frame 2t+2 from a strided slice.
    LayerNorm runs over the last axis with no transposes. The caches keep the layout of
    StreamingConvCTC ([N, C, cache], channel-major) and the same values, so the ONNX
    I/O contract does not change; only these small tensors are transposed.
    """

    def __init__(self, m, chunk, time_major_state=False):
        super().__init__()
        assert isinstance(m, StreamingConvCTC) and m.kernel == 3, "needs a kernel-3 StreamingConvCTC"
        assert chunk % 4 == 0, chunk
        # every size is a Python int fixed at export, so the graph has no Shape ops
        self.chunk = chunk
        self.time_major = time_major_state
        self._cache_sizes = m.cache_sizes()
        # tap indices for the time-major form: output frame t of a conv reads frames
        # idx[3t], idx[3t+1], idx[3t+2] of its [cache; input] sequence (one Gather)
        t = chunk // 4
        self.register_buffer("idx_sub1", torch.tensor([2 * i + k for i in range(chunk // 2) for k in range(3)]),
                             persistent=False)
        self.register_buffer("idx_sub2", torch.tensor([2 * i + k for i in range(t) for k in range(3)]),
                             persistent=False)
        for d in sorted(set(m.dilations)):
            self.register_buffer(f"idx_d{d}", torch.tensor([i + k * d for i in range(t) for k in range(3)]),
                                 persistent=False)
        self.feat_dim, self.channels = m.feat_dim, m.channels
        self.dilations = list(m.dilations)
        self.subsampling = m.subsampling
        self.register_buffer("mean", m.mean.detach().clone())
        self.register_buffer("istd", m.istd.detach().clone())

        def taps(conv):
            # Conv1d weight [out, in, k] -> [k*in, out]: row k*in + i multiplies tap k, channel i
            w = conv.weight.detach()
            return nn.Parameter(w.permute(2, 1, 0).reshape(-1, w.shape[0]).contiguous(), requires_grad=False), \
                nn.Parameter(conv.bias.detach().clone(), requires_grad=False)

        self.w_sub1, self.b_sub1 = taps(m.sub1)
        self.w_sub2, self.b_sub2 = taps(m.sub2)
        wb = [taps(c) for c in m.blocks]
        self.w_blocks = nn.ParameterList(w for w, _ in wb)
        self.b_blocks = nn.ParameterList(b for _, b in wb)
        self.ln_w = nn.ParameterList(nn.Parameter(n.weight.detach().clone(), requires_grad=False) for n in m.norms)
        self.ln_b = nn.ParameterList(nn.Parameter(n.bias.detach().clone(), requires_grad=False) for n in m.norms)
        self.ln_eps = [n.eps for n in m.norms]
        self.w_out = nn.Parameter(m.out.weight.detach().t().contiguous(), requires_grad=False)
        self.b_out = nn.Parameter(m.out.bias.detach().clone(), requires_grad=False)
        self.vocab = m.out.out_features
        self._initial_state, self._state_names = m.initial_state, m.state_names
        self._state_batch_axes = m.state_batch_axes

    def initial_state(self, n):
        if self.time_major:
            chans = [self.feat_dim] + [self.channels] * (len(self._cache_sizes) - 1)
            return tuple(torch.zeros(n, s, c) for c, s in zip(chans, self._cache_sizes))
        return self._initial_state(n)

    def state_names(self):
        return self._state_names()

    def state_batch_axes(self):
        return self._state_batch_axes()

    @staticmethod
    def _sub(z, t2, c, w, b):
        """Causal stride-2 kernel-3 conv of z [N, 1+t2, c] (one cache frame first):
        output t sees frames 2t, 2t+1, 2t+2. Returns [N*t2/2, C_out] after ReLU."""
        pairs = z[:, :t2].reshape(-1, t2 // 2, 2 * c)   # frames 2t, 2t+1
        third = z[:, 2::2]                              # frames 2t+2
        u = torch.cat([pairs, third], dim=2).reshape(-1, 3 * c)
        return F.relu(torch.addmm(b, u, w))

    def forward_stream(self, x, *caches):
        """x: [N, S, F] raw fbank (S = chunk); caches as StreamingConvCTC.initial_state.
        Returns log-probs [N, S/4, V] and the next caches, equal to StreamingConvCTC's."""
        if self.time_major:
            return self._forward_time_major(x, *caches)
        s, t, c = self.chunk, self.chunk // 4, self.channels
        y = (x - self.mean) * self.istd                         # [N, S, F]
        nxt = []
        z = torch.cat([caches[0].transpose(1, 2), y], dim=1)    # [N, 1+S, F]
        nxt.append(z[:, s:].transpose(1, 2))
        y = self._sub(z, s, self.feat_dim, self.w_sub1, self.b_sub1).reshape(-1, s // 2, c)
        z = torch.cat([caches[1].transpose(1, 2), y], dim=1)    # [N, 1+S/2, C]
        nxt.append(z[:, s // 2:].transpose(1, 2))
        y = self._sub(z, s // 2, c, self.w_sub2, self.b_sub2)   # [N*T, C]
        for i, d in enumerate(self.dilations):
            z = torch.cat([caches[2 + i].transpose(1, 2), y.reshape(-1, t, c)], dim=1)  # [N, 2d+T, C]
            nxt.append(z[:, t:].transpose(1, 2))
            u = torch.cat([z[:, :t], z[:, d:d + t], z[:, 2 * d:2 * d + t]], dim=2).reshape(-1, 3 * c)
            h = F.relu(torch.addmm(self.b_blocks[i], u, self.w_blocks[i]))
            y = F.layer_norm(y + h, (c,), self.ln_w[i], self.ln_b[i], self.ln_eps[i])
        lp = F.log_softmax(torch.addmm(self.b_out, y, self.w_out), dim=-1)
        return (lp.reshape(-1, t, self.vocab), *nxt)

    def _forward_time_major(self, x, *caches):
        """forward_stream with time-major caches [N, (k-1)*d, C] (the same values as
        StreamingConvCTC's, transposed): no Transpose in the graph, and each
        convolution's input rows come from one Gather of its [cache; input] frames."""
        s, t, c = self.chunk, self.chunk // 4, self.channels
        y = (x - self.mean) * self.istd                                # [N, S, F]
        nxt = []
        z = torch.cat([caches[0], y], dim=1)                           # [N, 1+S, F]
        nxt.append(z[:, s:])
        u = z.index_select(1, self.idx_sub1).reshape(-1, 3 * self.feat_dim)
        y = F.relu(torch.addmm(self.b_sub1, u, self.w_sub1)).reshape(-1, s // 2, c)
        z = torch.cat([caches[1], y], dim=1)                           # [N, 1+S/2, C]
        nxt.append(z[:, s // 2:])
        u = z.index_select(1, self.idx_sub2).reshape(-1, 3 * c)
        y = F.relu(torch.addmm(self.b_sub2, u, self.w_sub2))           # [N*T, C]
        for i, d in enumerate(self.dilations):
            z = torch.cat([caches[2 + i], y.reshape(-1, t, c)], dim=1)  # [N, 2d+T, C]
            nxt.append(z[:, t:])
            u = z.index_select(1, getattr(self, f"idx_d{d}")).reshape(-1, 3 * c)
            h = F.relu(torch.addmm(self.b_blocks[i], u, self.w_blocks[i]))
            y = F.layer_norm(y + h, (c,), self.ln_w[i], self.ln_b[i], self.ln_eps[i])
        lp = F.log_softmax(torch.addmm(self.b_out, y, self.w_out), dim=-1)
        return (lp.reshape(-1, t, self.vocab), *nxt)
