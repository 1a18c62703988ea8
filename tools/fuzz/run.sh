#!/bin/sh
# run.sh: run every Go fuzz target in the module for FUZZTIME each and print
# the executions per target and in total. Used by `make fuzz`.
#
#   tools/fuzz/run.sh 10m            # every target, 10 minutes each
#   tools/fuzz/run.sh 30s ./ingest/...
#   FUZZJOBS=8 tools/fuzz/run.sh 10m # 8 targets at a time (each with one worker)
#
# FUZZJOBS (default 1) runs that many targets at once; with more than one,
# each target fuzzes with a single worker (-parallel 1), so the machine's
# cores are shared between the targets running together. Each target still
# runs for FUZZTIME of wall time; its execution count shows what it got.
#
# A crash fails the run; Go writes the failing input under the package's
# testdata/fuzz/FuzzXxx/, where it stays as a regression seed.
set -eu
fuzztime=${1:-30s}
shift || true
pkgs=${*:-./...}
go=${GO:-go}
jobs=${FUZZJOBS:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The targets, one "package target" per line.
for pkg in $($go list $pkgs); do
  for f in $($go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "$pkg $f"
  done
done >"$work/targets"

par=""
if [ "$jobs" -gt 1 ]; then
  par="-parallel 1"
fi

# one PKG TARGET: fuzz it; its log and execution count go to $work.
one() {
  name=$(echo "$1 $2" | tr '/ .' '___')
  if $go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s $par "$1" >"$work/$name.log" 2>&1; then
    # the last progress line holds the final count: "fuzz: elapsed: 10m0s, execs: 123 (...)"
    n=$(grep -o 'execs: [0-9]*' "$work/$name.log" | tail -n 1 | awk '{print $2}')
    printf '%s %s %s\n' "$1" "$2" "${n:-0}" >"$work/$name.ok"
  else
    cat "$work/$name.log"
    echo "FAIL: $1 $2" >&2
    return 1
  fi
}

status=0
pids=""
while read -r pkg f; do
  printf '== %s %s\n' "$pkg" "$f"
  if [ "$jobs" -le 1 ]; then
    one "$pkg" "$f" || { status=1; break; }
    continue
  fi
  one "$pkg" "$f" &
  pids="$pids $!"
  set -- $pids
  if [ "$#" -ge "$jobs" ]; then
    # wait for the oldest before starting another
    wait "$1" || status=1
    shift
    pids="$*"
  fi
done <"$work/targets"
for p in $pids; do
  wait "$p" || status=1
done

total=0
targets=0
for ok in "$work"/*.ok; do
  [ -e "$ok" ] || continue
  read -r pkg f n <"$ok"
  printf '   %s %s: %s executions\n' "$pkg" "$f" "$n"
  total=$((total + n))
  targets=$((targets + 1))
done
want=$(wc -l <"$work/targets")
if [ "$status" -ne 0 ] || [ "$targets" -ne "$want" ]; then
  echo "fuzz: FAILED ($targets of $want targets finished)" >&2
  exit 1
fi
printf 'fuzz: %d targets, %s each, %d at a time, %d executions in total, no failures\n' "$targets" "$fuzztime" "$jobs" "$total"
