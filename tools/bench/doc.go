// Package bench holds cross-package benchmarks whose figures go into
// docs/BENCHMARKS.md. Each compares the project with a reference tool in the
// same run and reports ratios, so the noisy shared machine matters less.
//
//	go test -run '^$' -bench . -benchtime 5x ./tools/bench/
package bench
