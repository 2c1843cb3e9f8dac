package zone

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// This file holds the canonical wire form (RFC 4034 §6.2) of the per-name
// data the zone keeps. Names handled here have passed dnsname.Check: lower
// case letters, digits and hyphens, so no escapes occur in presentation form.

const classIN = dns.ClassINET

// appendName appends the uncompressed wire form of a checked FQDN.
func appendName(b []byte, name string) []byte {
	if name == "." {
		return append(b, 0)
	}
	for len(name) > 0 {
		i := strings.IndexByte(name, '.')
		b = append(b, byte(i))
		b = append(b, name[:i]...)
		name = name[i+1:]
	}
	return append(b, 0)
}

// nameFromWire reads a wire-form name at b[off:] written by appendName and
// returns it in presentation form with the offset after it.
func nameFromWire(b []byte, off int) (string, int) {
	if b[off] == 0 {
		return ".", off + 1
	}
	var sb strings.Builder
	for b[off] != 0 {
		n := int(b[off])
		sb.Write(b[off+1 : off+1+n])
		sb.WriteByte('.')
		off += 1 + n
	}
	return sb.String(), off + 1
}

// canonicalKey turns a wire-form name into a byte string whose plain
// comparison is the canonical DNS name order of RFC 4034 §6.1: labels from
// the right, each compared as lower-cased octets, a shorter label first.
// Each label is written with 0x00 and 0x01 escaped (0x01 0x01, 0x01 0x02)
// and ended by 0x00, which keeps the order and makes the encoding
// prefix-free. The root has the empty key.
func canonicalKey(wire []byte) string {
	var starts [128]int
	n := 0
	for off := 0; off < len(wire) && wire[off] != 0; off += 1 + int(wire[off]) {
		starts[n] = off
		n++
	}
	k := make([]byte, 0, len(wire))
	for i := n - 1; i >= 0; i-- {
		off := starts[i]
		for _, c := range wire[off+1 : off+1+int(wire[off])] {
			switch {
			case c <= 1:
				k = append(k, 1, c+1)
			case c >= 'A' && c <= 'Z':
				k = append(k, c+'a'-'A')
			default:
				k = append(k, c)
			}
		}
		k = append(k, 0)
	}
	return string(k)
}

// keyOf is canonicalKey of a checked FQDN.
func keyOf(name string) string {
	var buf [256]byte
	return canonicalKey(appendName(buf[:0], name))
}

// nodeData is the decoded content of one owner name below the apex: a
// delegation (ns non-empty), glue addresses (addrs non-empty), or both.
type nodeData struct {
	name  string
	ns    []string // sorted by canonical RDATA (wire form), no duplicates
	ds    []DS     // sorted by canonical RDATA, no duplicates
	addrs []netip.Addr
}

func (d *nodeData) empty() bool { return len(d.ns) == 0 && len(d.addrs) == 0 }

// ttlFor is the TTLs a node's records get (glue of the apex NS hosts has
// TTLs.ApexGlue).
type ttlFor struct {
	ns, ds, glue uint32
}

func appendRRHeader(b, owner []byte, t uint16, ttl uint32) []byte {
	b = append(b, owner...)
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, classIN)
	return binary.BigEndian.AppendUint32(b, ttl)
}

// encode writes the node's RRs in canonical order: RRsets by type number
// (A 1, NS 2, AAAA 28, DS 43), RRs within a set by RDATA octets.
func (d *nodeData) encode(t ttlFor) []byte {
	var ob [256]byte
	owner := appendName(ob[:0], d.name)
	b := make([]byte, 0, d.wireLen(len(owner)))
	for _, a := range d.addrs {
		if a.Is4() {
			b = appendRRHeader(b, owner, dns.TypeA, t.glue)
			b = binary.BigEndian.AppendUint16(b, 4)
			a4 := a.As4()
			b = append(b, a4[:]...)
		}
	}
	for _, ns := range d.ns {
		b = appendRRHeader(b, owner, dns.TypeNS, t.ns)
		lenAt := len(b)
		b = append(b, 0, 0)
		b = appendName(b, ns)
		binary.BigEndian.PutUint16(b[lenAt:], uint16(len(b)-lenAt-2))
	}
	for _, a := range d.addrs {
		if !a.Is4() {
			b = appendRRHeader(b, owner, dns.TypeAAAA, t.glue)
			b = binary.BigEndian.AppendUint16(b, 16)
			a16 := a.As16()
			b = append(b, a16[:]...)
		}
	}
	for _, ds := range d.ds {
		b = appendRRHeader(b, owner, dns.TypeDS, t.ds)
		b = binary.BigEndian.AppendUint16(b, uint16(4+len(ds.Digest)/2))
		b = appendDSRdata(b, ds)
	}
	return b
}

