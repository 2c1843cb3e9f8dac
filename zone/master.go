package zone

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/commonroot/commonroot/dnsname"
	"github.com/miekg/dns"
)

// WriteTo writes the zone as a master file (RFC 1035 §5): no $ORIGIN or
// $TTL, one record per line with fully qualified names, in the order of
// Records (SOA first). Its output reads back with Import to the same zone.
func (z *Zone) WriteTo(w io.Writer) (int64, error) { return WriteRecords(w, z.All) }

// WriteRecords writes the records all yields as a master file, one record
// per line with fully qualified names, in the order given.
func WriteRecords(w io.Writer, all func(yield func(dns.RR) bool)) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int64
	var err error
	for rr := range all {
		var k int
		k, err = bw.WriteString(rr.String())
		n += int64(k)
		if err != nil {
			return n, err
		}
		if err = bw.WriteByte('\n'); err != nil {
			return n, err
		}
		n++
	}
	return n, bw.Flush()
}

// Imported is what Import keeps of a master file: the input of Build.
type Imported struct {
	Params      Params
	Serial      uint32
	Delegations []Delegation // in canonical name order
	Hosts       []Host       // in canonical name order
}

// lineReader counts lines for error messages. It is an io.ByteReader, so
// the zone parser reads from it byte by byte and the count stays exact:
// start is the line where the last logical line (parentheses joining
// physical lines) began, which after the parser returns a record is that
// record's first line.
type lineReader struct {
	br      *bufio.Reader
	line    int // current physical line, from 1
	start   int
	started bool
	comment bool
	quote   bool
	escape  bool
	depth   int
}

func (r *lineReader) Read(p []byte) (int, error) {
	return 0, fmt.Errorf("zone: lineReader.Read is not used")
}

func (r *lineReader) ReadByte() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return c, err
	}
	switch {
	case c == '\n':
		r.line++
		r.comment = false
		r.escape = false
		if r.depth == 0 && !r.quote {
			r.started = false
		}
		return c, nil
	case r.comment:
		return c, nil
	case r.escape:
		r.escape = false
	case c == '\\':
		r.escape = true
	case c == '"':
		r.quote = !r.quote
	case r.quote:
	case c == ';':
		r.comment = true
		return c, nil
	case c == '(':
		r.depth++
	case c == ')':
		if r.depth > 0 {
			r.depth--
		}
	}
	if !r.started && c != ' ' && c != '\t' && c != '\r' {
		r.started = true
		r.start = r.line
	}
	return c, nil
}

type lineRR struct {
	rr   dns.RR
	line int
}

