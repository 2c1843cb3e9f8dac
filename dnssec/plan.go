package dnssec

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/commonroot/commonroot/zone"
	"github.com/miekg/dns"
)

// ErrBadSignature is wrapped by the errors of Attach and Finish when a
// signature does not verify under the zone's key.
var ErrBadSignature = errors.New("signature does not verify")

// Policy is the validity of the signatures a plan asks for. The caller
// takes the times from block time, never from a clock, so that every
// replica plans the same inputs.
type Policy struct {
	// Inception and Expiration are the RRSIG validity period (RFC 4034
	// §3.1.5), whole seconds; Expiration must be later than Inception, by
	// less than 68 years.
	Inception, Expiration time.Time
	// Refresh: PlanUpdate signs again every RRset whose previous signature
	// expires less than Refresh after Inception, even when the RRset did
	// not change.
	Refresh time.Duration
	// NSECTTL is the TTL of the NSEC records; 0 means the smaller of the
	// SOA TTL and the SOA MINIMUM (RFC 9077).
	NSECTTL uint32
}

func (p Policy) window() (inc, exp uint32, err error) {
	i, e := p.Inception.Unix(), p.Expiration.Unix()
	if i < 0 {
		return 0, 0, fmt.Errorf("dnssec: inception %s is before 1970", p.Inception.UTC().Format(time.RFC3339))
	}
	if e <= i || e-i >= 1<<31 {
		return 0, 0, fmt.Errorf("dnssec: expiration %s is not after inception %s by less than 68 years",
			p.Expiration.UTC().Format(time.RFC3339), p.Inception.UTC().Format(time.RFC3339))
	}
	if p.Refresh < 0 {
		return 0, 0, fmt.Errorf("dnssec: refresh %s is negative", p.Refresh)
	}
	return uint32(i), uint32(e), nil
}

// Offsets in an RRSIG RDATA (RFC 4034 §3.1), which begins every signing
// input.
const (
	offExpiration = 8
	offInception  = 12
	offKeyTag     = 16
	offSigner     = 18
)

// Plan lists every RRset of a zone version that carries a signature and
// the signing inputs (RFC 4034 §3.1.8.1: the RRSIG RDATA without the
// signature, then the RRset in canonical form and order) of those that
// need a new one. The signed RRsets are the apex NS, SOA, NSEC and DNSKEY,
// the DS RRset of each delegation that has one, the NSEC of the apex and
// of every delegation (RFC 4035 §2.3; a delegation without DS gets NSEC
// with NS, RRSIG and NSEC), and the A, AAAA and NSEC RRsets of names that
// hold authoritative addresses. Glue below a delegation is occluded and is
// neither signed nor in the NSEC chain. The apex ZONEMD is signed in a
// second round (see Attach), since its digest covers every other
// signature.
//
// Invariant: the inputs are a function of the zone, the key, the policy
// and, for PlanUpdate, the previous signed version only, listed in DNSSEC
// canonical order of (owner, type covered), so every replica computes the
// same bytes in the same order.
type Plan struct {
	z       *zone.Zone
	key     Key
	origin  []byte // wire form
	hdrLen  int    // length of the RRSIG RDATA without signature
	inc     uint32
	exp     uint32
	nsecTTL uint32
	keyTag  uint16
	dnskey  []byte   // the canonical DNSKEY RRset
	ins     [][]byte // signing input of every signed RRset, canonical order
	sigs    [][]byte // signature of each; nil where todo
	todo    []int    // indexes of ins that need a signature, in order
}

// NewPlan plans the signing of z from scratch.
func NewPlan(z *zone.Zone, k Key, p Policy) (*Plan, error) { return plan(nil, z, k, p) }

// PlanUpdate plans the signing of z, the version after prev: it keeps the
// signature of every RRset whose signing input is the same as in prev but
// for the validity period, as long as that signature expires Refresh or
// more after p.Inception and did not begin after it; every other RRset
// (the SOA always, changed DS RRsets and NSEC records, the NSEC of names
// next to added or removed names, anything near expiry, everything if the
// key changed) is to be signed. With the same policy as prev's, the result
// equals a plan of z from scratch whose Ed25519 signatures are the same.
func PlanUpdate(prev *Signed, z *zone.Zone, k Key, p Policy) (*Plan, error) {
	if prev == nil {
		return nil, fmt.Errorf("dnssec: PlanUpdate without a previous version")
	}
	if prev.Origin() != z.Origin() {
		return nil, fmt.Errorf("dnssec: previous version is of %q, the zone of %q", prev.Origin(), z.Origin())
	}
	return plan(prev, z, k, p)
}

