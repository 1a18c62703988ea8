#!/usr/bin/python3
"""train.py: train the demo streaming CTC model on the features from gen_data.py.

    nohup nice -n 5 /usr/bin/python3 tools/demomodel/train.py --minutes 70 \
        > tools/demomodel/work/train.log 2>&1 &
    # after an interruption, continue from work/ckpt/last.pt:
    /usr/bin/python3 tools/demomodel/train.py --minutes 70 --resume

The learning-rate schedule is a function of training time (warm-up, then cosine decay
to the end of --minutes), so a run fits a fixed time budget. Checkpoints: work/ckpt/
last.pt (every --ckpt-minutes) and best.pt (lowest validation WER on training voices).
"""
import argparse
import glob
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import SpecAugment, build, encode_text, decode_ids  # noqa: E402

PAD_VALUE = -15.9453
HERE = os.path.dirname(os.path.abspath(__file__))
HELD_OUT_VOICE = "flite:slt"


def load_shards(d, old=None):
    """Load every shard in d; with old, only shards not yet loaded, appended to old."""
    feats, lens, texts, voices, secs = [], [], [], [], 0.0
    files = []
    if old is not None:
        feats, lens, texts, voices, secs = [old["feats"]], [old["lens"]], list(old["texts"]), list(old["voices"]), old["seconds"]
        files = list(old["files"])
    for p in sorted(glob.glob(os.path.join(d, "shard*.pt"))):
        if p in files:
            continue
        files.append(p)
        s = torch.load(p)
        feats.append(s["feats"])
        lens.append(s["lens"])
        texts += s["texts"]
        voices += s["voices"]
        secs += s["seconds"]
    if not feats:
        raise SystemExit(f"no shards in {d}")
    feats = torch.cat(feats)
    lens = torch.cat(lens)
    offs = torch.zeros_like(lens)
    offs[1:] = torch.cumsum(lens, 0)[:-1]
    return {"feats": feats, "lens": lens, "offs": offs, "texts": texts, "voices": voices, "seconds": secs,
            "files": files}


