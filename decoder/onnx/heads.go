package onnx

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/ctc"
)

// HeadConfig is one entry of bundle.yaml's heads block: an extra CTC head
// that the same model call computes from the same encoder output as output
// 0 (docs/MODEL-BUNDLES.md, "Second head").
type HeadConfig struct {
	// Output names the model output holding the head's per-frame scores,
	// [N, S/R, V2]: log-probs, or logits for nemo_ctc models (as output 0).
	Output string `yaml:"output"`
	// Tokens is the head's vocabulary, relative to the bundle; default the
	// bundle's tokens file.
	Tokens string `yaml:"tokens"`
	// BlankID is the head's CTC blank; default: the main blank when the
	// head shares the main tokens file, else the id of <blk>, <eps> or
	// <blank> in its own.
	BlankID *int `yaml:"blank_id"`
	// Lexicon, LM and Decoding are as the top-level keys, for this head:
	// with a lexicon or an LM the head is decoded with prefix beam search.
	Lexicon  string          `yaml:"lexicon"`
	LM       string          `yaml:"lm"`
	Decoding *DecodingConfig `yaml:"decoding"`
}

// Head is a validated extra head of a bundle.
type Head struct {
	Track      string     // the track it feeds: decoder.TrackSubtitle
	Output     TensorInfo // the model output it reads
	TokensPath string
	Tokens     *ctc.Tokens
	BlankID    int
	// LexiconPath and LMPath are set, and Lexicon and LM loaded, when its
	// bundle.yaml entry names them.
	LexiconPath string
	LMPath      string
	Lexicon     *ctc.Lexicon
	LM          *ctc.LM
	Config      HeadConfig
}

// knownHeads are the head names bundle.yaml may list, in track order.
var knownHeads = []string{decoder.TrackSubtitle}

// BeamOptions returns the head's beam search settings; ok is false when its
// entry names neither a lexicon nor an LM (greedy search).
func (h *Head) BeamOptions() (ctc.BeamOptions, bool) {
	return beamOptions(h.Lexicon, h.LM, h.Config.Decoding)
}

// Describe says what the head reads and how it is searched, for `model
// info`: "subtitle (CTC: output subtitle_log_probs, 9 tokens from
// subtitle_tokens.txt, blank 8, greedy)".
func (h *Head) Describe() string {
	opt, ok := h.BeamOptions()
	return fmt.Sprintf("%s (CTC: output %s, %d tokens from %s, blank %d, %s)", h.Track, h.Output.Name,
		h.Tokens.Len(), filepath.Base(h.TokensPath), h.BlankID, describeSearch(opt, ok, h.Lexicon, h.LM))
}

// describeSearch names a CTC search: "greedy", or the beam settings.
func describeSearch(opt ctc.BeamOptions, beam bool, lex *ctc.Lexicon, lm *ctc.LM) string {
	if !beam {
		return "greedy"
	}
	parts := []string{fmt.Sprintf("prefix beam search, beam %d", opt.Beam)}
	if lex != nil {
		parts = append(parts, fmt.Sprintf("lexicon %d words", lex.Len()))
	}
	if lm != nil {
		parts = append(parts, fmt.Sprintf("%d-gram LM (weight %g, word bonus %g)", lm.Order(), opt.Alpha, opt.Beta))
	}
	return strings.Join(parts, ", ")
}

// Tracks names the tracks the bundle's heads yield: decoder.TrackVerbatim
// (output 0), then each extra head's.
func (b *Bundle) Tracks() []string {
	out := []string{decoder.TrackVerbatim}
	for _, h := range b.Heads {
		out = append(out, h.Track)
	}
	return out
}

// DescribeHeads lists the heads on one line, verbatim first: "verbatim
// (CTC), subtitle (CTC: output …)".
func (b *Bundle) DescribeHeads() string {
	parts := []string{decoder.TrackVerbatim + " (CTC)"}
	for _, h := range b.Heads {
		parts = append(parts, h.Describe())
	}
	return strings.Join(parts, ", ")
}

