package zone

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Diff returns what changed from old to z, as an incremental zone transfer
// (RFC 1995 §4) lists it: removed starts with old's SOA and added with z's
// SOA; then follow the other records only one of them has (the ZONEMD
// always differs). Both must have the same origin. Chunks that z shares with
// old are skipped without being read, so the cost follows the size of the
// change when z derives from old by Update.
func (z *Zone) Diff(old *Zone) (removed, added []dns.RR, err error) {
	if old.Origin() != z.Origin() {
		return nil, nil, fmt.Errorf("zone: diff of %q against a zone of %q", z.Origin(), old.Origin())
	}
	oa, na := apexSet(old), apexSet(z)
	removed = append(removed, old.soa())
	added = append(added, z.soa())
	for _, rr := range old.apexRRs() {
		if _, ok := na[rr.String()]; !ok {
			if _, isSOA := rr.(*dns.SOA); !isSOA {
				removed = append(removed, rr)
			}
		}
	}
	for _, rr := range z.apexRRs() {
		if _, ok := oa[rr.String()]; !ok {
			if _, isSOA := rr.(*dns.SOA); !isSOA {
				added = append(added, rr)
			}
		}
	}
	if om, nm := old.ZONEMD(), z.ZONEMD(); om.String() != nm.String() {
		removed = append(removed, om)
		added = append(added, nm)
	}

	oc, nc := old.chunks, z.chunks
	var oi, ni int // positions within oc[0] and nc[0]
	for len(oc) > 0 || len(nc) > 0 {
		if len(oc) > 0 && len(nc) > 0 && oi == 0 && ni == 0 && oc[0] == nc[0] {
			oc, nc = oc[1:], nc[1:]
			continue
		}
		var on, nn *node
		if len(oc) > 0 {
			on = &oc[0].nodes[oi]
		}
		if len(nc) > 0 {
			nn = &nc[0].nodes[ni]
		}
		c := 0
		switch {
		case on == nil:
			c = 1
		case nn == nil:
			c = -1
		default:
			c = strings.Compare(on.key, nn.key)
		}
		switch {
		case c < 0:
			removed = appendRRs(removed, on.wire, nil)
		case c > 0:
			added = appendRRs(added, nn.wire, nil)
		default:
			if string(on.wire) != string(nn.wire) {
				removed = appendRRs(removed, on.wire, nn.wire)
				added = appendRRs(added, nn.wire, on.wire)
			}
		}
		if c <= 0 {
			if oi++; oi == len(oc[0].nodes) {
				oc, oi = oc[1:], 0
			}
		}
		if c >= 0 {
			if ni++; ni == len(nc[0].nodes) {
				nc, ni = nc[1:], 0
			}
		}
	}
	return removed, added, nil
}

func apexSet(z *Zone) map[string]bool {
	m := map[string]bool{}
	for _, rr := range z.apexRRs() {
		m[rr.String()] = true
	}
	return m
}

// appendRRs appends the records of the node wire form w that the node wire
// form except does not have.
func appendRRs(out []dns.RR, w, except []byte) []dns.RR {
	skip := map[string]bool{}
	for _, r := range splitRRs(except) {
		skip[string(r)] = true
	}
	for _, r := range splitRRs(w) {
		if skip[string(r)] {
			continue
		}
		rr, _ := unpackRR(r, 0)
		out = append(out, rr)
	}
	return out
}

// splitRRs cuts a node's wire form into its records.
func splitRRs(w []byte) [][]byte {
	var out [][]byte
	for off := 0; off < len(w); {
		o := off
		for w[o] != 0 {
			o += 1 + int(w[o])
		}
		o++
		end := o + 10 + (int(w[o+8])<<8 | int(w[o+9]))
		out = append(out, w[off:end])
		off = end
	}
	return out
}
