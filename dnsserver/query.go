package dnsserver

import (
	"net"
	"sync"

	"github.com/miekg/dns"
)

// scratch is the per-query working memory, pooled so that answering a query
// allocates little. Nothing in it outlives the query.
type scratch struct {
	msg            dns.Msg
	q              [1]dns.Question
	opt            dns.OPT
	hasOpt         bool     // the response carries opt at the end of the additional section
	answer, ns, ar []dns.RR // the decoded sections of ans
	extra          []dns.RR // the additional section with the OPT
	ans            answer
	offs           [128]int
	buf            []byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 4096)}
}}

func (rs *scratch) reset() {
	clear(rs.answer)
	clear(rs.ns)
	clear(rs.ar)
	clear(rs.extra)
	rs.answer, rs.ns, rs.ar, rs.extra = rs.answer[:0], rs.ns[:0], rs.ar[:0], rs.extra[:0]
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

// answer is the answer to one query as references to records of a
// version (arena offsets), which both paths turn into a message: the
// reference path decodes them, the fast path copies their wire form.
type answer struct {
	rcode      int
	aa         bool
	wildcard   bool  // the answer comes from a wildcard (RFC 4592)
	synth      bool  // the answer records are the wildcard's, to be owned by the query name
	required   int   // leading additional records that are required (in-domain glue)
	kind       uint8 // answerReferral or answerAt: the answer depends only on node at, qtype (not for referrals) and DO
	at         uint32
	an, ns, ar []uint32 // the records of each section
	key        []byte   // scratch for canonical keys
}

func (a *answer) reset() {
	a.rcode, a.aa, a.wildcard, a.synth, a.required, a.kind = 0, false, false, false, 0, 0
	a.an, a.ns, a.ar = a.an[:0], a.ns[:0], a.ar[:0]
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
	// Label offsets of name.
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
	a := &rs.ans
	a.reset()
	v.resolve(a, name, rs.offs[:n], qtype, do)
	m.Rcode = a.rcode
	m.Authoritative = a.aa
	if len(a.an) > 0 {
		rs.answer = v.appendRRs(rs.answer[:0], a.an)
		if a.synth {
			for _, rr := range rs.answer {
				rr.Header().Name = qname
			}
		}
		m.Answer = rs.answer
	}
	if len(a.ns) > 0 {
		rs.ns = v.appendRRs(rs.ns[:0], a.ns)
		m.Ns = rs.ns
	}
	if len(a.ar) > 0 {
		rs.ar = v.appendRRs(rs.ar[:0], a.ar)
		m.Extra = rs.ar
	}
	return a.required
}

// resolve finds the answer to the lower-case name, in the zone, whose labels
// start at offs, for qtype (RFC 1034 §4.3.2, RFC 4035 §3.1 when do).
func (v *version) resolve(a *answer, name string, offs []int, qtype uint16, do bool) {
	at := uint32(0) // the apex
	for i := len(offs) - v.originLabels - 1; i >= 0; i-- {
		k, ok := v.find(name[offs[i]:])
		if !ok {
			v.nameError(a, name, at, qtype, do)
			return
		}
		if v.nodes[k].flags&nodeCut != 0 && !(i == 0 && qtype == dns.TypeDS) {
			v.referral(a, k, do)
			a.kind, a.at = answerReferral, k
			return
		}
		at = k
	}
	a.aa = true
	v.answerAt(a, at, qtype, do)
	a.kind, a.at = answerAt, at
}

// Kinds of answer that depend only on the node they hang on (answer.at),
// the qtype (for answerAt only) and DO.
const (
	answerReferral = 1 + iota
	answerAt
	answerNX // NXDOMAIN without DO and without a wildcard: at the apex
)

// referral sets the authority and additional sections of a to the referral
// at the delegation point k — the NS RRset, with DO then the DS and its
// RRSIGs or else the NSEC and its RRSIGs; the glue.
func (v *version) referral(a *answer, k uint32, do bool) {
	a.ns = append(a.ns, v.rrs(v.set(k, dns.TypeNS))...)
	if do {
		if ds := v.set(k, dns.TypeDS); ds != nil {
			a.ns = append(a.ns, v.withSigs(ds)...)
		} else {
			a.ns = append(a.ns, v.nsec(k)...)
		}
	}
	n := &v.nodes[k]
	a.ar = append(a.ar, v.refs[n.glue:n.glue+uint32(n.nglue)]...)
	a.required = int(n.required)
}

// answerAt answers authoritatively for the existing node k.
func (v *version) answerAt(a *answer, k uint32, qtype uint16, do bool) {
	if qtype == dns.TypeANY {
		n := &v.nodes[k]
		for i := n.sets; i < n.sets+uint32(n.nsets); i++ {
			s := &v.sets[i]
			switch {
			case s.typ == dns.TypeRRSIG:
			case do:
				a.an = append(a.an, v.withSigs(s)...)
			default:
				a.an = append(a.an, v.rrs(s)...)
			}
		}
		if len(a.an) > 0 {
			return
		}
	} else if s := v.set(k, qtype); s != nil {
		if do {
			a.an = append(a.an, v.withSigs(s)...)
		} else {
			a.an = append(a.an, v.rrs(s)...)
		}
		if k == 0 && qtype == dns.TypeNS {
			a.ar = append(a.ar, v.apexExtra...)
		}
		return
	} else if s := v.set(k, dns.TypeCNAME); s != nil {
		if do {
			a.an = append(a.an, v.withSigs(s)...)
		} else {
			a.an = append(a.an, v.rrs(s)...)
		}
		return
	}
	// NODATA (RFC 2308 §2.2): SOA, and with DO the NSEC of the name, or
	// for an empty non-terminal the NSEC covering it.
	if !do {
		a.ns = append(a.ns, v.negSOA...)
		return
	}
	a.ns = append(a.ns, v.negSOADO...)
	if nsec := v.nsec(k); nsec != nil {
		a.ns = append(a.ns, nsec...)
	} else {
		a.key = canonicalKey(a.key[:0], v.name(k))
		a.ns = v.appendNSEC(a.ns, v.covering(a.key))
	}
}

// appendNSEC appends the NSEC of index i in v.nsecs and its RRSIGs, nothing
// for -1.
func (v *version) appendNSEC(dst []uint32, i int) []uint32 {
	if i < 0 {
		return dst
	}
	return append(dst, v.nsec(v.nsecs[i].node)...)
}

// nameError answers for the lower-case name that does not exist below its
// closest encloser ce: a wildcard answer if ce has a wildcard child, else
// NXDOMAIN.
func (v *version) nameError(a *answer, name string, ce uint32, qtype uint16, do bool) {
	a.aa = true
	proof := -1
	if do {
		a.key = canonicalKey(a.key[:0], name)
		proof = v.covering(a.key)
	}
	if v.nodes[ce].flags&nodeWildcard != 0 {
		a.wildcard = true
		wc, _ := v.find("*." + lowerName(v.name(ce))) // ce is not the root: see load
		// RFC 4592: synthesize from the wildcard with the query name as owner.
		s := v.set(wc, qtype)
		if s == nil && qtype != dns.TypeANY {
			s = v.set(wc, dns.TypeCNAME)
		}
		if s != nil {
			a.synth = true
			if do {
				a.an = append(a.an, v.withSigs(s)...)
				a.ns = v.appendNSEC(a.ns, proof)
			} else {
				a.an = append(a.an, v.rrs(s)...)
			}
			return
		}
		if !do {
			a.ns = append(a.ns, v.negSOA...)
			return
		}
		a.ns = append(a.ns, v.negSOADO...)
		a.ns = append(a.ns, v.nsec(wc)...)
		a.ns = v.appendNSEC(a.ns, proof)
		return
	}
	a.rcode = dns.RcodeNameError
	if !do {
		a.ns = append(a.ns, v.negSOA...)
		a.kind = answerNX // the same for every missing name
		return
	}
	v.nxProof(a, ce, proof)
}

// nxProof sets the authority section of an NXDOMAIN answer with DO: the SOA
// and its RRSIGs, the NSEC of index proof (covering the name), and the NSEC
// showing that no wildcard exists at the closest encloser ce.
func (v *version) nxProof(a *answer, ce uint32, proof int) {
	a.rcode = dns.RcodeNameError
	a.ns = append(a.ns, v.negSOADO...)
	a.ns = v.appendNSEC(a.ns, proof)
	wp := int(v.apexWild)
	if ce != 0 {
		a.key = canonicalKey(a.key[:0], v.name(ce))
		a.key = append(a.key, '*', 0, 0)
		wp = v.covering(a.key)
	}
	if wp >= 0 && wp != proof {
		a.ns = v.appendNSEC(a.ns, wp)
	}
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
