package dnsserver

import (
	"net"
	"sync"

	"github.com/miekg/dns"
)

// scratch is the per-query working memory, pooled so that answering a query
// allocates little. Nothing in it outlives the query.
type scratch struct {
	msg               dns.Msg
	q                 [1]dns.Question
	opt               dns.OPT
	hasOpt            bool // the response carries opt at the end of the additional section
	answer, ns, extra []dns.RR
	offs              [128]int
	key               []byte
	buf               []byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 4096)}
}}

func (rs *scratch) reset() {
	clear(rs.answer)
	clear(rs.ns)
	clear(rs.extra)
	rs.answer, rs.ns, rs.extra = rs.answer[:0], rs.ns[:0], rs.extra[:0]
	rs.msg = dns.Msg{}
	rs.opt = dns.OPT{}
	rs.hasOpt = false
}

// isTCP reports whether w is a stream transport; unknown transports are
// treated as UDP, the stricter one.
func isTCP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.TCPAddr)
	return ok
}

// ServeDNS answers one request. It never answers a response (QR set), and
// writes exactly one message for every other request except an AXFR or
// IXFR over TCP, which may take several.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if r.Response {
		return
	}
	rs := scratchPool.Get().(*scratch)
	defer func() {
		rs.reset()
		scratchPool.Put(rs)
	}()
	tcp := isTCP(w)
	m := &rs.msg
	m.Id = r.Id
	m.Response = true
	m.Opcode = r.Opcode
	m.Compress = true
	if len(r.Question) == 1 {
		rs.q[0] = r.Question[0]
		m.Question = rs.q[:]
	}
	if r.Opcode == dns.OpcodeQuery {
		m.RecursionDesired = r.RecursionDesired
		m.CheckingDisabled = r.CheckingDisabled
	}

	// EDNS(0), RFC 6891: at most one OPT, in the additional section, owned
	// by the root.
	var reqOpt *dns.OPT
	formErr := false
	for _, rr := range r.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if reqOpt != nil || o.Hdr.Name != "." {
				formErr = true
			}
			reqOpt = o
		}
	}
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				formErr = true
			}
		}
	}
	size := dns.MinMsgSize
	do := false
	if reqOpt != nil {
		do = reqOpt.Do()
		if u := int(reqOpt.UDPSize()); u > size {
			size = min(u, s.maxUDP)
		}
		rs.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: uint16(s.maxUDP)}
		rs.opt.SetDo(do)
		rs.hasOpt = true
	}
	// From here on every early answer carries the OPT (if any) and nothing else.
	switch {
	case formErr || r.Opcode == dns.OpcodeQuery && len(r.Question) != 1:
		m.Rcode = dns.RcodeFormatError
		if formErr {
			rs.hasOpt = false // the OPT we would echo is not well defined
		}
		s.write(w, rs, tcp, size, 0)
		return
	case reqOpt != nil && reqOpt.Version() != 0:
		m.Rcode = dns.RcodeBadVers
		s.write(w, rs, tcp, size, 0)
		return
	case r.Opcode == dns.OpcodeNotify:
		// We are the primary: nobody notifies us.
		m.Rcode = dns.RcodeRefused
		s.write(w, rs, tcp, size, 0)
		return
	case r.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
		s.write(w, rs, tcp, size, 0)
		return
	}

	q := r.Question[0]
	v := s.cur.Load()
	switch {
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		m.Rcode = dns.RcodeRefused
	case v == nil:
		m.Rcode = dns.RcodeServerFailure
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		s.transfer(w, r, rs, v, tcp, size)
		return
	case q.Qtype == dns.TypeOPT || q.Qtype == dns.TypeTSIG || q.Qtype == dns.TypeTKEY:
		m.Rcode = dns.RcodeFormatError
	case q.Qtype == dns.TypeMAILA || q.Qtype == dns.TypeMAILB:
		m.Rcode = dns.RcodeNotImplemented
	default:
		required := v.lookup(rs, q.Name, q.Qtype, do)
		s.write(w, rs, tcp, size, required)
		return
	}
	s.write(w, rs, tcp, size, 0)
}

