#!/usr/bin/python3
"""transcribe_py.py: a Python stand-in for `subtitled transcribe`, for checking a checkpoint.

It takes the same arguments score.sh passes to the Go binary, decodes the first audio
stream with ffmpeg to 16 kHz mono, computes the same Kaldi fbank, runs the torch
checkpoint chunk by chunk exactly as the streaming contract prescribes (pad_value past
the end, state carried between calls), decodes greedily and writes one JSON line
{"text": ...}. Its numbers are a proxy only; the model card's numbers come from the
Go binary.

    SUBTITLED=tools/demomodel/transcribe_py.py tools/demomodel/score.sh
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import StreamingCTC, decode_ids  # noqa: E402
from gen_data import fbank  # noqa: E402

PAD_VALUE = -15.9453


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["transcribe"])
    ap.add_argument("--model", default="")
    ap.add_argument("--format", default="json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ckpt", default=os.environ.get("DEMO_CKPT", os.path.join(HERE, "work/ckpt/best.pt")))
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("input")
    a = ap.parse_args()
    torch.set_num_threads(1)
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", a.input, "-map", "0:a:0", "-f", "s16le",
                          "-ac", "1", "-ar", "16000", "pipe:1"], capture_output=True, check=True).stdout
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    feats = fbank(x)
    ck = torch.load(a.ckpt)
    m = StreamingCTC(**ck.get("cfg", {}))
    m.load_state_dict(ck["model"])
    m.eval()
    n = feats.shape[0]
    calls = (n + a.chunk - 1) // a.chunk
    pad = torch.full((calls * a.chunk - n, 80), PAD_VALUE)
    feats = torch.cat([feats, pad]).unsqueeze(0)
    st = m.initial_state(1)
    ids = []
    with torch.no_grad():
        for c in range(calls):
            lp, *st = m.forward_stream(feats[:, c * a.chunk:(c + 1) * a.chunk], *st)
            ids += lp.argmax(-1)[0].tolist()
    with open(a.out, "w") as f:
        f.write(json.dumps({"text": decode_ids(ids)}) + "\n")


if __name__ == "__main__":
    main()
