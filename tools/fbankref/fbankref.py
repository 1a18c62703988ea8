#!/usr/bin/python3
"""Reference log-mel features for decoder/features.

Generates a few deterministic test signals and computes, for each:

  * the Kaldi-compatible fbank that icefall / k2 models expect
    (MODEL-CONTRACT.md section 3.1) with torchaudio.compliance.kaldi.fbank;
  * the NeMo variant that sherpa-onnx computes for NeMo models
    (MODEL-CONTRACT.md section 3.2: periodic Hann window, Slaney mel
    0..8000 Hz with Slaney area normalisation, no DC removal), for 80 and
    128 bins, written directly from the spec with numpy and
    torchaudio.functional.melscale_fbanks.

Everything is computed in float64 from the float32 samples that are
written out, so the reference is the exact value of the specified
computation, not one float32 implementation's rounding of it.

Output (in --out, default decoder/features/testdata):
  index.json          list of signals with their file names and shapes
  <name>.pcm.f32      samples, little-endian float32, in [-1, 1]
  <name>.kaldi80.f32  frames x 80, row-major little-endian float32
  <name>.nemo80.f32   frames x 80
  <name>.nemo128.f32  frames x 128

Run with Debian's interpreter (python3-torchaudio):
  /usr/bin/python3 tools/fbankref/fbankref.py
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as taf

SAMPLE_RATE = 16000
FRAME_LENGTH = 400  # 25 ms
FRAME_SHIFT = 160  # 10 ms
FFT_SIZE = 512
PREEMPH = 0.97
FLT_EPSILON = float(np.finfo(np.float32).eps)


def signals():
    """Deterministic test signals, float32 in [-1, 1]."""
    sr = SAMPLE_RATE
    out = []

    # Linear chirp 100 Hz -> 7900 Hz over 1.5 s, amplitude 0.5.
    n = int(1.5 * sr)
    t = np.arange(n) / sr
    f0, f1 = 100.0, 7900.0
    k = (f1 - f0) / (n / sr)
    out.append(("chirp", 0.5 * np.sin(2 * np.pi * (f0 * t + 0.5 * k * t * t))))

    # Three tones plus white noise from a fixed seed, with a DC offset so that
    # DC removal matters.
    rng = np.random.RandomState(20240611)
    n = int(1.2 * sr)
    t = np.arange(n) / sr
    x = (
        0.3 * np.sin(2 * np.pi * 440.0 * t)
        + 0.2 * np.sin(2 * np.pi * 1234.5 * t + 0.3)
        + 0.1 * np.sin(2 * np.pi * 3800.0 * t + 1.1)
        + 0.05 * rng.standard_normal(n)
        + 0.1
    )
    out.append(("tones_noise", x))

    # Digital silence.
    out.append(("silence", np.zeros(int(0.3 * sr))))

    # A short clip of 0.1 s: speech-like harmonic series with a decaying
    # envelope.
    n = int(0.1 * sr)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for h in range(1, 12):
        x += (0.4 / h) * np.sin(2 * np.pi * 140.0 * h * t + 0.7 * h)
    x *= np.exp(-t * 12.0)
    out.append(("short_0p1s", x))

    # Odd length (not a multiple of the 160-sample shift, and with a
    # remainder above half a shift, so the last frame is rounded up):
    # quiet noise bursts, amplitude modulation and a near-full-scale tone.
    rng = np.random.RandomState(7)
    n = 7777
    t = np.arange(n) / sr
    x = 0.02 * rng.standard_normal(n)
    x += 0.9 * np.sin(2 * np.pi * 250.0 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t))
    x[3000:3400] += 0.3 * rng.standard_normal(400)
    out.append(("odd_7777", np.clip(x, -1.0, 1.0)))

    # Odd length with a remainder below half a shift (rounded down).
    rng = np.random.RandomState(99)
    n = 4321
    out.append(("odd_4321", 0.25 * rng.uniform(-1.0, 1.0, n)))

    return [(name, np.asarray(x, dtype=np.float32)) for name, x in out]


def kaldi_fbank(x32, dtype=torch.float64):
    """MODEL-CONTRACT 3.1 via torchaudio.compliance.kaldi.fbank."""
    wav = torch.from_numpy(x32.astype(np.float64)).to(dtype).unsqueeze(0)
    # torchaudio builds the mel matrix in the default dtype; make that the
    # requested one so the float64 reference has float64 triangle weights.
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        feats = _kaldi_fbank(wav)
    finally:
        torch.set_default_dtype(prev)
    return feats.to(torch.float64).numpy()


def _kaldi_fbank(wav):
    return kaldi.fbank(
        wav,
        num_mel_bins=80,
        frame_length=25.0,
        frame_shift=10.0,
        dither=0.0,
        snip_edges=False,
        window_type="povey",
        preemphasis_coefficient=PREEMPH,
        remove_dc_offset=True,
        use_energy=False,
        sample_frequency=float(SAMPLE_RATE),
        low_freq=20.0,
        high_freq=-400.0,
        use_power=True,
        use_log_fbank=True,
        round_to_power_of_two=True,
    )


def frames_snip_edges_false(x):
    """Kaldi framing with snip_edges=false: frame f starts at 160f-120,
    samples outside the signal are reflected (-1 -> 0, n -> n-1)."""
    n = len(x)
    m = (n + FRAME_SHIFT // 2) // FRAME_SHIFT
    out = np.zeros((m, FRAME_LENGTH))
    for f in range(m):
        start = FRAME_SHIFT * f + FRAME_SHIFT // 2 - FRAME_LENGTH // 2
        for i in range(FRAME_LENGTH):
            s = start + i
            while s < 0 or s >= n:
                s = -s - 1 if s < 0 else 2 * n - 1 - s
            out[f, i] = x[s]
    return out


def spectrum_frames(x32, window, remove_dc):
    frames = frames_snip_edges_false(x32.astype(np.float64))
    if remove_dc:
        frames = frames - frames.mean(axis=1, keepdims=True)
    pre = frames.copy()
    pre[:, 1:] -= PREEMPH * frames[:, :-1]
    pre[:, 0] -= PREEMPH * frames[:, 0]
    pre *= window[None, :]
    spec = np.fft.rfft(pre, n=FFT_SIZE, axis=1)
    return spec.real ** 2 + spec.imag ** 2  # [m, 257]


def kaldi_fbank_numpy(x32):
    """The same Kaldi fbank written from the spec; used only to cross-check
    the numpy framing that the NeMo reference shares with it."""
    i = np.arange(FRAME_LENGTH)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * i / (FRAME_LENGTH - 1))) ** 0.85
    power = spectrum_frames(x32, window, remove_dc=True)[:, : FFT_SIZE // 2]

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    lo, hi = mel(20.0), mel(SAMPLE_RATE / 2 - 400.0)
    delta = (hi - lo) / 81
    m = mel(np.arange(FFT_SIZE // 2) * SAMPLE_RATE / FFT_SIZE)
    bank = np.zeros((80, FFT_SIZE // 2))
    for b in range(80):
        left, center, right = lo + b * delta, lo + (b + 1) * delta, lo + (b + 2) * delta
        up = (m - left) / (center - left)
        down = (right - m) / (right - center)
        bank[b] = np.maximum(0.0, np.minimum(up, down))
    return np.log(np.maximum(power @ bank.T, FLT_EPSILON))


def nemo_fbank(x32, bins):
    """MODEL-CONTRACT 3.2: sherpa-onnx's features for NeMo models."""
    window = torch.hann_window(FRAME_LENGTH, periodic=True, dtype=torch.float64).numpy()
    power = spectrum_frames(x32, window, remove_dc=False)  # [m, 257]
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        bank = taf.melscale_fbanks(
            FFT_SIZE // 2 + 1, 0.0, 8000.0, bins, SAMPLE_RATE, norm="slaney", mel_scale="slaney"
        ).numpy()  # [257, bins]
    finally:
        torch.set_default_dtype(prev)
    return np.log(np.maximum(power @ bank, FLT_EPSILON))


