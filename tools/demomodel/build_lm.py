#!/usr/bin/python3
"""build_lm.py: word list and bigram language model for lexicon/LM CTC decoding.

Reads training sentences (one per line, words separated by spaces, already normalised
the way gen_text.py writes them) and writes

    OUT/words.txt   the vocabulary, one word per line, sorted (the bundle's `lexicon:`)
    OUT/lm.arpa     an ARPA bigram model (the bundle's `lm:`)

    /usr/bin/python3 tools/demomodel/build_lm.py --text tools/demomodel/work/text/train.txt --out DIR

Only ever give it training text: the held-out sentences (work/text/test.txt,
heldout.txt) must stay unseen. `--oov FILE` only counts the words of FILE that are not in
the vocabulary (they can never be produced with the lexicon); it does not train on FILE.
`--exclude FILE` leaves FILE's sentences out of training (to tune decoding weights on
sentences the LM has not seen).

The model is an interpolated Kneser-Ney bigram with one absolute discount
D = n1 / (n1 + 2 n2) (n1, n2: bigram types seen once, twice):

    P(w | v) = max(c(v w) - D, 0) / c(v)  +  lambda(v) * Pc(w)
    lambda(v) = D * N1+(v .) / c(v)                 (the mass taken by discounting)
    Pc(w)     = N1+(. w) / N1+(. .)                 (continuation unigram)

over the vocabulary plus </s>; every sentence is wrapped in <s> ... </s>. In ARPA form a
bigram line holds log10 P(w | v) for each seen pair, a unigram line log10 Pc(w) and the
back-off weight log10 lambda(v): for an unseen pair, P(w | v) = lambda(v) Pc(w), which
is exactly the interpolated value, so the ARPA model equals the interpolated one. <s>
is a context only (log10 probability -99). There is no <unk>: with the lexicon no word
outside words.txt can be produced (without it, the decoder's unk_penalty applies). The
script checks that every context's distribution sums to 1.
"""
import argparse
import collections
import math
import os
import sys

BOS, EOS = "<s>", "</s>"


def read_sentences(path):
    with open(path, encoding="utf-8") as f:
        return [l.split() for l in f if l.strip()]


def build(sentences):
    """Counts and interpolated Kneser-Ney bigram probabilities."""
    big = collections.Counter()
    for words in sentences:
        seq = [BOS] + words + [EOS]
        for v, w in zip(seq, seq[1:]):
            big[(v, w)] += 1
    ctx = collections.Counter()       # c(v)
    follow = collections.Counter()    # N1+(v .)
    cont = collections.Counter()      # N1+(. w)
    for (v, w), c in big.items():
        ctx[v] += c
        follow[v] += 1
        cont[w] += 1
    n1 = sum(1 for c in big.values() if c == 1)
    n2 = sum(1 for c in big.values() if c == 2)
    if n1 == 0:
        d = 0.5
    else:
        d = n1 / (n1 + 2 * n2)
    total_cont = len(big)
    pc = {w: cont[w] / total_cont for w in cont}
    lam = {v: d * follow[v] / ctx[v] for v in ctx}
    pb = {(v, w): (c - d) / ctx[v] + lam[v] * pc[w] for (v, w), c in big.items()}
    return pc, lam, pb, d, n1, n2


def check(pc, lam, pb):
    """Every context's distribution over the vocabulary and </s> sums to 1."""
    s = sum(pc.values())
    if abs(s - 1) > 1e-9:
        raise SystemExit(f"build_lm: unigrams sum to {s}")
    seen = collections.defaultdict(float)
    seen_pc = collections.defaultdict(float)
    for (v, w), p in pb.items():
        seen[v] += p
        seen_pc[v] += pc[w]
    for v in lam:
        total = seen[v] + lam[v] * (1 - seen_pc[v])
        if abs(total - 1) > 1e-9:
            raise SystemExit(f"build_lm: P(. | {v}) sums to {total}")


def write_arpa(path, pc, lam, pb, comment):
    unigrams = sorted(set(pc) | {BOS})
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# {comment}\n\n\\data\\\nngram 1={len(unigrams)}\nngram 2={len(pb)}\n\n\\1-grams:\n")
        for w in unigrams:
            p = -99.0 if w == BOS else math.log10(pc[w])
            if w in lam:
                f.write(f"{p:.6f}\t{w}\t{math.log10(lam[w]):.6f}\n")
            else:
                f.write(f"{p:.6f}\t{w}\n")
        f.write("\n\\2-grams:\n")
        for (v, w) in sorted(pb):
            f.write(f"{math.log10(pb[(v, w)]):.6f}\t{v} {w}\n")
        f.write("\n\\end\\\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", required=True, help="training sentences, one per line")
    ap.add_argument("--out", required=True, help="directory for words.txt and lm.arpa")
    ap.add_argument("--exclude", help="sentences to leave out of training (a dev set)")
    ap.add_argument("--oov", action="append", default=[],
                    help="report the words of this file missing from the vocabulary (repeatable)")
    a = ap.parse_args()
    for bad in ("test.txt", "heldout.txt"):
        if os.path.basename(a.text) == bad:
            raise SystemExit(f"build_lm: {a.text} looks like held-out text; train on train.txt only")
    sentences = read_sentences(a.text)
    if a.exclude:
        drop = {" ".join(s) for s in read_sentences(a.exclude)}
        before = len(sentences)
        sentences = [s for s in sentences if " ".join(s) not in drop]
        print(f"excluded {before - len(sentences)} sentences listed in {a.exclude}")
    if not sentences:
        raise SystemExit("build_lm: no sentences")
    for s in sentences:
        for w in s:
            if w in (BOS, EOS) or w.startswith("<"):
                raise SystemExit(f"build_lm: word {w!r} looks like a control symbol")
    pc, lam, pb, d, n1, n2 = build(sentences)
    check(pc, lam, pb)
    vocab = sorted(w for w in pc if w != EOS)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "words.txt"), "w", encoding="utf-8") as f:
        f.writelines(w + "\n" for w in vocab)
    comment = (f"interpolated Kneser-Ney bigram by tools/demomodel/build_lm.py from {len(sentences)} "
               f"sentences of {os.path.basename(a.text)}; D={d:.4f}")
    write_arpa(os.path.join(a.out, "lm.arpa"), pc, lam, pb, comment)
    tokens = sum(len(s) for s in sentences)
    print(f"{len(sentences)} sentences, {tokens} words, vocabulary {len(vocab)}, "
          f"{len(pb)} bigrams (n1={n1}, n2={n2}, D={d:.4f}) -> {a.out}/words.txt, {a.out}/lm.arpa")
    known = set(vocab)
    for path in a.oov:
        words = [w for s in read_sentences(path) for w in s]
        missing = [w for w in words if w not in known]
        kinds = sorted(set(missing))
        rate = 100 * len(missing) / max(1, len(words))
        print(f"OOV in {path}: {len(missing)} of {len(words)} words ({rate:.2f}%), "
              f"{len(kinds)} distinct: {' '.join(kinds[:30])}{' ...' if len(kinds) > 30 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