// loadHeads checks bundle.yaml's heads block and loads each head's tokens,
// lexicon and LM. The model outputs are checked later (validateHeads).
func (b *Bundle) loadHeads() error {
	cfg := filepath.Join(b.Dir, "bundle.yaml")
	names := make([]string, 0, len(b.Config.Heads))
	for name := range b.Config.Heads {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case name == decoder.TrackVerbatim:
			return fmt.Errorf("%w: %s: heads.%s: the verbatim head is the model's output 0 and is not listed; list only extra heads (%s)",
				ErrBundleConfig, cfg, name, strings.Join(knownHeads, ", "))
		case !slices.Contains(knownHeads, name):
			return fmt.Errorf("%w: %s: heads.%s: unknown head (known: %s)", ErrBundleConfig, cfg, name, strings.Join(knownHeads, ", "))
		}
	}
	for _, name := range knownHeads {
		hc, ok := b.Config.Heads[name]
		if !ok {
			continue
		}
		key := "heads." + name
		if hc == nil || hc.Output == "" {
			return fmt.Errorf("%w: %s: %s.output is required (the model output holding the head's log-probs)", ErrBundleConfig, cfg, key)
		}
		h := &Head{Track: name, Config: *hc, TokensPath: b.TokensPath, Tokens: b.Tokens}
		if hc.Tokens != "" {
			h.TokensPath = bundlePath(b.Dir, hc.Tokens)
		}
		if filepath.Clean(h.TokensPath) != filepath.Clean(b.TokensPath) {
			if err := isFile(h.TokensPath); err != nil {
				return fmt.Errorf("%w: %s: %s.tokens %s: %v", ErrBundleTokensMissing, cfg, key, h.TokensPath, err)
			}
			var err error
			if h.Tokens, err = ctc.LoadTokens(h.TokensPath); err != nil {
				return fmt.Errorf("%w: %s.tokens: %w", ErrBundleTokens, key, err)
			}
		}
		d, err := loadDecodingFiles(b.Dir, key+".", hc.Lexicon, hc.LM, hc.Decoding, h.Tokens, h.TokensPath)
		if err != nil {
			return err
		}
		h.LexiconPath, h.LMPath, h.Lexicon, h.LM = d.lexPath, d.lmPath, d.lex, d.lm
		b.Heads = append(b.Heads, h)
	}
	return nil
}

// splitHeadOutputs finds each head's output among the model's and sets
// b.outs to the others, which the family's contract binds by position.
func (b *Bundle) splitHeadOutputs() error {
	b.outs = b.Outputs
	if len(b.Heads) == 0 {
		return nil
	}
	taken := map[string]string{}
	for _, h := range b.Heads {
		key := "bundle.yaml heads." + h.Track + ".output"
		i := slices.IndexFunc(b.Outputs, func(t TensorInfo) bool { return t.Name == h.Config.Output })
		switch {
		case i < 0:
			return b.contractError("%s %q is not an output of the model", key, h.Config.Output)
		case i == 0:
			return b.contractError("%s %q is output 0, the verbatim head's; a head must be another output", key, h.Config.Output)
		case taken[h.Config.Output] != "":
			return b.contractError("%s %q is also the output of head %s", key, h.Config.Output, taken[h.Config.Output])
		}
		taken[h.Config.Output] = h.Track
		h.Output = b.Outputs[i]
	}
	b.outs = slices.DeleteFunc(slices.Clone(b.Outputs), func(t TensorInfo) bool { return taken[t.Name] != "" })
	return nil
}

// contractIO is the model's I/O as its family's contract sees it: the
// heads' outputs taken out.
func (b *Bundle) contractIO() ModelIO {
	return ModelIO{Path: b.ModelPath, Inputs: b.Inputs, Outputs: b.outs, Metadata: b.Metadata}
}

