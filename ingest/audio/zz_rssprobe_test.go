package audio

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/ingest"
)

func vmRSS(tb testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func TestZZRSSProbe(t *testing.T) {
	mode := os.Getenv("PROBE")
	if mode == "" {
		t.Skip()
	}
	s := encode(t, specs[ingest.CodecAACADTS], srcTone)
	f := feeder{chunks: []int{2048}}
	var d *Decoder
	if mode != "reopen" {
		d = newDecoder(t, ingest.CodecAACADTS, Options{})
	}
	for i := range 20001 {
		switch mode {
		case "reopen":
			d = newDecoder(t, ingest.CodecAACADTS, Options{})
			f.run(t, d, s, base)
			d.Close()
		case "disc":
			f.noFlush = true
			f.run(t, d, s, base)
			d.MarkDiscontinuity()
		case "flush":
			f.run(t, d, s, base)
		}
		if i%2000 == 0 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			t.Logf("%s iter %d rss %d KiB goSys %d KiB heapInuse %d KiB released %d KiB smaps %s", mode, i, vmRSS(t), ms.Sys>>10, ms.HeapInuse>>10, ms.HeapReleased>>10, smapsSummary(t))
		}
	}
}

func smapsSummary(tb testing.TB) string {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		tb.Fatal(err)
	}
	var goRSS, brk, anon, other int
	var cur *int
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if strings.Contains(f[0], "-") && len(f) >= 5 {
			start := f[0][:strings.Index(f[0], "-")]
			switch {
			case len(f) >= 6 && f[5] == "[heap]":
				cur = &brk
			case strings.HasPrefix(start, "c0"):
				cur = &goRSS
			case len(f) == 5:
				cur = &anon
			default:
				cur = &other
			}
			continue
		}
		if f[0] == "Rss:" && cur != nil {
			n, _ := strconv.Atoi(f[1])
			*cur += n
		}
	}
	return "go=" + strconv.Itoa(goRSS) + " brk=" + strconv.Itoa(brk) + " anon=" + strconv.Itoa(anon) + " files=" + strconv.Itoa(other)
}
