package onnx

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// nemoNet runs a NeMo transducer's prediction network and joiner for the
// search (transducer.StatefulNet), batched over rows, with the LSTM states
// h and c stacked along their batch axis 1 (MODEL-CONTRACT §2.2).
type nemoNet struct{ m *TransducerModel }

// nemoDecoderIO holds the prediction network's tensors for one row count.
type nemoDecoderIO struct {
	targets, lengths *ort.Tensor[int32]
	h, c             *ort.Tensor[float32]
	out              *ort.Tensor[float32]
	h2, c2           *ort.Tensor[float32]
	in, outs         []ort.Value
}

// nemoJoinerIO holds the joiner's tensors for one row count.
type nemoJoinerIO struct {
	enc, dec, logits *ort.Tensor[float32]
	in, out          []ort.Value
}

func (n nemoNet) VocabSize() int  { return n.m.p.VocabSize }
func (n nemoNet) EncoderDim() int { return n.m.p.EncoderDim }
func (n nemoNet) DecoderDim() int { return n.m.p.DecoderDim }

// DecoderStateSize is the size of h and c together.
func (n nemoNet) DecoderStateSize() int {
	return int(n.m.p.DecoderStates[0].Elements() + n.m.p.DecoderStates[1].Elements())
}

// lstmSpec is the stacking layout of one LSTM state.
func (n nemoNet) lstmSpec(j int) stateSpec { return newStateSpec(n.m.p.DecoderStates[j]) }

func (m *TransducerModel) nemoDecoder(rows int) (*nemoDecoderIO, error) {
	if io, ok := m.nemoDec[rows]; ok {
		return io, nil
	}
	if len(m.nemoDec) >= maxCachedBatches {
		for k, io := range m.nemoDec {
			destroyValues(io.in, io.outs)
			delete(m.nemoDec, k)
		}
	}
	io := &nemoDecoderIO{}
	fail := func(err error) (*nemoDecoderIO, error) {
		destroyValues(io.in, io.outs)
		return nil, fmt.Errorf("onnx: %s: tensors for %d rows: %w", m.b.Decoder.Path, rows, err)
	}
	N := int64(rows)
	st := m.p.DecoderStates[0].Shape
	ss := ort.NewShape(st[0], N, st[2])
	var err error
	if io.targets, err = ort.NewEmptyTensor[int32](ort.NewShape(N, 1)); err != nil {
		return fail(err)
	}
	io.in = append(io.in, io.targets)
	if io.lengths, err = ort.NewEmptyTensor[int32](ort.NewShape(N)); err != nil {
		return fail(err)
	}
	io.in = append(io.in, io.lengths)
	for i := range io.lengths.GetData() {
		io.lengths.GetData()[i] = 1
	}
	if io.h, err = ort.NewEmptyTensor[float32](ss); err != nil {
		return fail(err)
	}
	io.in = append(io.in, io.h)
	if io.c, err = ort.NewEmptyTensor[float32](ss); err != nil {
		return fail(err)
	}
	io.in = append(io.in, io.c)
	if io.out, err = ort.NewEmptyTensor[float32](ort.NewShape(N, int64(m.p.DecoderDim), 1)); err != nil {
		return fail(err)
	}
	io.outs = append(io.outs, io.out)
	var plen ort.Value
	if m.b.Decoder.Outputs[1].DType == "int64" {
		plen, err = ort.NewEmptyTensor[int64](ort.NewShape(N))
	} else {
		plen, err = ort.NewEmptyTensor[int32](ort.NewShape(N))
	}
	if err != nil {
		return fail(err)
	}
	io.outs = append(io.outs, plen)
	if io.h2, err = ort.NewEmptyTensor[float32](ss); err != nil {
		return fail(err)
	}
	io.outs = append(io.outs, io.h2)
	if io.c2, err = ort.NewEmptyTensor[float32](ss); err != nil {
		return fail(err)
	}
	io.outs = append(io.outs, io.c2)
	m.nemoDec[rows] = io
	return io, nil
}

