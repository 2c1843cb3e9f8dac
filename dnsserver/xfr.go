package dnsserver

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"

	"github.com/miekg/dns"
)

// xfrBudget bounds the uncompressed size of the records in one transfer
// message, so that every owner name in it lies within reach of a
// compression pointer (offsets below 16,384).
const xfrBudget = 16 << 10

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
		s.axfr(w, rs, v)
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
		if d.fromSerial == have.Serial {
			start = i
			break
		}
	}
	if start < 0 {
		s.log.Info("IXFR fallback to AXFR", "remote", w.RemoteAddr(), "from", have.Serial, "serial", v.serial)
		s.axfr(w, rs, v)
		return
	}
	s.log.Info("IXFR", "remote", w.RemoteAddr(), "from", have.Serial, "serial", v.serial)
	st, ok := s.newStream(w, rs)
	if !ok {
		return
	}
	soa := v.appendWire(nil, 0)
	ok = st.addWire(soa)
	for _, d := range v.history[start:] {
		for _, part := range [][]byte{d.from, d.del, d.to, d.add} {
			ok = ok && st.addWire(part)
		}
	}
	if ok && st.addWire(soa) {
		st.flush()
	}
}

// axfr sends the zone: its SOA, the other records in the zone's order, the
// SOA again.
func (s *Server) axfr(w dns.ResponseWriter, rs *scratch, v *version) {
	st, ok := s.newStream(w, rs)
	if !ok {
		return
	}
	soa := v.appendWire(nil, 0)
	if !st.addWire(soa) {
		return
	}
	var owner []byte
	last := uint32(0)
	for off := v.soaRecEnd; off < v.zoneEnd; {
		end := v.recEnd(off)
		if k := binary.BigEndian.Uint32(v.arena[off:]); owner == nil || k != last {
			owner, _ = appendName(owner[:0], v.name(k)) // it packed when published
			last = k
		}
		if !st.add(owner, v.arena[off+4:end]) {
			return
		}
		off = end
	}
	if st.addWire(soa) {
		st.flush()
	}
}

// xfrStream writes the records of a transfer as a sequence of TCP messages
// answering one query, each within xfrBudget, an owner name equal to the
// previous record's written as a pointer to it.
type xfrStream struct {
	s         *Server
	w         dns.ResponseWriter
	head      int    // length of the header and question in buf
	opt       []byte // the OPT closing each message, if the query had one
	buf       []byte
	n         int // records in buf
	used      int // their uncompressed size
	lastOwner []byte
	lastAt    int // offset of lastOwner in buf, 0 for none
}

// newStream starts a transfer answering rs.msg's question.
func (s *Server) newStream(w dns.ResponseWriter, rs *scratch) (*xfrStream, bool) {
	m := &rs.msg
	m.Authoritative = true
	st := &xfrStream{s: s, w: w, buf: make([]byte, 12, 2*xfrBudget)}
	flags := uint16(1<<15 | 1<<10 | (m.Opcode&0xf)<<11)
	if m.RecursionDesired {
		flags |= 1 << 8
	}
	if m.CheckingDisabled {
		flags |= 1 << 4
	}
	binary.BigEndian.PutUint16(st.buf, m.Id)
	binary.BigEndian.PutUint16(st.buf[2:], flags)
	binary.BigEndian.PutUint16(st.buf[4:], 1)
	q := m.Question[0]
	var err error
	if st.buf, err = appendName(st.buf, q.Name); err != nil {
		s.log.Error("packing transfer question", "question", q, "err", err)
		w.Close()
		return nil, false
	}
	st.buf = binary.BigEndian.AppendUint16(st.buf, q.Qtype)
	st.buf = binary.BigEndian.AppendUint16(st.buf, q.Qclass)
	st.head = len(st.buf)
	if rs.hasOpt {
		st.opt = make([]byte, 11)
		binary.BigEndian.PutUint16(st.opt[1:], dns.TypeOPT)
		binary.BigEndian.PutUint16(st.opt[3:], rs.opt.Hdr.Class)
		binary.BigEndian.PutUint32(st.opt[5:], rs.opt.Hdr.Ttl)
	}
	return st, true
}

// addWire adds the records in wire form, uncompressed, one after the other
// in recs.
func (st *xfrStream) addWire(recs []byte) bool {
	for off := 0; off < len(recs); {
		own, err := nameEnd(recs, off)
		if err != nil || own+10 > len(recs) {
			st.s.log.Error("transfer record does not parse", "err", err)
			st.w.Close()
			return false
		}
		end := own + 10 + int(binary.BigEndian.Uint16(recs[own+8:]))
		if !st.add(recs[off:own], recs[own:end]) {
			return false
		}
		off = end
	}
	return true
}

