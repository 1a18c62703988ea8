package source

import (
	"errors"
	"io"
	"testing"
	"time"
)

// BenchmarkRealtimeFile reads the 3 s fixture in real time on the system
// clock and reports wall time over stream time (1.0 is exact pacing). Run
// with -benchtime 1x: each iteration takes the length of the stream.
func BenchmarkRealtimeFile(b *testing.B) {
	path := av3s(b)
	p := make([]byte, 32<<10)
	for b.Loop() {
		clk := newFakeClock()
		// Stream time: the same file on a virtual clock.
		virt, err := Open(b.Context(), Options{Kind: KindFile, Path: path, Realtime: true, Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, virt); err != nil {
			b.Fatal(err)
		}
		virt.Close()
		stream := clk.Now().Sub(epoch)

		s, err := Open(b.Context(), Options{Kind: KindFile, Path: path, Realtime: true})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for {
			if _, err := s.Read(p); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
		wall := time.Since(start)
		s.Close()
		b.ReportMetric(wall.Seconds()/stream.Seconds(), "wall/stream")
		b.ReportMetric(stream.Seconds(), "stream-s")
	}
}

// BenchmarkFileFast measures reading a file without pacing.
func BenchmarkFileFast(b *testing.B) {
	path := av3s(b)
	p := make([]byte, 64<<10)
	for b.Loop() {
		s, err := Open(b.Context(), Options{Kind: KindFile, Path: path})
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{s}, p)
		s.Close()
		b.SetBytes(n)
	}
}