// Inputs returns the signing inputs of the RRsets that need a signature, in
// canonical order. The slices belong to the plan: callers must not modify
// them.
func (p *Plan) Inputs() [][]byte {
	out := make([][]byte, len(p.todo))
	for i, j := range p.todo {
		out[i] = p.ins[j]
	}
	return out
}

// Retime sets the validity period of the signatures still to be made (the
// inputs of Inputs and, through Attach, the ZONEMD's) to the window of
// pol's Inception and Expiration; which RRsets are signed again stays as
// planned, and signatures taken over from the previous version keep their
// own. A threshold signer plans when a request opens and retimes when its
// signers are chosen, so that the time spent gathering nonces does not
// shorten the signatures' lives. It fails, changing nothing, on a window
// that Policy refuses or one that begins before a taken-over signature.
func (p *Plan) Retime(pol Policy) error {
	inc, exp, err := pol.window()
	if err != nil {
		return err
	}
	if int32(inc-p.inc) < 0 {
		return fmt.Errorf("dnssec: retiming to inception %s, before the planned %s",
			pol.Inception.UTC().Format(time.RFC3339), time.Unix(int64(p.inc), 0).UTC().Format(time.RFC3339))
	}
	if inc == p.inc && exp == p.exp {
		return nil
	}
	var w [8]byte
	binary.BigEndian.PutUint32(w[:4], exp)
	binary.BigEndian.PutUint32(w[4:], inc)
	for _, i := range p.todo {
		copy(p.ins[i][offExpiration:offKeyTag], w[:])
	}
	p.inc, p.exp = inc, exp
	return nil
}

// Len is the number of signed RRsets of the version, apart from the ZONEMD.
func (p *Plan) Len() int { return len(p.ins) }

// Reused is the number of signatures taken over from the previous version.
func (p *Plan) Reused() int { return len(p.ins) - len(p.todo) }

// Zone is the zone the plan signs.
func (p *Plan) Zone() *zone.Zone { return p.z }

// planner collects signing inputs in one arena.
type planner struct {
	*Plan
	arena []byte
	ends  []int // end of each input in arena
	sets  []rrset
}

// begin appends the RRSIG RDATA without signature for an RRset of owner.
func (b *planner) begin(typ uint16, owner []byte, ttl uint32) {
	a := binary.BigEndian.AppendUint16(b.arena, typ)
	a = append(a, Algorithm, labelCount(owner))
	a = binary.BigEndian.AppendUint32(a, ttl)
	a = binary.BigEndian.AppendUint32(a, b.exp)
	a = binary.BigEndian.AppendUint32(a, b.inc)
	a = binary.BigEndian.AppendUint16(a, b.keyTag)
	b.arena = append(a, b.origin...)
}

func (b *planner) end() { b.ends = append(b.ends, len(b.arena)) }

func (b *planner) addSet(typ uint16, owner []byte, ttl uint32, wire []byte) {
	b.begin(typ, owner, ttl)
	b.arena = append(b.arena, wire...)
	b.end()
}

func (b *planner) addNSEC(owner, next []byte, types ...uint16) {
	b.begin(dns.TypeNSEC, owner, b.nsecTTL)
	var at int
	b.arena, at = appendRRHeader(b.arena, owner, dns.TypeNSEC, b.nsecTTL)
	b.arena = append(b.arena, next...)
	b.arena = appendBitmap(b.arena, types...)
	setRDLength(b.arena, at)
	b.end()
}

// authName is a name below the apex in the NSEC chain.
type authName struct {
	wire []byte // the node's canonical wire form
	del  bool   // a delegation (else a name with authoritative addresses)
}

func packCanonical(rrs ...dns.RR) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for _, rr := range rrs {
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return nil, fmt.Errorf("dnssec: packing %q: %v", rr.String(), err)
		}
		out = append(out, buf[:n]...)
	}
	return out, nil
}

