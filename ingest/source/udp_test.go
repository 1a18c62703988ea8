package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/ipv4"
)

// datagram i: 7 packets whose payload bytes all say i.
func datagram(i int) []byte {
	var pkts []pkt
	for range 7 {
		pkts = append(pkts, pkt{pid: 0x100, pcr: -1, payload: bytes.Repeat([]byte{byte(i)}, 184)})
	}
	return buildTS(pkts...)
}

// sender returns a UDP socket bound to from (port 0) that sends to to.
func sender(t *testing.T, from string, to netip.AddrPort) func([]byte) {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(from), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if to.Addr().IsMulticast() {
		p := ipv4.NewPacketConn(c)
		lo, err := net.InterfaceByName(loopbackName(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetMulticastInterface(lo); err != nil {
			t.Fatal(err)
		}
		if err := p.SetMulticastLoopback(true); err != nil {
			t.Fatal(err)
		}
	}
	dst := net.UDPAddrFromAddrPort(to)
	return func(b []byte) {
		t.Helper()
		if _, err := c.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
	}
}

// loopbackName is the name of the loopback interface.
func loopbackName(t *testing.T) string {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Name
		}
	}
	t.Fatal("no loopback interface")
	return ""
}

func localAddr(t *testing.T, s Source) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s.Stats().Addr)
	if err != nil {
		t.Fatalf("Stats.Addr %q: %v", s.Stats().Addr, err)
	}
	return ap
}

func openUDPT(t *testing.T, o Options) Source {
	t.Helper()
	o.Kind = KindUDP
	return openT(t, o)
}

func TestUDPUnicastInOrder(t *testing.T) {
	s := openUDPT(t, Options{Host: netip.MustParseAddr("127.0.0.1")})
	if st := s.Stats(); st.State != StateConnecting || st.Kind != KindUDP {
		t.Fatalf("before data: %+v", st)
	}
	send := sender(t, "127.0.0.1", localAddr(t, s))
	const n = 50
	for i := range n {
		send(datagram(i))
	}
	p := make([]byte, 65536)
	for i := range n {
		k, err := s.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p[:k], datagram(i)) {
			t.Fatalf("Read %d returned %d bytes that are not datagram %d (a Read returns exactly one datagram)", i, k, i)
		}
	}
	st := s.Stats()
	if st.State != StateLive || st.Datagrams != n || st.BytesIn != n*7*188 || st.Drops != 0 || st.RTPDatagrams != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUDPRTP(t *testing.T) {
	s := openUDPT(t, Options{Host: netip.MustParseAddr("127.0.0.1")})
	send := sender(t, "127.0.0.1", localAddr(t, s))
	rtpHeader := []byte{0x80, 33, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44}
	send(append(append([]byte{}, rtpHeader...), datagram(1)...))
	send(datagram(2))
	dyn := append([]byte{0x80, 96}, rtpHeader[2:]...) // not MP2T: left as is
	send(append(dyn, datagram(3)...))
	p := make([]byte, 65536)
	for _, want := range [][]byte{datagram(1), datagram(2), append(dyn, datagram(3)...)} {
		k, err := s.Read(p)
		if err != nil || !bytes.Equal(p[:k], want) {
			t.Fatalf("read %d bytes (%v), want %d", k, err, len(want))
		}
	}
	if st := s.Stats(); st.RTPDatagrams != 1 || st.Datagrams != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestUDPQueueOverflow: with nobody reading, the socket goroutine keeps
// receiving, drops the oldest datagrams and counts them.
func TestUDPQueueOverflow(t *testing.T) {
	s := openUDPT(t, Options{Host: netip.MustParseAddr("127.0.0.1"), QueueDatagrams: 4})
	send := sender(t, "127.0.0.1", localAddr(t, s))
	const n = 20
	for i := range n {
		send(datagram(i))
	}
	waitFor(t, "all datagrams off the socket", func() bool { return s.Stats().Datagrams == n })
	st := s.Stats()
	if st.Drops != n-4 || st.DroppedBytes != (n-4)*7*188 || st.BytesIn != n*7*188 {
		t.Fatalf("stats %+v", st)
	}
	p := make([]byte, 65536)
	for i := n - 4; i < n; i++ {
		k, err := s.Read(p)
		if err != nil || !bytes.Equal(p[:k], datagram(i)) {
			t.Fatalf("after overflow: read %d bytes (%v), want datagram %d", k, err, i)
		}
	}
	// The queue works on after dropping.
	send(datagram(99))
	if k, err := s.Read(p); err != nil || !bytes.Equal(p[:k], datagram(99)) {
		t.Fatalf("after draining: %d bytes, %v", k, err)
	}
}

func TestUDPSmallReads(t *testing.T) {
	s := openUDPT(t, Options{Host: netip.MustParseAddr("127.0.0.1")})
	send := sender(t, "127.0.0.1", localAddr(t, s))
	send(datagram(1))
	send(datagram(2))
	p := make([]byte, 1000) // smaller than a datagram (1316)
	var sizes []int
	var got []byte
	for range 4 {
		k, err := s.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, k)
		got = append(got, p[:k]...)
	}
	if fmt.Sprint(sizes) != "[1000 316 1000 316]" || !bytes.Equal(got, append(datagram(1), datagram(2)...)) {
		t.Fatalf("read sizes %v; a datagram's rest must come alone, before the next datagram", sizes)
	}
}

