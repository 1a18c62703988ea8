//go:build !linux

package source

import (
	"context"
	"net"
	"net/netip"
)

// listenMulticast binds the group's port the portable way (on most systems
// Go binds the wildcard address, with SO_REUSEADDR).
func listenMulticast(group netip.Addr, port uint16, _ int) (*net.UDPConn, error) {
	network := "udp6"
	if group.Is4() {
		network = "udp4"
	}
	var lc net.ListenConfig
	c, err := lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(group, port).String())
	if err != nil {
		return nil, err
	}
	return c.(*net.UDPConn), nil
}

// recvBufferSize is unknown here.
func recvBufferSize(*net.UDPConn) int { return 0 }