func plan(prev *Signed, z *zone.Zone, k Key, pol Policy) (*Plan, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	inc, exp, err := pol.window()
	if err != nil {
		return nil, err
	}
	origin := z.Origin()
	soa := z.SOA()
	b := &planner{Plan: &Plan{z: z, key: k, keyTag: k.KeyTag(), origin: appendName(nil, origin), inc: inc, exp: exp, nsecTTL: pol.NSECTTL}}
	if b.nsecTTL == 0 {
		b.nsecTTL = min(soa.Hdr.Ttl, soa.Minttl)
	}
	b.hdrLen = offSigner + len(b.origin)
	if b.dnskey, err = packCanonical(k.DNSKEYs(origin)...); err != nil {
		return nil, err
	}

	// The NSEC chain: the apex, then every delegation and every name with
	// addresses that no delegation occludes.
	var chain []authName
	var cut []byte
	z.NodeWires(func(w []byte) bool {
		owner := w[:nameLen(w)]
		var hasNS bool
		var sets []rrset
		_, sets = splitSets(w, b.sets)
		b.sets = sets
		for _, s := range sets {
			if s.typ == dns.TypeNS {
				hasNS = true
			}
		}
		switch {
		case hasNS:
			cut = owner
			chain = append(chain, authName{wire: w, del: true})
		case cut != nil && isBelow(owner, cut):
		default:
			chain = append(chain, authName{wire: w})
		}
		return true
	})
	next := func(i int) []byte {
		if i+1 < len(chain) {
			w := chain[i+1].wire
			return w[:nameLen(w)]
		}
		return b.origin
	}

	// Room for the apex, two inputs per delegation with DS and a little
	// more than one per name otherwise.
	b.arena = make([]byte, 0, 1024+len(chain)*(2*b.hdrLen+120))
	b.ends = make([]int, 0, 4+len(chain)*5/4)

	p := z.Params()
	var nsRRs []dns.RR
	for _, ns := range p.NS {
		nsRRs = append(nsRRs, &dns.NS{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: p.TTLs.ApexNS}, Ns: ns})
	}
	nsWire, err := packCanonical(nsRRs...)
	if err != nil {
		return nil, err
	}
	soaWire, err := packCanonical(soa)
	if err != nil {
		return nil, err
	}
	b.addSet(dns.TypeNS, b.origin, p.TTLs.ApexNS, nsWire)
	b.addSet(dns.TypeSOA, b.origin, soa.Hdr.Ttl, soaWire)
	b.addNSEC(b.origin, next(-1), dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeZONEMD)
	b.addSet(dns.TypeDNSKEY, b.origin, k.ttl(), b.dnskey)

	types := make([]uint16, 0, 4)
	for i, a := range chain {
		owner, sets := splitSets(a.wire, b.sets)
		b.sets = sets
		types = types[:0]
		if a.del {
			types = append(types, dns.TypeNS)
			for _, s := range sets {
				if s.typ == dns.TypeDS {
					b.addSet(dns.TypeDS, owner, s.ttl, s.wire)
					types = append(types, dns.TypeDS)
				}
			}
		} else {
			for _, s := range sets {
				if s.typ == dns.TypeA || s.typ == dns.TypeAAAA {
					b.addSet(s.typ, owner, s.ttl, s.wire)
					types = append(types, s.typ)
				}
			}
		}
		types = append(types, dns.TypeRRSIG, dns.TypeNSEC)
		b.addNSEC(owner, next(i), types...)
	}

	b.ins = make([][]byte, len(b.ends))
	start := 0
	for i, e := range b.ends {
		b.ins[i] = b.arena[start:e:e]
		start = e
	}
	b.sigs = make([][]byte, len(b.ins))
	if prev != nil && bytes.Equal(prev.key.Public, k.Public) {
		b.reuse(prev, pol)
	}
	for i, s := range b.sigs {
		if s == nil {
			b.todo = append(b.todo, i)
		}
	}
	return b.Plan, nil
}

// reuse takes over prev's signatures of RRsets whose signing input differs
// only in the validity period, when that period is still good enough.
func (p *Plan) reuse(prev *Signed, pol Policy) {
	if prev.hdrLen != p.hdrLen {
		return
	}
	refresh := int64(pol.Refresh / time.Second)
	j := 0
	for i, in := range p.ins {
		owner := in[p.hdrLen:]
		typ := binary.BigEndian.Uint16(in)
		for ; j < len(prev.ins); j++ {
			old := prev.ins[j]
			c := compareNames(old[p.hdrLen:], owner)
			if c == 0 {
				c = int(binary.BigEndian.Uint16(old)) - int(typ)
			}
			if c >= 0 {
				break
			}
		}
		if j == len(prev.ins) {
			return
		}
		old := prev.ins[j]
		if len(old) != len(in) || !bytes.Equal(old[:offExpiration], in[:offExpiration]) || !bytes.Equal(old[offKeyTag:], in[offKeyTag:]) {
			continue
		}
		oldExp := binary.BigEndian.Uint32(old[offExpiration:])
		oldInc := binary.BigEndian.Uint32(old[offInception:])
		if int64(int32(oldExp-p.inc)) <= refresh || int32(p.inc-oldInc) < 0 {
			continue
		}
		copy(in[offExpiration:offKeyTag], old[offExpiration:offKeyTag])
		p.sigs[i] = prev.sigs[j]
	}
}

// describe names the RRset of a signing input for error messages.
func (p *Plan) describe(in []byte) string {
	return fmt.Sprintf("%s %s", nameString(in[p.hdrLen:]), dns.TypeToString[binary.BigEndian.Uint16(in)])
}

