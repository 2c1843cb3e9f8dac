package dnsserver

import (
	"encoding/binary"
	"unsafe"

	"github.com/miekg/dns"
)

// The fast path answers the common UDP queries — referrals, authoritative
// answers and NODATA at existing names, NXDOMAIN — straight from the
// version's arena instead of building and packing a dns.Msg. It finds the
// answer's records as the reference path does (resolve), then copies the
// query's ID, flags and question and each record's wire form, compressing
// the owner names and the names in the RDATA of the RFC 1035 types no more
// than miekg/dns would (see compressor). Nothing is allocated; answers of
// bigAnswer records or more (big referrals) are kept in a small
// direct-mapped cache per version, written against the name of the node
// they hang on as the question, whose pointers move by the length of the
// query name's extra labels.
//
// An answer the fast path writes within the client's size limit is one the
// reference path sends whole, and an answer that does not fit goes to the
// reference path, which truncates it: the two never disagree on truncation.
// TCP, EDNS options other than NSID, cookie and padding, class ANY, qtype
// ANY, wildcards, names with characters that need escaping, answers that do
// not fit all go to the reference path.

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
	labels [128]int
	nlab   int    // label starts in name; 0 for the root
	maxUDP int    // the server's EDNS UDP size
	ans    answer // the answer's records
	comp   compressor
	wire   []byte // scratch for an owner name
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
	q.maxUDP = maxUDP
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
		q.labels[q.nlab] = n
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
	name := q.str(0)
	if !v.inZone(name) {
		return nil, false
	}
	a := &q.ans
	a.reset()
	v.resolve(a, name, q.labels[:q.nlab], q.qtype, q.do)
	if a.wildcard {
		return nil, false
	}
	opt := 0
	if q.edns {
		opt = 11
	}
	if a.kind != 0 && (a.at == 0 || len(a.an)+len(a.ns)+len(a.ar) >= bigAnswer) {
		if out, ok, done := v.fromCache(req, out, q, opt); done {
			return out, ok
		}
	}
	out = v.appendHead(out, req, q)
	limit := q.size - opt
	for _, sec := range [3][]uint32{a.an, a.ns, a.ar} {
		for _, off := range sec {
			var ok bool
			if out, ok = v.appendFast(out, off, q); !ok || len(out) > limit {
				return nil, false
			}
		}
	}
	if q.edns {
		var o [11]byte
		binary.BigEndian.PutUint16(o[1:], dns.TypeOPT)
		binary.BigEndian.PutUint16(o[3:], uint16(maxUDP))
		if q.do {
			o[7] = 0x80
		}
		out = append(out, o[:]...)
	}
	return out, true
}

// appendHead starts the answer to req in out[:0]: its header, with the
// counts of q.ans (and the OPT if the query has one), then the question;
// the compressor then knows the question.
func (v *version) appendHead(out, req []byte, q *fastQuery) []byte {
	a := &q.ans
	qsize := q.qend + 4
	if cap(out) < q.size {
		out = make([]byte, 0, max(q.size, 512))
	}
	out = out[:12]
	out[0], out[1] = req[0], req[1]
	flags := 1<<15 | uint16(a.rcode)&0xf | q.rdcd
	if a.aa {
		flags |= 1 << 10
	}
	binary.BigEndian.PutUint16(out[2:], flags)
	binary.BigEndian.PutUint16(out[4:], 1)
	binary.BigEndian.PutUint16(out[6:], uint16(len(a.an)))
	binary.BigEndian.PutUint16(out[8:], uint16(len(a.ns)))
	ar := len(a.ar)
	if q.edns {
		ar++
	}
	binary.BigEndian.PutUint16(out[10:], uint16(ar))
	out = append(out, req[12:qsize]...)
	q.comp.reset()
	q.comp.learn(12, q.comp.split(req[12:q.qend]))
	return out
}

