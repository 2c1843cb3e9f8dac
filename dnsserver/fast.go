package dnsserver

import (
	"bytes"
	"encoding/binary"
	"sort"
	"sync/atomic"
	"unsafe"

	"github.com/miekg/dns"
)

// The fast path answers the common UDP queries — referrals, authoritative
// answers and NODATA at existing names, NXDOMAIN — from wire-format
// templates instead of building and packing a dns.Msg. A template is the
// reference path's own answer (lookup, answerAt, nameError), packed by
// miekg/dns once with the question set to the name the answer hangs on (the
// delegation point, the existing node, or the zone origin), which is always
// a suffix of the query name. Answering copies the query's ID, flags and
// question, then the template body, moving every compression pointer by the
// difference in question length (the question starts at offset 12, so every
// target, inside the question suffix or after it, moves by that much).
//
// A template is used only when the reference path would send it whole: its
// bound is the body's size packed against a question that offers no
// compression target, an upper limit of what miekg/dns produces for any
// query name, so the two paths never disagree on truncation. Everything
// else — TCP, EDNS options other than NSID, cookie and padding, class ANY,
// qtype ANY, wildcards, names with characters that need escaping, answers
// that might not fit — goes to the reference path.

// wireTmpl is a packed answer body with its header fields.
type wireTmpl struct {
	bound      int      // body size with no compression into the question; > 65535: never fits
	qlen       int      // wire length of the template's question name
	flags      uint16   // AA and RCODE bits of the header
	an, ns, ar uint16   // section counts, without the OPT
	ptrs       []uint16 // offsets in body of the compression pointers
	body       []byte   // answer, authority and additional records
}

// tooBig marks a case whose answer never fits in a UDP message.
var tooBig = &wireTmpl{bound: 1 << 20}

// tmplEntry is one cached authoritative answer at a node.
type tmplEntry struct {
	qtype uint16
	do    bool
	t     *wireTmpl
}

// maxNodeTemplates bounds the authoritative answers cached per node, so that
// queries for many qtypes cannot grow the cache without limit.
const maxNodeTemplates = 8

// maxCacheBytes bounds the bytes of templates kept per version; beyond it,
// answers are built by the reference path. Templates are built on first use,
// so a version costs nothing until queried.
const maxCacheBytes = 512 << 20

// tmplCache is the lazily filled template cache of one version.
type tmplCache struct {
	bytes atomic.Int64
	nx    [2]atomic.Pointer[wireTmpl] // NXDOMAIN without DO, and with DO in a zone without NSEC records
	nxDO  []atomic.Pointer[wireTmpl]  // NXDOMAIN with DO below the apex, by covering NSEC index
}

// fastQuery is a query parsed by parseFast.
type fastQuery struct {
	qend   int // offset just past the question name
	qtype  uint16
	rdcd   uint16 // the query's RD and CD bits
	edns   bool
	do     bool
	size   int // response size limit
	name   [256]byte
	nlen   int // length of the lower-case presentation name in name
	labels [128]uint8
	nlab   int // label starts in name; 0 for the root
	key    [512]byte
}

// allowedByte maps the bytes a label may hold on the fast path (those that
// miekg/dns prints without escaping) to their lower case; 0 for the others.
var allowedByte = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	t['-'], t['_'], t['*'] = '-', '_', '*'
	return t
}()

