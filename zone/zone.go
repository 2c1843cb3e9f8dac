// Package zone builds the governed DNS zone (by default the root zone ".")
// deterministically from the registry's state: the apex SOA and NS, one
// delegation (NS, DS) per child and the glue (A, AAAA) of name-server hosts,
// with a ZONEMD record (RFC 8976, scheme SIMPLE, SHA-384) over the result.
//
// A Zone is an immutable version. Update derives the next version from a
// previous one and reuses the canonical wire form of every name it does not
// touch, so a few changes to a zone of a million delegations cost little
// more than re-hashing. Build and Update give identical zones for identical
// content. The package also writes the zone as a master file (WriteTo),
// reads one back (Import), lists what changed between two versions for IXFR
// (Diff) and checks the ZONEMD of any record list (VerifyDigest). It knows
// nothing of how the zone is served.
//
// Validation here is structural only (names, placement, hex); the registry
// decides policy (which glue exists, digest lengths, who may change what).
package zone

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/commonroot/commonroot/dnsname"
	"github.com/miekg/dns"
)

// DS is a delegation signer record (RFC 4034 §5) of a delegation.
type DS struct {
	KeyTag     uint16
	Algorithm  uint8
	DigestType uint8
	Digest     string // upper-case hex, even length, not empty
}

// Delegation is the NS (and DS) RRsets of one child of the origin.
type Delegation struct {
	Name string   // FQDN, lower case, exactly one label below the origin
	NS   []string // name-server hosts, FQDNs in lower case; at least one
	DS   []DS
}

// Host is the glue of a name-server host: its A and AAAA records.
type Host struct {
	Name  string // FQDN, lower case, below the origin (not the origin itself)
	Addrs []netip.Addr
}

// SOA holds the SOA fields other than the serial, which each version gets.
type SOA struct {
	MName, RName                    string
	Refresh, Retry, Expire, Minimum uint32
}

// TTLs are the TTLs of each kind of record. A zero field means the default,
// which is what the real root uses (DefaultTTLs), except that a zero
// ApexGlue means the ApexNS TTL. The ZONEMD has the SOA TTL.
type TTLs struct {
	SOA, ApexNS, NS, DS, Glue uint32
	ApexGlue                  uint32 // glue of the apex NS hosts
}

// DefaultTTLs are the root zone's TTLs: SOA 86400, apex NS 518400, NS
// 172800, DS 86400, glue 172800, glue of the apex NS hosts 518400.
var DefaultTTLs = TTLs{SOA: 86400, ApexNS: 518400, NS: 172800, DS: 86400, Glue: 172800, ApexGlue: 518400}

// Params describe the apex. The glue of the apex NS hosts comes from the
// hosts passed to Build like any other glue.
type Params struct {
	Origin string // FQDN, lower case; "." for the root
	SOA    SOA
	NS     []string
	TTLs   TTLs
}

// Zone is an immutable version of the zone.
//
// Invariant: Records() starts with the apex SOA, followed by every other
// record in DNSSEC canonical order (RFC 4034 §6): the apex NS RRset, the
// apex ZONEMD, then each name below the apex in canonical name order with
// its RRsets by type and its RRs by RDATA octets. There is exactly one
// ZONEMD, at the apex, whose SHA-384 SIMPLE digest covers every other
// record.
//
// Names below the apex are nodes (canonical key and canonical wire form)
// sorted by key and cut into chunks of about chunkSize. Chunks are never
// modified once a Zone holds them: Update copies the chunk list (a few
// thousand pointers for a million names) and rebuilds only the chunks that
// hold a changed name, so versions share everything else.
type Zone struct {
	cfg    *config
	serial uint32
	chunks []*chunk // non-empty chunks; all keys of chunks[i] < those of chunks[i+1]
	ndel   int      // number of delegations
	apex   []byte   // canonical wire form of the apex NS RRset and SOA
	digest []byte

	recOnce sync.Once
	recs    []dns.RR
}

// chunkSize is the number of nodes Build puts in a chunk; Update splits a
// chunk that grows past twice this. Tests make it small to exercise chunk
// boundaries.
var chunkSize = 512

