package hub

import "sort"

// ringEntry is one retained final cue, already encoded.
type ringEntry struct {
	id  uint64
	msg []byte
}

// ring keeps the newest cap(buf) final cues of one track in id order. It is
// not safe for concurrent use; the track's mutex guards it.
type ring struct {
	buf   []ringEntry
	start int // index of the oldest entry
	n     int // entries held
}

func newRing(size int) ring { return ring{buf: make([]ringEntry, size)} }

// at returns the i-th oldest entry.
func (r *ring) at(i int) ringEntry { return r.buf[(r.start+i)%len(r.buf)] }

// push appends e, evicting the oldest entry when full. Ids must increase.
func (r *ring) push(e ringEntry) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = e
		r.n++
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % len(r.buf)
}

// span returns the oldest and newest retained ids; ok is false when empty.
func (r *ring) span() (first, last uint64, ok bool) {
	if r.n == 0 {
		return 0, 0, false
	}
	return r.at(0).id, r.at(r.n - 1).id, true
}

// since appends to dst the messages of every retained cue with id >= id,
// oldest first.
func (r *ring) since(dst [][]byte, id uint64) [][]byte {
	i := sort.Search(r.n, func(i int) bool { return r.at(i).id >= id })
	for ; i < r.n; i++ {
		dst = append(dst, r.at(i).msg)
	}
	return dst
}

// resized returns a ring of the given size holding the newest entries of r.
func (r *ring) resized(size int) ring {
	nr := newRing(size)
	from := max(r.n-size, 0)
	for i := from; i < r.n; i++ {
		nr.push(r.at(i))
	}
	return nr
}