// RunDecoder runs the prediction network on len(tokens) rows; a row's state
// is h then c, each [pred_rnn_layers][pred_hidden].
func (n nemoNet) RunDecoder(tokens []int32, states, out, next []float32) error {
	m := n.m
	rows, S, H := len(tokens), n.DecoderStateSize(), m.p.DecoderDim
	if rows == 0 || len(states) != rows*S || len(next) != rows*S || len(out) != rows*H {
		return fmt.Errorf("%w: decoder: %d tokens, %d state and %d next-state values, %d outputs for state size %d, H=%d",
			ErrBatch, rows, len(states), len(next), len(out), S, H)
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= m.p.VocabSize {
			return fmt.Errorf("%w: decoder: token %d outside the vocabulary of %d", ErrBatch, t, m.p.VocabSize)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	io, err := m.nemoDecoder(rows)
	if err != nil {
		return err
	}
	copy(io.targets.GetData(), tokens)
	hs, cs := n.lstmSpec(0), n.lstmSpec(1)
	for r := range rows {
		row := states[r*S : (r+1)*S]
		stack(io.h.GetData(), row[:hs.size], hs, rows, r)
		stack(io.c.GetData(), row[hs.size:], cs, rows, r)
	}
	if err := m.dec.Run(io.in, io.outs); err != nil {
		return fmt.Errorf("onnx: %s: run (%d rows): %s", m.b.Decoder.Path, rows, oneLine(err))
	}
	copy(out, io.out.GetData())
	for r := range rows {
		row := next[r*S : (r+1)*S]
		scatter(row[:hs.size], io.h2.GetData(), hs, rows, r)
		scatter(row[hs.size:], io.c2.GetData(), cs, rows, r)
	}
	return nil
}

func (m *TransducerModel) nemoJoiner(rows int) (*nemoJoinerIO, error) {
	if io, ok := m.nemoJn[rows]; ok {
		return io, nil
	}
	if len(m.nemoJn) >= maxCachedBatches {
		for k, io := range m.nemoJn {
			destroyValues(io.in, io.out)
			delete(m.nemoJn, k)
		}
	}
	io := &nemoJoinerIO{}
	fail := func(err error) (*nemoJoinerIO, error) {
		destroyValues(io.in, io.out)
		return nil, fmt.Errorf("onnx: %s: tensors for %d rows: %w", m.b.Joiner.Path, rows, err)
	}
	N := int64(rows)
	var err error
	if io.enc, err = ort.NewEmptyTensor[float32](ort.NewShape(N, int64(m.p.EncoderDim), 1)); err != nil {
		return fail(err)
	}
	io.in = append(io.in, io.enc)
	if io.dec, err = ort.NewEmptyTensor[float32](ort.NewShape(N, int64(m.p.DecoderDim), 1)); err != nil {
		return fail(err)
	}
	io.in = append(io.in, io.dec)
	if io.logits, err = ort.NewEmptyTensor[float32](ort.NewShape(N, 1, 1, int64(m.p.VocabSize))); err != nil {
		return fail(err)
	}
	io.out = append(io.out, io.logits)
	m.nemoJn[rows] = io
	return io, nil
}

// RunJoiner runs the joiner on rows (encoder frame [D], decoder output [H])
// pairs and writes the logits [rows][V] into out.
func (n nemoNet) RunJoiner(enc, dec, out []float32) error {
	m := n.m
	D, H, V := m.p.EncoderDim, m.p.DecoderDim, m.p.VocabSize
	rows := len(enc) / D
	if rows == 0 || len(enc) != rows*D || len(dec) != rows*H || len(out) != rows*V {
		return fmt.Errorf("%w: joiner: %d encoder, %d decoder values and %d outputs for D=%d, H=%d, V=%d",
			ErrBatch, len(enc), len(dec), len(out), D, H, V)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	io, err := m.nemoJoiner(rows)
	if err != nil {
		return err
	}
	copy(io.enc.GetData(), enc)
	copy(io.dec.GetData(), dec)
	if err := m.join.Run(io.in, io.out); err != nil {
		return fmt.Errorf("onnx: %s: run (%d rows): %s", m.b.Joiner.Path, rows, oneLine(err))
	}
	copy(out, io.logits.GetData())
	return nil
}