// lookup fills rs.msg with the answer to qname/qtype from v (RFC 1034
// §4.3.2, RFC 4035 §3.1 when do) and returns how many leading records of the
// additional section are required (in-domain glue).
func (v *version) lookup(rs *scratch, qname string, qtype uint16, do bool) int {
	m := &rs.msg
	name := lowerName(qname)
	if !v.inZone(name) {
		m.Rcode = dns.RcodeRefused
		return 0
	}
	// Label offsets of name; walk from just below the origin down to name.
	n := 0
	if name != "." {
		for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
			if n == len(rs.offs) {
				m.Rcode = dns.RcodeFormatError // more labels than a name can have
				return 0
			}
			rs.offs[n] = off
			n++
		}
	}
	at := v.apex
	for i := n - v.originLabels - 1; i >= 0; i-- {
		nd := v.nodes[name[rs.offs[i]:]]
		if nd == nil {
			return v.nameError(rs, qname, name, at, qtype, do)
		}
		if nd.ref != nil && !(i == 0 && qtype == dns.TypeDS) {
			return nd.referral(rs, do)
		}
		at = nd
	}
	m.Authoritative = true
	v.answerAt(rs, at, qtype, do)
	return 0
}

// answerAt answers authoritatively for the existing node nd.
func (v *version) answerAt(rs *scratch, nd *node, qtype uint16, do bool) {
	m := &rs.msg
	if qtype == dns.TypeANY {
		for i := range nd.sets {
			s := &nd.sets[i]
			switch {
			case s.typ == dns.TypeRRSIG:
			case do:
				rs.answer = append(rs.answer, s.withSigs()...)
			default:
				rs.answer = append(rs.answer, s.rrs()...)
			}
		}
		if len(rs.answer) > 0 {
			m.Answer = rs.answer
			return
		}
	} else if s := nd.set(qtype); s != nil {
		m.Answer = s.rrs()
		if do {
			m.Answer = s.withSigs()
		}
		if nd == v.apex && qtype == dns.TypeNS {
			m.Extra = v.apexExtra
		}
		return
	} else if s := nd.set(dns.TypeCNAME); s != nil {
		m.Answer = s.rrs()
		if do {
			m.Answer = s.withSigs()
		}
		return
	}
	// NODATA (RFC 2308 §2.2): SOA, and with DO the NSEC of the name, or
	// for an empty non-terminal the NSEC covering it.
	if !do {
		m.Ns = v.negSOA
		return
	}
	rs.ns = append(rs.ns, v.negSOADO...)
	if nsec := nd.nsec(); nsec != nil {
		rs.ns = append(rs.ns, nsec...)
	} else {
		rs.key = canonicalKey(rs.key[:0], nd.name)
		rs.ns = append(rs.ns, v.covering(rs.key)...)
	}
	m.Ns = rs.ns
}

// nameError answers for a name that does not exist below its closest
// encloser ce: a wildcard answer if ce has a wildcard child, else NXDOMAIN.
func (v *version) nameError(rs *scratch, qname, name string, ce *node, qtype uint16, do bool) int {
	m := &rs.msg
	m.Authoritative = true
	var proof []dns.RR
	if do {
		rs.key = canonicalKey(rs.key[:0], name)
		proof = v.covering(rs.key)
	}
	if wc := ce.wildcard; wc != nil {
		// RFC 4592: synthesize from the wildcard with the query name as owner.
		s := wc.set(qtype)
		if s == nil && qtype != dns.TypeANY {
			s = wc.set(dns.TypeCNAME)
		}
		if s != nil {
			src := s.rrs()
			if do {
				src = s.withSigs()
			}
			for _, rr := range src {
				c := dns.Copy(rr)
				c.Header().Name = qname
				rs.answer = append(rs.answer, c)
			}
			m.Answer = rs.answer
			if do {
				rs.ns = append(rs.ns, proof...)
				m.Ns = rs.ns
			}
			return 0
		}
		if !do {
			m.Ns = v.negSOA
			return 0
		}
		rs.ns = append(append(append(rs.ns, v.negSOADO...), wc.nsec()...), proof...)
		m.Ns = rs.ns
		return 0
	}
	m.Rcode = dns.RcodeNameError
	if !do {
		m.Ns = v.negSOA
		return 0
	}
	v.nxProof(rs, ce, proof)
	return 0
}

