package dnssec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/commonroot/commonroot/zone"
	"github.com/miekg/dns"
)

// Signed is an immutable DNSSEC-signed zone version: the zone's records,
// the DNSKEY of the zone's key, the NSEC chain, an RRSIG over every
// authoritative RRset and a ZONEMD computed over all of that (but its own
// RRSIG) and signed. Every signature in it was checked with
// crypto/ed25519.Verify. It implements dnsserver.Zone.
//
// Invariant: Records() starts with the apex SOA, followed by every other
// record in DNSSEC canonical order (RFC 4034 §6): at the apex NS, RRSIG
// (over NS, SOA, NSEC, DNSKEY, ZONEMD), NSEC, DNSKEY, ZONEMD; then each
// name below the apex with its records by type (A, NS, AAAA, DS, RRSIG,
// NSEC).
type Signed struct {
	z         *zone.Zone
	key       Key
	origin    []byte
	hdrLen    int
	dnskey    []byte
	ins       [][]byte // signing inputs, canonical order (see Plan)
	sigs      [][]byte // their signatures
	digest    []byte
	zonemd    []byte // canonical ZONEMD RR
	zonemdIn  []byte
	zonemdSig []byte

	recOnce sync.Once
	recs    []dns.RR
}

// Origin is the apex name.
func (s *Signed) Origin() string { return s.z.Origin() }

// Serial is the SOA serial.
func (s *Signed) Serial() uint32 { return s.z.Serial() }

// Zone is the unsigned zone this version signs.
func (s *Signed) Zone() *zone.Zone { return s.z }

// Key is the key that signed the zone.
func (s *Signed) Key() Key { return s.key }

// Digest is the ZONEMD SHA-384 digest of the signed zone.
func (s *Signed) Digest() []byte { return bytes.Clone(s.digest) }

// Signatures is the number of RRSIG records.
func (s *Signed) Signatures() int { return len(s.ins) + 1 }

// Expires returns when the first of the zone's signatures expires, taking
// the RRSIG expiration fields (32-bit serial arithmetic, RFC 4034 §3.1.5)
// as the times nearest after now.
func (s *Signed) Expires(now time.Time) time.Time {
	ref := uint32(now.Unix())
	first := int32(binary.BigEndian.Uint32(s.zonemdIn[offExpiration:]) - ref)
	for _, in := range s.ins {
		if d := int32(binary.BigEndian.Uint32(in[offExpiration:]) - ref); d < first {
			first = d
		}
	}
	return time.Unix(int64(ref)+int64(first), 0)
}

// appendRRSIG appends the canonical RRSIG record of a signing input and its
// signature.
func (s *Signed) appendRRSIG(b, in, sig []byte) []byte {
	owner := in[s.hdrLen:]
	owner = owner[:nameLen(owner)]
	b, at := appendRRHeader(b, owner, dns.TypeRRSIG, binary.BigEndian.Uint32(in[4:]))
	b = append(b, in[:s.hdrLen]...)
	b = append(b, sig...)
	setRDLength(b, at)
	return b
}

// walk emits the zone's records in canonical wire form and DNSSEC
// canonical order, one or more whole records at a time, until emit returns
// false. Without withZONEMD it leaves out the apex ZONEMD and its RRSIG (as
// the ZONEMD digest does).
func (s *Signed) walk(emit func(rrs []byte) bool, withZONEMD bool) error {
	p := s.z.Params()
	soa := s.z.SOA()
	var ns []dns.RR
	for _, n := range p.NS {
		ns = append(ns, &dns.NS{Hdr: dns.RR_Header{Name: p.Origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: p.TTLs.ApexNS}, Ns: n})
	}
	apex, err := packCanonical(append(ns, soa)...)
	if err != nil {
		return err
	}
	if !emit(apex) {
		return nil
	}
	buf := make([]byte, 0, 512)
	j := 0
	nsec := -1
	for ; j < len(s.ins) && bytes.HasPrefix(s.ins[j][s.hdrLen:], s.origin); j++ {
		if binary.BigEndian.Uint16(s.ins[j]) == dns.TypeNSEC {
			nsec = j
		}
		if buf = s.appendRRSIG(buf[:0], s.ins[j], s.sigs[j]); !emit(buf) {
			return nil
		}
	}
	if withZONEMD {
		if buf = s.appendRRSIG(buf[:0], s.zonemdIn, s.zonemdSig); !emit(buf) {
			return nil
		}
	}
	if nsec < 0 {
		return fmt.Errorf("dnssec: signed zone %q has no apex NSEC", nameString(s.origin))
	}
	if !emit(s.ins[nsec][s.hdrLen:]) || !emit(s.dnskey) {
		return nil
	}
	if withZONEMD && !emit(s.zonemd) {
		return nil
	}
	ok := true
	s.z.NodeWires(func(w []byte) bool {
		if !emit(w) {
			ok = false
			return false
		}
		owner := w[:nameLen(w)]
		nsec := -1
		for ; j < len(s.ins) && bytes.HasPrefix(s.ins[j][s.hdrLen:], owner); j++ {
			if binary.BigEndian.Uint16(s.ins[j]) == dns.TypeNSEC {
				nsec = j
			}
			if buf = s.appendRRSIG(buf[:0], s.ins[j], s.sigs[j]); !emit(buf) {
				ok = false
				return false
			}
		}
		if nsec >= 0 && !emit(s.ins[nsec][s.hdrLen:]) {
			ok = false
			return false
		}
		return true
	})
	if ok && j != len(s.ins) {
		return fmt.Errorf("dnssec: signed zone %q: %d signed RRsets have no name in the zone", nameString(s.origin), len(s.ins)-j)
	}
	return nil
}

// All yields the zone's records in the order of Records without keeping
// them. It stops when yield returns false.
func (s *Signed) All(yield func(dns.RR) bool) {
	if !yield(s.z.SOA()) {
		return
	}
	err := s.walk(func(w []byte) bool {
		for off := 0; off < len(w); {
			rr, o, err := dns.UnpackRR(w, off)
			if err != nil {
				panic(fmt.Sprintf("dnssec: canonical record does not unpack: %v", err)) // written by this package and zone
			}
			off = o
			switch x := rr.(type) {
			case *dns.SOA:
				continue
			case *dns.DS:
				x.Digest = strings.ToUpper(x.Digest)
			}
			if !yield(rr) {
				return false
			}
		}
		return true
	}, true)
	if err != nil {
		panic(err) // the Signed was built by Finish, which walked it already
	}
}

// Records returns the whole signed zone in the order stated on Signed. The
// slice is built on first use and kept (about 100 bytes a record; for large
// zones prefer All or WriteTo): callers must not modify it or its records.
func (s *Signed) Records() []dns.RR {
	s.recOnce.Do(func() {
		for rr := range s.All {
			s.recs = append(s.recs, rr)
		}
	})
	return s.recs
}

// WriteTo writes the signed zone as a master file, one record per line with
// fully qualified names, in the order of Records.
func (s *Signed) WriteTo(w io.Writer) (int64, error) { return zone.WriteRecords(w, s.All) }
