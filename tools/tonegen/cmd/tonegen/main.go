// Command tonegen writes a WAV file that spells a text for the tone-alphabet
// fixture model: tonegen -tones testdata/models/tone/tones.json -rate 48000 "hello world" > out.wav
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/subtitled/subtitled/tools/tonegen"
)

func main() {
	tones := flag.String("tones", "testdata/models/tone/tones.json", "tones.json of the fixture model")
	rate := flag.Int("rate", 48000, "sample rate of the WAV file")
	trail := flag.Float64("trail", 1.0, "seconds of silence at the end")
	flag.Parse()
	t, err := tonegen.Load(*tones)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sp, err := t.Spell(strings.Join(flag.Args(), " "), *rate, *trail)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(tonegen.WAV(sp.Samples, *rate)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
