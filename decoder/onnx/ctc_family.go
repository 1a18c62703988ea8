package onnx

import (
	"slices"

	"github.com/subtitled/subtitled/decoder"
)

// ctcBlankSymbols are the blank symbols icefall's tokens.txt may use, in the
// order sherpa-onnx looks them up (§1.4).
var ctcBlankSymbols = []string{"<blk>", "<eps>", "<blank>"}

// singleFileFamily tells the family of a single-file model from its session
// inputs, outputs and metadata (MODEL-CONTRACT §0), or "" when it is none
// this package knows: model_type subtitled_ctc; an input named
// cache_last_channel (NeMo CTC); model_type zipformer2 with output 0 named
// log_probs (icefall zipformer2 CTC).
func singleFileFamily(m ModelIO) string {
	mt := m.Metadata["model_type"]
	switch {
	case mt == FamilySubtitledCTC:
		return FamilySubtitledCTC
	case slices.ContainsFunc(m.Inputs, func(t TensorInfo) bool { return t.Name == "cache_last_channel" }):
		return FamilyNeMoCTC
	case mt == FamilyZipformer2 && len(m.Outputs) > 0 && m.Outputs[0].Name == "log_probs":
		return FamilyZipformer2CTC
	}
	return ""
}

// validateZipformer2CTC checks icefall's streaming zipformer2 CTC model
// (§1.4): the zipformer2 encoder's metadata, input x float32 [N, T, 80] and
// states (§1.2), output 0 log_probs float32 [N, decode_chunk_len/4, V] and
// the new states after it. The blank is looked up in tokens.txt.
func (b *Bundle) validateZipformer2CTC() error {
	m := b.contractIO()
	tb := &TransducerBundle{Dir: b.Dir, Family: FamilyZipformer2, Encoder: m}
	errf := func(format string, args ...any) error { return b.contractError(format, args...) }
	V := b.Tokens.Len()
	c := Contract{Family: FamilyZipformer2CTC, FeatureType: FeatureKaldi, FeatureDim: icefallFeatureDim, SampleRate: 16000,
		Subsampling: icefallSubsampling, BlankID: -1, PadValue: DefaultPadValue, VocabSize: V}
	for _, sym := range ctcBlankSymbols {
		if id, ok := b.Tokens.Lookup(sym); ok {
			c.BlankID = id
			break
		}
	}
	if c.BlankID < 0 {
		return errf("%s has no blank symbol (%s)", b.TokensPath, "<blk>, <eps> or <blank>")
	}
	if f := m.Metadata["feature"]; f != "" {
		return errf("feature=%q features are not supported (want Kaldi fbank)", f)
	}
	var err error
	if c.ChunkShift, err = tb.metaInt(m, "decode_chunk_len"); err != nil {
		return err
	}
	if c.ChunkFrames, err = tb.metaInt(m, "T"); err != nil {
		return err
	}
	switch {
	case c.ChunkShift < c.Subsampling || c.ChunkShift%c.Subsampling != 0:
		return errf("decode_chunk_len %d is not a positive multiple of %d", c.ChunkShift, c.Subsampling)
	case c.ChunkFrames < c.ChunkShift || c.ChunkFrames > 100*c.ChunkShift:
		return errf("T %d is not between decode_chunk_len %d and 100×", c.ChunkFrames, c.ChunkShift)
	case len(m.Inputs) < 1 || len(m.Outputs) < 1:
		return errf("want input x and output log_probs")
	}
	x, lp := m.Inputs[0], m.Outputs[0]
	switch {
	case x.DType != "float32" || len(x.Shape) != 3:
		return errf("input 0 %s must be float32 [N, T, 80]", x)
	case x.Shape[2] != int64(c.FeatureDim):
		return errf("input 0 %s takes %d-bin features, but icefall models take %d-bin Kaldi fbank", x, x.Shape[2], c.FeatureDim)
	case x.Shape[1] >= 0 && x.Shape[1] != int64(c.ChunkFrames):
		return errf("input 0 %s takes %d frames but metadata T is %d", x, x.Shape[1], c.ChunkFrames)
	case lp.DType != "float32" || len(lp.Shape) != 3:
		return errf("output 0 %s must be float32 [N, T', V]", lp)
	case lp.Shape[1] >= 0 && lp.Shape[1] != int64(c.OutFrames()):
		return errf("output 0 %s has %d frames per call, want decode_chunk_len/%d = %d", lp, lp.Shape[1], c.Subsampling, c.OutFrames())
	case lp.Shape[2] >= 0 && lp.Shape[2] > int64(V):
		return errf("output 0 %s scores %d tokens but %s has %d: token ids %d..%d would have no symbol",
			lp, lp.Shape[2], b.TokensPath, V, V, lp.Shape[2]-1)
	case lp.Shape[2] >= 0 && lp.Shape[2] != int64(V):
		return errf("output 0 %s scores %d tokens but %s has %d", lp, lp.Shape[2], b.TokensPath, V)
	}
	want, err := tb.stateLayout(TransducerParams{FeatureDim: c.FeatureDim})
	if err != nil {
		return err
	}
	if c.States, c.MaxBatch, err = icefallStates(want, m, FamilyZipformer2CTC, errf); err != nil {
		return err
	}
	b.bind = binding{nIn: len(m.Inputs), nOut: len(m.Outputs)}
	for j, s := range c.States {
		b.bind.addState(j+1, j+1, s)
		c.StateBatchAxes = append(c.StateBatchAxes, s.BatchAxis)
	}
	b.Contract = c
	return nil
}

// Cut ends the current segment at an endpoint and returns the verbatim
// head's words (see ctc.Greedy.Cut). For a NeMo model
// (Contract.ResetOnEndpoint) the states are zeroed too, as sherpa-onnx
// resets NeMo models (§1.9); icefall and subtitled_ctc models keep them.
// Buffered frames are kept either way. The extra heads' searches are cut at
// the same point and their words dropped: use CutHeads to keep them.
func (s *Streamer) Cut() []decoder.Word {
	return s.CutHeads()[0].Words
}

// CutHeads is Cut for every head at once: it ends the segment of each
// head's search at the same output frame and returns their words, in
// HeadSearches order (verbatim first).
func (s *Streamer) CutHeads() []TrackWords {
	out := make([]TrackWords, 0, 1+len(s.heads))
	out = append(out, TrackWords{Track: decoder.TrackVerbatim, Words: s.search.Cut()})
	for h, hs := range s.heads {
		out = append(out, TrackWords{Track: s.m.b.Heads[h].Track, Words: hs.Cut()})
	}
	if s.m.c.ResetOnEndpoint {
		s.st.Reset()
	}
	return out
}

// Cut ends the current segment at an endpoint and returns its words (see
// transducer.Stream.Cut): an icefall model keeps its encoder states and
// seeds the decoder context with the last tokens; a NeMo model
// (TransducerParams.ResetOnEndpoint) zeroes its encoder caches and restarts
// its prediction network (§1.9). Buffered frames are kept either way.
func (s *TransducerStreamer) Cut() []decoder.Word {
	words := s.search.Cut()
	if s.m.p.ResetOnEndpoint {
		s.st.Reset()
	}
	return words
}
