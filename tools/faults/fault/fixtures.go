package fault

import "fmt"

// Options place the faults of Fixtures.
type Options struct {
	// Seed seeds every random fault.
	Seed uint64
	// Window is where faults that last a while go; one-off changes (PTS,
	// PCR, PMT and program changes) happen at Window.From.
	Window Window
	// Cut is where the truncated fixture ends, as a fraction of the stream.
	Cut float64
	// Wrap is where the PTS wrap of the "ptswrap" fixture lands, as a
	// fraction of the stream (put it inside speech); 0 means the middle of
	// Window.
	Wrap float64
}

// The fixture names, in catalogue order. Fixtures returns one of each.
var Names = []string{
	"cc", "loss1pct", "burstloss", "nopat", "nopmt", "pmtchange",
	"programchange", "syncloss", "tei", "scramble", "truncate", "bitflip",
	"nulls", "spikes", "ptsjump-fwd", "ptsjump-back", "ptswrap", "pcrjump",
}

// The PIDs and program number the moving faults use: pmtchange moves the
// audio to PMTChangePID; programchange announces program NewProgram on
// NewPMTPID with the audio on NewAudioPID.
const (
	PMTChangePID = 0x0345
	NewProgram   = 0x0BEE
	NewPMTPID    = 0x0F00
	NewAudioPID  = 0x0456
)

// Fixtures damages a clean TS in every way of Names. The random faults are
// dense enough to hit a short stream: CC errors on 2 % of the packets, 1 %
// random loss, 7-packet bursts starting on 1 % of the packets, garbage before
// 1 % of the packets, TEI on 2 %, bit flips on 1 in 10 000 bytes, nine null
// packets after each packet; bitrate spikes of twenty times the rate for 20
// packets in every 200; a +1 h and a −20 s PTS jump, a +10 s PCR jump, the
// audio moved to PID PMTChangePID with a new PMT version, a change to
// program NewProgram, and the whole clock re-stamped to wrap past 2^33 at
// Wrap. Truncation keeps the packets before Cut plus 77 bytes.
func Fixtures(clean []byte, o Options) (map[string][]byte, error) {
	s, err := Parse(clean)
	if err != nil {
		return nil, err
	}
	w, seed := o.Window, o.Seed
	pmt, err := s.PMTChange(w.From, PMTChangePID)
	if err != nil {
		return nil, err
	}
	prog, err := s.ProgramChange(w.From, NewProgram, NewPMTPID, NewAudioPID)
	if err != nil {
		return nil, err
	}
	wrapAt := o.Wrap
	if wrapAt == 0 {
		wrapAt = (w.From + w.To) / 2
	}
	wrap, _, err := s.PTSWrap(wrapAt)
	if err != nil {
		return nil, err
	}
	fx := map[string][]byte{
		"cc":            s.ContinuityErrors(w, 0.02, seed),
		"loss1pct":      s.RandomLoss(w, 0.01, seed),
		"burstloss":     s.BurstLoss(w, 0.01, 7, seed),
		"nopat":         s.PATLoss(w),
		"nopmt":         s.PMTLoss(w),
		"pmtchange":     pmt,
		"programchange": prog,
		"syncloss":      s.SyncLoss(w, 0.01, seed),
		"tei":           s.TransportErrors(w, 0.02, seed),
		"scramble":      s.Scramble(w),
		"truncate":      s.Truncate(o.Cut, 77),
		"bitflip":       s.BitFlips(w, 1e-4, seed),
		"nulls":         s.NullBurst(w, 9),
		"spikes":        s.BitrateSpikes(w, 200, 20, 20),
		"ptsjump-fwd":   s.PTSJump(w.From, 3600*90000),
		"ptsjump-back":  s.PTSJump(w.From, -20*90000),
		"ptswrap":       wrap,
		"pcrjump":       s.PCRJump(w.From, 10*90000),
	}
	if len(fx) != len(Names) {
		panic(fmt.Sprintf("fault: %d fixtures for %d names", len(fx), len(Names)))
	}
	return fx, nil
}