// parseFast parses req as a plain query the fast path can answer and
// reports whether it is one: opcode QUERY, one question of class IN without
// compression, no answer or authority records, at most an OPT of version 0
// with only NSID, cookie or padding options, and nothing after it.
func parseFast(req []byte, maxUDP int, q *fastQuery) bool {
	if len(req) < 17 {
		return false
	}
	flags := binary.BigEndian.Uint16(req[2:])
	if flags&0xf800 != 0 { // QR or an opcode other than QUERY
		return false
	}
	if binary.BigEndian.Uint16(req[4:]) != 1 || binary.BigEndian.Uint16(req[6:]) != 0 || binary.BigEndian.Uint16(req[8:]) != 0 {
		return false
	}
	ar := binary.BigEndian.Uint16(req[10:])
	if ar > 1 {
		return false
	}
	q.rdcd = flags & (1<<8 | 1<<4)
	off := 12
	n := 0
	q.nlab = 0
	for {
		if off >= len(req) {
			return false
		}
		l := int(req[off])
		if l == 0 {
			off++
			break
		}
		if l > 63 || off+1+l > len(req) || n+l+1 > 254 {
			return false
		}
		q.labels[q.nlab] = uint8(n)
		q.nlab++
		for _, c := range req[off+1 : off+1+l] {
			lc := allowedByte[c]
			if lc == 0 {
				return false
			}
			q.name[n] = lc
			n++
		}
		q.name[n] = '.'
		n++
		off += 1 + l
	}
	if n == 0 {
		q.name[0] = '.'
		n = 1
	}
	q.nlen = n
	q.qend = off
	if off+4 > len(req) {
		return false
	}
	q.qtype = binary.BigEndian.Uint16(req[off:])
	if binary.BigEndian.Uint16(req[off+2:]) != dns.ClassINET {
		return false
	}
	switch q.qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeMAILA, dns.TypeMAILB, dns.TypeANY:
		return false
	}
	off += 4
	q.edns, q.do, q.size = false, false, dns.MinMsgSize
	if ar == 0 {
		return off == len(req)
	}
	// The OPT: root owner, type, UDP size, extended RCODE, version, flags,
	// RDLENGTH, options.
	if off+11 > len(req) || req[off] != 0 || binary.BigEndian.Uint16(req[off+1:]) != dns.TypeOPT || req[off+6] != 0 {
		return false
	}
	udp := int(binary.BigEndian.Uint16(req[off+3:]))
	q.do = req[off+7]&0x80 != 0
	rdlen := int(binary.BigEndian.Uint16(req[off+9:]))
	off += 11
	if off+rdlen != len(req) {
		return false
	}
	for off < len(req) {
		if off+4 > len(req) {
			return false
		}
		code := binary.BigEndian.Uint16(req[off:])
		olen := int(binary.BigEndian.Uint16(req[off+2:]))
		off += 4 + olen
		if off > len(req) {
			return false
		}
		switch code {
		case dns.EDNS0NSID, dns.EDNS0COOKIE, dns.EDNS0PADDING:
		default:
			return false
		}
	}
	q.edns = true
	if udp > q.size {
		q.size = min(udp, maxUDP)
	}
	return true
}

// str returns the parsed name as a string sharing q's memory: it must not
// outlive the query.
func (q *fastQuery) str(from int) string {
	return unsafe.String(&q.name[from], q.nlen-from)
}

// wireLen is the wire length of a presentation name without escapes.
func wireLen(name string) int {
	if name == "." {
		return 1
	}
	return len(name) + 1
}

// fastAnswer appends to out[:0] the answer to req from v and reports
// whether the fast path could give it; when it could not, the reference
// path must answer.
func (v *version) fastAnswer(req []byte, out []byte, maxUDP int, q *fastQuery) ([]byte, bool) {
	if !parseFast(req, maxUDP, q) {
		return nil, false
	}
	t := v.fastLookup(q)
	if t == nil {
		return nil, false
	}
	opt := 0
	if q.edns {
		opt = 11
	}
	qsize := q.qend + 4
	if qsize+t.bound+opt > q.size {
		return nil, false
	}
	need := qsize + len(t.body) + opt
	if cap(out) < need {
		out = make([]byte, 0, max(need, 512))
	}
	out = out[:need]
	out[0], out[1] = req[0], req[1]
	binary.BigEndian.PutUint16(out[2:], 1<<15|t.flags|q.rdcd)
	binary.BigEndian.PutUint16(out[4:], 1)
	binary.BigEndian.PutUint16(out[6:], t.an)
	binary.BigEndian.PutUint16(out[8:], t.ns)
	ar := t.ar
	if q.edns {
		ar++
	}
	binary.BigEndian.PutUint16(out[10:], ar)
	copy(out[12:qsize], req[12:qsize])
	copy(out[qsize:], t.body)
	delta := uint16(q.qend - 12 - t.qlen)
	for _, p := range t.ptrs {
		b := out[qsize+int(p):]
		binary.BigEndian.PutUint16(b, binary.BigEndian.Uint16(b)+delta)
	}
	if q.edns {
		o := out[need-11:]
		o[0] = 0
		binary.BigEndian.PutUint16(o[1:], dns.TypeOPT)
		binary.BigEndian.PutUint16(o[3:], uint16(maxUDP))
		o[5], o[6], o[7], o[8], o[9], o[10] = 0, 0, 0, 0, 0, 0
		if q.do {
			o[7] = 0x80
		}
	}
	return out, true
}