// add adds the record of the wire owner name and the rest (type to RDATA).
func (st *xfrStream) add(owner, rest []byte) bool {
	l := len(owner) + len(rest)
	if st.n > 0 && st.used+l > xfrBudget {
		if !st.flush() {
			return false
		}
	}
	if st.lastAt > 0 && len(owner) > 1 && bytes.Equal(owner, st.lastOwner) {
		st.buf = append(st.buf, 0xc0|byte(st.lastAt>>8), byte(st.lastAt))
	} else {
		if at := len(st.buf); at < 0x4000 {
			st.lastAt = at
			st.lastOwner = append(st.lastOwner[:0], owner...)
		}
		st.buf = append(st.buf, owner...)
	}
	st.buf = append(st.buf, rest...)
	st.n++
	st.used += l
	return true
}

// flush sends the message being built.
func (st *xfrStream) flush() bool {
	binary.BigEndian.PutUint16(st.buf[6:], uint16(st.n))
	if st.opt != nil {
		binary.BigEndian.PutUint16(st.buf[10:], 1)
		st.buf = append(st.buf, st.opt...)
	}
	if len(st.buf) > dns.MaxMsgSize || st.n > 0xffff {
		st.s.log.Error("transfer message too large", "bytes", len(st.buf), "records", st.n)
		st.w.Close()
		return false
	}
	if _, err := st.w.Write(st.buf); err != nil {
		st.s.log.Info("transfer aborted", "remote", st.w.RemoteAddr(), "err", err)
		return false
	}
	st.buf = st.buf[:st.head]
	st.n, st.used, st.lastAt = 0, 0, 0
	return true
}

// diffSeed hashes records for computeDiff.
var diffSeed = maphash.MakeSeed()

// recHash hashes the record at off in the arena of v: its owner name as
// written, then the rest of its wire form.
func (v *version) recHash(off uint32) uint64 {
	var h maphash.Hash
	h.SetSeed(diffSeed)
	h.WriteString(v.name(binary.BigEndian.Uint32(v.arena[off:])))
	h.Write(v.arena[off+4 : v.recEnd(off)])
	return h.Sum64()
}

// sameRecord reports whether the record at a in the arena of v and the one
// at b in that of w have the same uncompressed wire form, TTL included.
func sameRecord(v *version, a uint32, w *version, b uint32) bool {
	return v.name(binary.BigEndian.Uint32(v.arena[a:])) == w.name(binary.BigEndian.Uint32(w.arena[b:])) &&
		bytes.Equal(v.arena[a+4:v.recEnd(a)], w.arena[b+4:w.recEnd(b)])
}

// computeDiff returns the IXFR step from prev to next: the records of prev
// not in next, then those of next not in prev, each in zone order. Records
// compare by their uncompressed wire form, TTL included.
func computeDiff(prev, next *version) *diff {
	// An open-addressing set of prev's distinct records (arena offset + 1),
	// with a bit per slot for the ones next keeps.
	size := 16
	for size < 2*prev.nrecords {
		size *= 2
	}
	mask := uint64(size - 1)
	tab := make([]uint32, size)
	kept := make([]bool, size)
	slot := func(v *version, off uint32) (uint64, bool) {
		for i := v.recHash(off) & mask; ; i = (i + 1) & mask {
			if tab[i] == 0 {
				return i, false
			}
			if sameRecord(prev, tab[i]-1, v, off) {
				return i, true
			}
		}
	}
	for off := prev.soaRecEnd; off < prev.zoneEnd; off = prev.recEnd(off) {
		if i, ok := slot(prev, off); !ok {
			tab[i] = off + 1
		}
	}
	d := &diff{fromSerial: prev.serial, from: prev.appendWire(nil, 0), to: next.appendWire(nil, 0)}
	for off := next.soaRecEnd; off < next.zoneEnd; off = next.recEnd(off) {
		if i, ok := slot(next, off); ok {
			kept[i] = true
		} else {
			d.add = next.appendWire(d.add, off)
		}
	}
	for off := prev.soaRecEnd; off < prev.zoneEnd; off = prev.recEnd(off) {
		if i, _ := slot(prev, off); !kept[i] {
			d.del = prev.appendWire(d.del, off)
		}
	}
	d.add = bytes.Clone(d.add)
	d.del = bytes.Clone(d.del)
	return d
}