// Attach checks the signatures of the plan's inputs, in the order of
// Inputs, each with crypto/ed25519.Verify under the zone's key (any valid
// signature is accepted: FROST signatures are not deterministic), and
// computes the ZONEMD (RFC 8976, SIMPLE, SHA-384) of the signed zone. The
// ZONEMD RRset is then signed in a second round: Digested.Input and
// Digested.Finish.
func (p *Plan) Attach(sigs [][]byte) (*Digested, error) {
	if len(sigs) != len(p.todo) {
		return nil, fmt.Errorf("dnssec: %d signatures for %d signing inputs", len(sigs), len(p.todo))
	}
	bad := make([]bool, len(sigs))
	parallel(len(sigs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			bad[i] = len(sigs[i]) != ed25519.SignatureSize || !ed25519.Verify(p.key.Public, p.ins[p.todo[i]], sigs[i])
		}
	})
	for i, b := range bad {
		if b {
			return nil, fmt.Errorf("dnssec: signature %d (RRSIG over %s): %w", i, p.describe(p.ins[p.todo[i]]), ErrBadSignature)
		}
	}
	all := make([][]byte, len(p.ins))
	copy(all, p.sigs)
	arena := make([]byte, 0, len(sigs)*ed25519.SignatureSize)
	for i, j := range p.todo {
		arena = append(arena, sigs[i]...)
		all[j] = arena[len(arena)-ed25519.SignatureSize : len(arena) : len(arena)]
	}
	s := &Signed{z: p.z, key: p.key, origin: p.origin, hdrLen: p.hdrLen, dnskey: p.dnskey, ins: p.ins, sigs: all}
	h := sha512.New384()
	if err := s.walk(func(rrs []byte) bool { h.Write(rrs); return true }, false); err != nil {
		return nil, err
	}
	s.digest = h.Sum(nil)

	soa := p.z.SOA()
	var at int
	s.zonemd, at = appendRRHeader(nil, p.origin, dns.TypeZONEMD, soa.Hdr.Ttl)
	s.zonemd = binary.BigEndian.AppendUint32(s.zonemd, soa.Serial)
	s.zonemd = append(s.zonemd, zone.SchemeSimple, zone.HashSHA384)
	s.zonemd = append(s.zonemd, s.digest...)
	setRDLength(s.zonemd, at)
	b := &planner{Plan: &Plan{key: p.key, keyTag: p.keyTag, origin: p.origin, inc: p.inc, exp: p.exp}}
	b.addSet(dns.TypeZONEMD, p.origin, soa.Hdr.Ttl, s.zonemd)
	s.zonemdIn = b.arena
	return &Digested{s: s}, nil
}

// Digested is a zone whose RRsets are signed and whose ZONEMD is computed,
// waiting for the signature over the ZONEMD RRset (RFC 8976 §3.3 computes
// that signature after the digest). It is not servable.
type Digested struct {
	s *Signed
}

// Input is the signing input of the ZONEMD RRset. The caller must not
// modify it.
func (d *Digested) Input() []byte { return d.s.zonemdIn }

// Digest is the SHA-384 ZONEMD digest of the signed zone.
func (d *Digested) Digest() []byte { return bytes.Clone(d.s.digest) }

// Finish checks the ZONEMD signature with crypto/ed25519.Verify and returns
// the signed zone.
func (d *Digested) Finish(sig []byte) (*Signed, error) {
	o := d.s
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(o.key.Public, o.zonemdIn, sig) {
		return nil, fmt.Errorf("dnssec: signature over the ZONEMD of %q: %w", nameString(o.origin), ErrBadSignature)
	}
	return &Signed{z: o.z, key: o.key, origin: o.origin, hdrLen: o.hdrLen, dnskey: o.dnskey, ins: o.ins, sigs: o.sigs,
		digest: o.digest, zonemd: o.zonemd, zonemdIn: o.zonemdIn, zonemdSig: bytes.Clone(sig)}, nil
}

// Sign runs both rounds of the plan with one signer: the plan's inputs,
// then the ZONEMD.
func (p *Plan) Sign(s Signer) (*Signed, error) {
	in := p.Inputs()
	sigs, err := s.SignBatch(in)
	if err != nil {
		return nil, fmt.Errorf("dnssec: signing %d RRsets: %w", len(in), err)
	}
	d, err := p.Attach(sigs)
	if err != nil {
		return nil, err
	}
	zs, err := s.SignBatch([][]byte{d.Input()})
	if err != nil {
		return nil, fmt.Errorf("dnssec: signing the ZONEMD: %w", err)
	}
	if len(zs) != 1 {
		return nil, fmt.Errorf("dnssec: signer returned %d signatures for 1 input", len(zs))
	}
	return d.Finish(zs[0])
}
