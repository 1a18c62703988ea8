package onnx

// State slabs. A runner keeps, per batch size, the batched state tensors
// (runIO): the inputs, which hold the states a call reads, and the outputs,
// into which it writes the new ones. After each call the two swap roles, so
// the new states are in place as the next call's inputs. A stream whose
// state is marked to stay (stateHome.stay: the schedulers' streams) is left
// there, resident in its slot, instead of being copied back to its own
// buffers; when the next call of that batch size has the same stream in the
// same slot (the schedulers order each batch by stream), its state needs no
// copy at all. A resident state is copied back (flushed) only when its slot
// is needed by another stream, when the stream runs in another batch size
// or slot, or when the tensors are dropped; Reset, and a scheduled
// streamer's Close, drop it unread (release).
//
// Everything here but release runs under the owner's lock (Model.mu,
// TransducerModel.mu); release takes it.

import "sync"

// stateHome is one stream's encoder state for a runner: its own buffers,
// in the per-stream (batch 1) layout, and where its latest value is while
// resident in a batch's state tensors.
type stateHome struct {
	f32 [][]float32 // per state; nil for int64 states
	i64 [][]int64   // per state; nil for float32 states
	// stay keeps the state resident in its slot after a call.
	stay bool
	// io, when not nil, holds the latest state in slot slot of its input
	// state tensors; f32 and i64 are then stale.
	io   *runIO
	slot int
}

// flush copies a resident state back into its own buffers and frees its
// slot.
func (r *runner) flush(h *stateHome) {
	io := h.io
	if io == nil {
		return
	}
	for j, s := range r.bind.states {
		if io.f32[j] != nil {
			scatter(h.f32[j], io.f32[j].GetData(), s.spec, io.n, h.slot)
		} else {
			scatter(h.i64[j], io.i64[j].GetData(), s.spec, io.n, h.slot)
		}
	}
	h.detach()
}

// detach forgets where a resident state is, without copying it back (the
// stream is reset or gone).
func (h *stateHome) detach() {
	if h.io != nil {
		h.io.members[h.slot] = nil
		h.io = nil
	}
}

// release detaches a state under its owner's lock mu (Model.mu,
// TransducerModel.mu): for a stream reset or gone, whose resident state
// would otherwise be copied back when its slot is reused.
func (h *stateHome) release(mu *sync.Mutex) {
	mu.Lock()
	h.detach()
	mu.Unlock()
}

// flushAll flushes every state resident in io (before its tensors are
// destroyed).
func (r *runner) flushAll(io *runIO) {
	for _, h := range io.members {
		if h != nil {
			r.flush(h)
		}
	}
}

// stackStates puts the n streams' states into io's input state tensors,
// stream i in slot i. A state already resident in that slot stays as it
// is; states resident elsewhere and the residents of slots taken by other
// streams are flushed first, before any slot is overwritten.
func (r *runner) stackStates(io *runIO, n int, state func(i int) *stateHome) {
	for i := range n {
		h := state(i)
		if h.io != nil && (h.io != io || h.slot != i) {
			r.flush(h)
		}
		if m := io.members[i]; m != nil && m != h {
			r.flush(m)
		}
	}
	for j, s := range r.bind.states {
		for i := range n {
			h := state(i)
			if h.io == io {
				continue // resident in slot i
			}
			if io.f32[j] != nil {
				stack(io.f32[j].GetData(), h.f32[j], s.spec, n, i)
			} else {
				stack(io.i64[j].GetData(), h.i64[j], s.spec, n, i)
			}
		}
	}
}

// settleStates runs after a successful call: the output state tensors
// become the inputs, each stream that stays becomes resident in its slot
// and the others' new states are copied back into their buffers.
func (r *runner) settleStates(io *runIO, n int, state func(i int) *stateHome) {
	for j, s := range r.bind.states {
		if io.f32[j] != nil {
			io.f32[j], io.f32Next[j] = io.f32Next[j], io.f32[j]
			io.in[s.in], io.out[s.out] = io.f32[j], io.f32Next[j]
		} else {
			io.i64[j], io.i64Next[j] = io.i64Next[j], io.i64[j]
			io.in[s.in], io.out[s.out] = io.i64[j], io.i64Next[j]
		}
	}
	for i := range n {
		h := state(i)
		h.io, h.slot = io, i
		io.members[i] = h
		if !h.stay {
			r.flush(h)
		}
	}
}