// chunk is a sorted run of nodes, immutable once in a Zone.
type chunk struct {
	nodes []node
}

func (c *chunk) last() string { return c.nodes[len(c.nodes)-1].key }

// node is one owner name below the apex.
type node struct {
	key  string // canonicalKey of the name
	wire []byte // its RRs in canonical form and order (see nodeData.encode)
}

// config is what all versions derived from one Build share.
type config struct {
	p      Params // normalised: NS sorted, zero TTLs replaced by defaults
	apexNS map[string]bool
}

func (c *config) ttl(name string) ttlFor {
	t := ttlFor{ns: c.p.TTLs.NS, ds: c.p.TTLs.DS, glue: c.p.TTLs.Glue}
	if c.apexNS[name] {
		t.glue = c.p.TTLs.ApexGlue
	}
	return t
}

// ErrInvalid is wrapped by every error Build, Update and Import return for
// input that does not describe a well-formed zone.
var ErrInvalid = errors.New("invalid zone data")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("zone: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func newConfig(p Params) (*config, error) {
	if err := dnsname.Check(p.Origin); err != nil {
		return nil, invalidf("origin: %v", err)
	}
	for _, n := range []struct{ what, name string }{{"SOA MNAME", p.SOA.MName}, {"SOA RNAME", p.SOA.RName}} {
		if err := checkSOAName(n.name); err != nil {
			return nil, invalidf("%s: %v", n.what, err)
		}
	}
	if len(p.NS) == 0 {
		return nil, invalidf("origin %q has no NS", p.Origin)
	}
	for _, ns := range p.NS {
		if err := dnsname.Check(ns); err != nil {
			return nil, invalidf("apex NS host: %v", err)
		}
	}
	def := DefaultTTLs
	for _, f := range []struct {
		v *uint32
		d uint32
	}{
		{&p.TTLs.SOA, def.SOA}, {&p.TTLs.ApexNS, def.ApexNS}, {&p.TTLs.NS, def.NS}, {&p.TTLs.DS, def.DS}, {&p.TTLs.Glue, def.Glue},
	} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	if p.TTLs.ApexGlue == 0 {
		p.TTLs.ApexGlue = p.TTLs.ApexNS
	}
	p.NS = sortNS(p.NS)
	c := &config{p: p, apexNS: make(map[string]bool, len(p.NS))}
	for _, ns := range p.NS {
		c.apexNS[ns] = true
	}
	return c, nil
}

// Params returns the zone's parameters, normalised: apex NS sorted in
// canonical RDATA order without duplicates, zero TTLs replaced by defaults.
func (z *Zone) Params() Params {
	p := z.cfg.p
	p.NS = slices.Clone(p.NS)
	return p
}

func (c *config) checkDelegation(d Delegation) (nodeData, error) {
	if err := dnsname.Check(d.Name); err != nil {
		return nodeData{}, invalidf("delegation: %v", err)
	}
	if d.Name == c.p.Origin {
		return nodeData{}, invalidf("delegation at the origin %q", d.Name)
	}
	if !dnsname.IsChild(d.Name, c.p.Origin) {
		return nodeData{}, invalidf("delegation %q is not a child of the origin %q", d.Name, c.p.Origin)
	}
	if len(d.NS) == 0 {
		return nodeData{}, invalidf("delegation %q has no NS", d.Name)
	}
	for _, ns := range d.NS {
		if err := dnsname.Check(ns); err != nil {
			return nodeData{}, invalidf("NS host of %q: %v", d.Name, err)
		}
	}
	for _, ds := range d.DS {
		if err := checkDigest(ds.Digest); err != nil {
			return nodeData{}, invalidf("DS %d %d %d of %q: %v", ds.KeyTag, ds.Algorithm, ds.DigestType, d.Name, err)
		}
	}
	return nodeData{name: d.Name, ns: sortNS(d.NS), ds: sortDS(d.DS)}, nil
}

