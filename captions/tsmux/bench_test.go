package tsmux

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/tools/testenv"
)

// benchTS is 20 s of 640x360 H.264 at 4 Mbit/s CBR with 128 kbit/s AAC
// (about 10.6 MB): a broadcast-like SPTS.
func benchTS(b *testing.B) (string, []byte) {
	b.Helper()
	p := fixture(b, "bench.ts", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-f", "lavfi", "-i",
		"sine=frequency=440:sample_rate=48000", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast",
		"-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "2M", "-x264-params", "nal-hrd=cbr",
		"-c:a", "aac", "-b:a", "128k", "-f", "mpegts")
	return p, readFile(b, p)
}

// benchCues is one two-line cue per second with accented text.
func benchCues(n int) []captions.Cue {
	cues := make([]captions.Cue, n)
	for i := range cues {
		cues[i] = captions.Cue{ID: uint64(i + 1), Start: int64(i) * 90000, End: int64(i)*90000 + 80000,
			Lines: []string{"Le café à côté", "est fermé aujourd'hui."}}
	}
	return cues
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMuxVsFFmpeg measures MuxCaptions (pass-through with teletext
// insertion, from memory to io.Discard) beside `ffmpeg -i X -map 0 -c copy
// -f mpegts -` on the same file, alternating in one run. Both are measured
// in CPU time (this process's rusage; ffmpeg's user+system time), so the
// figures are MB/s per core. ratio = ours / ffmpeg throughput.
func BenchmarkMuxVsFFmpeg(b *testing.B) {
	path, data := benchTS(b)
	ff := testenv.Tool(b, "ffmpeg")
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	cues := benchCues(20)
	var ours, theirs time.Duration
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0 := cpuTime()
		if err := MuxCaptions(bytes.NewReader(data), io.Discard, cues, Options{Teletext: ttxOptions("fr")}); err != nil {
			b.Fatal(err)
		}
		ours += cpuTime() - c0

		cmd := exec.Command(ff, "-nostdin", "-v", "error", "-i", path, "-map", "0", "-c", "copy", "-f", "mpegts", "-")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = devnull, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("ffmpeg: %v\n%s", err, stderr.Bytes())
		}
		theirs += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	b.StopTimer()
	mb := float64(len(data)) * float64(b.N) / 1e6
	b.ReportMetric(mb/ours.Seconds(), "MB/s/core")
	b.ReportMetric(mb/theirs.Seconds(), "ffmpeg-MB/s/core")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "ratio")
}

// BenchmarkWritePacket measures the live path alone: packets in, through a
// 1 s delay line, out to io.Discard.
func BenchmarkWritePacket(b *testing.B) {
	_, data := benchTS(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := New(io.Discard, Options{Sync: SyncDelay, Delay: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		for o := 0; o < len(data); o += tsSize {
			if err := m.WritePacket(data[o : o+tsSize]); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
