package onnx

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

var (
	// ErrDevice means the requested execution provider cannot be used.
	ErrDevice = errors.New("execution provider unavailable")
	// ErrClosed means the Model was closed.
	ErrClosed = errors.New("model closed")
	// ErrBatch means Run was called with inputs that do not fit the model.
	ErrBatch = errors.New("bad batch")
)

// Options configure a Model.
type Options struct {
	// Threads is the number of intra-op threads of the session (0 means 1).
	Threads int
	// Device is "cpu" (also the default, "") or "cuda" / "cuda:N" for the
	// CUDA execution provider, which needs the GPU build of ONNX Runtime;
	// without it NewModel fails with ErrDevice.
	Device string
}

// maxCachedBatches bounds the number of distinct batch sizes whose tensors
// are kept between calls.
const maxCachedBatches = 32

// Model is one ONNX Runtime session of a single-file streaming CTC model:
// subtitled_ctc, icefall's zipformer2 CTC or NeMo's cache-aware CTC. Run may
// be called from several goroutines; calls are serialised. A StreamState must
// not be used by two calls at once.
type Model struct {
	b *Bundle
	c Contract
	r *runner

	mu     sync.Mutex
	closed bool
}

// stateSpec is the layout of one state tensor.
type stateSpec struct {
	shape        []int64 // batched shape with the batch axis set to 1
	axis         int
	outer, inner int // elements before / after the batch axis
	size         int // elements per stream
}

// NewModel creates a session for the bundle's model.
func NewModel(b *Bundle, opts Options) (*Model, error) {
	if b == nil || b.Contract.Family == "" {
		return nil, errors.New("onnx: NewModel needs a bundle from OpenBundle")
	}
	so, err := sessionOptions(opts)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	sess, err := ort.NewDynamicAdvancedSession(b.ModelPath, tensorNames(b.Inputs), b.sessionOutputs(), so)
	if err != nil && isGPU(opts.Device) {
		// With CUDA the session start is where a missing CUDA or cuDNN
		// library shows up: report it as the device's failure.
		return nil, fmt.Errorf("%w: %s: %s: %s", ErrDevice, opts.Device, b.ModelPath, oneLine(err))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrBundleModelInvalid, b.ModelPath, oneLine(err))
	}
	c := b.Contract
	r := newRunner(b.ModelPath, sess, b.bind, c.ChunkFrames, c.FeatureDim, c.OutFrames(), c.VocabSize, b.logits)
	return &Model{b: b, c: c, r: r}, nil
}

// sessionOptions makes the options of a model's sessions: intra-op threads,
// one inter-op thread and the device's execution provider.
func sessionOptions(opts Options) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx: session options: %w", err)
	}
	threads := max(opts.Threads, 1)
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		so.Destroy()
		return nil, fmt.Errorf("onnx: intra-op threads %d: %w", threads, err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		so.Destroy()
		return nil, fmt.Errorf("onnx: inter-op threads: %w", err)
	}
	if err := configureDevice(so, opts.Device); err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

// tensorNames lists the names of ts.
func tensorNames(ts []TensorInfo) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// configureDevice appends the execution provider for device to so: nothing
// for the CPU, the CUDA provider for "cuda" / "cuda:N" (device N, cuDNN
// convolution algorithm search HEURISTIC: the default EXHAUSTIVE search is
// very slow at session start). It fails with ErrDevice when the loaded ONNX
// Runtime library has no CUDA provider or CUDA cannot start; callers fall
// back to the CPU.
func configureDevice(so *ort.SessionOptions, device string) error {
	d := strings.ToLower(strings.TrimSpace(device))
	switch {
	case d == "" || d == "cpu":
		return nil
	case d == "cuda" || strings.HasPrefix(d, "cuda:"):
		id := "0"
		if rest, ok := strings.CutPrefix(d, "cuda:"); ok {
			if n, err := strconv.Atoi(rest); err != nil || n < 0 {
				return fmt.Errorf("%w: bad device %q (want cuda:N)", ErrDevice, device)
			}
			id = rest
		}
		opts, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("%w: %s: %s", ErrDevice, device, oneLine(err))
		}
		defer opts.Destroy()
		if err := opts.Update(map[string]string{"device_id": id, "cudnn_conv_algo_search": "HEURISTIC"}); err != nil {
			return fmt.Errorf("%w: %s: CUDA options: %s", ErrDevice, device, oneLine(err))
		}
		if err := so.AppendExecutionProviderCUDA(opts); err != nil {
			return fmt.Errorf("%w: %s: %s (the CUDA provider needs the GPU build of ONNX Runtime, `make ort-gpu`, and CUDA + cuDNN on the host)",
				ErrDevice, device, oneLine(err))
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown device %q (want cpu or cuda:N)", ErrDevice, device)
	}
}

func isGPU(device string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(device)), "cuda")
}

// Bundle returns the bundle the model was made from.
func (m *Model) Bundle() *Bundle { return m.b }

// Contract returns the model's streaming contract.
func (m *Model) Contract() Contract { return m.c }

// Heads returns the bundle's extra heads (Bundle.Heads), whose outputs
// every Run also reads back (StreamState.HeadLogProbs).
func (m *Model) Heads() []*Head { return m.b.Heads }

// Close releases the session and its tensors. Later calls to Run fail.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.r.close()
}