func checkDigest(s string) error {
	if s == "" {
		return fmt.Errorf("empty digest")
	}
	if len(s) > 2*(65535-4) {
		return fmt.Errorf("digest of %d hex digits is too long", len(s))
	}
	if len(s)%2 != 0 {
		return fmt.Errorf("digest %q has an odd number of hex digits", trim(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return fmt.Errorf("digest %q is not upper-case hex", trim(s))
		}
	}
	return nil
}

func (c *config) checkHost(h Host) error {
	if err := dnsname.Check(h.Name); err != nil {
		return invalidf("host: %v", err)
	}
	if h.Name == c.p.Origin || !dnsname.IsBelow(h.Name, c.p.Origin) {
		return invalidf("host %q is not below the origin %q", h.Name, c.p.Origin)
	}
	if len(h.Addrs) == 0 {
		return invalidf("host %q has no addresses", h.Name)
	}
	for _, a := range h.Addrs {
		if !a.IsValid() || a.Zone() != "" {
			return invalidf("host %q has address %q, not a plain IPv4 or IPv6 address", h.Name, a.String())
		}
	}
	return nil
}

// change is what Build or Update does to one name.
type change struct {
	key        string
	seq        int // position in the input, to order changes of one name
	name       string
	del        *nodeData // set this delegation (ns, ds)
	removeDel  bool
	addrs      []netip.Addr // set these glue addresses (merged across duplicate hosts)
	setHost    bool
	removeHost bool
}

// collect validates the inputs and returns one change per name, sorted by
// canonical key.
func (c *config) collect(set []Delegation, remove []string, setHosts []Host, removeHosts []string) ([]change, error) {
	ch := make([]change, 0, len(set)+len(remove)+len(setHosts)+len(removeHosts))
	for _, d := range set {
		nd, err := c.checkDelegation(d)
		if err != nil {
			return nil, err
		}
		ch = append(ch, change{key: keyOf(d.Name), name: d.Name, del: &nd})
	}
	for _, n := range remove {
		if err := dnsname.Check(n); err != nil {
			return nil, invalidf("removed delegation: %v", err)
		}
		ch = append(ch, change{key: keyOf(n), name: n, removeDel: true})
	}
	for _, h := range setHosts {
		if err := c.checkHost(h); err != nil {
			return nil, err
		}
		ch = append(ch, change{key: keyOf(h.Name), name: h.Name, addrs: h.Addrs, setHost: true})
	}
	for _, n := range removeHosts {
		if err := dnsname.Check(n); err != nil {
			return nil, invalidf("removed host: %v", err)
		}
		ch = append(ch, change{key: keyOf(n), name: n, removeHost: true})
	}
	for i := range ch {
		ch[i].seq = i
	}
	slices.SortFunc(ch, func(a, b change) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	out := ch[:0]
	for i := 0; i < len(ch); {
		m := ch[i]
		j := i + 1
		for ; j < len(ch) && ch[j].key == m.key; j++ {
			x := ch[j]
			switch {
			case x.del != nil && (m.del != nil || m.removeDel):
				return nil, invalidf("delegation %q is given twice", x.name)
			case x.removeDel && m.removeDel:
				return nil, invalidf("delegation %q is removed twice", x.name)
			case x.removeDel && m.del != nil:
				return nil, invalidf("delegation %q is both set and removed", x.name)
			case x.setHost && m.removeHost, x.removeHost && m.setHost:
				return nil, invalidf("host %q is both set and removed", x.name)
			case x.removeHost && m.removeHost:
				return nil, invalidf("host %q is removed twice", x.name)
			}
			if x.del != nil {
				m.del = x.del
			}
			m.removeDel = m.removeDel || x.removeDel
			m.removeHost = m.removeHost || x.removeHost
			if x.setHost {
				m.setHost = true
				m.addrs = append(slices.Clip(m.addrs), x.addrs...)
			}
		}
		if m.setHost {
			m.addrs = sortAddrs(m.addrs)
		}
		out = append(out, m)
		i = j
	}
	return out, nil
}

// Build makes the zone version with the given serial from the whole state.
// Delegation names must be distinct; hosts of the same name are merged;
// duplicate NS, DS and addresses are removed. Hosts are emitted whether or
// not a delegation refers to them: the registry decides what glue exists.
func Build(p Params, serial uint32, dels []Delegation, hosts []Host) (*Zone, error) {
	c, err := newConfig(p)
	if err != nil {
		return nil, err
	}
	ch, err := c.collect(dels, nil, hosts, nil)
	if err != nil {
		return nil, err
	}
	z := &Zone{cfg: c, serial: serial}
	nodes := make([]node, len(ch))
	for i := range ch {
		nd := nodeData{name: ch[i].name, addrs: ch[i].addrs}
		if ch[i].del != nil {
			nd.ns, nd.ds = ch[i].del.ns, ch[i].del.ds
			z.ndel++
		}
		nodes[i] = node{key: ch[i].key, wire: nd.encode(c.ttl(nd.name))}
	}
	z.chunks = cut(nodes)
	if err := z.finish(); err != nil {
		return nil, err
	}
	return z, nil
}

// Update returns the next version: the delegations in set are added or
// replaced, those named in remove deleted, the hosts in setHosts added or
// replaced (their whole address set), those in removeHosts deleted. Removing
// what does not exist, or naming one thing twice, is an error. Unchanged
// names keep their stored wire form; the result equals Build on the same
// content.
func (z *Zone) Update(serial uint32, set []Delegation, remove []string, setHosts []Host, removeHosts []string) (*Zone, error) {
	ch, err := z.cfg.collect(set, remove, setHosts, removeHosts)
	if err != nil {
		return nil, err
	}
	nz := &Zone{cfg: z.cfg, serial: serial, ndel: z.ndel, chunks: make([]*chunk, 0, len(z.chunks)+1)}
	ci := 0 // next chunk of z not yet copied to nz
	for len(ch) > 0 {
		// The chunk that holds ch[0], or would: the first whose last key is
		// not below it, else the last chunk.
		t := ci + sort.Search(len(z.chunks)-ci, func(i int) bool { return z.chunks[ci+i].last() >= ch[0].key })
		if t == len(z.chunks) && t > 0 {
			t--
		}
		nz.chunks = append(nz.chunks, z.chunks[ci:t]...)
		var old []node
		limit := len(ch)
		if t < len(z.chunks) {
			old = z.chunks[t].nodes
			if t+1 < len(z.chunks) {
				// Changes up to this chunk's last key go into it.
				limit = sort.Search(len(ch), func(i int) bool { return ch[i].key > z.chunks[t].last() })
			}
			ci = t + 1
		}
		nodes, err := nz.merge(old, ch[:limit])
		if err != nil {
			return nil, err
		}
		nz.chunks = append(nz.chunks, cut(nodes)...)
		ch = ch[limit:]
	}
	nz.chunks = append(nz.chunks, z.chunks[ci:]...)
	if err := nz.finish(); err != nil {
		return nil, err
	}
	return nz, nil
}

// merge applies sorted changes to the sorted nodes of one chunk, giving a
// new node slice and counting delegations in nz.ndel.
func (nz *Zone) merge(old []node, ch []change) ([]node, error) {
	out := make([]node, 0, len(old)+len(ch))
	for _, c := range ch {
		i, found := slices.BinarySearchFunc(old, c.key, func(n node, k string) int { return strings.Compare(n.key, k) })
		out = append(out, old[:i]...)
		var nd nodeData
		if found {
			nd = decodeNode(old[i].wire)
			i++
		} else {
			nd.name = c.name
		}
		old = old[i:]
		wasDel := len(nd.ns) > 0
		if c.removeDel {
			if !wasDel {
				return nil, invalidf("removed delegation %q does not exist", c.name)
			}
			nd.ns, nd.ds = nil, nil
		}
		if c.del != nil {
			nd.ns, nd.ds = c.del.ns, c.del.ds
		}
		if c.removeHost {
			if len(nd.addrs) == 0 {
				return nil, invalidf("removed host %q does not exist", c.name)
			}
			nd.addrs = nil
		}
		if c.setHost {
			nd.addrs = c.addrs
		}
		if isDel := len(nd.ns) > 0; isDel != wasDel {
			if isDel {
				nz.ndel++
			} else {
				nz.ndel--
			}
		}
		if !nd.empty() {
			out = append(out, node{key: c.key, wire: nd.encode(nz.cfg.ttl(nd.name))})
		}
	}
	return append(out, old...), nil
}

// cut splits sorted nodes into chunks: one if they fit in 2*chunkSize,
// else pieces of chunkSize. It shares the backing array, capping each
// piece's capacity.
func cut(nodes []node) []*chunk {
	if len(nodes) == 0 {
		return nil
	}
	if len(nodes) <= 2*chunkSize {
		return []*chunk{{nodes: nodes}}
	}
	out := make([]*chunk, 0, len(nodes)/chunkSize+1)
	for len(nodes) > 0 {
		n := min(chunkSize, len(nodes))
		if len(nodes)-n < chunkSize/2 {
			n = len(nodes) // no small tail
		}
		out = append(out, &chunk{nodes: nodes[:n:n]})
		nodes = nodes[n:]
	}
	return out
}

// find returns the node of key, if any.
func (z *Zone) find(key string) (*node, bool) {
	c := sort.Search(len(z.chunks), func(i int) bool { return z.chunks[i].last() >= key })
	if c == len(z.chunks) {
		return nil, false
	}
	nodes := z.chunks[c].nodes
	i, found := slices.BinarySearchFunc(nodes, key, func(n node, k string) int { return strings.Compare(n.key, k) })
	if !found {
		return nil, false
	}
	return &nodes[i], true
}

// eachNode calls f for every node in canonical order until f returns false.
func (z *Zone) eachNode(f func(*node) bool) {
	for _, c := range z.chunks {
		for i := range c.nodes {
			if !f(&c.nodes[i]) {
				return
			}
		}
	}
}

// finish writes the apex and computes the digest.
func (z *Zone) finish() error {
	var apex []byte
	buf := make([]byte, 1024)
	for _, rr := range z.apexRRs() {
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return fmt.Errorf("zone: packing apex %s: %v", dns.TypeToString[rr.Header().Rrtype], err)
		}
		apex = append(apex, buf[:n]...)
	}
	z.apex = apex
	h := sha512.New384()
	h.Write(apex)
	for _, c := range z.chunks {
		for i := range c.nodes {
			h.Write(c.nodes[i].wire)
		}
	}
	z.digest = h.Sum(nil)
	return nil
}

// apexRRs are the apex NS RRset and the SOA, in canonical order.
func (z *Zone) apexRRs() []dns.RR {
	p := z.cfg.p
	rrs := make([]dns.RR, 0, len(p.NS)+1)
	for _, ns := range p.NS {
		rrs = append(rrs, &dns.NS{Hdr: dns.RR_Header{Name: p.Origin, Rrtype: dns.TypeNS, Class: classIN, Ttl: p.TTLs.ApexNS}, Ns: ns})
	}
	return append(rrs, z.soa())
}

// SOA returns a new copy of the zone's SOA record.
func (z *Zone) SOA() *dns.SOA { return z.soa() }

func (z *Zone) soa() *dns.SOA {
	p := z.cfg.p
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: p.Origin, Rrtype: dns.TypeSOA, Class: classIN, Ttl: p.TTLs.SOA},
		Ns:  p.SOA.MName, Mbox: p.SOA.RName, Serial: z.serial,
		Refresh: p.SOA.Refresh, Retry: p.SOA.Retry, Expire: p.SOA.Expire, Minttl: p.SOA.Minimum,
	}
}