// nxProof sets the authority section of an NXDOMAIN answer with DO: the SOA
// and its RRSIGs, proof (the NSEC covering the name), and the NSEC showing
// that no wildcard exists at the closest encloser ce.
func (v *version) nxProof(rs *scratch, ce *node, proof []dns.RR) {
	m := &rs.msg
	m.Rcode = dns.RcodeNameError
	rs.ns = append(append(rs.ns, v.negSOADO...), proof...)
	rs.key = canonicalKey(rs.key[:0], ce.name)
	rs.key = append(rs.key, '*', 0, 0)
	if wp := v.covering(rs.key); len(wp) > 0 && (len(proof) == 0 || wp[0] != proof[0]) {
		rs.ns = append(rs.ns, wp...)
	}
	m.Ns = rs.ns
}

// write packs rs.msg, whose additional section does not hold the OPT yet,
// and sends it. Over UDP a message larger than size is cut down: first whole
// RRsets from the end of the additional section (setting TC if any of the
// first required additional records go, RFC 9471), and if the answer and
// authority sections alone do not fit, all sections are dropped and TC is set
// (RFC 2181 §9).
func (s *Server) write(w dns.ResponseWriter, rs *scratch, tcp bool, size, required int) {
	m := &rs.msg
	limit := dns.MaxMsgSize
	if !tcp {
		limit = size
	}
	extra := m.Extra
	rs.setExtra(extra, len(extra))
	buf, err := m.PackBuffer(rs.buf[:cap(rs.buf)])
	if err == nil && len(buf) > limit {
		buf, err = rs.truncate(extra, limit, required)
	}
	if err != nil {
		s.log.Error("packing response", "question", m.Question, "err", err)
		m.Answer, m.Ns = nil, nil
		rs.setExtra(nil, 0)
		m.Rcode = dns.RcodeServerFailure
		if buf, err = m.PackBuffer(rs.buf[:cap(rs.buf)]); err != nil {
			return
		}
	}
	if cap(buf) > cap(rs.buf) && cap(buf) <= dns.MaxMsgSize {
		rs.buf = buf[:0]
	}
	if _, err := w.Write(buf); err != nil {
		s.log.Debug("writing response", "remote", w.RemoteAddr(), "err", err)
	}
}

// setExtra makes the additional section extra[:keep] followed by the OPT, if
// the response has one. extra must not be rs.extra.
func (rs *scratch) setExtra(extra []dns.RR, keep int) {
	if !rs.hasOpt {
		rs.msg.Extra = extra[:keep]
		return
	}
	rs.extra = append(append(rs.extra[:0], extra[:keep]...), &rs.opt)
	rs.msg.Extra = rs.extra
}

// truncate cuts rs.msg, whose additional section without the OPT is extra,
// down to limit bytes and returns it packed.
func (rs *scratch) truncate(extra []dns.RR, limit, required int) ([]byte, error) {
	m := &rs.msg
	for keep := len(extra) - 1; keep >= 0; keep-- {
		if keep > 0 && sameSet(extra[keep-1], extra[keep]) {
			continue // cut only between RRsets
		}
		rs.setExtra(extra, keep)
		buf, err := m.PackBuffer(rs.buf[:cap(rs.buf)])
		if err != nil {
			return nil, err
		}
		if len(buf) <= limit {
			if keep >= required {
				return buf, nil
			}
			m.Truncated = true
			return m.PackBuffer(rs.buf[:cap(rs.buf)])
		}
	}
	m.Truncated = true
	m.Answer, m.Ns = nil, nil
	rs.setExtra(nil, 0)
	return m.PackBuffer(rs.buf[:cap(rs.buf)])
}

func sameSet(a, b dns.RR) bool {
	ha, hb := a.Header(), b.Header()
	return ha.Rrtype == hb.Rrtype && ha.Class == hb.Class && lowerName(ha.Name) == lowerName(hb.Name)
}
