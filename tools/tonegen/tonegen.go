// Package tonegen synthesises audio for the tone-alphabet fixture model
// (testdata/models/tone): each character of a text is a pure tone followed by
// silence, so tests can push a known sentence through codecs, transport
// streams and the recogniser and check the exact text and word times.
package tonegen

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
)

// Table is the token-to-tone table and the recommended timing, as written
// to tones.json by tools/tonemodel.
type Table struct {
	SampleRate int     `json:"sample_rate"`
	Amplitude  float64 `json:"amplitude"`
	ToneMS     int     `json:"tone_ms"`
	GapMS      int     `json:"gap_ms"`
	LeadInMS   int     `json:"lead_in_ms"`
	RampMS     int     `json:"ramp_ms"`
	WordBreak  string  `json:"word_break"`
	Tokens     []struct {
		Symbol string  `json:"symbol"`
		Hz     float64 `json:"hz"`
	} `json:"tokens"`
	hz map[rune]float64
}

// Load reads a tones.json file.
func Load(path string) (*Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tonegen: %w", err)
	}
	var t Table
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("tonegen: %s: %w", path, err)
	}
	t.hz = make(map[rune]float64, len(t.Tokens))
	for _, tok := range t.Tokens {
		r := []rune(tok.Symbol)
		if len(r) != 1 {
			return nil, fmt.Errorf("tonegen: %s: symbol %q is not one character", path, tok.Symbol)
		}
		t.hz[r[0]] = tok.Hz
	}
	if t.SampleRate <= 0 || t.ToneMS <= 0 {
		return nil, fmt.Errorf("tonegen: %s: sample_rate and tone_ms must be positive", path)
	}
	return &t, nil
}

// Spelled is synthesised audio with the onset of every word.
type Spelled struct {
	Samples []float32
	// WordOnsets is the sample index at which each word's first tone starts.
	WordOnsets []int
	// Words are the words of the normalised text.
	Words []string
}

// Spell synthesises text (letters and apostrophes; spaces separate words)
// at rate sampleRate, starting with the table's lead-in silence and ending
// with trailSec seconds of silence.
func (t *Table) Spell(text string, sampleRate int, trailSec float64) (*Spelled, error) {
	words := strings.Fields(strings.ToLower(text))
	sp := &Spelled{Words: words}
	ms := func(n int) int { return n * sampleRate / 1000 }
	out := make([]float32, ms(t.LeadInMS))
	for i, w := range words {
		chars := []rune(w)
		if i > 0 {
			chars = append([]rune(t.WordBreak), chars...)
		}
		for j, c := range chars {
			hz, ok := t.hz[c]
			if !ok {
				return nil, fmt.Errorf("tonegen: no tone for %q in %q", c, text)
			}
			if c != []rune(t.WordBreak)[0] && (j == 0 || (i > 0 && j == 1)) {
				sp.WordOnsets = append(sp.WordOnsets, len(out))
			}
			out = t.tone(out, hz, ms(t.ToneMS), ms(t.RampMS), sampleRate)
			out = append(out, make([]float32, ms(t.GapMS))...)
		}
	}
	out = append(out, make([]float32, int(trailSec*float64(sampleRate)))...)
	sp.Samples = out
	return sp, nil
}

// tone appends n samples of a sine at hz with raised-cosine ramps.
func (t *Table) tone(out []float32, hz float64, n, ramp, rate int) []float32 {
	for k := 0; k < n; k++ {
		g := 1.0
		if k < ramp {
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(k)/float64(ramp))
		} else if k >= n-ramp {
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(n-1-k)/float64(ramp))
		}
		out = append(out, float32(t.Amplitude*g*math.Sin(2*math.Pi*hz*float64(k)/float64(rate))))
	}
	return out
}

// WAV encodes mono samples as a 16-bit PCM WAVE file.
func WAV(samples []float32, sampleRate int) []byte {
	b := make([]byte, 44, 44+2*len(samples))
	copy(b[0:], "RIFF")
	put32(b[4:], uint32(36+2*len(samples)))
	copy(b[8:], "WAVEfmt ")
	put32(b[16:], 16)
	put16(b[20:], 1)
	put16(b[22:], 1)
	put32(b[24:], uint32(sampleRate))
	put32(b[28:], uint32(2*sampleRate))
	put16(b[32:], 2)
	put16(b[34:], 16)
	copy(b[36:], "data")
	put32(b[40:], uint32(2*len(samples)))
	for _, s := range samples {
		v := int32(math.Round(float64(s) * 32767))
		v = max(-32768, min(32767, v))
		b = append(b, byte(v), byte(v>>8))
	}
	return b
}

func put16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