// ZONEMD returns the zone's ZONEMD record.
func (z *Zone) ZONEMD() *dns.ZONEMD {
	p := z.cfg.p
	return &dns.ZONEMD{
		Hdr:    dns.RR_Header{Name: p.Origin, Rrtype: dns.TypeZONEMD, Class: classIN, Ttl: p.TTLs.SOA},
		Serial: z.serial, Scheme: 1, Hash: 1, Digest: hex.EncodeToString(z.digest),
	}
}

// Origin is the apex name.
func (z *Zone) Origin() string { return z.cfg.p.Origin }

// Serial is the SOA serial of this version.
func (z *Zone) Serial() uint32 { return z.serial }

// Digest is the ZONEMD SHA-384 digest (scheme SIMPLE) of this version.
func (z *Zone) Digest() []byte { return slices.Clone(z.digest) }

// Len is the number of delegations.
func (z *Zone) Len() int { return z.ndel }

// Delegation returns the delegation of name (NS and DS in canonical RDATA
// order), if there is one.
func (z *Zone) Delegation(name string) (Delegation, bool) {
	if dnsname.Check(name) != nil {
		return Delegation{}, false
	}
	n, found := z.find(keyOf(name))
	if !found {
		return Delegation{}, false
	}
	nd := decodeNode(n.wire)
	if len(nd.ns) == 0 {
		return Delegation{}, false
	}
	return Delegation{Name: nd.name, NS: nd.ns, DS: nd.ds}, true
}

