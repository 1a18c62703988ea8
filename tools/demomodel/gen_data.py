#!/usr/bin/python3
"""gen_data.py: synthesise, augment and featurise the demo model's speech data.

Each sentence is spoken by one randomly chosen synthetic voice (espeak-ng voices and
variants with random rate and pitch, flite voices with random duration stretch,
festival's kal_diphone), resampled to 16 kHz mono, augmented (random gain, white or
pink noise, a short random reverb-like FIR, codec round-trips through AAC, MP2 or
AC-3 with ffmpeg) and turned into 80-bin Kaldi fbank features exactly as the Go
daemon computes them (MODEL-CONTRACT §3.1). Features go to shards of float16 tensors.

    /usr/bin/python3 tools/demomodel/gen_data.py --text work/text/train.txt \
        --out work/feats/train --split train --max-utts 6000 --max-minutes 18
    /usr/bin/python3 tools/demomodel/gen_data.py --text work/text/test.txt \
        --out work/feats/val --split val --max-utts 400

--split train uses only training voices; --split val speaks each test sentence with a
training voice and (for every second sentence) also with the held-out voice.
"""
import argparse
import glob
import io
import math
import multiprocessing as mp
import os
import random
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

HELD_OUT_VOICE = "flite:slt"

ESPEAK_BASES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029",
                "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc"]
ESPEAK_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7",
                   "f1", "f2", "f3", "f4", "klatt", "klatt2", "klatt3"]
FLITE_TRAIN = ["kal", "kal16", "rms", "awb"]


def training_voices():
    """All training voice names, as 'engine:name'."""
    v = [f"espeak:{b}{'+' + x if x else ''}" for b in ESPEAK_BASES for x in ESPEAK_VARIANTS]
    v += [f"flite:{f}" for f in FLITE_TRAIN]
    v += ["festival:kal_diphone"]
    return v


def pick_voice(r):
    """Random training voice: espeak-ng 65 %, flite 28 %, festival 7 %."""
    x = r.random()
    if x < 0.65:
        b = r.choice(ESPEAK_BASES)
        var = r.choice(ESPEAK_VARIANTS)
        return f"espeak:{b}{'+' + var if var else ''}"
    if x < 0.93:
        return "flite:" + r.choice(FLITE_TRAIN)
    return "festival:kal_diphone"


def read_wav(data):
    with wave.open(io.BytesIO(data)) as w:
        sr = w.getframerate()
        ch = w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
    if ch > 1:
        pcm = pcm.reshape(-1, ch).mean(axis=1)
    return pcm / 32768.0, sr