func (d *nodeData) wireLen(owner int) int {
	n := 0
	for _, a := range d.addrs {
		if a.Is4() {
			n += owner + 10 + 4
		} else {
			n += owner + 10 + 16
		}
	}
	for _, ns := range d.ns {
		n += owner + 10 + len(ns) + 1
	}
	for _, ds := range d.ds {
		n += owner + 10 + 4 + len(ds.Digest)/2
	}
	return n
}

// appendDSRdata appends the RDATA of a DS whose digest was checked to be hex.
func appendDSRdata(b []byte, ds DS) []byte {
	b = binary.BigEndian.AppendUint16(b, ds.KeyTag)
	b = append(b, ds.Algorithm, ds.DigestType)
	b, _ = hex.AppendDecode(b, []byte(ds.Digest))
	return b
}

// decodeNode reads back what encode wrote.
func decodeNode(b []byte) nodeData {
	var d nodeData
	off := 0
	for off < len(b) {
		name, o := nameFromWire(b, off)
		if d.name == "" {
			d.name = name
		}
		t := binary.BigEndian.Uint16(b[o:])
		rdlen := int(binary.BigEndian.Uint16(b[o+8:]))
		rd := b[o+10 : o+10+rdlen]
		switch t {
		case dns.TypeA:
			d.addrs = append(d.addrs, netip.AddrFrom4([4]byte(rd)))
		case dns.TypeAAAA:
			d.addrs = append(d.addrs, netip.AddrFrom16([16]byte(rd)))
		case dns.TypeNS:
			ns, _ := nameFromWire(rd, 0)
			d.ns = append(d.ns, ns)
		case dns.TypeDS:
			d.ds = append(d.ds, DS{
				KeyTag:     binary.BigEndian.Uint16(rd),
				Algorithm:  rd[2],
				DigestType: rd[3],
				Digest:     strings.ToUpper(hex.EncodeToString(rd[4:])),
			})
		}
		off = o + 10 + rdlen
	}
	return d
}

// sortNS sorts name-server names by their wire form (the canonical RDATA
// order) and removes duplicates.
// The result may share ns's backing array when ns is already in order.
func sortNS(ns []string) []string {
	var ab, bb [256]byte
	cmp := func(x, y string) int {
		return bytes.Compare(appendName(ab[:0], x), appendName(bb[:0], y))
	}
	if strictlySorted(ns, cmp) {
		return slices.Clip(ns)
	}
	out := slices.Clone(ns)
	slices.SortFunc(out, cmp)
	return slices.Compact(out)
}

// strictlySorted reports whether s is sorted by cmp without duplicates.
func strictlySorted[T any](s []T, cmp func(a, b T) int) bool {
	for i := 1; i < len(s); i++ {
		if cmp(s[i-1], s[i]) >= 0 {
			return false
		}
	}
	return true
}

// sortDS sorts DS records by their RDATA octets and removes duplicates.
func sortDS(ds []DS) []DS {
	var ab, bb [128]byte
	cmp := func(x, y DS) int {
		return bytes.Compare(appendDSRdata(ab[:0], x), appendDSRdata(bb[:0], y))
	}
	if strictlySorted(ds, cmp) {
		return slices.Clip(ds)
	}
	out := slices.Clone(ds)
	slices.SortFunc(out, cmp)
	return slices.Compact(out)
}

// sortAddrs sorts addresses, IPv4 (A) before IPv6 (AAAA), each by octets,
// and removes duplicates.
func sortAddrs(as []netip.Addr) []netip.Addr {
	cmp := func(x, y netip.Addr) int {
		if x.Is4() != y.Is4() {
			if x.Is4() {
				return -1
			}
			return 1
		}
		return x.Compare(y)
	}
	if strictlySorted(as, cmp) {
		return slices.Clip(as)
	}
	out := slices.Clone(as)
	slices.SortFunc(out, cmp)
	return slices.Compact(out)
}
