package audio

import (
	"testing"

	"github.com/subtitled/subtitled/ingest"
)

// BenchmarkDecodeAAC decodes 3 s of 128 kb/s stereo 48 kHz AAC (ADTS) in
// 2 KB payloads to 16 kHz mono, and reports audio seconds decoded per
// second of wall time (the real-time factor).
func BenchmarkDecodeAAC(b *testing.B) { benchDecode(b, ingest.CodecAACADTS) }

// BenchmarkDecode does the same for every codec.
func BenchmarkDecode(b *testing.B) {
	for _, c := range []ingest.Codec{ingest.CodecAACADTS, ingest.CodecAACLATM, ingest.CodecMP2,
		ingest.CodecAC3, ingest.CodecEAC3, ingest.CodecOpus} {
		b.Run(c.String(), func(b *testing.B) { benchDecode(b, c) })
	}
}

func benchDecode(b *testing.B, c ingest.Codec) {
	s := encode(b, specs[c], srcTone)
	seconds := float64(s.samples()) / float64(s.rate)
	f := feeder{chunks: []int{2048}}
	b.SetBytes(int64(len(s.data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		d, err := NewDecoder(c, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(f.run(b, d, s, base)) == 0 {
			b.Fatal("no frames")
		}
		d.Close()
		n++
	}
	b.ReportMetric(seconds*float64(n)/b.Elapsed().Seconds(), "audio-s/s")
}