// Import reads a master file of the zone at origin and keeps what Build
// needs: the SOA (its serial and fields), the apex NS, the NS and DS of each
// child of the origin, and the A and AAAA records of name-server hosts. It
// drops DNSSEC records (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY) and the apex
// ZONEMD, which Build recomputes. It refuses, naming the line, anything else:
// other types, records outside the origin or of another class, NS below a
// child (delegations are children of the origin only), DS without NS, CNAME
// or other data at a delegation, names that Build would refuse, and TTLs that
// Build could not reproduce (each kind of record of TTLs must share one TTL,
// and none may be 0). $INCLUDE is not followed. If Import
// succeeds, Build on its result succeeds and gives the same records.
func Import(r io.Reader, origin string) (*Imported, error) {
	if err := dnsname.Check(origin); err != nil {
		return nil, invalidf("import origin: %v", err)
	}
	lr := &lineReader{br: bufio.NewReaderSize(r, 64<<10), line: 1}
	zp := dns.NewZoneParser(lr, origin, "")
	zp.SetIncludeAllowed(false)
	var rrs []lineRR
	nsOwners := map[string]bool{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, lineRR{rr, lr.start})
		h := rr.Header()
		h.Name = lowerASCII(h.Name)
		if h.Rrtype == dns.TypeNS {
			nsOwners[h.Name] = true
		}
	}
	if err := zp.Err(); err != nil {
		return nil, invalidf("import: %v", err)
	}

	imp := &Imported{Params: Params{Origin: origin}}
	type ttlSeen struct {
		ttl  uint32
		line int
		set  bool
	}
	var tSOA, tApexNS, tNS, tDS, tGlue, tApexGlue ttlSeen
	sameTTL := func(t *ttlSeen, what string, ttl uint32, line int) error {
		if !t.set {
			*t = ttlSeen{ttl, line, true}
			return nil
		}
		if t.ttl != ttl {
			return invalidf("line %d: %s TTL %d differs from %d on line %d (the zone has one TTL for each kind of record)", line, what, ttl, t.ttl, t.line)
		}
		return nil
	}
	soaLine := 0
	type delIn struct {
		d      Delegation
		dsLine int
		nsLine []int // the line of each NS in d.NS
	}
	dels := map[string]*delIn{}
	type hostIn struct {
		addrs []netip.Addr
		ttl   uint32
		line  int
	}
	hosts := map[string]*hostIn{}
	var delOrder, hostOrder []string

	for _, x := range rrs {
		rr, line := x.rr, x.line
		h := rr.Header()
		owner := h.Name
		typ := dns.TypeToString[h.Rrtype]
		if typ == "" {
			typ = fmt.Sprintf("TYPE%d", h.Rrtype)
		}
		if h.Class != dns.ClassINET {
			return nil, invalidf("line %d: %s record of %q has class %s, not IN", line, typ, owner, dns.ClassToString[h.Class])
		}
		if !dnsname.IsBelow(owner, origin) {
			return nil, invalidf("line %d: %s record of %q is outside the origin %q", line, typ, owner, origin)
		}
		switch h.Rrtype {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM, dns.TypeDNSKEY:
			continue
		case dns.TypeZONEMD:
			if owner == origin {
				continue
			}
		}
		if err := dnsname.Check(owner); err != nil {
			return nil, invalidf("line %d: %s record: %v", line, typ, err)
		}
		atApex := owner == origin
		child := dnsname.IsChild(owner, origin)
		switch rr := rr.(type) {
		case *dns.SOA:
			if !atApex {
				return nil, invalidf("line %d: SOA at %q, not at the origin %q", line, owner, origin)
			}
			if soaLine != 0 {
				return nil, invalidf("line %d: second SOA (the first is on line %d)", line, soaLine)
			}
			soaLine = line
			s := SOA{MName: lowerASCII(rr.Ns), RName: lowerASCII(rr.Mbox), Refresh: rr.Refresh, Retry: rr.Retry, Expire: rr.Expire, Minimum: rr.Minttl}
			for _, n := range []struct{ what, name string }{{"MNAME", s.MName}, {"RNAME", s.RName}} {
				if err := checkSOAName(n.name); err != nil {
					return nil, invalidf("line %d: SOA %s: %v", line, n.what, err)
				}
			}
			imp.Params.SOA = s
			imp.Serial = rr.Serial
			imp.Params.TTLs.SOA = h.Ttl
			tSOA = ttlSeen{h.Ttl, line, true}
		case *dns.NS:
			target := lowerASCII(rr.Ns)
			if err := dnsname.Check(target); err != nil {
				return nil, invalidf("line %d: NS of %q: %v", line, owner, err)
			}
			switch {
			case atApex:
				if err := sameTTL(&tApexNS, "apex NS", h.Ttl, line); err != nil {
					return nil, err
				}
				imp.Params.NS = append(imp.Params.NS, target)
			case child:
				if err := sameTTL(&tNS, "NS", h.Ttl, line); err != nil {
					return nil, err
				}
				d := dels[owner]
				if d == nil {
					d = &delIn{d: Delegation{Name: owner}}
					dels[owner] = d
					delOrder = append(delOrder, owner)
				}
				d.d.NS = append(d.d.NS, target)
				d.nsLine = append(d.nsLine, line)
			default:
				return nil, invalidf("line %d: NS at %q, which is not a child of the origin %q (only children are delegated)", line, owner, origin)
			}
		case *dns.DS:
			if !child {
				return nil, invalidf("line %d: DS at %q, which is not a child of the origin %q", line, owner, origin)
			}
			if !nsOwners[owner] {
				return nil, invalidf("line %d: DS at %q, which has no NS", line, owner)
			}
			digest := strings.ToUpper(rr.Digest)
			if err := checkDigest(digest); err != nil {
				return nil, invalidf("line %d: DS of %q: %v", line, owner, err)
			}
			if err := sameTTL(&tDS, "DS", h.Ttl, line); err != nil {
				return nil, err
			}
			d := dels[owner]
			if d == nil {
				d = &delIn{d: Delegation{Name: owner}}
				dels[owner] = d
				delOrder = append(delOrder, owner)
			}
			if d.dsLine == 0 {
				d.dsLine = line
			}
			d.d.DS = append(d.d.DS, DS{KeyTag: rr.KeyTag, Algorithm: rr.Algorithm, DigestType: rr.DigestType, Digest: digest})
		case *dns.A, *dns.AAAA:
			if atApex {
				return nil, invalidf("line %d: %s at the origin %q (only glue below it is kept)", line, typ, owner)
			}
			var a netip.Addr
			var ok bool
			if x, isA := rr.(*dns.A); isA {
				a, ok = netip.AddrFromSlice(x.A.To4())
			} else {
				a, ok = netip.AddrFromSlice(rr.(*dns.AAAA).AAAA.To16())
			}
			if !ok {
				return nil, invalidf("line %d: %s of %q has no valid address", line, typ, owner)
			}
			ho := hosts[owner]
			if ho == nil {
				ho = &hostIn{ttl: h.Ttl, line: line}
				hosts[owner] = ho
				hostOrder = append(hostOrder, owner)
			} else if ho.ttl != h.Ttl {
				return nil, invalidf("line %d: %s of %q has TTL %d, but line %d gives it %d", line, typ, owner, h.Ttl, ho.line, ho.ttl)
			}
			ho.addrs = append(ho.addrs, a)
		default:
			if nsOwners[owner] {
				return nil, invalidf("line %d: %s at delegation %q (a delegation has only NS, DS and glue)", line, typ, owner)
			}
			return nil, invalidf("line %d: %s record at %q is not supported (only SOA, NS, DS, A, AAAA and DNSSEC records are read)", line, typ, owner)
		}
	}
	if soaLine == 0 {
		return nil, invalidf("import: no SOA record at the origin %q", origin)
	}
	if len(imp.Params.NS) == 0 {
		return nil, invalidf("import: no NS records at the origin %q", origin)
	}
	imp.Params.TTLs.ApexNS = tApexNS.ttl
	imp.Params.TTLs.NS = tNS.ttl
	imp.Params.TTLs.DS = tDS.ttl
	apexNS := map[string]bool{}
	for _, ns := range imp.Params.NS {
		apexNS[ns] = true
	}
	for _, name := range hostOrder {
		ho := hosts[name]
		if apexNS[name] {
			if err := sameTTL(&tApexGlue, "glue of apex NS host", ho.ttl, ho.line); err != nil {
				return nil, err
			}
			continue
		}
		if err := sameTTL(&tGlue, "glue", ho.ttl, ho.line); err != nil {
			return nil, err
		}
	}
	// Every name server inside the zone needs its addresses here (a
	// referral to it could not be followed otherwise, and the registry
	// refuses such a genesis), and every address record must belong to a
	// name server (anything else would be dropped without a word).
	used := map[string]bool{}
	for _, ns := range imp.Params.NS {
		used[ns] = true
	}
	for _, name := range delOrder {
		d := dels[name]
		for i, ns := range d.d.NS {
			used[ns] = true
			if dnsname.IsBelow(ns, origin) && hosts[ns] == nil {
				return nil, invalidf("line %d: NS %q of %q lies inside the zone but has no A or AAAA record (glue)", d.nsLine[i], ns, name)
			}
		}
	}
	for _, name := range hostOrder {
		if !used[name] {
			return nil, invalidf("line %d: address record of %q, which no NS record names (only name servers' addresses are kept)", hosts[name].line, name)
		}
	}
	imp.Params.TTLs.Glue = tGlue.ttl
	imp.Params.TTLs.ApexGlue = tApexGlue.ttl
	// Build reads a TTL of 0 as the default, so such a zone could not be
	// reproduced.
	for _, t := range []ttlSeen{tSOA, tApexNS, tNS, tDS, tGlue, tApexGlue} {
		if t.set && t.ttl == 0 {
			return nil, invalidf("line %d: a TTL of 0 is not supported", t.line)
		}
	}
	imp.Params.NS = sortNS(imp.Params.NS)

	cfg, err := newConfig(imp.Params)
	if err != nil {
		return nil, err
	}
	for _, name := range delOrder {
		d := dels[name]
		nd, err := cfg.checkDelegation(d.d)
		if err != nil {
			return nil, err
		}
		imp.Delegations = append(imp.Delegations, Delegation{Name: name, NS: nd.ns, DS: nd.ds})
	}
	for _, name := range hostOrder {
		imp.Hosts = append(imp.Hosts, Host{Name: name, Addrs: sortAddrs(hosts[name].addrs)})
	}
	slices.SortFunc(imp.Delegations, func(a, b Delegation) int { return strings.Compare(keyOf(a.Name), keyOf(b.Name)) })
	slices.SortFunc(imp.Hosts, func(a, b Host) int { return strings.Compare(keyOf(a.Name), keyOf(b.Name)) })
	if _, err := cfg.collect(imp.Delegations, nil, imp.Hosts, nil); err != nil {
		return nil, err
	}
	return imp, nil
}

// checkSOAName accepts a fully qualified name of lower-case letters,
// digits, hyphens and underscores (RFC 1035 §3.3.13 allows any name in MNAME
// and RNAME; these are the ones whose presentation form needs no escapes).
func checkSOAName(name string) error {
	if _, ok := dns.IsDomainName(name); !ok || !dns.IsFqdn(name) || (name != "." && (strings.HasPrefix(name, ".") || strings.Contains(name, ".."))) {
		return fmt.Errorf("%q is not a fully qualified domain name", trim(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q has %q (use lower-case letters, digits, hyphens and underscores)", trim(name), rune(c))
		}
	}
	return nil
}

// lowerASCII lower-cases the ASCII letters of a name (RFC 4343: DNS names
// compare case-insensitively in ASCII only) and leaves every other octet as
// it is, so an error about a non-ASCII or non-UTF-8 octet quotes the input
// (strings.ToLower would turn an octet that is not UTF-8 into U+FFFD).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
