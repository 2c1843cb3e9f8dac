package dnsserver

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// Stats counts the responses a server sent, by transport and rcode (the
// header's 4-bit RCODE), and the UDP responses rate limiting dropped.
type Stats struct {
	UDP, TCP [16]uint64
	Dropped  uint64
}

// counters are the live counts behind Stats.
type counters struct {
	udp, tcp [16]atomic.Uint64
	dropped  atomic.Uint64
}

func (c *counters) response(tcp bool, msg []byte) {
	if len(msg) < 4 {
		return
	}
	rc := msg[3] & 0x0f
	if tcp {
		c.tcp[rc].Add(1)
	} else {
		c.udp[rc].Add(1)
	}
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	var st Stats
	for i := range st.UDP {
		st.UDP[i] = s.stats.udp[i].Load()
		st.TCP[i] = s.stats.tcp[i].Load()
	}
	st.Dropped = s.stats.dropped.Load()
	return st
}

// tcpHandler serves TCP through ServeDNS and counts what it answers.
type tcpHandler struct{ s *Server }

func (h tcpHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	h.s.ServeDNS(countingWriter{w, h.s}, r)
}

type countingWriter struct {
	dns.ResponseWriter
	s *Server
}

func (w countingWriter) WriteMsg(m *dns.Msg) error {
	w.s.stats.tcp[m.Rcode&0x0f].Add(1)
	return w.ResponseWriter.WriteMsg(m)
}

func (w countingWriter) Write(b []byte) (int, error) {
	w.s.stats.response(true, b)
	return w.ResponseWriter.Write(b)
}