func TestUDPCloseUnblocksRead(t *testing.T) {
	for _, how := range []string{"close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, err := Open(ctx, Options{Kind: KindUDP, Host: netip.MustParseAddr("127.0.0.1")})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ch := readAsync(s, make([]byte, 2000))
			if how == "close" {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				cancel()
			}
			if r := awaitRead(t, ch); !errors.Is(r.err, ErrClosed) {
				t.Fatalf("Read after %s: %v", how, r.err)
			}
			waitFor(t, "closed state", func() bool { return s.Stats().State == StateClosed })
		})
	}
}

// TestUDPReadBuffer: SO_RCVBUF is asked for and what the kernel granted is
// reported (Linux doubles it and caps it at net.core.rmem_max).
func TestUDPReadBuffer(t *testing.T) {
	const want = 1 << 20
	s := openUDPT(t, Options{Host: netip.MustParseAddr("127.0.0.1"), ReadBuffer: want})
	got := s.Stats().RecvBuffer
	if runtime.GOOS != "linux" {
		if got < 0 {
			t.Fatalf("RecvBuffer %d", got)
		}
		return
	}
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if exp := 2 * min(want, rmemMax); got != exp {
		t.Fatalf("RecvBuffer %d, want %d (asked %d, rmem_max %d)", got, exp, want, rmemMax)
	}
}

// TestUDPMulticastLoopback joins two groups on the same port on the
// loopback interface: each source gets its own group's datagrams only, not
// the other group's and not unicast to the port.
func TestUDPMulticastLoopback(t *testing.T) {
	lo := loopbackName(t)
	a := openUDPT(t, Options{Host: netip.MustParseAddr("239.255.77.1"), Port: freePort(t), Iface: lo})
	port := localAddr(t, a).Port()
	b := openUDPT(t, Options{Host: netip.MustParseAddr("239.255.77.2"), Port: port, Iface: lo})
	if got := a.Stats().Addr; got != fmt.Sprintf("239.255.77.1:%d", port) {
		t.Fatalf("Addr %q, want the group and port", got)
	}
	sendA := sender(t, "127.0.0.1", netip.AddrPortFrom(netip.MustParseAddr("239.255.77.1"), port))
	sendB := sender(t, "127.0.0.1", netip.AddrPortFrom(netip.MustParseAddr("239.255.77.2"), port))
	sendU := sender(t, "127.0.0.1", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))
	sendA(datagram(1))
	sendB(datagram(2))
	sendU(datagram(3))
	sendA(datagram(4))
	sendB(datagram(5))
	expect := func(s Source, name string, want ...int) {
		p := make([]byte, 65536)
		for _, w := range want {
			k, err := s.Read(p)
			if err != nil || !bytes.Equal(p[:k], datagram(w)) {
				t.Fatalf("%s: read %d bytes (%v), want datagram %d", name, k, err, w)
			}
		}
	}
	expect(a, "group 1", 1, 4)
	expect(b, "group 2", 2, 5)
}

// TestUDPSourceSpecificMulticast joins a group for one sender: datagrams
// from another sender to the group do not come through.
func TestUDPSourceSpecificMulticast(t *testing.T) {
	group := netip.MustParseAddr("232.1.2.3")
	s := openUDPT(t, Options{Host: group, Port: freePort(t), Iface: loopbackName(t), SourceAddr: netip.MustParseAddr("127.0.0.2")})
	to := netip.AddrPortFrom(group, localAddr(t, s).Port())
	sender(t, "127.0.0.1", to)(datagram(1))
	sender(t, "127.0.0.2", to)(datagram(2))
	p := make([]byte, 65536)
	if k, err := s.Read(p); err != nil || !bytes.Equal(p[:k], datagram(2)) {
		t.Fatalf("read %d bytes (%v), want datagram 2 from the joined source only", k, err)
	}
}

// TestUDPMulticastJoinErrorReported: a join that cannot be made fails Open
// with ErrMulticastJoin, naming the group and interface.
func TestUDPMulticastJoinErrorReported(t *testing.T) {
	_, err := Open(t.Context(), Options{Kind: KindUDP, Host: netip.MustParseAddr("239.255.77.3"), Port: freePort(t), Iface: "nosuchif0"})
	if !errors.Is(err, ErrMulticastJoin) || !strings.Contains(err.Error(), "239.255.77.3") || !strings.Contains(err.Error(), "nosuchif0") {
		t.Fatalf("err %v, want ErrMulticastJoin naming the group and interface", err)
	}
}

func TestUDPOptionErrors(t *testing.T) {
	cases := []struct {
		name string
		o    Options
	}{
		{"group without port", Options{Host: netip.MustParseAddr("239.1.1.1")}},
		{"source for unicast", Options{Host: netip.MustParseAddr("127.0.0.1"), SourceAddr: netip.MustParseAddr("10.0.0.1")}},
		{"interface for unicast", Options{Host: netip.MustParseAddr("127.0.0.1"), Iface: "lo"}},
		{"mixed IP versions", Options{Host: netip.MustParseAddr("239.1.1.1"), Port: 5000, SourceAddr: netip.MustParseAddr("::1")}},
		{"negative queue", Options{QueueDatagrams: -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Kind = KindUDP
			if _, err := Open(t.Context(), c.o); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("err %v, want ErrInvalidOption", err)
			}
		})
	}
}

// freePort returns a UDP port that was free a moment ago.
func freePort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}
