package dnsserver

import (
	"bytes"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/miekg/dns"
)

// version is one published zone with its lookup index. It is immutable once
// built: queries read it without locks, and every slice in it is shared by
// many responses, so none may be appended to or modified (slices are stored
// with len == cap to make an accidental append copy).
type version struct {
	origin       string // lower case, fully qualified
	originName   string // as the Zone gave it
	originLabels int
	serial       uint32
	soa          *dns.SOA
	records      []dns.RR // the Zone's records, shared, never modified

	nodes map[string]*node // every owner name and empty non-terminal, lower case
	apex  *node

	apexExtra []dns.RR // additional section of the apex NS answer: in-zone addresses of the hosts

	negSOA   []dns.RR // SOA with its TTL capped at MINIMUM (RFC 2308 §3)
	negSOADO []dns.RR // negSOA and the SOA's RRSIGs, TTL capped alike

	nsecs []nsecEntry // NSEC owners in canonical order

	history []*diff // IXFR diffs, oldest first; the last one ends at this version

	cache tmplCache // wire-format answers of the fast path, built on first use
}

// node is one name of the zone.
type node struct {
	name     string
	sets     []rrset   // RRsets owned here, in zone order; RRSIGs form a set of their own too
	ref      *referral // non-nil at a delegation point (NS below the apex)
	wildcard *node     // the child "*" node, if any

	tmpls atomic.Pointer[[]tmplEntry] // fast-path answers at this node; the slice is never modified
}

// rrset is one RRset of a node: all holds its n records, then the RRSIGs
// covering them (one allocation, len == cap).
type rrset struct {
	typ uint16
	n   int32
	all []dns.RR
}

// rrs returns the records of the set.
func (s *rrset) rrs() []dns.RR { return s.all[:s.n:s.n] }

// withSigs returns the records of the set, then the RRSIGs covering them.
func (s *rrset) withSigs() []dns.RR { return s.all }

// nsec returns the NSEC owned by n and its RRSIGs, or nil.
func (n *node) nsec() []dns.RR {
	if s := n.set(dns.TypeNSEC); s != nil {
		return s.withSigs()
	}
	return nil
}

// referral is what is precomputed for the response to any query at or
// below a delegation point (see node.referral).
type referral struct {
	glue     []dns.RR // in-domain glue first, then sibling glue
	required int      // glue[:required] is in-domain glue (RFC 9471: if it does not fit, TC)

	tmpl [2]atomic.Pointer[wireTmpl] // fast-path referral without and with DO
}

// referral fills the authority and additional sections of rs.msg with the
// referral at the delegation point n — the NS RRset, with DO then the DS
// and its RRSIGs or else the NSEC and its RRSIGs; the glue — and returns how
// many leading additional records are required.
func (n *node) referral(rs *scratch, do bool) int {
	m := &rs.msg
	m.Ns = n.set(dns.TypeNS).rrs()
	if do {
		rs.ns = append(rs.ns, m.Ns...)
		if ds := n.set(dns.TypeDS); ds != nil {
			rs.ns = append(rs.ns, ds.withSigs()...)
		} else {
			rs.ns = append(rs.ns, n.nsec()...)
		}
		m.Ns = rs.ns
	}
	m.Extra = n.ref.glue
	return n.ref.required
}

type nsecEntry struct {
	key []byte // canonicalKey of the owner
	rrs []dns.RR
}

// diff is one IXFR step (RFC 1995): from the version with SOA from to the
// one with SOA to, delete del, then add add.
type diff struct {
	from, to *dns.SOA
	del, add []dns.RR
}

func (n *node) set(t uint16) *rrset {
	for i := range n.sets {
		if n.sets[i].typ == t {
			return &n.sets[i]
		}
	}
	return nil
}