// headHint explains a state count mismatch of k states that an unlisted
// head output would cause.
func (b *Bundle) headHint(k int) string {
	if len(b.Heads) == 0 && len(b.outs)-1 > k {
		return " (an extra output such as a subtitle head must be listed in bundle.yaml heads)"
	}
	return ""
}

// headOutputNames lists the heads' outputs.
func (b *Bundle) headOutputNames() string {
	names := make([]string, len(b.Heads))
	for i, h := range b.Heads {
		names[i] = h.Output.Name
	}
	return strings.Join(names, ", ")
}

// validateHeads checks each head's output against the contract (float32
// [N, S/R, V2] with V2 its tokens), sets its blank and binds it to the
// session, after the contract's outputs.
func (b *Bundle) validateHeads() error {
	c := &b.Contract
	for _, h := range b.Heads {
		key := "bundle.yaml heads." + h.Track
		o := h.Output
		V2 := h.Tokens.Len()
		switch {
		case o.DType != "float32" || len(o.Shape) != 3:
			return b.contractError("%s.output %s must be float32 [N,S/R,V] like output 0", key, o)
		case o.Shape[0] > 1:
			return b.contractError("%s.output %s: batch dim must be dynamic or 1", key, o)
		case o.Shape[1] >= 0 && o.Shape[1] != int64(c.OutFrames()):
			return b.contractError("%s.output %s has %d frames per call, want %d as output 0", key, o, o.Shape[1], c.OutFrames())
		case o.Shape[2] >= 0 && o.Shape[2] != int64(V2):
			return b.contractError("%s.output %s has %d classes but %s has %d tokens", key, o, o.Shape[2], h.TokensPath, V2)
		}
		if fixedBatch(o.Shape[0]) {
			c.MaxBatch = 1
		}
		switch {
		case h.Config.BlankID != nil:
			h.BlankID = *h.Config.BlankID
			if h.BlankID < 0 || h.BlankID >= V2 {
				return b.contractError("%s.blank_id %d outside the vocabulary 0..%d of %s", key, h.BlankID, V2-1, h.TokensPath)
			}
		case h.Tokens == b.Tokens:
			h.BlankID = c.BlankID
		default:
			h.BlankID = -1
			for _, sym := range ctcBlankSymbols {
				if id, ok := h.Tokens.Lookup(sym); ok {
					h.BlankID = id
					break
				}
			}
			if h.BlankID < 0 {
				return b.contractError("%s.blank_id is required: %s has no blank symbol (%s)", key, h.TokensPath, strings.Join(ctcBlankSymbols, ", "))
			}
		}
		b.bind.heads = append(b.bind.heads, headBind{index: b.bind.nOut, width: V2})
		b.bind.nOut++
	}
	return nil
}

// sessionOutputs names the session's outputs in binding order: the
// contract's outputs, then the heads'.
func (b *Bundle) sessionOutputs() []string {
	names := tensorNames(b.outs)
	for _, h := range b.Heads {
		names = append(names, h.Output.Name)
	}
	return names
}

// decodingFiles are the lexicon and LM of one head.
type decodingFiles struct {
	lexPath, lmPath string
	lex             *ctc.Lexicon
	lm              *ctc.LM
}