// StreamState is the recurrent state of one stream, zero at the start, plus
// a buffer for its latest log-probs.
type StreamState struct {
	m        *Model
	data     [][]float32 // per float32 state tensor, in the per-stream (batch 1) layout; nil for int64 states
	i64      [][]int64   // per int64 state tensor (zipformer2 processed_lens, NeMo cache_last_channel_len); nil for float32 states
	logProbs []float32   // [S/R][V]
	heads    [][]float32 // per extra head, [S/R][V2]
	home     stateHome   // data and i64 for the runner, and where the state is resident
}

// NewStreamState returns a zeroed state for one stream.
func (m *Model) NewStreamState() *StreamState {
	s := &StreamState{m: m, logProbs: make([]float32, m.c.OutFrames()*m.c.VocabSize)}
	s.data, s.i64 = m.r.newState()
	s.home = stateHome{f32: s.data, i64: s.i64}
	for _, h := range m.b.Heads {
		s.heads = append(s.heads, make([]float32, m.c.OutFrames()*h.Tokens.Len()))
	}
	return s
}

// Reset zeroes the state, as at the start of a stream.
func (s *StreamState) Reset() {
	s.release()
	zeroState(s.data, s.i64, s.logProbs)
	for _, h := range s.heads {
		clear(h)
	}
}

// release drops the state from the model's state tensors, where a
// Scheduler may have left it, without reading it back.
func (s *StreamState) release() { s.home.release(&s.m.mu) }

// HeadLogProbs returns the log-probs of extra head h (Model.Heads()[h]) from
// the stream's latest Run, [S/R][V2] flattened; the slice is overwritten by
// the next Run. It panics when h is out of range.
func (s *StreamState) HeadLogProbs(h int) []float32 { return s.heads[h] }

// zeroState clears a stream's float32 and int64 state tensors and its
// output buffer.
func zeroState(f32 [][]float32, i64 [][]int64, out []float32) {
	for j := range f32 {
		clear(f32[j])
	}
	for j := range i64 {
		clear(i64[j])
	}
	clear(out)
}

// Run makes one model call for len(states) streams. x holds their feature
// windows, [N,T,F] flattened. The states are stacked along each state's batch
// axis, and the new states are scattered back into them. It returns each
// stream's log-probs, [S/R][V] flattened; these slices belong to the
// StreamState and are overwritten by its next Run. The extra heads' log-probs
// (a bundle's subtitle head), computed by the same call, are in each
// StreamState's HeadLogProbs.
func (m *Model) Run(x []float32, states []*StreamState) ([][]float32, error) {
	n := len(states)
	T, F := m.c.ChunkFrames, m.c.FeatureDim
	if n > 0 && len(x) != n*T*F {
		return nil, fmt.Errorf("%w: x has %d values, want %d streams × %d frames × %d bins = %d",
			ErrBatch, len(x), n, T, F, n*T*F)
	}
	out, _, err := m.run(states, func(dst []float32) { copy(dst, x) })
	return out, err
}

// checkBatch validates a batch: at least one stream, at most maxBatch (0:
// any), and every state non-nil and owned by the model (what names it in
// errors).
func checkBatch[S any](states []*S, maxBatch int, what string, owned func(*S) bool) error {
	n := len(states)
	switch {
	case n == 0:
		return fmt.Errorf("%w: no streams", ErrBatch)
	case maxBatch > 0 && n > maxBatch:
		return fmt.Errorf("%w: %d streams but the %s takes at most %d", ErrBatch, n, what, maxBatch)
	}
	for i, s := range states {
		if s == nil || !owned(s) {
			return fmt.Errorf("%w: state %d does not belong to this %s", ErrBatch, i, what)
		}
	}
	return nil
}

// run is Run with the feature windows written by fill into the batched
// input tensor ([N,T,F] flattened), so that callers holding separate
// windows (the Scheduler) need no intermediate copy. It also returns how
// long ONNX Runtime's Run took, without the stacking and scattering.
func (m *Model) run(states []*StreamState, fill func(x []float32)) ([][]float32, time.Duration, error) {
	n := len(states)
	if err := checkBatch(states, m.c.MaxBatch, "model", func(s *StreamState) bool { return s.m == m }); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, 0, ErrClosed
	}
	out := make([][]float32, n)
	err := m.r.runHeads(n, fill,
		func(i int) *stateHome { return &states[i].home },
		func(i int, lp []float32) {
			copy(states[i].logProbs, lp)
			out[i] = states[i].logProbs
		},
		func(i, h int, lp []float32) { copy(states[i].heads[h], lp) })
	if err != nil {
		return nil, 0, err
	}
	return out, m.r.lastRun, nil
}

// stack copies stream i's state (batch 1 layout) into the batched tensor of
// n streams: for each of the outer positions, the batch axis holds n blocks
// of inner elements.
func stack[E float32 | int64](dst, src []E, sp stateSpec, n, i int) {
	for o := 0; o < sp.outer; o++ {
		copy(dst[(o*n+i)*sp.inner:(o*n+i+1)*sp.inner], src[o*sp.inner:(o+1)*sp.inner])
	}
}

// scatter is the inverse of stack.
func scatter[E float32 | int64](dst, src []E, sp stateSpec, n, i int) {
	for o := 0; o < sp.outer; o++ {
		copy(dst[o*sp.inner:(o+1)*sp.inner], src[(o*n+i)*sp.inner:(o*n+i+1)*sp.inner])
	}
}
