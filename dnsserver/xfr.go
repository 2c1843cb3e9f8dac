package dnsserver

import (
	"github.com/miekg/dns"
)

// xfrBudget bounds the uncompressed size of the records in one transfer
// message, well below the 65,535 bytes a TCP message may hold.
const xfrBudget = 32 << 10

// transfer answers AXFR (RFC 5936) and IXFR (RFC 1995) queries.
func (s *Server) transfer(w dns.ResponseWriter, r *dns.Msg, rs *scratch, v *version, tcp bool, size int) {
	m := &rs.msg
	q := r.Question[0]
	name := lowerName(q.Name)
	switch {
	case !v.inZone(name):
		m.Rcode = dns.RcodeRefused
	case name != v.origin:
		m.Rcode = dns.RcodeNotAuth // not a zone we serve
	case !s.allowedTransfer(w.RemoteAddr()):
		m.Rcode = dns.RcodeRefused
	case q.Qtype == dns.TypeAXFR && !tcp:
		m.Rcode = dns.RcodeNotImplemented // AXFR is not defined over UDP
	case q.Qtype == dns.TypeAXFR:
		s.log.Info("AXFR", "remote", w.RemoteAddr(), "serial", v.serial)
		s.stream(w, rs, []dns.RR{v.soa}, v.records[1:], []dns.RR{v.soa})
		return
	default:
		s.ixfr(w, r, rs, v, tcp, size)
		return
	}
	s.write(w, rs, tcp, size, 0)
}

// ixfr answers an IXFR query from an allowed client.
func (s *Server) ixfr(w dns.ResponseWriter, r *dns.Msg, rs *scratch, v *version, tcp bool, size int) {
	m := &rs.msg
	var have *dns.SOA
	if len(r.Ns) == 1 {
		have, _ = r.Ns[0].(*dns.SOA)
	}
	if have == nil || lowerName(have.Hdr.Name) != v.origin {
		m.Rcode = dns.RcodeFormatError // RFC 1995 §3: the authority section holds the client's SOA
		s.write(w, rs, tcp, size, 0)
		return
	}
	m.Authoritative = true
	if !tcp || !serialNewer(v.serial, have.Serial) {
		// Over UDP, or the client is up to date: the current SOA alone
		// (RFC 1995 §2, §4).
		m.Answer = []dns.RR{v.soa}
		s.write(w, rs, tcp, size, 0)
		return
	}
	start := -1
	for i, d := range v.history {
		if d.from.Serial == have.Serial {
			start = i
			break
		}
	}
	if start < 0 {
		s.log.Info("IXFR fallback to AXFR", "remote", w.RemoteAddr(), "from", have.Serial, "serial", v.serial)
		s.stream(w, rs, []dns.RR{v.soa}, v.records[1:], []dns.RR{v.soa})
		return
	}
	s.log.Info("IXFR", "remote", w.RemoteAddr(), "from", have.Serial, "serial", v.serial)
	parts := make([][]dns.RR, 0, 2+4*(len(v.history)-start))
	parts = append(parts, []dns.RR{v.soa})
	for _, d := range v.history[start:] {
		parts = append(parts, []dns.RR{d.from}, d.del, []dns.RR{d.to}, d.add)
	}
	parts = append(parts, []dns.RR{v.soa})
	s.stream(w, rs, parts...)
}

// stream writes the records of parts, in order, as a sequence of TCP
// messages answering rs.msg's question.
func (s *Server) stream(w dns.ResponseWriter, rs *scratch, parts ...[]dns.RR) {
	m := &rs.msg
	m.Authoritative = true
	var batch []dns.RR
	used := 0
	flush := func() bool {
		m.Answer = batch
		m.Ns = nil
		rs.setExtra(nil, 0)
		buf, err := m.PackBuffer(rs.buf[:cap(rs.buf)])
		if err != nil {
			s.log.Error("packing transfer message", "question", m.Question, "err", err)
			w.Close()
			return false
		}
		if cap(buf) <= dns.MaxMsgSize {
			rs.buf = buf[:0]
		}
		if _, err := w.Write(buf); err != nil {
			s.log.Info("transfer aborted", "remote", w.RemoteAddr(), "err", err)
			return false
		}
		batch, used = batch[:0], 0
		return true
	}
	for _, part := range parts {
		for _, rr := range part {
			l := dns.Len(rr)
			if used > 0 && used+l > xfrBudget {
				if !flush() {
					return
				}
			}
			batch = append(batch, rr)
			used += l
		}
	}
	flush()
}
