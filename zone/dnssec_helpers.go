package zone

// NodeWires yields, in DNSSEC canonical name order (RFC 4034 §6.1), the
// records of each owner name below the apex in canonical wire form (RFC 4034
// §6.2: uncompressed, lower case, each record with its own TTL), RRsets by
// type number and RRs within a set by RDATA octets: the records of one name
// at a time. The apex (SOA, NS, ZONEMD) is not included. The slices are the
// zone's own immutable storage: callers must not modify them, and may keep
// them as long as they like. It stops when yield returns false.
func (z *Zone) NodeWires(yield func(wire []byte) bool) {
	z.eachNode(func(n *node) bool { return yield(n.wire) })
}
