package dnssec

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"
)

// This file reads and writes canonical wire forms (RFC 4034 §6.2). Names
// come from a zone.Zone, whose names are checked lower-case host names, or
// from the origin the caller gave (lower-cased here).

// appendName appends the uncompressed, lower-case wire form of a fully
// qualified presentation name without escapes.
func appendName(b []byte, name string) []byte {
	if name == "." {
		return append(b, 0)
	}
	for len(name) > 0 {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			i = len(name)
		}
		b = append(b, byte(i))
		for j := 0; j < i; j++ {
			c := name[j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		if i == len(name) {
			break
		}
		name = name[i+1:]
	}
	return append(b, 0)
}

// nameLen is the length of the wire-form name at b[0:].
func nameLen(b []byte) int {
	off := 0
	for b[off] != 0 {
		off += 1 + int(b[off])
	}
	return off + 1
}

// nameString turns a wire-form name into presentation form (no escapes are
// needed for the names this package handles).
func nameString(b []byte) string {
	if b[0] == 0 {
		return "."
	}
	var sb strings.Builder
	for off := 0; b[off] != 0; off += 1 + int(b[off]) {
		sb.Write(b[off+1 : off+1+int(b[off])])
		sb.WriteByte('.')
	}
	return sb.String()
}

// labelCount is the RRSIG Labels field of a wire-form owner (no wildcards).
func labelCount(b []byte) uint8 {
	n := 0
	for off := 0; b[off] != 0; off += 1 + int(b[off]) {
		n++
	}
	return uint8(n)
}

// isBelow reports whether wire-form name a equals b or is a descendant of
// it (both lower case).
func isBelow(a, b []byte) bool {
	if len(a) < len(b) || string(a[len(a)-len(b):]) != string(b) {
		return false
	}
	// a's suffix must start at a label boundary of a.
	want := len(a) - len(b)
	off := 0
	for off < want {
		off += 1 + int(a[off])
	}
	return off == want
}

// compareNames orders two lower-case wire-form names canonically (RFC 4034
// §6.1): labels from the right, each by octets, a shorter label first.
func compareNames(a, b []byte) int {
	var as, bs [128]int
	na, nb := labelStarts(a, &as), labelStarts(b, &bs)
	for i, j := na-1, nb-1; i >= 0 || j >= 0; i, j = i-1, j-1 {
		if i < 0 {
			return -1
		}
		if j < 0 {
			return 1
		}
		la := a[as[i]+1 : as[i]+1+int(a[as[i]])]
		lb := b[bs[j]+1 : bs[j]+1+int(b[bs[j]])]
		if c := bytes.Compare(la, lb); c != 0 {
			return c
		}
	}
	return 0
}

func labelStarts(b []byte, s *[128]int) int {
	n := 0
	for off := 0; b[off] != 0; off += 1 + int(b[off]) {
		s[n] = off
		n++
	}
	return n
}

// rrset is a run of records of one type in a node's canonical wire form.
type rrset struct {
	typ  uint16
	ttl  uint32
	wire []byte // the whole records, in canonical order
}

// splitSets cuts a node's canonical wire form (zone.NodeWires) into its
// owner and its RRsets. Records of one type are adjacent there.
func splitSets(w []byte, sets []rrset) (owner []byte, _ []rrset) {
	owner = w[:nameLen(w)]
	sets = sets[:0]
	for off := 0; off < len(w); {
		o := off + len(owner)
		t := binary.BigEndian.Uint16(w[o:])
		ttl := binary.BigEndian.Uint32(w[o+4:])
		end := o + 10 + int(binary.BigEndian.Uint16(w[o+8:]))
		if n := len(sets); n > 0 && sets[n-1].typ == t {
			s := &sets[n-1]
			s.wire = w[off-len(s.wire) : end]
		} else {
			sets = append(sets, rrset{typ: t, ttl: ttl, wire: w[off:end]})
		}
		off = end
	}
	return owner, sets
}

// appendBitmap appends an NSEC type bitmap (RFC 4034 §4.1.2) of types in
// window 0, given in increasing order.
func appendBitmap(b []byte, types ...uint16) []byte {
	if len(types) == 0 {
		return b
	}
	n := int(types[len(types)-1])/8 + 1
	b = append(b, 0, byte(n))
	at := len(b)
	b = append(b, make([]byte, n)...)
	for _, t := range types {
		b[at+int(t)/8] |= 0x80 >> (t % 8)
	}
	return b
}

// appendRRHeader appends owner, type, class IN, TTL and a zero RDLENGTH,
// returning where the RDLENGTH is.
func appendRRHeader(b, owner []byte, t uint16, ttl uint32) ([]byte, int) {
	b = append(b, owner...)
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
	b = binary.BigEndian.AppendUint32(b, ttl)
	return append(b, 0, 0), len(b)
}

func setRDLength(b []byte, at int) {
	binary.BigEndian.PutUint16(b[at:], uint16(len(b)-at-2))
}