def make_batch(data, idx, r):
    lens = [int(data["lens"][i]) for i in idx]
    t = max(lens)
    t = (t + 3) // 4 * 4  # a multiple of 4 suits both subsampling factors
    x = torch.full((len(idx), t, 80), PAD_VALUE)
    for b, i in enumerate(idx):
        o = int(data["offs"][i])
        x[b, :lens[b]] = data["feats"][o:o + lens[b]].float()
    targets = [torch.tensor(encode_text(data["texts"][i])) for i in idx]
    return x, torch.tensor([(l + r - 1) // r for l in lens]), targets


def batches(data, max_frames, rng, subset=None):
    order = sorted(subset if subset is not None else range(len(data["lens"])), key=lambda i: int(data["lens"][i]) + rng.random() * 20)
    out, cur, cur_max = [], [], 0
    for i in order:
        l = int(data["lens"][i])
        if cur and max(cur_max, l) * (len(cur) + 1) > max_frames:
            out.append(cur)
            cur, cur_max = [], 0
        cur.append(i)
        cur_max = max(cur_max, l)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
        prev = cur
    return prev[-1]


@torch.no_grad()
def evaluate(model, data, subset=None, max_frames=20000):
    """Greedy CER/WER (%) per group: training voices vs the held-out voice."""
    model.eval()
    res = {}
    for idx in batches(data, max_frames, random.Random(0), subset):
        x, olens, _ = make_batch(data, idx, model.subsampling)
        lp = model.forward_full(x)
        ids = lp.argmax(-1)
        for b, i in enumerate(idx):
            hyp = decode_ids(ids[b, :olens[b]].tolist())
            ref = data["texts"][i]
            g = "held_out_voice" if data["voices"][i] == HELD_OUT_VOICE else "train_voices"
            r = res.setdefault(g, [0, 0, 0, 0, 0])
            r[0] += edit_distance(list(ref), list(hyp))
            r[1] += len(ref)
            r[2] += edit_distance(ref.split(), hyp.split())
            r[3] += len(ref.split())
            r[4] += 1
    model.train()
    return {g: {"cer": 100 * r[0] / r[1], "wer": 100 * r[2] / r[3], "utts": r[4]} for g, r in res.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default=os.path.join(HERE, "work/feats/train"))
    ap.add_argument("--val", default=os.path.join(HERE, "work/feats/val"))
    ap.add_argument("--ckpt", default=os.path.join(HERE, "work/ckpt"))
    ap.add_argument("--minutes", type=float, default=70)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--max-frames", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val-minutes", type=float, default=10)
    ap.add_argument("--ckpt-minutes", type=float, default=4)
    ap.add_argument("--arch", choices=["conv", "gru"], default="conv")
    ap.add_argument("--channels", type=int, default=256, help="conv: channels per layer")
    ap.add_argument("--subsampling", type=int, default=2, help="gru: 2 or 4 (conv is always 4)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)

    tr = load_shards(a.train)
    va = load_shards(a.val)
    print(f"train: {len(tr['texts'])} utts, {tr['seconds']/3600:.2f} h; val: {len(va['texts'])} utts, "
          f"{va['seconds']/3600:.2f} h", flush=True)
    if a.arch == "conv":
        cfg = {"arch": "conv", "channels": a.channels}
    else:
        cfg = {"arch": "gru", "subsampling": a.subsampling, "layers": a.layers, "hidden": a.hidden}
    last = os.path.join(a.ckpt, "last.pt")
    if a.resume and os.path.exists(last):
        cfg = torch.load(last)["cfg"]
    model = build(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    os.makedirs(a.ckpt, exist_ok=True)
    step, elapsed, best = 0, 0.0, 1e9
    if a.resume and os.path.exists(last):
        ck = torch.load(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed, best = ck["step"], ck["elapsed"], ck.get("best", 1e9)
        print(f"resumed at step {step}, {elapsed/60:.1f} min", flush=True)
    else:
        sub = tr["feats"][:: max(1, len(tr["feats"]) // 200000)].float()
        model.mean.copy_(sub.mean(0))
        model.istd.copy_(1.0 / (sub.std(0) + 1e-3))
    print(f"params: {sum(p.numel() for p in model.parameters())}", flush=True)
    spec = SpecAugment()
    budget = a.minutes * 60
    t_start = time.time() - elapsed
    t_ckpt = t_val = time.time()
    frames_done, t_rate = 0, time.time()
    loss_avg = None

    def save(path, extra=None):
        ck = {"model": model.state_dict(), "cfg": cfg, "opt": opt.state_dict(), "step": step,
              "elapsed": time.time() - t_start, "best": best}
        if extra:
            ck.update(extra)
        torch.save(ck, path + ".tmp")
        os.replace(path + ".tmp", path)

    # periodic validation on a third of the set (both voice groups); the full set at the end
    small = [i for i in range(len(va["texts"])) if i % 6 in (0, 1)]

    def validate(full=False):
        nonlocal best
        r = evaluate(model, va, None if full else small)
        msg = " ".join(f"{g}: CER {v['cer']:.2f}% WER {v['wer']:.2f}% ({v['utts']} utts)" for g, v in sorted(r.items()))
        print(f"VAL step {step} {(time.time()-t_start)/60:.1f} min: {msg}", flush=True)
        w = r["train_voices"]["wer"]
        if w < best:
            best = w
            save(os.path.join(a.ckpt, "best.pt"), {"val": r})
            print(f"  new best {w:.2f}% -> best.pt", flush=True)

    done = False
    epoch = 0
    while not done:
        epoch += 1
        if epoch > 1:  # pick up shards that gen_data.py wrote meanwhile
            n = len(tr["texts"])
            tr = load_shards(a.train, tr)
            if len(tr["texts"]) > n:
                print(f"loaded {len(tr['texts']) - n} new utts: {tr['seconds']/3600:.2f} h", flush=True)
        for idx in batches(tr, a.max_frames, rng):
            frac = (time.time() - t_start) / budget
            if frac >= 1:
                done = True
                break
            lr = a.lr * min(1.0, (step + 1) / a.warmup) * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * frac)))
            for g in opt.param_groups:
                g["lr"] = lr
            x, olens, targets = make_batch(tr, idx, model.subsampling)
            lp = model.forward_full(x, spec)
            loss = F.ctc_loss(lp.transpose(0, 1), torch.cat(targets), olens,
                              torch.tensor([len(t) for t in targets]), blank=0,
                              reduction="sum", zero_infinity=True) / len(idx)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            frames_done += int(olens.sum()) * model.subsampling
            loss_avg = float(loss) if loss_avg is None else 0.95 * loss_avg + 0.05 * float(loss)
            if step % 20 == 0:
                now = time.time()
                print(f"epoch {epoch} step {step} {(now-t_start)/60:.1f} min lr {lr:.2e} loss {loss_avg:.2f} "
                      f"speed {frames_done/100/(now-t_rate):.1f} audio-s/s", flush=True)
                frames_done, t_rate = 0, now
            if time.time() - t_ckpt > a.ckpt_minutes * 60:
                save(last)
                t_ckpt = time.time()
            if time.time() - t_val > a.val_minutes * 60:
                validate()
                t_val = time.time()
    save(last)
    validate(full=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
