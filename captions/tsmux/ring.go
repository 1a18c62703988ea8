package tsmux

// slot is one packet in the delay line.
type slot struct {
	pkt  [tsSize]byte
	meta meta
}

// ring is a FIFO of packets that grows by doubling.
type ring struct {
	buf   []slot
	head  int
	n     int
	limit int // the most slots it grows to (it holds limit+1 at most)
}

func (r *ring) push(pkt []byte, md meta) {
	if r.n == len(r.buf) {
		nb := make([]slot, min(max(256, 2*len(r.buf)), r.limit+1))
		for i := 0; i < r.n; i++ {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	s := &r.buf[(r.head+r.n)%len(r.buf)]
	copy(s.pkt[:], pkt)
	s.meta = md
	r.n++
}

func (r *ring) front() *slot { return &r.buf[r.head] }

// at returns the i-th slot from the front.
func (r *ring) at(i int) *slot { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) pop() {
	r.head = (r.head + 1) % len(r.buf)
	r.n--
}