// newVersion checks z against the Zone contract and indexes it. prev, if
// not nil, is the version z replaces; the diff from it is appended to its
// history, which keeps at most keep diffs.
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
		soa:          soa,
		records:      records,
		nodes:        make(map[string]*node, len(records)/3),
	}
	v.apex = v.node(origin)

	// sigs[name][covered type] collects RRSIGs until every set is known.
	type sigKey struct {
		n *node
		t uint16
	}
	sigs := make(map[sigKey][]dns.RR)
	for i, rr := range records {
		h := rr.Header()
		name := lowerName(h.Name)
		if !v.inZone(name) {
			return nil, fmt.Errorf("dnsserver: zone %q: record %d %q is outside the zone", originName, i, rr.String())
		}
		if h.Rrtype == dns.TypeSOA && i != 0 {
			return nil, fmt.Errorf("dnsserver: zone %q: record %d %q is a second SOA", originName, i, rr.String())
		}
		if h.Rrtype == dns.TypeOPT {
			return nil, fmt.Errorf("dnsserver: zone %q: record %d is an OPT pseudo-record", originName, i)
		}
		n := v.node(name)
		if sig, ok := rr.(*dns.RRSIG); ok {
			k := sigKey{n, sig.TypeCovered}
			sigs[k] = append(sigs[k], rr)
		}
		if s := n.set(h.Rrtype); s != nil {
			s.all = append(s.all, rr)
		} else {
			n.sets = append(n.sets, rrset{typ: h.Rrtype, all: []dns.RR{rr}})
		}
	}

	// Finish the sets, find delegations, wildcards and NSECs.
	var cuts []*node
	for name, n := range v.nodes {
		if cap(n.sets) > len(n.sets) {
			n.sets = append([]rrset(nil), n.sets...)
		}
		for i := range n.sets {
			s := &n.sets[i]
			s.n = int32(len(s.all))
			sg := sigs[sigKey{n, s.typ}]
			if s.typ == dns.TypeRRSIG {
				sg = nil
			}
			if len(sg) > 0 || cap(s.all) > len(s.all) {
				s.all = concat(s.all, sg)
			}
		}
		if nsec := n.nsec(); nsec != nil {
			v.nsecs = append(v.nsecs, nsecEntry{key: canonicalKey(nil, name), rrs: nsec})
		}
		if name != origin && n.set(dns.TypeNS) != nil {
			cuts = append(cuts, n)
		}
		if len(name) > 2 && name[0] == '*' && name[1] == '.' {
			v.nodes[name[2:]].wildcard = n
		}
	}
	sort.Slice(v.nsecs, func(i, j int) bool { return bytes.Compare(v.nsecs[i].key, v.nsecs[j].key) < 0 })
	v.cache.nxDO = make([]atomic.Pointer[wireTmpl], len(v.nsecs))

	for _, n := range cuts {
		ns := n.set(dns.TypeNS)
		r := &referral{}
		var sibling []dns.RR
		seen := make(map[string]bool)
		for _, rr := range ns.rrs() {
			host := lowerName(rr.(*dns.NS).Ns)
			if seen[host] {
				continue
			}
			seen[host] = true
			addrs := v.addresses(host)
			if isBelow(host, n.name) {
				r.glue = append(r.glue, addrs...)
			} else {
				sibling = append(sibling, addrs...)
			}
		}
		r.required = len(r.glue)
		r.glue = concat(r.glue, sibling)
		n.ref = r
	}
	// Authoritative NS sets (the apex) get the in-zone addresses of their
	// hosts in the additional section.
	if ns := v.apex.set(dns.TypeNS); ns != nil {
		var extra []dns.RR
		seen := make(map[string]bool)
		for _, rr := range ns.rrs() {
			host := lowerName(rr.(*dns.NS).Ns)
			if !seen[host] {
				seen[host] = true
				extra = append(extra, v.addresses(host)...)
			}
		}
		v.apexExtra = concat(extra)
	}

	neg := dns.Copy(soa)
	if min := soa.Minttl; neg.Header().Ttl > min {
		neg.Header().Ttl = min
	}
	v.negSOA = []dns.RR{neg}
	v.negSOADO = v.negSOA
	for _, sig := range sigs[sigKey{v.apex, dns.TypeSOA}] {
		c := dns.Copy(sig)
		c.Header().Ttl = neg.Header().Ttl
		v.negSOADO = concat(v.negSOADO, []dns.RR{c})
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

// node returns the node of the lower-case name, creating it and its missing
// ancestors up to the apex (empty non-terminals).
func (v *version) node(name string) *node {
	if n := v.nodes[name]; n != nil {
		return n
	}
	n := &node{name: name}
	v.nodes[name] = n
	for p := name; p != v.origin; {
		off, end := dns.NextLabel(p, 0)
		if end {
			break
		}
		p = p[off:]
		if _, ok := v.nodes[p]; ok {
			break
		}
		v.nodes[p] = &node{name: p}
	}
	return n
}

// addresses returns the A and AAAA records of the lower-case host if it is in
// the zone, occluded or not.
func (v *version) addresses(host string) []dns.RR {
	n := v.nodes[host]
	if n == nil {
		return nil
	}
	var out []dns.RR
	if s := n.set(dns.TypeA); s != nil {
		out = append(out, s.rrs()...)
	}
	if s := n.set(dns.TypeAAAA); s != nil {
		out = append(out, s.rrs()...)
	}
	return out
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

// covering returns the NSEC (with RRSIGs) whose owner is the last one at or
// before key in canonical order: the NSEC that matches or covers the name.
func (v *version) covering(key []byte) []dns.RR {
	if len(v.nsecs) == 0 {
		return nil
	}
	i := sort.Search(len(v.nsecs), func(i int) bool { return bytes.Compare(v.nsecs[i].key, key) > 0 })
	if i == 0 {
		i = len(v.nsecs) // before the first owner: the last NSEC wraps around
	}
	return v.nsecs[i-1].rrs
}

// computeDiff returns the IXFR step from prev to next: the records of prev
// not in next, then those of next not in prev, each in zone order. Records
// compare by their uncompressed wire form, TTL included.
func computeDiff(prev, next *version) *diff {
	var m dns.Msg
	var buf []byte
	key := func(rr dns.RR) string {
		m.Answer = []dns.RR{rr}
		var err error
		buf, err = m.PackBuffer(buf)
		if err != nil {
			return rr.String() // cannot happen for records that unpacked; still a usable key
		}
		return string(buf[12:])
	}
	old := make(map[string]bool, len(prev.records))
	for _, rr := range prev.records[1:] {
		old[key(rr)] = true
	}
	d := &diff{from: prev.soa, to: next.soa}
	kept := make(map[string]bool, len(next.records))
	for _, rr := range next.records[1:] {
		k := key(rr)
		kept[k] = true
		if !old[k] {
			d.add = append(d.add, rr)
		}
	}
	for _, rr := range prev.records[1:] {
		if !kept[key(rr)] {
			d.del = append(d.del, rr)
		}
	}
	d.add = d.add[:len(d.add):len(d.add)]
	d.del = d.del[:len(d.del):len(d.del)]
	return d
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