// fastLookup walks the zone like lookup and returns the template of the
// answer, or nil for the reference path.
func (v *version) fastLookup(q *fastQuery) *wireTmpl {
	name := q.str(0)
	if !v.inZone(name) {
		return nil
	}
	at := v.apex
	for i := q.nlab - v.originLabels - 1; i >= 0; i-- {
		nd := v.nodes[q.str(int(q.labels[i]))]
		if nd == nil {
			return v.nxTemplate(q, at)
		}
		if nd.ref != nil && !(i == 0 && q.qtype == dns.TypeDS) {
			return v.refTemplate(nd, q.do)
		}
		at = nd
	}
	return v.authTemplate(at, q.qtype, q.do)
}

// refTemplate returns the referral at the delegation point nd.
func (v *version) refTemplate(nd *node, do bool) *wireTmpl {
	i := 0
	if do {
		i = 1
	}
	p := &nd.ref.tmpl[i]
	if t := p.Load(); t != nil {
		return t
	}
	t := v.build(nd.name, func(rs *scratch) {
		nd.referral(rs, do)
	})
	v.store(p, t)
	return t
}

// authTemplate returns the authoritative answer (or NODATA) at the
// existing node nd.
func (v *version) authTemplate(nd *node, qtype uint16, do bool) *wireTmpl {
	cur := nd.tmpls.Load()
	if cur != nil {
		for _, e := range *cur {
			if e.qtype == qtype && e.do == do {
				return e.t
			}
		}
	}
	t := v.build(nd.name, func(rs *scratch) {
		rs.msg.Authoritative = true
		v.answerAt(rs, nd, qtype, do)
	})
	if v.cache.bytes.Load() > maxCacheBytes {
		return t
	}
	for {
		var next []tmplEntry
		if cur != nil {
			if len(*cur) >= maxNodeTemplates {
				return t
			}
			next = append(next, *cur...)
		}
		next = append(next, tmplEntry{qtype, do, t})
		if nd.tmpls.CompareAndSwap(cur, &next) {
			v.cache.bytes.Add(int64(len(t.body) + 2*len(t.ptrs) + 96))
			return t
		}
		cur = nd.tmpls.Load()
		for _, e := range *cur {
			if e.qtype == qtype && e.do == do {
				return e.t
			}
		}
	}
}

// nxTemplate returns the answer for a name that does not exist below its
// closest encloser ce, or nil when the reference path must give it (a
// wildcard, or a proof below the apex).
func (v *version) nxTemplate(q *fastQuery, ce *node) *wireTmpl {
	if ce.wildcard != nil {
		return nil
	}
	if !q.do || len(v.nsecs) == 0 {
		// Without DO, or without an NSEC chain to prove anything with, the
		// answer is the same for every missing name.
		do := 0
		if q.do {
			do = 1
		}
		p := &v.cache.nx[do]
		if t := p.Load(); t != nil {
			return t
		}
		t := v.build(v.origin, func(rs *scratch) {
			rs.msg.Authoritative = true
			rs.msg.Rcode = dns.RcodeNameError
			rs.msg.Ns = v.negSOA
			if q.do {
				v.nxProof(rs, ce, nil)
			}
		})
		v.store(p, t)
		return t
	}
	if ce != v.apex {
		return nil
	}
	key := canonicalKey(q.key[:0], q.str(0))
	i := v.coveringIndex(key)
	p := &v.cache.nxDO[i]
	if t := p.Load(); t != nil {
		return t
	}
	t := v.build(v.origin, func(rs *scratch) {
		rs.msg.Authoritative = true
		v.nxProof(rs, ce, v.nsecs[i].rrs)
	})
	v.store(p, t)
	return t
}