// bigAnswer is the number of records from which an answer is worth
// caching: below it, writing it is about as fast as copying it. Answers at
// the apex (SOA, DNSKEY, NS, NXDOMAIN without DO), few and frequent, are
// cached whatever their size.
const bigAnswer = 8

// cachedAnswer is the body of a big answer written against the lower-case
// name of its node as the question: pointers, at ptrs in body, move by the
// length of the query name's labels before the node's.
type cachedAnswer struct {
	node  uint32
	qtype uint16
	kind  uint8
	do    bool
	qwire []byte // the template question: the node's name, lower case
	body  []byte
	ptrs  []uint16
}

// fromCache answers from v.cache for a big answer to q (q.ans of kind
// answerReferral or answerAt), building the entry if its slot is free.
// done is false when the answer is not in the cache or the query spells
// the node's name in another case: then it must be written for the query.
func (v *version) fromCache(req, out []byte, q *fastQuery, opt int) (_ []byte, ok, done bool) {
	a := &q.ans
	qtype := q.qtype
	if a.kind != answerAt {
		qtype = 0
	}
	key := uint64(a.at)<<20 | uint64(qtype)<<3 | uint64(a.kind)
	if q.do {
		key |= 1 << 19
	}
	h := key * 0x9e3779b97f4a7c15
	slot := &v.cache[h>>(64-cacheBits)]
	t := slot.Load()
	if t == nil {
		// A slot is filled once and never replaced: queries for many
		// big answers then cost no garbage, only the writing.
		if t = v.buildCached(q, qtype); t == nil || !slot.CompareAndSwap(nil, t) {
			return nil, false, false
		}
	}
	if t.node != a.at || t.qtype != qtype || t.kind != a.kind || t.do != q.do {
		return nil, false, false
	}
	start := q.qend - len(t.qwire)
	if start < 12 || string(req[start:q.qend]) != string(t.qwire) {
		return nil, false, false
	}
	qsize := q.qend + 4
	if qsize+len(t.body)+opt > q.size {
		return nil, false, true
	}
	out = v.appendHead(out, req, q)
	body := len(out)
	out = append(out, t.body...)
	delta := uint16(start - 12)
	for _, p := range t.ptrs {
		b := out[body+int(p):]
		binary.BigEndian.PutUint16(b, binary.BigEndian.Uint16(b)+delta)
	}
	if q.edns {
		var o [11]byte
		binary.BigEndian.PutUint16(o[1:], dns.TypeOPT)
		binary.BigEndian.PutUint16(o[3:], uint16(q.maxUDP))
		if q.do {
			o[7] = 0x80
		}
		out = append(out, o[:]...)
	}
	return out, true, true
}

// buildCached writes the records of q.ans after the lower-case name of
// its node as the question, nil if that cannot be done.
func (v *version) buildCached(q *fastQuery, qtype uint16) *cachedAnswer {
	a := &q.ans
	if v.nodes[a.at].flags&nodeEscaped != 0 {
		return nil
	}
	t := &cachedAnswer{node: a.at, qtype: qtype, kind: a.kind, do: q.do}
	t.qwire = presToWire(nil, lowerName(v.name(a.at)))
	buf := make([]byte, 12, 2048)
	buf = append(buf, t.qwire...)
	buf = append(buf, 0, 1, 0, 1)
	body := len(buf)
	c := &q.comp
	c.reset()
	c.learn(12, c.split(t.qwire))
	c.ptrs = c.ptrs[:0]
	c.record = true
	defer func() { c.record = false }()
	for _, sec := range [3][]uint32{a.an, a.ns, a.ar} {
		for _, off := range sec {
			var ok bool
			if buf, ok = v.appendFast(buf, off, q); !ok || len(buf) > dns.MaxMsgSize {
				return nil
			}
		}
	}
	t.body = buf[body:]
	for _, p := range c.ptrs {
		t.ptrs = append(t.ptrs, uint16(p-body))
	}
	return t
}

