//go:build !linux

package dnsserver

import "net"

// serveUDPDirect is serveUDP where recvmmsg is not called directly.
func (s *Server) serveUDPDirect(conn *net.UDPConn) { s.serveUDP(conn) }
