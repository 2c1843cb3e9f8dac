package dnsserver

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/miekg/dns"
)

// A version keeps its zone in a compact form that holds no Go pointer per
// record or per name, so that a zone of millions of records costs little
// more than its wire size and nothing to the garbage collector:
//
//   - arena holds every record of the zone, in the order the Zone gave them,
//     each as a 4-byte owner node index followed by the record's wire form
//     after the owner name: TYPE, CLASS, TTL, RDLENGTH and the RDATA,
//     uncompressed (recHdr bytes, then RDATA). Past zoneEnd it holds the
//     records answers need that are not in the zone (the SOA and its RRSIGs
//     with the TTL capped for negative answers).
//   - nodes holds every owner name and empty non-terminal, the apex first;
//     names holds their presentation forms, as the Zone first spelled them.
//     table is an open-addressing hash index of nodes by lower-case name.
//   - sets holds each node's RRsets, and refs the arena offsets of their
//     records followed by those of the RRSIGs covering them, and at
//     delegation points the glue.
//
// Records are decoded into miekg/dns values only for the reference path
// and written straight from the arena by the fast path and transfers.

// recHdr is the size of a record's fixed part in the arena: owner node
// index, TYPE, CLASS, TTL, RDLENGTH.
const recHdr = 14

// version is one published zone with its lookup index. It is immutable once
// built: queries read it without locks.
type version struct {
	origin       string // lower case, fully qualified
	originName   string // as the Zone gave it
	originLabels int
	serial       uint32
	soa          *dns.SOA // a copy of the apex SOA
	nrecords     int      // records in the zone

	arena   []byte
	zoneEnd uint32 // arena[:zoneEnd] is the zone, in the Zone's order
	names   []byte
	nodes   []node
	table   []uint32 // node index + 1, 0 for a free slot; len is a power of 2
	sets    []rrset
	refs    []uint32

	apexExtra []uint32 // additional section of the apex NS answer: in-zone addresses of the hosts
	negSOA    []uint32 // the SOA with its TTL capped at MINIMUM (RFC 2308 §3)
	negSOADO  []uint32 // negSOA and the SOA's RRSIGs, TTL capped alike

	nsecs     []nsecEntry // NSEC owners in canonical order
	nsecKeys  []byte      // their canonical keys, concatenated
	apexWild  int32       // index in nsecs of the NSEC covering *.<origin>, -1 if none
	soaRecEnd uint32      // end of the SOA, the zone's first record, in arena

	history []*diff // IXFR diffs, oldest first; the last one ends at this version

	cache [1 << cacheBits]atomic.Pointer[cachedAnswer] // big fast-path answers, direct-mapped, each slot filled once
}

// cacheBits sizes version.cache: it holds at most that many answers of at
// least bigAnswer records, whatever the zone's size.
const cacheBits = 12

// node is one name of the zone.
type node struct {
	name     uint32 // offset of the presentation name in version.names
	sets     uint32 // index of the first RRset in version.sets
	glue     uint32 // at a delegation point: index in version.refs of the glue
	nameLen  uint16
	nsets    uint16
	nglue    uint16 // glue records: in-domain glue first, then sibling glue
	required uint16 // refs[glue:glue+required] is in-domain glue (RFC 9471: if it does not fit, TC)
	flags    uint8
}

const (
	nodeCut      = 1 << iota // a delegation point: NS below the apex
	nodeWildcard             // has a "*" child
	nodeEscaped              // the name has a backslash escape: the fast path leaves it alone
)

// rrset is one RRset of a node: refs[first:first+n] are its records and
// the next nsig refs the RRSIGs covering them. The RRSIGs of a node form a
// set of their own too (with nsig 0).
type rrset struct {
	typ   uint16
	first uint32
	n     uint32
	nsig  uint32
}

// nsecEntry is an NSEC owner: its canonical key is nsecKeys[key:key+klen].
type nsecEntry struct {
	key, klen uint32
	node      uint32
}

// diff is one IXFR step (RFC 1995): from the version with SOA from to the
// one with SOA to, delete del, then add add. Each record is in wire form,
// uncompressed, owner name included, one after the other.
type diff struct {
	fromSerial         uint32
	from, to, del, add []byte
}

