#!/usr/bin/env bash
# score.sh: end-to-end word error rate of a model bundle through `subtitled transcribe`.
#
#   tools/demomodel/score.sh [MODEL_DIR]        (default models/demo-en; run from the repo root)
#
# Builds held-out test broadcasts (MPEG-TS, H.264 test pattern + 48 kHz stereo audio)
# from tools/demomodel/heldout.txt, the sentences gen_text.py held out of training:
#
#   train-voices-aac   sentences 1-100, 10 files of 10 sentences, five training voices, AAC-LC
#   train-voices-ac3   the same audio with AC-3
#   heldout-voice-aac  sentences 101-150, 5 files of 10 sentences, flite slt (never trained on), AAC
#   heldout-voice-ac3  the same audio with AC-3
#
# then runs `bin/subtitled transcribe --model MODEL_DIR --format json --out F.jsonl F.ts`
# on every file and prints each set's WER and CER (tools/wer/cmd/wer: case and punctuation
# normalised, edits summed over the set). Work files go to tools/demomodel/work/score/;
# the synthesised TS files are reused while heldout.txt and this script are unchanged.
# Needs: bin/subtitled (make build), go, ffmpeg, sox, espeak-ng, flite.
# SUBTITLED overrides the binary, TRANSCRIBE_FLAGS adds flags (for example "--track verbatim").
set -euo pipefail

model=${1:-models/demo-en}
bin=${SUBTITLED:-bin/subtitled}
root=$(pwd)
here=$(cd "$(dirname "$0")" && pwd)
work="$here/work/score"
heldout="$here/heldout.txt"

for tool in ffmpeg sox espeak-ng flite go; do
  command -v "$tool" >/dev/null || { echo "score: $tool not found" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "score: $bin not found; build it first (make build)" >&2; exit 1; }
[ -d "$model" ] || { echo "score: model bundle $model not found" >&2; exit 1; }

stamp=$(cat "$heldout" "$0" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$work/stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$work"
fi
mkdir -p "$work/wav"

# say VOICE TEXT OUT.wav: one sentence as 16 kHz mono with 0.7 s of silence after it.
say() {
  local voice=$1 text=$2 out=$3 raw="$work/wav/raw.wav"
  case $voice in
    espeak:*) v=${voice#espeak:}; espeak-ng -v "${v%@*}" -s "${v#*@}" -w "$raw" "$text" ;;
    flite:*) flite -voice "${voice#flite:}" -t "$text" -o "$raw" ;;
  esac
  sox "$raw" -r 16000 -c 1 -b 16 "$out" pad 0 0.7
}

# make_set NAME FIRST COUNT VOICE... : files of 10 consecutive sentences, voices in turn.
make_set() {
  local name=$1 first=$2 count=$3
  shift 3
  local voices=("$@") f=0
  mkdir -p "$work/$name"
  for ((s = first; s < first + count; s += 10)); do
    local voice=${voices[$((f % ${#voices[@]}))]} base="$work/$name/$(printf %02d $f)" parts=()
    sed -n "${s},$((s + 9))p" "$heldout" > "$base.txt"
    local i=0
    while IFS= read -r line; do
      say "$voice" "$line" "$work/wav/s$i.wav"
      parts+=("$work/wav/s$i.wav")
      i=$((i + 1))
    done < "$base.txt"
    sox "${parts[@]}" "$base.wav" pad 0.5 0
    echo "$voice" > "$base.voice"
    f=$((f + 1))
  done
}

# to_ts WAV CODEC OUT.ts
to_ts() {
  local acodec
  case $2 in
    aac) acodec=(-c:a aac -b:a 128k) ;;
    ac3) acodec=(-c:a ac3 -b:a 192k) ;;
  esac
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=320x180:rate=25" -i "$1" \
    -map 0:v -map 1:a -shortest -c:v libx264 -preset ultrafast -pix_fmt yuv420p -b:v 100k \
    "${acodec[@]}" -ar 48000 -ac 2 -f mpegts "$3"
}

# to_ts_cached WAV CODEC OUT.ts: to_ts unless OUT.ts exists from this stamp.
to_ts_cached() { [ -s "$3" ] || to_ts "$@"; }

if [ ! -f "$work/stamp" ]; then
  echo "score: synthesising held-out test sets" >&2
  make_set train-voices 1 100 "espeak:en-us@160" "espeak:en-gb+m3@150" "flite:kal16" \
    "espeak:en-gb-scotland+f2@170" "flite:rms"
  make_set heldout-voice 101 50 "flite:slt"
  for set in train-voices heldout-voice; do
    for wav in "$work/$set"/*.wav; do
      for codec in aac ac3; do
        to_ts "$wav" "$codec" "${wav%.wav}-$codec.ts"
      done
    done
  done
  echo "$stamp" > "$work/stamp"
fi

results=()
for set in train-voices heldout-voice; do
  for codec in aac ac3; do
    name="$set-$codec"
    pairs=()
    for wav in "$work/$set"/*.wav; do
      base=${wav%.wav}
      ts="$work/$set/$(basename "$base")-$codec.ts"
      to_ts_cached "$wav" "$codec" "$ts"
      "$bin" transcribe --model "$model" --format json ${TRANSCRIBE_FLAGS:-} --out "${ts%.ts}.jsonl" "$ts" 2>"${ts%.ts}.log" \
        || { echo "score: transcribe failed on $ts (see ${ts%.ts}.log)" >&2; exit 1; }
      pairs+=("$base.txt" "${ts%.ts}.jsonl")
    done
    (cd "$root" && go run ./tools/wer/cmd/wer -hyp-format json "${pairs[@]}") > "$work/$name.report"
    results+=("$name: $(tail -1 "$work/$name.report" | sed 's/^TOTAL: //')")
  done
done

echo "model: $model"
printf '%s\n' "${results[@]}"
