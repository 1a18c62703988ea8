package mpegts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/asticode/go-astits"
)

// benchTS is 10 s of 640x360 H.264 at 4 Mbit/s CBR with 128 kbit/s AAC
// (about 5.3 MB), a broadcast-like mix in which audio is a small share of the
// packets.
func benchTS(b *testing.B) []byte {
	b.Helper()
	return readFile(b, fixture(b, "bench.ts", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "2M",
		"-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "mpegts"))
}

// BenchmarkDemux measures Demuxer throughput from memory to audio PES.
func BenchmarkDemux(b *testing.B) {
	data := benchTS(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := New(bytes.NewReader(data), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := d.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n == 0 {
			b.Fatal("no PES")
		}
	}
}

// BenchmarkResync measures the resync reader alone.
func BenchmarkResync(b *testing.B) {
	data := benchTS(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rs := NewResync(bytes.NewReader(data))
		for {
			if _, err := rs.NextPacket(); err != nil {
				break
			}
		}
	}
}

// BenchmarkAstitsFull is the baseline: go-astits demuxing every PID itself.
func BenchmarkAstitsFull(b *testing.B) {
	data := benchTS(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(data), astits.DemuxerOptPacketSize(PacketSize))
		for {
			if _, err := dmx.NextData(); err != nil {
				if !errors.Is(err, astits.ErrNoMorePackets) {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