def synth(voice, text, r, tmpdir):
    """Synthesise text; returns (float32 samples, sample rate)."""
    eng, name = voice.split(":", 1)
    out = os.path.join(tmpdir, "u.wav")
    if eng == "espeak":
        rate = r.randint(130, 190)
        pitch = r.randint(30, 70)
        subprocess.run(["espeak-ng", "-v", name, "-s", str(rate), "-p", str(pitch),
                        "-w", out, text], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    elif eng == "flite":
        stretch = r.uniform(0.85, 1.2)
        subprocess.run(["flite", "-voice", name, "--setf", f"duration_stretch={stretch:.2f}",
                        "-t", text, "-o", out], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    else:
        raise ValueError(voice)
    with open(out, "rb") as f:
        return read_wav(f.read())


def festival_batch(items, tmpdir):
    """Synthesise [(idx, text, stretch)] with festival kal_diphone in one process."""
    scm = os.path.join(tmpdir, "batch.scm")
    with open(scm, "w") as f:
        f.write("(voice_kal_diphone)\n")
        for idx, text, stretch in items:
            f.write(f"(Parameter.set 'Duration_Stretch {stretch:.2f})\n")
            f.write(f"(utt.save.wave (utt.synth (Utterance Text \"{text}\")) "
                    f"\"{tmpdir}/fest{idx}.wav\" 'riff)\n")
    subprocess.run(["festival", "-b", scm], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    res = {}
    for idx, _, _ in items:
        p = f"{tmpdir}/fest{idx}.wav"
        if os.path.exists(p):
            with open(p, "rb") as f:
                res[idx] = read_wav(f.read())
            os.remove(p)
    return res


def pink_noise(n, rng):
    """Approximate 1/f noise by shaping white noise in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec = spec / np.sqrt(f)
    x = np.fft.irfft(spec, n)
    return (x / (np.std(x) + 1e-9)).astype(np.float32)


def codec_roundtrip(x, codec):
    """Encode 16 kHz mono float audio with ffmpeg (48 kHz, like broadcast) and decode back."""
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    args = {"aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
            "mp2": ["-c:a", "mp2", "-b:a", "128k", "-f", "mp2"],
            "ac3": ["-c:a", "ac3", "-b:a", "96k", "-f", "ac3"]}[codec]
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "s16le", "-ar", "16000", "-ac", "1",
                          "-i", "pipe:0", "-ar", "48000"] + args + ["pipe:1"],
                         input=pcm, capture_output=True, check=True).stdout
    dec = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ar", "16000",
                          "-ac", "1", "pipe:1"], input=enc, capture_output=True, check=True).stdout
    y = np.frombuffer(dec, dtype="<i2").astype(np.float32) / 32768.0
    return y


def augment(x, r, rng, strength=1.0):
    """Silence padding, reverb-like FIR, gain, noise and codec round trip."""
    sr = 16000
    pre = np.zeros(int(sr * r.uniform(0.05, 0.4)), np.float32)
    post = np.zeros(int(sr * r.uniform(0.15, 0.5)), np.float32)
    x = np.concatenate([pre, x, post])
    if r.random() < 0.3 * strength:
        # short random decaying impulse response (20-80 ms) plus a strong direct path
        n = int(sr * r.uniform(0.02, 0.08))
        ir = rng.standard_normal(n).astype(np.float32) * np.exp(-np.arange(n) / (n / 4)).astype(np.float32)
        ir *= r.uniform(0.1, 0.4) / (np.sqrt(np.sum(ir ** 2)) + 1e-9)
        ir[0] = 1.0
        if r.random() < 0.5:  # a comb echo
            d = int(sr * r.uniform(0.005, 0.03))
            if d < n:
                ir[d] += r.uniform(0.2, 0.5)
        x = np.convolve(x, ir)[: len(x)].astype(np.float32)
    peak = np.max(np.abs(x)) + 1e-9
    x = x / peak * 0.5 * (10 ** (r.uniform(-6, 6) / 20))
    if r.random() < 0.6 * strength:
        snr = r.uniform(15, 40)
        noise = pink_noise(len(x), rng) if r.random() < 0.5 else rng.standard_normal(len(x)).astype(np.float32)
        sp = np.mean(x ** 2) + 1e-12
        noise *= math.sqrt(sp / (10 ** (snr / 10))) / (np.std(noise) + 1e-9)
        x = x + noise
    x = np.clip(x, -1, 1)
    codec = None
    if r.random() < 0.3 * strength:
        codec = r.choice(["aac", "mp2", "ac3"])
        try:
            x = codec_roundtrip(x, codec)
        except subprocess.CalledProcessError:
            codec = None
    return x.astype(np.float32), codec


def fbank(x):
    """Kaldi fbank as in MODEL-CONTRACT §3.1 (samples in [-1, 1])."""
    import torch
    import torchaudio
    w = torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(0)
    return torchaudio.compliance.kaldi.fbank(
        w, num_mel_bins=80, dither=0.0, snip_edges=False, window_type="povey",
        sample_frequency=16000, low_freq=20, high_freq=-400, use_energy=False)


def work_shard(args):
    shard_id, jobs, out, seed, strength = args
    import torch
    import torchaudio
    torch.set_num_threads(1)
    path = os.path.join(out, f"shard{shard_id:04d}.pt")
    if os.path.exists(path):
        return path, 0
    r = random.Random(seed * 100003 + shard_id)
    rng = np.random.default_rng(seed * 100003 + shard_id)
    feats, texts, voices, codecs, secs = [], [], [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        fest = [(i, t, r.uniform(0.85, 1.2)) for i, (t, v) in enumerate(jobs) if v.startswith("festival")]
        fest_audio = festival_batch(fest, tmp) if fest else {}
        for i, (text, voice) in enumerate(jobs):
            try:
                if voice.startswith("festival"):
                    if i not in fest_audio:
                        continue
                    x, sr = fest_audio[i]
                else:
                    x, sr = synth(voice, text, r, tmp)
            except subprocess.CalledProcessError:
                continue
            if len(x) < sr // 4:
                continue
            if sr != 16000:
                x = torchaudio.functional.resample(torch.from_numpy(x), sr, 16000).numpy()
            x, codec = augment(x, r, rng, strength)
            secs += len(x) / 16000
            feats.append(fbank(x).to(torch.float16))
            texts.append(text)
            voices.append(voice)
            codecs.append(codec or "")
    lens = torch.tensor([f.shape[0] for f in feats], dtype=torch.int64)
    torch.save({"feats": torch.cat(feats), "lens": lens, "texts": texts, "voices": voices,
                "codecs": codecs, "seconds": secs}, path + ".tmp")
    os.replace(path + ".tmp", path)
    return path, secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", choices=["train", "val"], default="train")
    ap.add_argument("--max-utts", type=int, default=6000)
    ap.add_argument("--max-minutes", type=float, default=1e9, help="stop submitting shards after this")
    ap.add_argument("--shard", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip", type=int, default=0,
                    help="start at this sentence (to extend a set; shards are numbered on from skip/shard)")
    a = ap.parse_args()
    with open(a.text) as f:
        sents = [l.strip() for l in f if l.strip()]
    r = random.Random(a.seed + a.skip)
    jobs = []
    if a.split == "train":
        for s in sents[a.skip: a.max_utts]:
            jobs.append((s, pick_voice(r)))
        strength = 1.0
    else:
        for i, s in enumerate(sents[: a.max_utts]):
            jobs.append((s, pick_voice(r)))
            if i % 2 == 0:
                jobs.append((s, HELD_OUT_VOICE))
        strength = 0.5
    os.makedirs(a.out, exist_ok=True)
    shards = [jobs[i:i + a.shard] for i in range(0, len(jobs), a.shard)]
    t0 = time.time()
    total = 0.0
    with mp.Pool(a.workers) as pool:
        it = pool.imap(work_shard, [(i + a.skip // a.shard, sh, a.out, a.seed, strength) for i, sh in enumerate(shards)])
        for i in range(len(shards)):
            path, secs = next(it)
            total += secs
            el = time.time() - t0
            print(f"{path}: {secs/60:.1f} min audio, total {total/3600:.2f} h, {el/60:.1f} min elapsed", flush=True)
            if el > a.max_minutes * 60:
                print("time limit reached; stopping", flush=True)
                pool.terminate()
                break


if __name__ == "__main__":
    main()
