package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder/features"
	"github.com/subtitled/subtitled/ingest/audio"
	"github.com/subtitled/subtitled/ingest/mpegts"
)

// makeTS writes a TS with H.264 video and secs seconds of 48 kHz stereo
// audio in codec.
func makeTS(b *testing.B, codec string, secs int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench-"+codec+".ts")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
		"-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:amplitude=0.3",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1M",
		"-c:a", codec, "-ac", "2", "-ar", "48000", "-b:a", "192k", "-f", "mpegts", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

// ingestOnce runs demux → decode → resample → fbank over data and returns
// the seconds of 16 kHz audio and the number of feature frames produced.
func ingestOnce(b *testing.B, data []byte) (float64, int) {
	d, err := mpegts.New(bufio.NewReader(bytes.NewReader(data)), mpegts.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var dec *audio.Decoder
	feat, err := features.New(features.KaldiOptions(80))
	if err != nil {
		b.Fatal(err)
	}
	var samples int
	frames := 0
	var buf []float32
	ctx := context.Background()
	for {
		p, err := d.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if dec == nil {
			if dec, err = audio.NewDecoder(p.Codec, audio.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		fs, err := dec.Decode(p.Data, p.PTS, p.HasPTS, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range fs {
			samples += len(f.Samples)
			if err := feat.AcceptSamples(f.Samples); err != nil {
				b.Fatal(err)
			}
		}
		var n int
		buf, n = feat.PopFrames(buf[:0], -1)
		frames += n
	}
	for _, f := range dec.Flush() {
		samples += len(f.Samples)
		_ = feat.AcceptSamples(f.Samples)
	}
	feat.InputFinished()
	_, n := feat.PopFrames(buf[:0], -1)
	frames += n
	dec.Close()
	return float64(samples) / 16000, frames
}

// ffmpegOnce decodes the audio of path to 16 kHz mono float with one thread.
func ffmpegOnce(b *testing.B, path string) {
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", path,
		"-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, stderr.Bytes())
	}
}

// BenchmarkIngestVsFFmpeg measures demux+decode+resample+fbank for one
// stream as a real-time factor on one core, beside ffmpeg decoding the same
// file's audio to 16 kHz mono (no features), alternating in the same run.
// Reported: rtf (ours), ffmpeg-rtf, and ratio = ours/ffmpeg wall time.
func BenchmarkIngestVsFFmpeg(b *testing.B) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		b.Fatal("ffmpeg is required (tools/setup-debian.sh)")
	}
	for _, codec := range []string{"aac", "mp2", "ac3"} {
		b.Run(codec, func(b *testing.B) {
			path := makeTS(b, codec, 60)
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			prev := runtime.GOMAXPROCS(1)
			defer runtime.GOMAXPROCS(prev)
			var ours, theirs time.Duration
			var secs float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				s, frames := ingestOnce(b, data)
				ours += time.Since(t0)
				if frames < int(s*100)-2 {
					b.Fatalf("%d feature frames for %.1f s of audio", frames, s)
				}
				secs += s
				t1 := time.Now()
				ffmpegOnce(b, path)
				theirs += time.Since(t1)
			}
			b.StopTimer()
			b.ReportMetric(ours.Seconds()/secs, "rtf")
			b.ReportMetric(theirs.Seconds()/secs, "ffmpeg-rtf")
			b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
		})
	}
}