// store caches t in p unless the version's cache is full.
func (v *version) store(p *atomic.Pointer[wireTmpl], t *wireTmpl) {
	if v.cache.bytes.Load() > maxCacheBytes {
		return
	}
	if p.CompareAndSwap(nil, t) {
		v.cache.bytes.Add(int64(len(t.body) + 2*len(t.ptrs) + 96))
	}
}

// coveringIndex is the index in v.nsecs of the NSEC that matches or covers
// key (see covering); v.nsecs must not be empty.
func (v *version) coveringIndex(key []byte) int {
	i := sort.Search(len(v.nsecs), func(i int) bool { return bytes.Compare(v.nsecs[i].key, key) > 0 })
	if i == 0 {
		i = len(v.nsecs)
	}
	return i - 1
}

// build runs fill on a fresh response, packs it with the question qname
// (lower case, without escapes) and turns it into a template.
func (v *version) build(qname string, fill func(rs *scratch)) *wireTmpl {
	rs := scratchPool.Get().(*scratch)
	defer func() {
		rs.reset()
		scratchPool.Put(rs)
	}()
	fill(rs)
	m := &rs.msg
	m.Compress = true
	rs.q[0] = dns.Question{Name: qname, Qtype: dns.TypeA, Qclass: dns.ClassINET}
	m.Question = rs.q[:]
	buf, err := m.PackBuffer(rs.buf[:cap(rs.buf)])
	if err != nil || len(buf) > dns.MaxMsgSize {
		return tooBig
	}
	qsize := 12 + wireLen(qname) + 4
	t := &wireTmpl{
		qlen:  wireLen(qname),
		flags: binary.BigEndian.Uint16(buf[2:]) & (1<<10 | 0xf),
		an:    binary.BigEndian.Uint16(buf[6:]),
		ns:    binary.BigEndian.Uint16(buf[8:]),
		ar:    binary.BigEndian.Uint16(buf[10:]),
		body:  bytes.Clone(buf[qsize:]),
	}
	ptrs, ok := pointers(buf, qsize, int(t.an)+int(t.ns)+int(t.ar))
	if !ok {
		return tooBig
	}
	t.ptrs = ptrs
	// The bound: the same records after a question that offers nothing to
	// compress against.
	rs.q[0].Name = "."
	b2, err := m.PackBuffer(buf)
	if err != nil {
		return tooBig
	}
	t.bound = len(b2) - 17
	if cap(b2) <= dns.MaxMsgSize {
		rs.buf = b2[:0]
	}
	if t.bound > dns.MaxMsgSize {
		return tooBig
	}
	return t
}

// pointers returns the offsets, relative to off, of the compression pointers
// in the count records of msg that start at off. It knows where miekg/dns
// compresses: owner names and the names in the RDATA of the RFC 1035 types.
func pointers(msg []byte, off, count int) ([]uint16, bool) {
	base := off
	var out []uint16
	name := func() bool {
		for off < len(msg) {
			l := int(msg[off])
			switch {
			case l == 0:
				off++
				return true
			case l&0xc0 == 0xc0:
				out = append(out, uint16(off-base))
				off += 2
				return off <= len(msg)
			case l&0xc0 != 0:
				return false
			}
			off += 1 + l
		}
		return false
	}
	for range count {
		if !name() || off+10 > len(msg) {
			return nil, false
		}
		typ := binary.BigEndian.Uint16(msg[off:])
		rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10
		end := off + rdlen
		if end > len(msg) {
			return nil, false
		}
		switch typ {
		case dns.TypeNS, dns.TypeCNAME, dns.TypePTR, dns.TypeMB, dns.TypeMD, dns.TypeMF, dns.TypeMG, dns.TypeMR:
			if !name() {
				return nil, false
			}
		case dns.TypeMX:
			off += 2
			if !name() {
				return nil, false
			}
		case dns.TypeSOA, dns.TypeMINFO:
			if !name() || !name() {
				return nil, false
			}
		}
		off = end
	}
	if off != len(msg) {
		return nil, false
	}
	return out[:len(out):len(out)], true
}