// rrs returns the arena offsets of the records of s.
func (v *version) rrs(s *rrset) []uint32 { return v.refs[s.first : s.first+s.n] }

// withSigs returns the arena offsets of the records of s, then those of
// the RRSIGs covering them.
func (v *version) withSigs(s *rrset) []uint32 { return v.refs[s.first : s.first+s.n+s.nsig] }

// set returns the RRset of type t at node k, or nil.
func (v *version) set(k uint32, t uint16) *rrset {
	n := &v.nodes[k]
	for i := n.sets; i < n.sets+uint32(n.nsets); i++ {
		if v.sets[i].typ == t {
			return &v.sets[i]
		}
	}
	return nil
}

// nsec returns the NSEC owned by node k and its RRSIGs, or nil.
func (v *version) nsec(k uint32) []uint32 {
	if s := v.set(k, dns.TypeNSEC); s != nil {
		return v.withSigs(s)
	}
	return nil
}

// name returns the presentation name of node k; it shares v's memory.
func (v *version) name(k uint32) string {
	n := &v.nodes[k]
	if n.nameLen == 0 {
		return ""
	}
	return unsafe.String(&v.names[n.name], int(n.nameLen))
}

// hashName hashes a presentation name without regard to ASCII case.
func hashName(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h ^ h>>29
}

