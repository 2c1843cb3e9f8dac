//go:build linux

package dnsserver

import (
	"encoding/binary"
	"errors"
	"net"
	"syscall"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of recvmmsg(2) and sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// serveUDPDirect answers the datagrams of conn, which is bound to a
// specific address, with recvmmsg/sendmmsg on memory reused for every batch:
// no allocation per datagram. It returns when conn is closed.
func (s *Server) serveUDPDirect(conn *net.UDPConn) {
	local := conn.LocalAddr().(*net.UDPAddr)
	rc, err := conn.SyscallConn()
	if err != nil {
		s.log.Error("UDP socket", "err", err)
		return
	}
	var (
		rhdrs  [udpBatch]mmsghdr
		whdrs  [udpBatch]mmsghdr
		riovs  [udpBatch]unix.Iovec
		wiovs  [udpBatch]unix.Iovec
		names  [udpBatch]unix.RawSockaddrInet6
		addrs  [udpBatch]net.UDPAddr
		ips    [udpBatch][16]byte
		bufs   [udpBatch][]byte
		outs   [udpBatch][]byte
		keep   [udpBatch][]byte // keeps each response alive until sent
		q      fastQuery
		n      int
		errno  syscall.Errno
		closed bool
	)
	for i := range udpBatch {
		bufs[i] = make([]byte, dns.MaxMsgSize)
		outs[i] = make([]byte, 0, dns.MaxMsgSize)
	}
	recv := func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&rhdrs[0])), udpBatch, 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, errno = int(r), e
		return true
	}
	var first, count int
	send := func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&whdrs[first])), uintptr(count), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, errno = int(r), e
		return true
	}
	for !closed {
		for i := range udpBatch {
			riovs[i].Base = &bufs[i][0]
			riovs[i].SetLen(len(bufs[i]))
			rhdrs[i] = mmsghdr{}
			rhdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
			rhdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
			rhdrs[i].hdr.Iov = &riovs[i]
			rhdrs[i].hdr.SetIovlen(1)
		}
		if err := rc.Read(recv); err != nil {
			return // closed
		}
		if errno != 0 {
			s.log.Debug("reading UDP", "err", errno)
			continue
		}
		read := time.Now() // one clock read per batch: its answers' latency
		var now int64
		if s.rrl != nil {
			now = s.now().UnixNano()
		}
		v := s.cur.Load()
		k := 0
		for i := range n {
			from := &addrs[i]
			if !sockaddrToUDP(&names[i], rhdrs[i].hdr.Namelen, &ips[i], from) {
				continue
			}
			resp := s.respond(v, bufs[i][:rhdrs[i].len], from, local, outs[i][:0], &q, now)
			if len(resp) == 0 {
				continue
			}
			if cap(resp) > cap(outs[i]) && cap(resp) <= dns.MaxMsgSize {
				outs[i] = resp[:0]
			}
			keep[k] = resp
			wiovs[k].Base = &resp[0]
			wiovs[k].SetLen(len(resp))
			whdrs[k] = mmsghdr{}
			whdrs[k].hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
			whdrs[k].hdr.Namelen = rhdrs[i].hdr.Namelen
			whdrs[k].hdr.Iov = &wiovs[k]
			whdrs[k].hdr.SetIovlen(1)
			k++
		}
		for first = 0; first < k; {
			count = k - first
			if err := rc.Write(send); err != nil {
				closed = errors.Is(err, net.ErrClosed)
				break
			}
			if errno != 0 {
				s.log.Debug("writing UDP", "err", errno)
				n = 1 // skip the datagram that failed
			}
			first += n
		}
		s.stats.udpLat.observe(time.Since(read), k)
		clear(keep[:k])
	}
}

// sockaddrToUDP fills a (whose IP uses ip's memory) from the socket address
// sa of length l, and reports whether it is an IPv4 or IPv6 address.
func sockaddrToUDP(sa *unix.RawSockaddrInet6, l uint32, ip *[16]byte, a *net.UDPAddr) bool {
	switch sa.Family {
	case unix.AF_INET:
		if l < unix.SizeofSockaddrInet4 {
			return false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		copy(ip[:4], sa4.Addr[:])
		a.IP = ip[:4]
		a.Port = int(binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:]))
	case unix.AF_INET6:
		if l < unix.SizeofSockaddrInet6 {
			return false
		}
		copy(ip[:], sa.Addr[:])
		a.IP = ip[:]
		a.Port = int(binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:]))
	default:
		return false
	}
	a.Zone = ""
	return true
}
