#!/usr/bin/env bash
# make_sample.sh: build the sample broadcast used by the demo and the tests.
#
#   tools/sample/make_sample.sh OUT.ts
#
# OUT.ts is an MPEG-TS with an H.264 test pattern (testsrc2, 640x360, 25 fps) and
# AAC-LC 48 kHz stereo audio: a ~30 s news bulletin (tools/sample/bulletin.txt, eight
# sentences held out from the demo model's training text) read by espeak-ng's en-us
# voice, one of the demo model's training voices, with short pauses between
# sentences. The bulletin text is written to OUT.txt (OUT with .ts replaced).
# Needs ffmpeg and espeak-ng (Debian: apt-get install ffmpeg espeak-ng).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT.ts" >&2
  exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
text="$here/bulletin.txt"
for tool in ffmpeg espeak-ng; do
  command -v "$tool" >/dev/null || { echo "make_sample: $tool not found (apt-get install $tool)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# SSML: each sentence followed by a 700 ms break.
{
  echo '<speak>'
  while IFS= read -r line; do
    [ -n "$line" ] && printf '%s <break time="700ms"/>\n' "$line"
  done < "$text"
  echo '</speak>'
} > "$tmp/bulletin.ssml"
espeak-ng -m -v en-us -s 155 -p 50 -f "$tmp/bulletin.ssml" -w "$tmp/speech.wav"

# Half a second of silence before the speech, the test pattern for the whole duration.
ffmpeg -v error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=25" \
  -i "$tmp/speech.wav" \
  -filter_complex "[1:a]adelay=500|500,apad=pad_dur=1,aresample=48000,aformat=channel_layouts=stereo[a]" \
  -map 0:v -map "[a]" -shortest \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -b:v 300k -g 50 \
  -c:a aac -b:a 128k -ar 48000 -ac 2 \
  -f mpegts "$out"

cp "$text" "${out%.ts}.txt"
echo "make_sample: wrote $out and ${out%.ts}.txt" >&2
