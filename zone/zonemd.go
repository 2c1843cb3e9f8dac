package zone

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// ZONEMD scheme and hash algorithm numbers (RFC 8976 §5.2, §5.3).
const (
	SchemeSimple = 1
	HashSHA384   = 1
	HashSHA512   = 2
)

// ErrDigestMismatch is wrapped by VerifyDigest when a recomputed digest
// differs from the zone's ZONEMD.
var ErrDigestMismatch = errors.New("ZONEMD digest mismatch")

// canonRR is one record in canonical form, split for sorting.
type canonRR struct {
	key   string // canonicalKey of the owner
	typ   uint16
	class uint16
	rdata []byte // canonical RDATA (a slice of wire)
	wire  []byte // the whole canonical RR
}

// canonicalize returns rr in canonical form (RFC 4034 §6.2, with RFC 6840
// §5.1: no lower-casing of NSEC next names or HINFO): owner and the domain
// names of the listed RDATA types in lower case, no compression, its own TTL.
func canonicalize(rr dns.RR) (canonRR, error) {
	r := dns.Copy(rr)
	switch x := r.(type) {
	case *dns.NS:
		x.Ns = dns.CanonicalName(x.Ns)
	case *dns.MD:
		x.Md = dns.CanonicalName(x.Md)
	case *dns.MF:
		x.Mf = dns.CanonicalName(x.Mf)
	case *dns.CNAME:
		x.Target = dns.CanonicalName(x.Target)
	case *dns.SOA:
		x.Ns = dns.CanonicalName(x.Ns)
		x.Mbox = dns.CanonicalName(x.Mbox)
	case *dns.MB:
		x.Mb = dns.CanonicalName(x.Mb)
	case *dns.MG:
		x.Mg = dns.CanonicalName(x.Mg)
	case *dns.MR:
		x.Mr = dns.CanonicalName(x.Mr)
	case *dns.PTR:
		x.Ptr = dns.CanonicalName(x.Ptr)
	case *dns.MINFO:
		x.Rmail = dns.CanonicalName(x.Rmail)
		x.Email = dns.CanonicalName(x.Email)
	case *dns.MX:
		x.Mx = dns.CanonicalName(x.Mx)
	case *dns.RP:
		x.Mbox = dns.CanonicalName(x.Mbox)
		x.Txt = dns.CanonicalName(x.Txt)
	case *dns.AFSDB:
		x.Hostname = dns.CanonicalName(x.Hostname)
	case *dns.RT:
		x.Host = dns.CanonicalName(x.Host)
	case *dns.SIG:
		x.SignerName = dns.CanonicalName(x.SignerName)
	case *dns.RRSIG:
		x.SignerName = dns.CanonicalName(x.SignerName)
	case *dns.PX:
		x.Map822 = dns.CanonicalName(x.Map822)
		x.Mapx400 = dns.CanonicalName(x.Mapx400)
	case *dns.NAPTR:
		x.Replacement = dns.CanonicalName(x.Replacement)
	case *dns.KX:
		x.Exchanger = dns.CanonicalName(x.Exchanger)
	case *dns.SRV:
		x.Target = dns.CanonicalName(x.Target)
	case *dns.DNAME:
		x.Target = dns.CanonicalName(x.Target)
	}
	buf := make([]byte, dns.Len(r)+1)
	n, err := dns.PackRR(r, buf, 0, nil, false)
	if err != nil {
		return canonRR{}, fmt.Errorf("zone: packing %q: %v", trim(rr.String()), err)
	}
	w := buf[:n]
	off := 0
	for w[off] != 0 {
		l := int(w[off])
		for i := off + 1; i <= off+l; i++ {
			if c := w[i]; c >= 'A' && c <= 'Z' {
				w[i] = c + 'a' - 'A'
			}
		}
		off += 1 + l
	}
	owner := w[:off+1]
	if len(w) < off+11 {
		return canonRR{}, fmt.Errorf("zone: record %q packs to %d octets, too short for a record", trim(rr.String()), len(w))
	}
	return canonRR{
		key:   canonicalKey(owner),
		typ:   binary.BigEndian.Uint16(w[off+1:]),
		class: binary.BigEndian.Uint16(w[off+3:]),
		rdata: w[off+11:],
		wire:  w,
	}, nil
}

func compareCanon(a, b canonRR) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	if a.typ != b.typ {
		return int(a.typ) - int(b.typ)
	}
	if a.class != b.class {
		return int(a.class) - int(b.class)
	}
	return bytes.Compare(a.rdata, b.rdata)
}

