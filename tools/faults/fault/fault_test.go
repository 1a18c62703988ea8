package fault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

const (
	testPMT   = 0x1000
	testAudio = 0x101
	testVideo = 0x100
)

// psiPacket wraps one section (without CRC) in a packet, appending its CRC.
func psiPacket(pid uint16, cc byte, sec []byte) []byte {
	crc := crc32MPEG(sec)
	sec = append(sec, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	p := bytes.Repeat([]byte{0xFF}, PacketSize)
	copy(p, []byte{0x47, 0x40 | byte(pid>>8), byte(pid), 0x10 | cc&0x0F, 0x00})
	copy(p[5:], sec)
	return p
}

func patSection() []byte {
	return []byte{0x00, 0xB0, 13, 0, 1, 0xC1, 0, 0, 0, 1, 0xE0 | testPMT>>8, testPMT & 0xFF}
}

func pmtSection() []byte {
	return []byte{0x02, 0xB0, 23, 0, 1, 0xC1, 0, 0, 0xE0 | testVideo>>8, testVideo & 0xFF, 0xF0, 0,
		0x1B, 0xE0 | testVideo>>8, testVideo & 0xFF, 0xF0, 0,
		0x0F, 0xE0 | testAudio>>8, testAudio & 0xFF, 0xF0, 0}
}

// pesPacket starts a PES with a PTS and DTS on pid.
func pesPacket(pid uint16, cc byte, pts int64) []byte {
	p := bytes.Repeat([]byte{0xAA}, PacketSize)
	copy(p, []byte{0x47, 0x40 | byte(pid>>8), byte(pid), 0x10 | cc&0x0F, 0, 0, 1, 0xC0, 0, 0, 0x80, 0xC0, 10})
	putTimestamp(p[13:18], pts)
	p[13] = p[13]&0x0F | 0x30
	putTimestamp(p[18:23], pts-900)
	p[18] = p[18]&0x0F | 0x10
	return p
}

// pcrPacket is an adaptation-field-only packet with a PCR.
func pcrPacket(pid uint16, cc byte, pcr int64) []byte {
	p := bytes.Repeat([]byte{0xFF}, PacketSize)
	copy(p, []byte{0x47, byte(pid >> 8), byte(pid), 0x20 | cc&0x0F, 183, 0x10})
	b := uint64(pcr)
	p[6], p[7], p[8], p[9], p[10], p[11] = byte(b>>25), byte(b>>17), byte(b>>9), byte(b>>1), byte(b&1)<<7|0x7E, 0
	return p
}

// testStream is 100 groups of PAT, PMT, PCR and an audio PES start.
func testStream(t *testing.T) []byte {
	t.Helper()
	var ts []byte
	for i := range 100 {
		cc := byte(i)
		ts = append(ts, psiPacket(0, cc, patSection())...)
		ts = append(ts, psiPacket(testPMT, cc, pmtSection())...)
		ts = append(ts, pcrPacket(testVideo, cc, int64(i)*3600)...)
		ts = append(ts, pesPacket(testAudio, cc, 90000+int64(i)*1920)...)
	}
	return ts
}

func mustParse(t *testing.T, b []byte) *Stream {
	t.Helper()
	s, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParse(t *testing.T) {
	s := mustParse(t, testStream(t))
	if s.AudioPID() != testAudio || s.PMTPID() != testPMT || s.Packets() != 400 {
		t.Fatalf("audio 0x%x PMT 0x%x packets %d", s.AudioPID(), s.PMTPID(), s.Packets())
	}
	for _, bad := range [][]byte{nil, make([]byte, 100), make([]byte, PacketSize)} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%d bytes) accepted", len(bad))
		}
	}
	noAudio := psiPacket(0, 0, patSection())
	if _, err := Parse(noAudio); err != ErrNoAudio {
		t.Errorf("no PMT: %v, want ErrNoAudio", err)
	}
}

// countPID counts the packets of pid in an aligned TS.
func countPID(b []byte, p uint16) (n int) {
	for i := 0; i+PacketSize <= len(b); i += PacketSize {
		if pid(b[i:]) == p {
			n++
		}
	}
	return n
}

