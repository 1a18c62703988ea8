package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary act as the server child of run.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		o, err := parseFlags(os.Args[1:])
		if err == nil {
			err = serve(o, os.Stdin, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "whipload child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestOpusDuration(t *testing.T) {
	cases := []struct {
		name string
		pkt  []byte
		want time.Duration
	}{
		{"CELT 20 ms", []byte{31 << 3, 0}, 20 * time.Millisecond},
		{"CELT 2.5 ms", []byte{16 << 3}, 2500 * time.Microsecond},
		{"SILK 60 ms", []byte{3 << 3}, 60 * time.Millisecond},
		{"hybrid 10 ms ×2", []byte{12<<3 | 1}, 20 * time.Millisecond},
		{"code 3, 3 frames of 20 ms", []byte{31<<3 | 3, 3}, 60 * time.Millisecond},
		{"code 3 truncated", []byte{31<<3 | 3}, 0},
		{"empty", nil, 0},
	}
	for _, tc := range cases {
		if got := opusDuration(tc.pkt); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReadGeneratedOgg(t *testing.T) {
	path, err := makeOgg(t.TempDir())
	if err != nil {
		t.Fatalf("ffmpeg with libopus is required: %v", err)
	}
	pkts, err := loadPackets(path)
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for i, p := range pkts {
		if p.dur != 20*time.Millisecond {
			t.Fatalf("packet %d lasts %v", i, p.dur)
		}
		total += p.dur
	}
	// 10 s of audio plus the encoder's pre-skip packet(s).
	if total < 10*time.Second || total > 10*time.Second+100*time.Millisecond {
		t.Errorf("%d packets, %v of audio", len(pkts), total)
	}
	if _, err := readOggOpus([]byte("OggS garbage")); err == nil {
		t.Error("no error for garbage")
	}
}

// TestRunSmall runs the whole measurement with two sessions: child process,
// publishers, /proc sampling.
func TestRunSmall(t *testing.T) {
	res, err := run(context.Background(), options{sessions: 2, seconds: 1, warmup: 0}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 2 || res.PacketsPerSec <= 0 || res.SentPerSec <= 0 || res.RSSBefore <= 0 || res.RSSAvg <= 0 || res.CPUPercent < 0 {
		t.Fatalf("result %+v", res)
	}
	res.print(io.Discard)
}