// VerifyDigest recomputes the ZONEMD digest (RFC 8976 §3) of a zone given as
// a list of records, in any order (an AXFR, with its SOA twice, will do), and
// compares it with the zone's apex ZONEMD records. The apex is the owner of
// the SOA. As RFC 8976 prescribes, out-of-zone records, the apex ZONEMD
// RRset and the RRSIGs covering it are left out, duplicates count once, and
// occluded data, glue and non-apex ZONEMD records are included. It succeeds
// when a ZONEMD of scheme SIMPLE and hash SHA-384 or SHA-512 matches; it
// fails if there is none, if two have the same scheme and hash, or if a
// ZONEMD serial differs from the SOA's.
func VerifyDigest(records []dns.RR) error {
	var soa *dns.SOA
	for _, rr := range records {
		s, ok := rr.(*dns.SOA)
		if !ok {
			continue
		}
		if soa == nil {
			soa = s
			continue
		}
		if !dns.IsDuplicate(soa, s) {
			return fmt.Errorf("zone: verify: two different SOA records %q and %q", trim(soa.String()), trim(s.String()))
		}
	}
	if soa == nil {
		return fmt.Errorf("zone: verify: no SOA record")
	}
	canon, mds, err := collectCanon(records, dns.CanonicalName(soa.Hdr.Name))
	if err != nil {
		return err
	}
	if len(mds) == 0 {
		return fmt.Errorf("zone: verify: no ZONEMD record at the apex %q", dns.CanonicalName(soa.Hdr.Name))
	}
	seen := map[[2]uint8]bool{}
	var sums map[uint8][]byte
	var supported []*dns.ZONEMD
	for _, md := range mds {
		k := [2]uint8{md.Scheme, md.Hash}
		if seen[k] {
			return fmt.Errorf("zone: verify: two ZONEMD records with scheme %d and hash %d", md.Scheme, md.Hash)
		}
		seen[k] = true
		if md.Serial != soa.Serial {
			return fmt.Errorf("zone: verify: ZONEMD serial %d differs from SOA serial %d", md.Serial, soa.Serial)
		}
		if md.Scheme == SchemeSimple && (md.Hash == HashSHA384 || md.Hash == HashSHA512) {
			supported = append(supported, md)
		}
	}
	if len(supported) == 0 {
		return fmt.Errorf("zone: verify: no ZONEMD with a supported scheme (1) and hash (1 or 2)")
	}
	sums = map[uint8][]byte{}
	for _, md := range supported {
		var h hash.Hash
		if md.Hash == HashSHA384 {
			h = sha512.New384()
		} else {
			h = sha512.New()
		}
		sums[md.Hash] = hashCanon(canon, h)
	}
	var errs []error
	for _, md := range supported {
		want, err := hex.DecodeString(md.Digest)
		if err == nil && bytes.Equal(want, sums[md.Hash]) {
			return nil
		}
		errs = append(errs, fmt.Errorf("zone: verify: %w: ZONEMD %d %d %d has %s, the zone hashes to %x",
			ErrDigestMismatch, md.Serial, md.Scheme, md.Hash, strings.ToLower(md.Digest), sums[md.Hash]))
	}
	return errors.Join(errs...)
}

// Digest384 computes the SHA-384 SIMPLE digest of a record list the way
// VerifyDigest does (the apex is the owner of the first SOA), for callers
// that need the value rather than a check.
func Digest384(records []dns.RR) ([]byte, error) {
	for _, rr := range records {
		if s, ok := rr.(*dns.SOA); ok {
			canon, _, err := collectCanon(records, dns.CanonicalName(s.Hdr.Name))
			if err != nil {
				return nil, err
			}
			return hashCanon(canon, sha512.New384()), nil
		}
	}
	return nil, fmt.Errorf("zone: digest: no SOA record")
}

// collectCanon puts the records at or below apex in canonical form and
// order, leaving out the apex ZONEMD RRset (returned apart) and the RRSIGs
// covering it.
func collectCanon(records []dns.RR, apex string) ([]canonRR, []*dns.ZONEMD, error) {
	var mds []*dns.ZONEMD
	canon := make([]canonRR, 0, len(records))
	for _, rr := range records {
		owner := dns.CanonicalName(rr.Header().Name)
		if !dns.IsSubDomain(apex, owner) {
			continue
		}
		if owner == apex {
			if md, ok := rr.(*dns.ZONEMD); ok {
				mds = append(mds, md)
				continue
			}
			if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == dns.TypeZONEMD {
				continue
			}
		}
		c, err := canonicalize(rr)
		if err != nil {
			return nil, nil, err
		}
		canon = append(canon, c)
	}
	if !slices.IsSortedFunc(canon, compareCanon) {
		slices.SortFunc(canon, compareCanon)
	}
	return canon, mds, nil
}

// hashCanon hashes sorted canonical records, each duplicate once.
func hashCanon(canon []canonRR, h hash.Hash) []byte {
	for i := range canon {
		if i > 0 && compareCanon(canon[i-1], canon[i]) == 0 {
			continue
		}
		h.Write(canon[i].wire)
	}
	return h.Sum(nil)
}
