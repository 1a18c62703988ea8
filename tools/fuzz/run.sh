#!/bin/sh
# run.sh: run every Go fuzz target in the module for FUZZTIME each and print
# the executions per target and in total. Used by `make fuzz`.
#
#   tools/fuzz/run.sh 10m            # every target, 10 minutes each
#   tools/fuzz/run.sh 30s ./ingest/...
#
# A crash fails the run; Go writes the failing input under the package's
# testdata/fuzz/FuzzXxx/, where it stays as a regression seed.
set -eu
fuzztime=${1:-30s}
shift || true
pkgs=${*:-./...}
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
total=0
targets=0
for pkg in $($go list $pkgs); do
  for f in $($go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    printf '== %s %s\n' "$pkg" "$f"
    if ! $go test -run '^$' -fuzz "^$f\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg" >"$log" 2>&1; then
      cat "$log"
      echo "FAIL: $pkg $f" >&2
      exit 1
    fi
    # the last progress line holds the final count: "fuzz: elapsed: 10m0s, execs: 123 (...)"
    n=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
    n=${n:-0}
    printf '   %s executions\n' "$n"
    total=$((total + n))
    targets=$((targets + 1))
  done
done
printf 'fuzz: %d targets, %s each, %d executions in total, no failures\n' "$targets" "$fuzztime" "$total"