// appendFast appends the record at off in the arena to the answer out to
// the query q, compressing its owner name and the names in the RDATA of the
// RFC 1035 types against the names before it (see compressor). It reports
// false for an owner with escapes.
func (v *version) appendFast(out []byte, off uint32, q *fastQuery) ([]byte, bool) {
	k := binary.BigEndian.Uint32(v.arena[off:])
	if v.nodes[k].flags&nodeEscaped != 0 {
		return out, false
	}
	q.wire = presToWire(q.wire[:0], v.name(k))
	out = q.comp.name(out, q.wire)
	typ := binary.BigEndian.Uint16(v.arena[off+4:])
	rd := v.arena[off+recHdr : v.recEnd(off)]
	out = append(out, v.arena[off+4:off+12]...) // TYPE, CLASS, TTL
	at := len(out)
	out = append(out, 0, 0)
	switch typ {
	case dns.TypeNS, dns.TypeCNAME, dns.TypePTR, dns.TypeMB, dns.TypeMD, dns.TypeMF, dns.TypeMG, dns.TypeMR:
		out = q.comp.name(out, rd)
	case dns.TypeMX:
		if len(rd) < 3 {
			return out, false
		}
		out = append(out, rd[:2]...)
		out = q.comp.name(out, rd[2:])
	case dns.TypeSOA:
		e1, err1 := nameEnd(rd, 0)
		e2, err2 := nameEnd(rd, e1)
		if err1 != nil || err2 != nil {
			return out, false
		}
		out = q.comp.name(out, rd[:e1])
		out = q.comp.name(out, rd[e1:e2])
		out = append(out, rd[e2:]...)
	default:
		out = append(out, rd...)
	}
	binary.BigEndian.PutUint16(out[at:], uint16(len(out)-at-2))
	return out, true
}

// presToWire appends the wire form of a presentation name without escapes.
func presToWire(dst []byte, name string) []byte {
	if name == "." {
		return append(dst, 0)
	}
	for i := 0; i < len(name); {
		j := i
		for name[j] != '.' {
			j++
		}
		dst = append(dst, byte(j-i))
		dst = append(dst, name[i:j]...)
		i = j + 1
	}
	return append(dst, 0)
}

// compressor compresses the names of a fast-path answer as miekg/dns
// compresses those of the reference path, or less: it knows the suffixes
// of the question name, the owner names and the names in the RDATA it
// compresses, as written (exact bytes: miekg/dns matches with regard to
// case), each at its first offset below 16,384, and writes each name as
// its labels up to the longest known suffix, then a pointer to it. Every
// suffix it knows, miekg/dns knows too (it also knows those of names it
// writes uncompressed), and both take the longest match, so no name comes
// out shorter here: a fast answer that fits is one the reference path
// sends whole.
type compressor struct {
	gen    uint32
	n      int    // suffixes known
	last   []byte // the name written last
	lastAt int    // where a pointer to it points, 0 for nowhere
	record bool   // note the offset of every pointer written in ptrs
	ptrs   []int
	slots  [1 << 10]dictSlot
	starts [128]int    // label starts of the name being written
	hashes [128]uint32 // hashes of its suffixes
}

// dictSlot is a known suffix, in an open-addressing table by hash.
type dictSlot struct {
	gen  uint32 // the slot is in use when gen is the compressor's
	hash uint32
	pos  uint16 // offset of the suffix in the message
}

// maxSuffixes bounds the suffixes a compressor learns, so that its table
// stays sparse; past it, names are compressed less.
const maxSuffixes = 600

// reset forgets every name.
func (c *compressor) reset() {
	c.gen++
	if c.gen == 0 {
		clear(c.slots[:])
		c.gen = 1
	}
	c.n, c.lastAt = 0, 0
}