// loadDecodingFiles checks a decoding block and loads the lexicon and LM it
// goes with (paths relative to dir). prefix ("" or "heads.subtitle.") names
// the keys in errors; tokens spell the lexicon.
func loadDecodingFiles(dir, prefix, lexicon, lm string, d *DecodingConfig, tokens *ctc.Tokens, tokensPath string) (decodingFiles, error) {
	var f decodingFiles
	cfg := filepath.Join(dir, "bundle.yaml")
	if lexicon == "" && lm == "" {
		if d != nil {
			return f, fmt.Errorf("%w: %s: %sdecoding settings need a lexicon or an lm", ErrBundleDecoding, cfg, prefix)
		}
		return f, nil
	}
	if d != nil {
		bad := func(v *float64, min float64) bool {
			return v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v < min)
		}
		switch {
		case d.Beam < 0 || d.Beam > ctc.MaxBeam:
			return f, fmt.Errorf("%w: %s: %sdecoding.beam %d outside 1..%d", ErrBundleDecoding, cfg, prefix, d.Beam, ctc.MaxBeam)
		case bad(d.LMWeight, 0):
			return f, fmt.Errorf("%w: %s: %sdecoding.lm_weight %v is not a finite number >= 0", ErrBundleDecoding, cfg, prefix, *d.LMWeight)
		case bad(d.WordBonus, math.Inf(-1)):
			return f, fmt.Errorf("%w: %s: %sdecoding.word_bonus %v is not finite", ErrBundleDecoding, cfg, prefix, *d.WordBonus)
		case bad(d.UnkPenalty, 0):
			return f, fmt.Errorf("%w: %s: %sdecoding.unk_penalty %v is not a finite number >= 0", ErrBundleDecoding, cfg, prefix, *d.UnkPenalty)
		case d.LMWeight != nil && lm == "":
			return f, fmt.Errorf("%w: %s: %sdecoding.lm_weight without an lm", ErrBundleDecoding, cfg, prefix)
		}
	}
	var err error
	if lexicon != "" {
		f.lexPath = bundlePath(dir, lexicon)
		if err := isFile(f.lexPath); err != nil {
			return f, fmt.Errorf("%w: %slexicon %s: %w", ErrBundleDecoding, prefix, f.lexPath, err)
		}
		if f.lex, err = ctc.LoadLexicon(f.lexPath, tokens); err != nil {
			return f, fmt.Errorf("%w: %s%w (words must be spellable with %s)", ErrBundleDecoding, prefix, err, tokensPath)
		}
	}
	if lm != "" {
		f.lmPath = bundlePath(dir, lm)
		if err := isFile(f.lmPath); err != nil {
			return f, fmt.Errorf("%w: %slm %s: %w", ErrBundleDecoding, prefix, f.lmPath, err)
		}
		if f.lm, err = ctc.LoadARPA(f.lmPath); err != nil {
			return f, fmt.Errorf("%w: %s%w", ErrBundleDecoding, prefix, err)
		}
	}
	return f, nil
}

// beamOptions returns the beam search settings for a lexicon, an LM and a
// decoding block; ok is false without a lexicon and an LM (greedy search).
func beamOptions(lex *ctc.Lexicon, lm *ctc.LM, d *DecodingConfig) (opt ctc.BeamOptions, ok bool) {
	if lex == nil && lm == nil {
		return ctc.BeamOptions{}, false
	}
	opt = ctc.BeamOptions{
		Beam: ctc.DefaultBeam, Lexicon: lex, LM: lm,
		Alpha: DefaultLMWeight, Beta: DefaultWordBonus, UnkPenalty: DefaultUnkPenalty,
	}
	if d != nil {
		if d.Beam > 0 {
			opt.Beam = d.Beam
		}
		if d.LMWeight != nil {
			opt.Alpha = *d.LMWeight
		}
		if d.WordBonus != nil {
			opt.Beta = *d.WordBonus
		}
		if d.UnkPenalty != nil {
			opt.UnkPenalty = *d.UnkPenalty
		}
	}
	return opt, true
}

// newSearch starts a CTC search over tokens: prefix beam search with opt
// when beam is set, else greedy.
func newSearch(tokens *ctc.Tokens, blank, subsampling int, anchor int64, opt ctc.BeamOptions, beam bool) (ctc.Search, error) {
	if beam {
		return ctc.NewBeam(tokens, blank, subsampling, anchor, opt)
	}
	return ctc.NewGreedy(tokens, blank, subsampling, anchor)
}
