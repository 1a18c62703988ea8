package source

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// listenMulticast binds a UDP socket to the group address itself, with
// SO_REUSEADDR, so that it receives only that group's datagrams (Go's
// ListenPacket binds a multicast address as the wildcard, which on Linux
// lets in every group joined on the host and unicast to the port) while
// other sockets may bind the same group and port. ifIndex scopes a
// link-local IPv6 group (0: none).
func listenMulticast(group netip.Addr, port uint16, ifIndex int) (*net.UDPConn, error) {
	family, sa := syscall.AF_INET6, syscall.Sockaddr(&syscall.SockaddrInet6{Port: int(port), Addr: group.As16(), ZoneId: uint32(ifIndex)})
	if group.Is4() {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: int(port), Addr: group.As4()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, syscall.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", netip.AddrPortFrom(group, port), err)
	}
	f := os.NewFile(uintptr(fd), "udp:"+group.String())
	defer f.Close()
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	return c.(*net.UDPConn), nil
}

// recvBufferSize returns SO_RCVBUF as the kernel reports it (0 if unknown).
func recvBufferSize(conn *net.UDPConn) int {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF); err == nil {
			n = v
		}
	})
	return n
}