// equalLower reports whether name equals the lower-case lower without
// regard to ASCII case.
func equalLower(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	if name == lower {
		return true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// find returns the node of the lower-case name.
func (v *version) find(lower string) (uint32, bool) {
	mask := uint64(len(v.table) - 1)
	for i := hashName(lower) & mask; ; i = (i + 1) & mask {
		e := v.table[i]
		if e == 0 {
			return 0, false
		}
		if equalLower(v.name(e-1), lower) {
			return e - 1, true
		}
	}
}

// newNode adds a node for name, which must not have one yet.
func (v *version) newNode(name string) (uint32, error) {
	if len(v.nodes) >= math.MaxUint32-1 || len(v.names)+len(name) > math.MaxUint32 || len(name) > math.MaxUint16 {
		return 0, fmt.Errorf("too many names for the index")
	}
	k := uint32(len(v.nodes))
	n := node{name: uint32(len(v.names)), nameLen: uint16(len(name))}
	if strings.IndexByte(name, '\\') >= 0 {
		n.flags |= nodeEscaped
	}
	v.names = append(v.names, name...)
	v.nodes = append(v.nodes, n)
	if 2*len(v.nodes) > len(v.table) {
		v.table = make([]uint32, max(1024, 2*len(v.table)))
		for j := range v.nodes {
			v.insert(uint32(j))
		}
	} else {
		v.insert(k)
	}
	return k, nil
}

func (v *version) insert(k uint32) {
	mask := uint64(len(v.table) - 1)
	i := hashName(v.name(k)) & mask
	for v.table[i] != 0 {
		i = (i + 1) & mask
	}
	v.table[i] = k + 1
}

// node returns the node of name (lower is its lower case), creating it and
// its missing ancestors up to the apex (empty non-terminals).
func (v *version) node(name, lower string) (uint32, error) {
	if k, ok := v.find(lower); ok {
		return k, nil
	}
	k, err := v.newNode(name)
	if err != nil {
		return 0, err
	}
	for p := lower; p != v.origin; {
		off, end := dns.NextLabel(p, 0)
		if end {
			break
		}
		p = p[off:]
		if _, ok := v.find(p); ok {
			break
		}
		if _, err := v.newNode(p); err != nil {
			return 0, err
		}
	}
	return k, nil
}

// recInfo is what newVersion keeps of a record while it groups the
// records into RRsets.
type recInfo struct {
	node uint32
	off  uint32
	typ  uint16
	cov  uint16 // the type an RRSIG covers
}

// newVersion checks z against the Zone contract and indexes it. prev, if
// not nil, is the version z replaces; the diff from it is appended to its
// history, which keeps at most keep diffs. The version keeps no reference
// to z's records.
func newVersion(z Zone, prev *version, keep int) (*version, error) {
	originName := z.Origin()
	origin := lowerName(dns.Fqdn(originName))
	if _, ok := dns.IsDomainName(origin); !ok || originName == "" {
		return nil, fmt.Errorf("dnsserver: zone origin %q is not a domain name", originName)
	}
	records := z.Records()
	if len(records) == 0 {
		return nil, fmt.Errorf("dnsserver: zone %q has no records", originName)
	}
	soa, ok := records[0].(*dns.SOA)
	if !ok || lowerName(soa.Hdr.Name) != origin {
		return nil, fmt.Errorf("dnsserver: zone %q does not begin with its apex SOA: first record is %q", originName, records[0].String())
	}
	if soa.Serial != z.Serial() {
		return nil, fmt.Errorf("dnsserver: zone %q: Serial() = %d but the SOA says %d", originName, z.Serial(), soa.Serial)
	}
	v := &version{
		origin:       origin,
		originName:   dns.Fqdn(originName),
		originLabels: dns.CountLabel(origin),
		serial:       soa.Serial,
		soa:          dns.Copy(soa).(*dns.SOA),
		nrecords:     len(records),
		apexWild:     -1,
	}
	if err := v.load(records); err != nil {
		return nil, fmt.Errorf("dnsserver: zone %q: %v", originName, err)
	}
	if prev != nil {
		hist := prev.history
		if len(hist) >= keep {
			hist = hist[len(hist)-keep+1:]
		}
		v.history = concat(hist, []*diff{computeDiff(prev, v)})
	}
	return v, nil
}

// load fills v's arena and index from records.
func (v *version) load(records []dns.RR) error {
	// The arena's size, so that it is allocated once: each record's
	// uncompressed length, less its owner name, plus the node index.
	size := 0
	for _, rr := range records {
		name := rr.Header().Name
		size += dns.Len(rr) + 4
		if strings.IndexByte(name, '\\') < 0 {
			size -= max(1, len(name)+1) // the owner's wire length, "." being 1
			if name == "." {
				size++
			}
		}
	}
	size += 4 * 1024 // the capped SOA and its RRSIGs, usually
	if size > math.MaxUint32 {
		return fmt.Errorf("%d bytes of records, more than the index can address", size)
	}
	v.arena = make([]byte, 0, size)
	v.table = make([]uint32, 1024)

	buf := make([]byte, dns.MaxMsgSize)
	recs := make([]recInfo, len(records))
	nsigs := 0
	for i, rr := range records {
		h := rr.Header()
		lower := lowerName(h.Name)
		if !v.inZone(lower) {
			return fmt.Errorf("record %d %q is outside the zone", i, rr.String())
		}
		if h.Rrtype == dns.TypeSOA && i != 0 {
			return fmt.Errorf("record %d %q is a second SOA", i, rr.String())
		}
		if h.Rrtype == dns.TypeOPT {
			return fmt.Errorf("record %d is an OPT pseudo-record", i)
		}
		k, err := v.node(h.Name, lower)
		if err != nil {
			return fmt.Errorf("record %d %q: %v", i, rr.String(), err)
		}
		end, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return fmt.Errorf("record %d %q does not pack: %v", i, rr.String(), err)
		}
		own, err := nameEnd(buf[:end], 0)
		if err != nil {
			return fmt.Errorf("record %d %q: packed owner: %v", i, rr.String(), err)
		}
		off := len(v.arena)
		if off+4+end-own > math.MaxUint32 {
			return fmt.Errorf("record %d: more bytes of records than the index can address", i)
		}
		v.arena = binary.BigEndian.AppendUint32(v.arena, k)
		v.arena = append(v.arena, buf[own:end]...)
		recs[i] = recInfo{node: k, off: uint32(off), typ: h.Rrtype}
		if sig, ok := rr.(*dns.RRSIG); ok {
			recs[i].cov = sig.TypeCovered
			nsigs++
		}
	}
	v.zoneEnd = uint32(len(v.arena))
	v.soaRecEnd = recs[0].off + recHdr + uint32(binary.BigEndian.Uint16(v.arena[recs[0].off+12:]))

	// Group the records by node, keeping the zone's order within a node
	// (a stable counting sort).
	start := make([]uint32, len(v.nodes)+1)
	for _, r := range recs {
		start[r.node+1]++
	}
	for k := range v.nodes {
		start[k+1] += start[k]
	}
	order := make([]uint32, len(recs))
	pos := slices.Clone(start[:len(v.nodes)])
	for i, r := range recs {
		order[pos[r.node]] = uint32(i)
		pos[r.node]++
	}
	pos = nil

	// Each node's RRsets, in the order their types first appear.
	var types []uint16
	nodeTypes := func(k int) []uint16 {
		types = types[:0]
		for _, i := range order[start[k]:start[k+1]] {
			if t := recs[i].typ; !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
		return types
	}
	nsets := 0
	for k := range v.nodes {
		nsets += len(nodeTypes(k))
	}
	v.sets = make([]rrset, 0, nsets)
	v.refs = make([]uint32, 0, len(recs)+nsigs)
	for k := range v.nodes {
		n := &v.nodes[k]
		seg := order[start[k]:start[k+1]]
		ts := nodeTypes(k)
		if len(ts) > math.MaxUint16 {
			return fmt.Errorf("name %q has %d types, more than the index holds", v.name(uint32(k)), len(ts))
		}
		n.sets, n.nsets = uint32(len(v.sets)), uint16(len(ts))
		for _, t := range ts {
			s := rrset{typ: t, first: uint32(len(v.refs))}
			for _, i := range seg {
				if recs[i].typ == t {
					v.refs = append(v.refs, recs[i].off)
					s.n++
				}
			}
			if t != dns.TypeRRSIG {
				for _, i := range seg {
					if recs[i].typ == dns.TypeRRSIG && recs[i].cov == t {
						v.refs = append(v.refs, recs[i].off)
						s.nsig++
					}
				}
			}
			v.sets = append(v.sets, s)
		}
	}
	recs, order, start = nil, nil, nil

	// Delegation points, wildcards, the NSEC chain.
	var cuts []uint32
	for k := range v.nodes {
		k := uint32(k)
		lower := lowerName(v.name(k))
		if k != 0 && v.set(k, dns.TypeNS) != nil {
			v.nodes[k].flags |= nodeCut
			cuts = append(cuts, k)
		}
		if len(lower) > 2 && lower[0] == '*' && lower[1] == '.' {
			if p, ok := v.find(lower[2:]); ok {
				v.nodes[p].flags |= nodeWildcard
			}
		}
		if v.set(k, dns.TypeNSEC) != nil {
			off := len(v.nsecKeys)
			v.nsecKeys = canonicalKey(v.nsecKeys, lower)
			v.nsecs = append(v.nsecs, nsecEntry{key: uint32(off), klen: uint32(len(v.nsecKeys) - off), node: k})
		}
	}
	v.nsecs = slices.Clip(v.nsecs)
	slices.SortFunc(v.nsecs, func(a, b nsecEntry) int { return bytes.Compare(v.nsecKey(a), v.nsecKey(b)) })
	if len(v.nsecs) > 0 {
		key := canonicalKey(nil, v.origin)
		v.apexWild = int32(v.coveringIndex(append(key, '*', 0, 0)))
	}

	// Referrals: the glue of each delegation point.
	for _, k := range cuts {
		var inDomain, sibling []uint32
		seen := make(map[string]bool)
		for _, off := range v.rrs(v.set(k, dns.TypeNS)) {
			host, _, err := dns.UnpackDomainName(v.arena[:v.recEnd(off)], int(off)+recHdr)
			if err != nil {
				return fmt.Errorf("NS of %q: %v", v.name(k), err)
			}
			host = lowerName(host)
			if seen[host] {
				continue
			}
			seen[host] = true
			if isBelow(host, lowerName(v.name(k))) {
				inDomain = v.addresses(inDomain, host)
			} else {
				sibling = v.addresses(sibling, host)
			}
		}
		if len(inDomain)+len(sibling) > math.MaxUint16 {
			return fmt.Errorf("delegation %q has %d glue records, more than the index holds", v.name(k), len(inDomain)+len(sibling))
		}
		n := &v.nodes[k]
		n.glue, n.nglue, n.required = uint32(len(v.refs)), uint16(len(inDomain)+len(sibling)), uint16(len(inDomain))
		v.refs = append(append(v.refs, inDomain...), sibling...)
	}
	// Authoritative NS sets (the apex) get the in-zone addresses of their
	// hosts in the additional section.
	if ns := v.set(0, dns.TypeNS); ns != nil {
		seen := make(map[string]bool)
		for _, off := range v.rrs(ns) {
			host, _, err := dns.UnpackDomainName(v.arena[:v.recEnd(off)], int(off)+recHdr)
			if err != nil {
				return fmt.Errorf("NS of the apex: %v", err)
			}
			if host = lowerName(host); !seen[host] {
				seen[host] = true
				v.apexExtra = v.addresses(v.apexExtra, host)
			}
		}
	}

	// Negative answers carry the SOA, and with DO its RRSIGs, with the TTL
	// capped at the SOA's MINIMUM (RFC 2308 §3).
	ttl := min(v.soa.Hdr.Ttl, v.soa.Minttl)
	v.negSOA = []uint32{v.capped(0, ttl)}
	v.negSOADO = v.negSOA
	if s := v.set(0, dns.TypeSOA); s != nil {
		for _, off := range v.withSigs(s)[s.n:] {
			v.negSOADO = append(v.negSOADO, v.capped(off, ttl))
		}
	}
	v.negSOADO = slices.Clip(v.negSOADO)
	v.refs = slices.Clip(v.refs)
	v.names = slices.Clip(v.names)
	v.nodes = slices.Clip(v.nodes)
	return nil
}

// capped appends to the arena a copy of the record at off with the TTL
// ttl and returns its offset.
func (v *version) capped(off uint32, ttl uint32) uint32 {
	c := uint32(len(v.arena))
	v.arena = append(v.arena, v.arena[off:v.recEnd(off)]...)
	binary.BigEndian.PutUint32(v.arena[c+8:], ttl)
	return c
}

// recEnd is the end of the record at off in the arena.
func (v *version) recEnd(off uint32) uint32 {
	return off + recHdr + uint32(binary.BigEndian.Uint16(v.arena[off+12:]))
}

// nsecKey is the canonical key of an NSEC owner.
func (v *version) nsecKey(e nsecEntry) []byte { return v.nsecKeys[e.key : e.key+e.klen] }

// addresses appends to out the A and AAAA records of the lower-case host if
// it is in the zone, occluded or not.
func (v *version) addresses(out []uint32, host string) []uint32 {
	k, ok := v.find(host)
	if !ok {
		return out
	}
	if s := v.set(k, dns.TypeA); s != nil {
		out = append(out, v.rrs(s)...)
	}
	if s := v.set(k, dns.TypeAAAA); s != nil {
		out = append(out, v.rrs(s)...)
	}
	return out
}

// rr decodes the record at off in the arena. A record that packed always
// unpacks; should one not, it comes back as RFC 3597 data, which packs to
// the same wire form.
func (v *version) rr(off uint32) dns.RR {
	a := v.arena
	h := dns.RR_Header{
		Name:     v.name(binary.BigEndian.Uint32(a[off:])),
		Rrtype:   binary.BigEndian.Uint16(a[off+4:]),
		Class:    binary.BigEndian.Uint16(a[off+6:]),
		Ttl:      binary.BigEndian.Uint32(a[off+8:]),
		Rdlength: binary.BigEndian.Uint16(a[off+12:]),
	}
	end := v.recEnd(off)
	rr, _, err := dns.UnpackRRWithHeader(h, a[:end], int(off)+recHdr)
	if err != nil {
		return &dns.RFC3597{Hdr: h, Rdata: hex.EncodeToString(a[off+recHdr : end])}
	}
	return rr
}

// appendRRs appends the decoded records at offs to dst.
func (v *version) appendRRs(dst []dns.RR, offs []uint32) []dns.RR {
	for _, off := range offs {
		dst = append(dst, v.rr(off))
	}
	return dst
}

// appendWire appends the record at off in uncompressed wire form, owner
// name included, to dst.
func (v *version) appendWire(dst []byte, off uint32) []byte {
	var err error
	if dst, err = appendName(dst, v.name(binary.BigEndian.Uint32(v.arena[off:]))); err != nil {
		panic(fmt.Sprintf("dnsserver: owner name of a published record: %v", err)) // it packed when published
	}
	return append(dst, v.arena[off+4:v.recEnd(off)]...)
}

// appendName appends the uncompressed wire form of the presentation name.
func appendName(dst []byte, name string) ([]byte, error) {
	var b [256]byte
	n, err := dns.PackDomainName(name, b[:], 0, nil, false)
	if err != nil {
		return dst, err
	}
	return append(dst, b[:n]...), nil
}

// nameEnd returns the offset just past the uncompressed name at off.
func nameEnd(msg []byte, off int) (int, error) {
	for off < len(msg) {
		l := int(msg[off])
		if l == 0 {
			return off + 1, nil
		}
		if l > 63 {
			return 0, fmt.Errorf("label length %#x at %d: not an uncompressed name", l, off)
		}
		off += 1 + l
	}
	return 0, fmt.Errorf("name runs past the end")
}

// inZone reports whether the lower-case fully qualified name is at or below
// the origin.
func (v *version) inZone(name string) bool { return isBelow(name, v.origin) }

// isBelow reports whether the lower-case fully qualified name is parent or
// below it, without allocating.
func isBelow(name, parent string) bool {
	if parent == "." {
		return len(name) > 0 && name[len(name)-1] == '.'
	}
	if len(name) == len(parent) {
		return name == parent
	}
	if len(name) < len(parent)+1 || name[len(name)-len(parent):] != parent {
		return false
	}
	// The byte before parent must be a label separator: an unescaped dot.
	i := len(name) - len(parent) - 1
	if name[i] != '.' {
		return false
	}
	bs := 0
	for j := i - 1; j >= 0 && name[j] == '\\'; j-- {
		bs++
	}
	return bs%2 == 0
}

// canonicalKey appends to dst a byte string whose bytewise order is the DNSSEC
// canonical order of names (RFC 4034 §6.1): the labels from the root down,
// lower-cased, each followed by 0x00 0x00, with a 0x00 byte in a label
// written as 0x00 0x01. An invalid name gives the key of the root.
func canonicalKey(dst []byte, name string) []byte {
	var wire [256]byte
	end, err := dns.PackDomainName(name, wire[:], 0, nil, false)
	if err != nil {
		return dst
	}
	var starts [128]int
	n := 0
	for off := 0; off < end && wire[off] != 0 && n < len(starts); off += int(wire[off]) + 1 {
		starts[n] = off
		n++
	}
	for i := n - 1; i >= 0; i-- {
		off := starts[i]
		for _, b := range wire[off+1 : off+1+int(wire[off])] {
			switch {
			case b == 0:
				dst = append(dst, 0, 1)
			case b >= 'A' && b <= 'Z':
				dst = append(dst, b+'a'-'A')
			default:
				dst = append(dst, b)
			}
		}
		dst = append(dst, 0, 0)
	}
	return dst
}

// coveringIndex is the index in v.nsecs of the NSEC whose owner is the last
// one at or before key in canonical order: the NSEC that matches or covers
// the name (before the first owner, the last NSEC wraps around). v.nsecs
// must not be empty.
func (v *version) coveringIndex(key []byte) int {
	i, j := 0, len(v.nsecs)
	for i < j {
		h := int(uint(i+j) >> 1)
		if bytes.Compare(v.nsecKey(v.nsecs[h]), key) <= 0 {
			i = h + 1
		} else {
			j = h
		}
	}
	if i == 0 {
		i = len(v.nsecs)
	}
	return i - 1
}

// covering returns the index in v.nsecs of the NSEC that matches or covers
// the name of canonical key key, -1 when the zone has no NSEC.
func (v *version) covering(key []byte) int {
	if len(v.nsecs) == 0 {
		return -1
	}
	return v.coveringIndex(key)
}

// concat returns a new slice holding a then b, with len == cap.
func concat[T any](a []T, b ...[]T) []T {
	n := len(a)
	for _, s := range b {
		n += len(s)
	}
	out := make([]T, 0, n)
	out = append(out, a...)
	for _, s := range b {
		out = append(out, s...)
	}
	return out
}
