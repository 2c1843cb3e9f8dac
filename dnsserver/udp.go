package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// udpBatch is how many datagrams one reader receives or sends per system
// call (recvmmsg/sendmmsg).
const udpBatch = 64

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// listenUDP binds n UDP sockets to addr with SO_REUSEPORT, so that the
// kernel spreads datagrams over one reader per socket. With port 0 the
// first socket picks the port and the others join it.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			setBuffer(int(fd), unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, socketBuffer)
			setBuffer(int(fd), unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, socketBuffer)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	var conns []*net.UDPConn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for i := range n {
		a := addr
		if i > 0 {
			a = conns[0].LocalAddr().String()
		}
		pc, err := lc.ListenPacket(context.Background(), "udp", a)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("dnsserver: listening on UDP %q: %v", a, err)
		}
		conns = append(conns, pc.(*net.UDPConn))
	}
	return conns, nil
}

// socketBuffer is the receive and send buffer size asked for each UDP
// socket, so that a burst of queries waits in the kernel rather than being
// dropped (as NSD does, by default 1 MiB).
const socketBuffer = 1 << 20

// setBuffer sets a socket buffer size, beyond the system's maximum where the
// process may (force), else up to it; a failure leaves the default.
func setBuffer(fd, force, opt, size int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, size)
	}
}

// udpReaders is the number of UDP sockets and reader goroutines: one per
// processor the Go scheduler uses.
func udpReaders() int { return max(1, runtime.GOMAXPROCS(0)) }

// serveUDP answers the datagrams of conn in batches until conn is closed.
func (s *Server) serveUDP(conn *net.UDPConn) {
	local := conn.LocalAddr().(*net.UDPAddr)
	var bc batchConn
	if local.IP.To4() != nil {
		bc = ipv4.NewPacketConn(conn)
	} else {
		bc = ipv6.NewPacketConn(conn)
	}
	// A socket bound to an unspecified address must answer from the address
	// each query was sent to.
	wildcard := local.IP.IsUnspecified()
	if wildcard {
		if p, ok := bc.(*ipv4.PacketConn); ok {
			p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
		} else {
			bc.(*ipv6.PacketConn).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
		}
	}
	rmsgs := make([]ipv4.Message, udpBatch)
	wmsgs := make([]ipv4.Message, udpBatch)
	outs := make([][]byte, udpBatch)
	for i := range rmsgs {
		rmsgs[i].Buffers = [][]byte{make([]byte, dns.MaxMsgSize)}
		if wildcard {
			rmsgs[i].OOB = make([]byte, 128)
		}
		wmsgs[i].Buffers = [][]byte{nil}
		outs[i] = make([]byte, 0, dns.MaxMsgSize)
	}
	q := new(fastQuery)
	for {
		n, err := bc.ReadBatch(rmsgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("reading UDP", "err", err)
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
			m := &rmsgs[i]
			from, _ := m.Addr.(*net.UDPAddr)
			if from == nil {
				continue
			}
			resp := s.respond(v, m.Buffers[0][:m.N], from, local, outs[i][:0], q, now)
			if resp == nil {
				continue
			}
			if cap(resp) > cap(outs[i]) && cap(resp) <= dns.MaxMsgSize {
				outs[i] = resp[:0]
			}
			w := &wmsgs[k]
			w.Buffers[0] = resp
			w.Addr = m.Addr
			w.OOB = nil
			if wildcard {
				w.OOB = replySource(bc, m.OOB[:m.NN])
			}
			k++
		}
		for sent := 0; sent < k; {
			w, err := bc.WriteBatch(wmsgs[sent:k], 0)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				s.log.Debug("writing UDP", "remote", wmsgs[sent].Addr, "err", err)
				w = 1 // skip the datagram that failed
			}
			sent += w
		}
		s.stats.udpLat.observe(time.Since(read), k)
	}
}

// replySource returns the control message that makes a reply leave from
// the address and interface the query arrived on, or nil.
func replySource(bc batchConn, oob []byte) []byte {
	if _, ok := bc.(*ipv4.PacketConn); ok {
		var cm ipv4.ControlMessage
		if cm.Parse(oob) != nil || cm.Dst == nil {
			return nil
		}
		return (&ipv4.ControlMessage{Src: cm.Dst, IfIndex: cm.IfIndex}).Marshal()
	}
	var cm ipv6.ControlMessage
	if cm.Parse(oob) != nil || cm.Dst == nil {
		return nil
	}
	return (&ipv6.ControlMessage{Src: cm.Dst, IfIndex: cm.IfIndex}).Marshal()
}

// respond returns the answer to the datagram req from the client from
// (appended to out[:0]), or nil when nothing is to be sent: the fast path
// when it can answer, else the reference path with the semantics of the
// miekg/dns server loop (datagrams shorter than a header and responses are
// ignored, messages that do not unpack get FORMERR); then response rate
// limiting.
func (s *Server) respond(v *version, req []byte, from, local *net.UDPAddr, out []byte, q *fastQuery, now int64) []byte {
	var resp []byte
	if v != nil {
		if b, ok := v.fastAnswer(req, out, s.maxUDP, q); ok {
			resp = b
		}
	}
	if resp == nil {
		resp = s.reference(req, from, local, out)
		if resp == nil {
			return nil
		}
	}
	if s.rrl != nil {
		switch s.rrl.allow(from.IP, now) {
		case rrlDrop:
			s.stats.dropped.Add(1)
			return nil
		case rrlSlip:
			resp = slipped(resp)
		}
	}
	s.stats.response(false, resp)
	return resp
}

// reference answers req through ServeDNS, as the miekg/dns server loop
// would.
func (s *Server) reference(req []byte, from, local *net.UDPAddr, out []byte) []byte {
	if len(req) < 12 || req[2]&0x80 != 0 { // too short for a header, or a response
		return nil
	}
	w := &udpWriter{local: local, remote: from, out: out[:0]}
	r := new(dns.Msg)
	if err := checkWire(req); err != nil {
		r.Id, r.Opcode = binary.BigEndian.Uint16(req), int(req[2]>>3)&0xf
		r.Response, r.Rcode = true, dns.RcodeFormatError
		w.WriteMsg(r)
		return w.out
	}
	if err := r.Unpack(req); err != nil {
		r.SetRcodeFormatError(r)
		r.Zero = false
		r.Ns, r.Answer, r.Extra = nil, nil, nil
		w.WriteMsg(r)
		return w.out
	}
	s.ServeDNS(w, r)
	if !w.wrote {
		return nil
	}
	return w.out
}

// udpWriter is the dns.ResponseWriter of the reference path on UDP: it keeps
// the one message written.
type udpWriter struct {
	local, remote *net.UDPAddr
	out           []byte
	wrote         bool
}

var _ dns.ResponseWriter = (*udpWriter)(nil)

func (w *udpWriter) LocalAddr() net.Addr  { return w.local }
func (w *udpWriter) RemoteAddr() net.Addr { return w.remote }
func (w *udpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.PackBuffer(w.out[:cap(w.out)])
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *udpWriter) Write(b []byte) (int, error) {
	if w.wrote {
		return 0, errors.New("dnsserver: second message on UDP")
	}
	w.wrote = true
	w.out = append(w.out[:0], b...)
	return len(b), nil
}
func (w *udpWriter) Close() error        { return nil }
func (w *udpWriter) TsigStatus() error   { return nil }
func (w *udpWriter) TsigTimersOnly(bool) {}
func (w *udpWriter) Hijack()             {}

// now is the clock of response rate limiting (a field so that tests can
// stop it).
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}