func TestFaults(t *testing.T) {
	clean := testStream(t)
	s := mustParse(t, clean)
	w := Window{0.25, 0.75} // packets 100..299
	tests := []struct {
		name  string
		out   []byte
		check func(t *testing.T, out []byte)
	}{
		{"cc", s.ContinuityErrors(w, 0.5, 1), func(t *testing.T, out []byte) {
			changed := 0
			for i := 0; i < len(out); i += PacketSize {
				if out[i+3] != clean[i+3] {
					if i < 100*PacketSize || i >= 300*PacketSize || out[i+3]&0xF0 != clean[i+3]&0xF0 || (out[i+3]-clean[i+3])&0x0F != 5 {
						t.Fatalf("packet %d: CC byte 0x%02x → 0x%02x", i/PacketSize, clean[i+3], out[i+3])
					}
					changed++
				}
			}
			if changed < 50 || changed > 150 {
				t.Errorf("%d of 200 packets changed at p = 0.5", changed)
			}
		}},
		{"loss", s.RandomLoss(w, 0.5, 1), func(t *testing.T, out []byte) {
			if n := len(out) / PacketSize; n < 250 || n > 350 {
				t.Errorf("%d packets left of 400", n)
			}
			if !bytes.Equal(out[:100*PacketSize], clean[:100*PacketSize]) {
				t.Error("packets before the window changed")
			}
		}},
		{"burst", s.BurstLoss(w, 0.05, 7, 1), func(t *testing.T, out []byte) {
			if lost := 400 - len(out)/PacketSize; lost == 0 || lost%7 != 0 {
				t.Errorf("%d packets lost", lost)
			}
		}},
		{"nopat", s.PATLoss(w), func(t *testing.T, out []byte) {
			if n := countPID(out, 0); n != 50 {
				t.Errorf("%d PAT packets, want 50", n)
			}
		}},
		{"nopmt", s.PMTLoss(w), func(t *testing.T, out []byte) {
			if n := countPID(out, testPMT); n != 50 {
				t.Errorf("%d PMT packets, want 50", n)
			}
		}},
		{"scramble", s.Scramble(w), func(t *testing.T, out []byte) {
			for i := 0; i < len(out); i += PacketSize {
				want := i >= 100*PacketSize && i < 300*PacketSize && pid(out[i:]) == testAudio
				if got := out[i+3]&0xC0 == 0x80; got != want {
					t.Fatalf("packet %d scrambled %v, want %v", i/PacketSize, got, want)
				}
			}
		}},
		{"tei", s.TransportErrors(w, 1, 1), func(t *testing.T, out []byte) {
			n := 0
			for i := 0; i < len(out); i += PacketSize {
				if out[i+1]&0x80 != 0 {
					n++
				}
			}
			if n != 200 {
				t.Errorf("%d TEI packets, want 200", n)
			}
		}},
		{"syncloss", s.SyncLoss(w, 0.1, 1), func(t *testing.T, out []byte) {
			extra := len(out) - len(clean)
			if extra == 0 || extra%len(Garbage) != 0 || bytes.Count(out, Garbage) != extra/len(Garbage) {
				t.Errorf("%d bytes inserted", extra)
			}
		}},
		{"nulls", s.NullBurst(w, 9), func(t *testing.T, out []byte) {
			if n := countPID(out, NullPID); n != 1800 || len(out) != len(clean)+1800*PacketSize {
				t.Errorf("%d null packets, %d bytes", n, len(out))
			}
		}},
		{"spikes", s.BitrateSpikes(w, 40, 5, 4), func(t *testing.T, out []byte) {
			// 200 packets in the window: 5 bursts of 5 packets, each
			// followed by 3 nulls.
			if n := countPID(out, NullPID); n != 5*5*3 || len(out) != len(clean)+n*PacketSize {
				t.Fatalf("%d null packets, %d bytes", n, len(out))
			}
			var rest []byte
			run, k := 0, 0 // nulls in the current run; clean packets so far
			for i := 0; i < len(out); i += PacketSize {
				if pid(out[i:]) != NullPID {
					if run != 0 && run != 3 {
						t.Fatalf("a run of %d nulls after packet %d", run, k-1)
					}
					run = 0
					rest = append(rest, out[i:i+PacketSize]...)
					k++
					continue
				}
				run++
				if j := k - 1 - 100; j < 0 || j >= 200 || j%40 >= 5 {
					t.Fatalf("null after clean packet %d, outside a burst", k-1)
				}
			}
			if !bytes.Equal(rest, clean) {
				t.Error("the packets other than the nulls changed")
			}
		}},
		{"bitflip", s.BitFlips(w, 0.01, 1), func(t *testing.T, out []byte) {
			diff := 0
			for i := range out {
				if out[i] != clean[i] {
					if i%PacketSize == 0 {
						t.Fatal("sync byte flipped")
					}
					diff++
				}
			}
			if diff == 0 {
				t.Error("no bits flipped")
			}
		}},
		{"truncate", s.Truncate(0.5, 77), func(t *testing.T, out []byte) {
			if len(out) != 200*PacketSize+77 || !bytes.Equal(out, clean[:len(out)]) {
				t.Errorf("%d bytes", len(out))
			}
		}},
		{"ptsjump", s.PTSJump(0.5, -20*90000), func(t *testing.T, out []byte) {
			for i := 0; i < len(out); i += PacketSize {
				if pid(out[i:]) != testAudio {
					continue
				}
				k := int64(i / PacketSize / 4)
				want := 90000 + k*1920
				if k >= 50 {
					want = addMod(want, -20*90000)
				}
				if got := timestamp(out[i+13:]); got != want || timestamp(out[i+18:]) != addMod(want, -900) {
					t.Fatalf("PES %d: PTS %d, want %d", k, got, want)
				}
				if out[i+13]>>4 != 3 || out[i+18]>>4 != 1 {
					t.Fatalf("PES %d: prefixes changed", k)
				}
			}
		}},
		{"pcrjump", s.PCRJump(0.5, 10*90000), func(t *testing.T, out []byte) {
			for i := 0; i < len(out); i += PacketSize {
				if pid(out[i:]) != testVideo {
					continue
				}
				k := int64(i / PacketSize / 4)
				b := out[i:]
				got := int64(b[6])<<25 | int64(b[7])<<17 | int64(b[8])<<9 | int64(b[9])<<1 | int64(b[10])>>7
				want := k * 3600
				if k >= 50 {
					want += 10 * 90000
				}
				if got != want || b[5]&0x80 != 0 {
					t.Fatalf("packet %d: PCR %d, want %d, flags 0x%02x", i/PacketSize, got, want, b[5])
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bytes.Equal(tt.out, clean) {
				t.Fatal("output is the clean stream")
			}
			tt.check(t, tt.out)
		})
	}
	if !bytes.Equal(clean, testStream(t)) {
		t.Error("the input was modified")
	}
}

func TestPMTChange(t *testing.T) {
	clean := testStream(t)
	s := mustParse(t, clean)
	out, err := s.PMTChange(0.5, 0x345)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(out); i += PacketSize {
		p := out[i : i+PacketSize]
		second := i >= 200*PacketSize
		switch pid(p) {
		case testAudio:
			if second {
				t.Fatalf("packet %d still on the old audio PID", i/PacketSize)
			}
		case 0x345:
			if !second {
				t.Fatalf("packet %d on the new PID too early", i/PacketSize)
			}
		case testPMT:
			sec := section(p)
			if crc32MPEG(sec) != 0 {
				t.Fatalf("packet %d: PMT CRC wrong", i/PacketSize)
			}
			es := pmtStreams(sec)
			v := sec[5] >> 1 & 0x1F
			if second && (es[1].pid != 0x345 || v != 1) || !second && (es[1].pid != testAudio || v != 0) {
				t.Fatalf("packet %d: audio PID 0x%x version %d", i/PacketSize, es[1].pid, v)
			}
		}
	}
	changed := mustParse(t, out[200*PacketSize:])
	if changed.AudioPID() != 0x345 {
		t.Errorf("second half audio PID 0x%x", changed.AudioPID())
	}
	for _, bad := range []uint16{testAudio, testPMT, 0, NullPID} {
		if _, err := s.PMTChange(0.5, bad); err == nil {
			t.Errorf("PMTChange to 0x%x accepted", bad)
		}
	}
}

func TestProgramChange(t *testing.T) {
	clean := testStream(t)
	s := mustParse(t, clean)
	if s.Program() != 1 {
		t.Fatalf("program %d, want 1", s.Program())
	}
	const prog, pmtPID, audio = 0x0BEE, 0x0F00, 0x0456
	out, err := s.ProgramChange(0.5, prog, pmtPID, audio)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(clean) {
		t.Fatalf("%d bytes from %d", len(out), len(clean))
	}
	for i := 0; i < len(out); i += PacketSize {
		p := out[i : i+PacketSize]
		second := i >= 200*PacketSize
		want := pid(clean[i:])
		if second {
			switch pid(clean[i:]) {
			case testPMT:
				want = pmtPID
			case testAudio:
				want = audio
			}
		}
		if pid(p) != want {
			t.Fatalf("packet %d on PID 0x%x, want 0x%x", i/PacketSize, pid(p), want)
		}
		sec := section(p)
		if sec == nil {
			if !bytes.Equal(p[3:], clean[i+3:i+PacketSize]) {
				t.Fatalf("packet %d: more than the PID changed", i/PacketSize)
			}
			continue
		}
		if crc32MPEG(sec) != 0 {
			t.Fatalf("packet %d: CRC wrong", i/PacketSize)
		}
		v := sec[5] >> 1 & 0x1F
		switch sec[0] {
		case 0x00:
			progs := patPrograms(sec)
			wantProg, wantPMT, wantV := uint16(1), uint16(testPMT), byte(0)
			if second {
				wantProg, wantPMT, wantV = prog, pmtPID, 1
			}
			if len(progs) != 1 || progs[0].program != wantProg || progs[0].pmtPID != wantPMT || v != wantV {
				t.Fatalf("packet %d: PAT %+v version %d", i/PacketSize, progs, v)
			}
		case 0x02:
			es := pmtStreams(sec)
			num := uint16(sec[3])<<8 | uint16(sec[4])
			pcr := uint16(sec[8]&0x1F)<<8 | uint16(sec[9])
			wantProg, wantAudio := uint16(1), uint16(testAudio)
			if second {
				wantProg, wantAudio = prog, audio
			}
			if num != wantProg || es[0].pid != testVideo || es[1].pid != wantAudio || pcr != testVideo || v != 0 {
				t.Fatalf("packet %d: PMT of program %d, streams %+v, PCR 0x%x, version %d", i/PacketSize, num, es, pcr, v)
			}
		}
	}
	after := mustParse(t, out[200*PacketSize:])
	if after.Program() != prog || after.PMTPID() != pmtPID || after.AudioPID() != audio {
		t.Errorf("second half: program %d, PMT 0x%x, audio 0x%x", after.Program(), after.PMTPID(), after.AudioPID())
	}
	for _, bad := range []struct{ prog, pmt, audio uint16 }{
		{0, pmtPID, audio}, {1, pmtPID, audio}, // no or the same program
		{prog, testVideo, audio}, {prog, pmtPID, testPMT}, // PIDs in use
		{prog, pmtPID, pmtPID}, {prog, NullPID, audio}, {prog, pmtPID, 0x0001},
	} {
		if _, err := s.ProgramChange(0.5, bad.prog, bad.pmt, bad.audio); err == nil {
			t.Errorf("ProgramChange(%d, 0x%x, 0x%x) accepted", bad.prog, bad.pmt, bad.audio)
		}
	}
	if _, err := s.ProgramChange(1, prog, pmtPID, audio); err == nil {
		t.Error("ProgramChange with no PAT after the change point accepted")
	}
}

// pcrOf returns the PCR base of a packet of pcrPacket.
func pcrOf(b []byte) int64 {
	return int64(b[6])<<25 | int64(b[7])<<17 | int64(b[8])<<9 | int64(b[9])<<1 | int64(b[10])>>7
}

func TestPTSWrap(t *testing.T) {
	clean := testStream(t)
	s := mustParse(t, clean)
	// Packet 203 is the first audio PES at or after half the stream:
	// group 50, PTS 90000 + 50·1920.
	out, delta, err := s.PTSWrap(0.5)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1<<33) - (90000 + 50*1920); delta != want {
		t.Fatalf("shift %d, want %d", delta, want)
	}
	if len(out) != len(clean) {
		t.Fatalf("%d bytes from %d", len(out), len(clean))
	}
	// Property: every stamp moved by the same amount mod 2^33, and the
	// unwrapped audio clock only goes up, by the clean steps.
	var prev int64 = -1
	wraps := 0
	for i := 0; i < len(out); i += PacketSize {
		o, c := out[i:i+PacketSize], clean[i:i+PacketSize]
		switch pid(o) {
		case testVideo:
			if got := pcrOf(o); got != addMod(pcrOf(c), delta) {
				t.Fatalf("packet %d: PCR %d, want %d", i/PacketSize, got, addMod(pcrOf(c), delta))
			}
		case testAudio:
			pts, dts := timestamp(o[13:]), timestamp(o[18:])
			if pts != addMod(timestamp(c[13:]), delta) || dts != addMod(timestamp(c[18:]), delta) || o[13]>>4 != 3 || o[18]>>4 != 1 {
				t.Fatalf("packet %d: PTS %d DTS %d", i/PacketSize, pts, dts)
			}
			k := i / PacketSize / 4
			if (k == 50) != (pts == 0) {
				t.Fatalf("PES %d: PTS %d (the wrap belongs to PES 50)", k, pts)
			}
			if prev >= 0 {
				step := addMod(pts, -prev)
				if step != 1920 {
					t.Fatalf("PES %d: step %d, want 1920", k, step)
				}
				if pts < prev {
					wraps++
				}
			}
			prev = pts
		default:
			if !bytes.Equal(o, c) {
				t.Fatalf("packet %d (PID 0x%x) changed", i/PacketSize, pid(o))
			}
		}
	}
	if wraps != 1 {
		t.Errorf("%d wraps, want 1", wraps)
	}
	pts := mustParse(t, out).AudioPTS()
	if len(pts) != 100 || pts[49] != 1<<33-1920 || pts[50] != 0 {
		t.Errorf("AudioPTS: %d stamps, 49: %d, 50: %d", len(pts), pts[49], pts[50])
	}
	if _, _, err := s.PTSWrap(1); err == nil {
		t.Error("PTSWrap with no audio PES after the wrap point accepted")
	}
}

func TestStall(t *testing.T) {
	clean := testStream(t)
	s := mustParse(t, clean)
	st := s.StallAt(0.5, 10*time.Second)
	if st.At != 200*PacketSize || st.For != 10*time.Second {
		t.Fatalf("stall %+v", st)
	}
	tests := []struct {
		name  string
		chunk int
	}{{"packets", PacketSize}, {"datagrams", 7 * PacketSize}, {"odd", 1000}, {"whole", len(clean)}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sleeps []time.Duration
			var sleptAt []int
			var got []byte
			r := &stallReader{r: bytes.NewReader(clean), st: st, sleep: func(d time.Duration) error {
				sleeps = append(sleeps, d)
				sleptAt = append(sleptAt, len(got))
				return nil
			}}
			buf := make([]byte, tt.chunk)
			for {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, clean) {
				t.Fatal("the bytes changed")
			}
			if len(sleeps) != 1 || sleeps[0] != st.For || sleptAt[0] != int(st.At) {
				t.Fatalf("paused %v at %v, want once %v at %d", sleeps, sleptAt, st.For, st.At)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := st.Reader(ctx, bytes.NewReader(clean))
	n, err := io.ReadFull(r, make([]byte, len(clean)))
	if n != int(st.At) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled stall: %d bytes, %v; want %d and context.Canceled", n, err, st.At)
	}
}

func TestCRC32MPEG(t *testing.T) {
	// The CRC-32/MPEG-2 check value.
	if got := crc32MPEG([]byte("123456789")); got != 0x0376E6E7 {
		t.Errorf("crc 0x%08x, want 0x0376E6E7", got)
	}
}

func TestFixturesDeterministic(t *testing.T) {
	clean := testStream(t)
	o := Options{Seed: 7, Window: Window{0.2, 0.6}, Cut: 0.9}
	a, err := Fixtures(clean, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fixtures(clean, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(Names) {
		t.Fatalf("%d fixtures, want %d", len(a), len(Names))
	}
	for _, n := range Names {
		if !bytes.Equal(a[n], b[n]) {
			t.Errorf("%s differs between runs", n)
		}
		if bytes.Equal(a[n], clean) {
			t.Errorf("%s is the clean stream", n)
		}
	}
	o.Seed = 8
	c, _ := Fixtures(clean, o)
	if bytes.Equal(a["cc"], c["cc"]) {
		t.Error("another seed gave the same cc fixture")
	}
}

// FuzzParse feeds arbitrary packets to Parse and the faults: none may
// panic, and every fault keeps the 188-byte alignment it promises.
func FuzzParse(f *testing.F) {
	f.Add(psiPacket(0, 0, patSection()))
	f.Add(append(psiPacket(0, 0, patSection()), psiPacket(testPMT, 0, pmtSection())...))
	f.Add(append(append(psiPacket(0, 0, patSection()), psiPacket(testPMT, 0, pmtSection())...), pesPacket(testAudio, 0, 1)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		fx, err := Fixtures(data, Options{Seed: 1, Window: All, Cut: 0.5})
		if err != nil {
			return
		}
		for _, n := range []string{"cc", "tei", "scramble", "bitflip", "ptsjump-fwd", "pcrjump", "pmtchange", "programchange", "ptswrap"} {
			if len(fx[n]) != len(data) {
				t.Fatalf("%s: %d bytes from %d", n, len(fx[n]), len(data))
			}
		}
		_ = s
	})
}
