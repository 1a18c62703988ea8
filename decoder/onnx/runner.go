package onnx

import (
	"fmt"
	"math"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// binding says how the inputs and outputs of a streaming model's session are
// used in one call, by position (MODEL-CONTRACT §0): which input takes the
// feature windows and in which layout, which output holds the per-frame
// result read back, which inputs are constant per-stream lengths, which
// outputs are computed but not read, and which input/output pairs are the
// states fed back. Every input and output of the session has exactly one
// role.
type binding struct {
	nIn, nOut int
	feat      int  // input index of the feature windows
	featNFT   bool // features are [N, F, T] (NeMo audio_signal), not [N, T, F]
	main      int  // output index of the frames read back
	mainNDT   bool // that output is [N, D, T'] (NeMo encoder), not [N, T', D]
	lengths   []int
	skips     []skipOutput
	states    []boundState
	heads     []headBind
}

// headBind is an extra head's output (Bundle.Heads): per-frame scores
// [N, T', width] read back like the main output.
type headBind struct {
	index int // output index
	width int // classes per frame
}

// skipOutput is an output of shape [N] that is computed but not read (NeMo
// encoded_lengths).
type skipOutput struct {
	index int
	dtype string
}

// boundState is one state: its input and output index and layout.
type boundState struct {
	in, out int
	info    StateInfo
	spec    stateSpec
}

// stateInfos returns the states' descriptions in order.
func (b binding) stateInfos() []StateInfo {
	out := make([]StateInfo, len(b.states))
	for j, s := range b.states {
		out[j] = s.info
	}
	return out
}

// newStateSpec computes the stacking layout of a state.
func newStateSpec(s StateInfo) stateSpec {
	sp := stateSpec{shape: append([]int64(nil), s.Shape...), axis: s.BatchAxis, outer: 1, inner: 1}
	sp.shape[sp.axis] = 1
	for d, n := range sp.shape {
		switch {
		case d < sp.axis:
			sp.outer *= int(n)
		case d > sp.axis:
			sp.inner *= int(n)
		}
	}
	sp.size = sp.outer * sp.inner
	return sp
}

// addState appends a state bound to input in and output out.
func (b *binding) addState(in, out int, s StateInfo) {
	b.states = append(b.states, boundState{in: in, out: out, info: s, spec: newStateSpec(s)})
}

// runner makes batched calls of one streaming session: it stacks the
// streams' feature windows and states into tensors kept per batch size,
// runs the session and hands each stream its frames and new states. It is
// not safe for concurrent use; its owner serialises calls.
type runner struct {
	path       string
	sess       *ort.DynamicAdvancedSession
	bind       binding
	T, F       int  // window frames and feature bins
	outT, outD int  // frames and width of the main output per stream
	logSoftmax bool // normalise each main output row (CTC logits → log-probs)
	cache      map[int]*runIO
	rows       []float32 // one stream's main output, transposed or normalised
	// lastRun is how long the session's Run took in the latest call, for
	// the schedulers' accounting of their own overhead; read it under the
	// owner's lock, right after run.
	lastRun time.Duration
}

// runIO holds the tensors of one batch size.
type runIO struct {
	n       int          // batch size
	members []*stateHome // per slot: the state resident there (slab.go), or nil
	x       *ort.Tensor[float32]
	stage   []float32 // [N,T,F] windows before the transpose to [N,F,T]
	main    *ort.Tensor[float32]
	f32     []*ort.Tensor[float32] // per state; nil for int64 states
	f32Next []*ort.Tensor[float32]
	i64     []*ort.Tensor[int64]
	i64Next []*ort.Tensor[int64]
	heads   []*ort.Tensor[float32] // per extra head, [N,T',width]
	in, out []ort.Value
}

func (io *runIO) destroy() { destroyValues(io.in, io.out) }

func newRunner(path string, sess *ort.DynamicAdvancedSession, b binding, T, F, outT, outD int, logSoftmax bool) *runner {
	return &runner{path: path, sess: sess, bind: b, T: T, F: F, outT: outT, outD: outD,
		logSoftmax: logSoftmax, cache: map[int]*runIO{}, rows: make([]float32, outT*outD)}
}

// newState returns zeroed per-stream state buffers in the batch-1 layout:
// f32[j] for float32 states, i64[j] for int64 states (the other nil).
func (r *runner) newState() (f32 [][]float32, i64 [][]int64) {
	f32, i64 = make([][]float32, len(r.bind.states)), make([][]int64, len(r.bind.states))
	for j, s := range r.bind.states {
		if s.info.DType == "int64" {
			i64[j] = make([]int64, s.spec.size)
		} else {
			f32[j] = make([]float32, s.spec.size)
		}
	}
	return f32, i64
}

// close releases the tensors and the session.
func (r *runner) close() error {
	for n, io := range r.cache {
		io.destroy()
		delete(r.cache, n)
	}
	return r.sess.Destroy()
}

// batch returns the tensors for n streams, creating them on first use.
func (r *runner) batch(n int) (*runIO, error) {
	if io, ok := r.cache[n]; ok {
		return io, nil
	}
	if len(r.cache) >= maxCachedBatches {
		for k, io := range r.cache {
			r.flushAll(io)
			io.destroy()
			delete(r.cache, k)
		}
	}
	b := r.bind
	io := &runIO{n: n, members: make([]*stateHome, n), in: make([]ort.Value, b.nIn), out: make([]ort.Value, b.nOut)}
	fail := func(err error) (*runIO, error) {
		destroyValues(compact(io.in), compact(io.out))
		return nil, fmt.Errorf("onnx: %s: tensors for batch %d: %w", r.path, n, err)
	}
	N, T, F := int64(n), int64(r.T), int64(r.F)
	var err error
	xs := ort.NewShape(N, T, F)
	if b.featNFT {
		xs = ort.NewShape(N, F, T)
		io.stage = make([]float32, n*r.T*r.F)
	}
	if io.x, err = ort.NewEmptyTensor[float32](xs); err != nil {
		return fail(err)
	}
	io.in[b.feat] = io.x
	ms := ort.NewShape(N, int64(r.outT), int64(r.outD))
	if b.mainNDT {
		ms = ort.NewShape(N, int64(r.outD), int64(r.outT))
	}
	if io.main, err = ort.NewEmptyTensor[float32](ms); err != nil {
		return fail(err)
	}
	io.out[b.main] = io.main
	for _, h := range b.heads {
		t, err := ort.NewEmptyTensor[float32](ort.NewShape(N, int64(r.outT), int64(h.width)))
		if err != nil {
			return fail(err)
		}
		io.out[h.index] = t
		io.heads = append(io.heads, t)
	}
	for _, k := range b.lengths {
		l, err := ort.NewEmptyTensor[int64](ort.NewShape(N))
		if err != nil {
			return fail(err)
		}
		for i := range l.GetData() {
			l.GetData()[i] = T
		}
		io.in[k] = l
	}
	for _, sk := range b.skips {
		var v ort.Value
		switch sk.dtype {
		case "int32":
			v, err = ort.NewEmptyTensor[int32](ort.NewShape(N))
		case "float32":
			v, err = ort.NewEmptyTensor[float32](ort.NewShape(N))
		default:
			v, err = ort.NewEmptyTensor[int64](ort.NewShape(N))
		}
		if err != nil {
			return fail(err)
		}
		io.out[sk.index] = v
	}
	for _, s := range b.states {
		shape := ort.Shape(append([]int64(nil), s.spec.shape...))
		shape[s.spec.axis] = N
		var fi, fo *ort.Tensor[float32]
		var ii, iout *ort.Tensor[int64]
		if s.info.DType == "int64" {
			ii, iout, err = newStateTensors[int64](io, s, shape)
		} else {
			fi, fo, err = newStateTensors[float32](io, s, shape)
		}
		if err != nil {
			return fail(err)
		}
		io.f32, io.f32Next = append(io.f32, fi), append(io.f32Next, fo)
		io.i64, io.i64Next = append(io.i64, ii), append(io.i64Next, iout)
	}
	for i, v := range io.in {
		if v == nil {
			return fail(fmt.Errorf("input %d has no role", i))
		}
	}
	for i, v := range io.out {
		if v == nil {
			return fail(fmt.Errorf("output %d has no role", i))
		}
	}
	r.cache[n] = io
	return io, nil
}

// newStateTensors makes a state's input and output tensors of the given
// shape and puts them in io's inputs and outputs (where a failed batch
// destroys them).
func newStateTensors[E ort.TensorData](io *runIO, s boundState, shape ort.Shape) (in, out *ort.Tensor[E], err error) {
	if in, err = ort.NewEmptyTensor[E](shape); err != nil {
		return nil, nil, err
	}
	io.in[s.in] = in
	if out, err = ort.NewEmptyTensor[E](shape); err != nil {
		return nil, nil, err
	}
	io.out[s.out] = out
	return in, out, nil
}

// compact drops nil values.
func compact(vs []ort.Value) []ort.Value {
	out := vs[:0:0]
	for _, v := range vs {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

// run makes one call for n streams. fill writes their feature windows,
// [N,T,F] flattened; state(i) returns stream i's state (buffers as
// newState makes them), which is stacked along each state's batch axis
// before the call (unless already resident in slot i, slab.go) and
// replaced with the new state after it (left resident when it stays);
// take(i, frames) receives stream i's main output, [T'][D] flattened,
// valid only during the call.
func (r *runner) run(n int, fill func(x []float32), state func(i int) *stateHome, take func(i int, frames []float32)) error {
	return r.runHeads(n, fill, state, take, nil)
}

// runHeads is run that also hands each stream's extra head outputs to
// takeHead(i, h, frames) ([T'][width] flattened, normalised like the main
// output, valid only during the call), after take(i, …). takeHead may be
// nil when the binding has no heads.
func (r *runner) runHeads(n int, fill func(x []float32), state func(i int) *stateHome,
	take func(i int, frames []float32), takeHead func(i, h int, frames []float32)) error {
	io, err := r.batch(n)
	if err != nil {
		return err
	}
	if io.stage != nil {
		fill(io.stage)
		transpose(io.x.GetData(), io.stage, n, r.T, r.F)
	} else {
		fill(io.x.GetData())
	}
	r.stackStates(io, n, state)
	t0 := time.Now()
	err = r.sess.Run(io.in, io.out)
	r.lastRun = time.Since(t0)
	if err != nil {
		return fmt.Errorf("onnx: %s: run (batch %d): %s", r.path, n, oneLine(err))
	}
	out := io.main.GetData()
	per := r.outT * r.outD
	for i := range n {
		frames := out[i*per : (i+1)*per]
		if r.bind.mainNDT {
			transpose(r.rows, frames, 1, r.outD, r.outT)
			frames = r.rows
		}
		if r.logSoftmax {
			if &frames[0] != &r.rows[0] {
				copy(r.rows, frames)
				frames = r.rows
			}
			for t := range r.outT {
				logSoftmaxRow(frames[t*r.outD : (t+1)*r.outD])
			}
		}
		take(i, frames)
		for h, hb := range r.bind.heads {
			if takeHead == nil {
				break
			}
			per := r.outT * hb.width
			hf := io.heads[h].GetData()[i*per : (i+1)*per]
			if r.logSoftmax {
				for t := range r.outT {
					logSoftmaxRow(hf[t*hb.width : (t+1)*hb.width])
				}
			}
			takeHead(i, h, hf)
		}
	}
	r.settleStates(io, n, state)
	return nil
}

// transpose writes src [n][a][b] as dst [n][b][a].
func transpose(dst, src []float32, n, a, b int) {
	for k := range n {
		s, d := src[k*a*b:(k+1)*a*b], dst[k*a*b:(k+1)*a*b]
		for i := range a {
			for j := range b {
				d[j*a+i] = s[i*b+j]
			}
		}
	}
}

// logSoftmaxRow normalises row in place to log-probabilities. A row with a
// NaN stays NaN (the search rejects or ignores it).
func logSoftmaxRow(row []float32) {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return
	}
	sum := 0.0
	for _, v := range row {
		sum += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(sum)
	for i, v := range row {
		row[i] = float32(float64(v) - lse)
	}
}