// split fills starts and hashes for the uncompressed wire name w and
// returns its label count, the root excluded.
func (c *compressor) split(w []byte) int {
	n := 0
	for i := 0; i < len(w)-1 && n < len(c.starts); i += int(w[i]) + 1 {
		c.starts[n] = i
		n++
	}
	// Each suffix's hash mixes the first 8 bytes at each of its labels
	// (the length octet and what follows, all part of the suffix) into
	// that of the suffix below it: cheap, and collisions only cost a
	// comparison.
	h := uint64(0x9e3779b97f4a7c15)
	for j := n - 1; j >= 0; j-- {
		i := c.starts[j]
		var x uint64
		if len(w)-i >= 8 {
			x = binary.LittleEndian.Uint64(w[i:])
		} else {
			for k, b := range w[i:] {
				x |= uint64(b) << (8 * k)
			}
		}
		h = (h ^ x) * 0xff51afd7ed558ccd
		h ^= h >> 32
		c.hashes[j] = uint32(h)
	}
	return n
}

// learn records the suffixes at the first upto labels of the name split
// last, written at out[at:].
func (c *compressor) learn(at, upto int) {
	mask := uint32(len(c.slots) - 1)
	for j := 0; j < upto && at+c.starts[j] < 0x4000 && c.n < maxSuffixes; j++ {
		h := c.hashes[j]
		i := (h ^ h>>16) & mask
		for c.slots[i].gen == c.gen {
			i = (i + 1) & mask
		}
		c.slots[i] = dictSlot{gen: c.gen, hash: h, pos: uint16(at + c.starts[j])}
		c.n++
	}
}

// name appends the uncompressed wire name w to out, compressed.
func (c *compressor) name(out, w []byte) []byte {
	if c.lastAt > 0 && string(w) == string(c.last) {
		// The name just written again (an RRset's owner): its longest
		// suffix, itself, is known.
		return c.pointer(out, c.lastAt)
	}
	out, c.lastAt = c.write(out, w)
	c.last = append(c.last[:0], w...)
	return out
}

// write appends the uncompressed wire name w to out, compressed, and
// returns where a pointer to the whole name may point (0 for nowhere).
func (c *compressor) write(out, w []byte) ([]byte, int) {
	n := c.split(w)
	mask := uint32(len(c.slots) - 1)
	for j := range n {
		h := c.hashes[j]
		for i := (h ^ h>>16) & mask; c.slots[i].gen == c.gen; i = (i + 1) & mask {
			if sl := &c.slots[i]; sl.hash == h && equalAt(out, int(sl.pos), w[c.starts[j]:]) {
				at := len(out)
				out = append(out, w[:c.starts[j]]...)
				c.learn(at, j)
				out = c.pointer(out, int(sl.pos))
				if j > 0 {
					return out, reachable(at)
				}
				return out, int(sl.pos)
			}
		}
	}
	at := len(out)
	out = append(out, w...)
	c.learn(at, n)
	if n == 0 {
		return out, 0 // the root: never worth a pointer
	}
	return out, reachable(at)
}

// pointer appends a compression pointer to p.
func (c *compressor) pointer(out []byte, p int) []byte {
	if c.record {
		c.ptrs = append(c.ptrs, len(out))
	}
	return append(out, 0xc0|byte(p>>8), byte(p))
}

// reachable is at if a compression pointer can point there, else 0.
func reachable(at int) int {
	if at < 0x4000 {
		return at
	}
	return 0
}

// equalAt reports whether the name at msg[p:], whose pointers lead back
// into msg, is the uncompressed wire name w, byte for byte.
func equalAt(msg []byte, p int, w []byte) bool {
	for j := 0; ; {
		l := int(msg[p])
		if l&0xc0 == 0xc0 {
			p = int(binary.BigEndian.Uint16(msg[p:]) & 0x3fff)
			continue
		}
		if j+1+l > len(w) || w[j] != byte(l) || string(msg[p+1:p+1+l]) != string(w[j+1:j+1+l]) {
			return false
		}
		if l == 0 {
			return j+1 == len(w)
		}
		p += 1 + l
		j += 1 + l
	}
}