// Host returns the glue addresses of name (IPv4 first, each by octets), if
// the zone has any.
func (z *Zone) Host(name string) (Host, bool) {
	if dnsname.Check(name) != nil {
		return Host{}, false
	}
	n, found := z.find(keyOf(name))
	if !found {
		return Host{}, false
	}
	nd := decodeNode(n.wire)
	if len(nd.addrs) == 0 {
		return Host{}, false
	}
	return Host{Name: nd.name, Addrs: nd.addrs}, true
}

// Delegations returns every delegation in canonical name order.
func (z *Zone) Delegations() []Delegation {
	out := make([]Delegation, 0, z.ndel)
	z.eachNode(func(n *node) bool {
		if nd := decodeNode(n.wire); len(nd.ns) > 0 {
			out = append(out, Delegation{Name: nd.name, NS: nd.ns, DS: nd.ds})
		}
		return true
	})
	return out
}

// Hosts returns every glue host in canonical name order.
func (z *Zone) Hosts() []Host {
	var out []Host
	z.eachNode(func(n *node) bool {
		if nd := decodeNode(n.wire); len(nd.addrs) > 0 {
			out = append(out, Host{Name: nd.name, Addrs: nd.addrs})
		}
		return true
	})
	return out
}

// All yields the zone's records in the order of Records without keeping
// them: the SOA, the rest of the apex, then every name below it. It stops
// when yield returns false.
func (z *Zone) All(yield func(dns.RR) bool) {
	rrs := z.apexRRs()
	if !yield(rrs[len(rrs)-1]) {
		return
	}
	for _, rr := range rrs[:len(rrs)-1] {
		if !yield(rr) {
			return
		}
	}
	if !yield(z.ZONEMD()) {
		return
	}
	z.eachNode(func(n *node) bool {
		w := n.wire
		for off := 0; off < len(w); {
			rr, o := unpackRR(w, off)
			if !yield(rr) {
				return false
			}
			off = o
		}
		return true
	})
}

// unpackRR reads the record at w[off:] of a node's wire form.
func unpackRR(w []byte, off int) (dns.RR, int) {
	rr, o, err := dns.UnpackRR(w, off)
	if err != nil {
		panic(fmt.Sprintf("zone: stored wire form does not unpack: %v", err)) // written by encode
	}
	if ds, ok := rr.(*dns.DS); ok {
		ds.Digest = strings.ToUpper(ds.Digest) // as DS.Digest promises
	}
	return rr, o
}

// Records returns the whole zone in the order stated on Zone. The slice is
// built on first use and kept with the Zone (about 100 bytes a record; for
// large zones, prefer All): callers must not modify it or its records.
func (z *Zone) Records() []dns.RR {
	z.recOnce.Do(func() {
		for rr := range z.All {
			z.recs = append(z.recs, rr)
		}
	})
	return z.recs
}

// trim shortens what an error quotes.
func trim(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