def write_f32(path, arr):
    np.asarray(arr, dtype="<f4").tofile(path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "decoder", "features", "testdata"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=default_out, help="output directory (default %(default)s)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    index = {
        "generator": "tools/fbankref/fbankref.py",
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "numpy": np.__version__,
        "sample_rate": SAMPLE_RATE,
        "signals": [],
    }
    worst_cross, worst_f32 = 0.0, 0.0
    for name, x in signals():
        n = len(x)
        want_frames = (n + FRAME_SHIFT // 2) // FRAME_SHIFT
        kal = kaldi_fbank(x)
        if kal.shape != (want_frames, 80):
            sys.exit(f"{name}: torchaudio gave {kal.shape}, want ({want_frames}, 80)")
        # Sanity checks of the reference itself: the numpy Kaldi pipeline must
        # agree with torchaudio (this validates the framing the NeMo reference
        # uses), and torchaudio in float32 shows how much plain float32
        # rounding moves the features.
        cross = float(np.max(np.abs(kaldi_fbank_numpy(x) - kal)))
        f32 = float(np.max(np.abs(kaldi_fbank(x, torch.float32) - kal)))
        worst_cross, worst_f32 = max(worst_cross, cross), max(worst_f32, f32)
        if cross > 1e-6:
            sys.exit(f"{name}: numpy Kaldi fbank differs from torchaudio by {cross}")
        entry = {"name": name, "samples": n, "frames": want_frames, "pcm": f"{name}.pcm.f32", "features": {}}
        write_f32(os.path.join(args.out, entry["pcm"]), x)
        outputs = [("kaldi80", kal), ("nemo80", nemo_fbank(x, 80)), ("nemo128", nemo_fbank(x, 128))]
        for key, feats in outputs:
            if not np.all(np.isfinite(feats)):
                sys.exit(f"{name}/{key}: non-finite features")
            fname = f"{name}.{key}.f32"
            write_f32(os.path.join(args.out, fname), feats)
            entry["features"][key] = {"file": fname, "bins": int(feats.shape[1])}
        index["signals"].append(entry)
        print(f"{name}: {n} samples, {want_frames} frames, numpy-vs-torchaudio {cross:.2e}, float32-vs-float64 {f32:.2e}")
    with open(os.path.join(args.out, "index.json"), "w") as fh:
        json.dump(index, fh, indent=1)
        fh.write("\n")
    print(f"worst numpy-vs-torchaudio {worst_cross:.2e}, worst torchaudio float32-vs-float64 {worst_f32:.2e}")


if __name__ == "__main__":
    main()
