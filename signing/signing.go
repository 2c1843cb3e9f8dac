// Package signing is the state machine's signing step: after each block it
// signs zone versions with the members' threshold key through the
// registry's bookkeeping (see registry's signing.go). When no request is
// open and the newest zone version is not the newest signed one, it plans
// the signing (package dnssec: only what changed, or is near expiry, is
// signed again) and opens a request; when every signature share of the
// request's session is in, it aggregates them (package threshold), checks
// every signature with crypto/ed25519.Verify, names the signers whose
// shares did not verify, and after the second round (the ZONEMD, whose
// digest covers every other signature) publishes the signed version.
//
// Invariants: like the registry, it reads no clock (the validity period
// comes from the block time), no randomness, no file or network, and its
// results depend only on the state, the zone versions and the signed
// version it is given; every replica computes the same bytes. A published
// version is always whole: every RRSIG verified, the ZONEMD computed over
// the signed zone and signed. Nothing half-signed leaves this package.
package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/commonroot/commonroot/dnssec"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/threshold"
	"github.com/commonroot/commonroot/zone"
)

// Step is one replica's signing state besides the registry's: the newest
// published signed version and the zone version of the open request. The
// node persists both (they are not in the registry's state, but their
// digests are: a restored Step is checked against them).
type Step struct {
	Signed *dnssec.Signed // newest published, nil before the first
	Target *zone.Zone     // zone version of the open request, nil if none

	plan     *dnssec.Plan // of request planFor
	planFor  uint64
	digested *dnssec.Digested // the rrsets round's result, for planFor
}

// Result is what a step did.
type Result struct {
	// Entries are log entries to append (signing events, zone.signed).
	Entries [][]byte
	// Opened: a request was opened; Target is new and must be persisted.
	Opened bool
	// Published is the version published in this step, if any.
	Published *dnssec.Signed
}

// Key returns the DNSSEC key that signs with the group key groupKey and
// publishes others beside it (base64 Ed25519 public keys, as the registry
// keeps them).
func Key(groupKey string, others []string) (dnssec.Key, error) {
	dec := func(s string) (ed25519.PublicKey, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("signing: group key %q is not a base64 Ed25519 public key", s)
		}
		return b, nil
	}
	var k dnssec.Key
	var err error
	if k.Public, err = dec(groupKey); err != nil {
		return k, err
	}
	for _, o := range others {
		p, err := dec(o)
		if err != nil {
			return k, err
		}
		k.Others = append(k.Others, p)
	}
	return k, nil
}

// CurrentKey is the key a request opened now signs with (see
// registry.State.DNSKEYs).
func CurrentKey(s *registry.State) (dnssec.Key, bool, error) {
	zk, others, ok := s.DNSKEYs()
	if !ok {
		return dnssec.Key{}, false, nil
	}
	var keys []string
	for _, o := range others {
		keys = append(keys, o.GroupKey)
	}
	k, err := Key(zk.GroupKey, keys)
	return k, true, err
}

// RequestKey is the key request r signs with.
func RequestKey(r registry.SigningRequest) (dnssec.Key, error) { return Key(r.GroupKey, r.Others) }

// VersionKey is the key signed version v was signed with.
func VersionKey(v registry.SignedVersion) (dnssec.Key, error) { return Key(v.GroupKey, v.Others) }

// Run runs the step after a block's actions were applied to s and its
// zone version latest was built.
func (st *Step) Run(s *registry.State, latest *zone.Zone) (Result, error) {
	var res Result
	zk, ok := s.ZoneKey()
	if !ok {
		return res, nil
	}
	if r, open := s.SigningRequest(); open && r.Complete() {
		entries, err := st.finishRound(s, r, zk)
		if err != nil {
			return res, err
		}
		res.Entries = append(res.Entries, entries...)
		if r.Round == registry.RoundZONEMD && st.Target == nil {
			res.Published = st.Signed
		}
	}
	if _, open := s.SigningRequest(); open {
		return res, nil
	}
	key, _, err := CurrentKey(s)
	if err != nil {
		return res, err
	}
	if st.Signed != nil && st.Signed.Serial() == latest.Serial() && st.Signed.Key().Equal(key) {
		return res, nil
	}
	now := s.Time()
	pol := s.Constitution().SigningPolicy()
	var base uint64
	var prev *dnssec.Signed
	if v, ok := s.Signed(); ok && st.Signed != nil && bytes.Equal(st.Signed.Key().Public, key.Public) {
		base, prev = v.Request, st.Signed
	}
	inc, exp := now.Add(-registry.InceptionOffset), now.Add(time.Duration(pol.Validity))
	p, err := plan(prev, latest, key, inc, exp, time.Duration(pol.Refresh))
	if err != nil {
		return res, err
	}
	if len(p.Inputs()) == 0 {
		return res, fmt.Errorf("signing: zone version %d has nothing to sign", latest.Serial())
	}
	res.Entries = append(res.Entries, s.OpenSigning(latest.Serial(), base, inc, exp, len(p.Inputs()))...)
	r, _ := s.SigningRequest()
	st.Target, st.plan, st.planFor, st.digested = latest, p, r.ID, nil
	res.Opened = true
	return res, nil
}

func plan(prev *dnssec.Signed, z *zone.Zone, key dnssec.Key, inc, exp time.Time, refresh time.Duration) (*dnssec.Plan, error) {
	// The plan measures the refresh time from the inception, an hour
	// before the block time; the constitution's, like needsRefresh, from
	// the block time.
	pol := dnssec.Policy{Inception: inc, Expiration: exp, Refresh: refresh + registry.InceptionOffset}
	if prev == nil {
		return dnssec.NewPlan(z, key, pol)
	}
	return dnssec.PlanUpdate(prev, z, key, pol)
}

// planOf returns the plan of request r, computed again after a restart.
func (st *Step) planOf(s *registry.State, r registry.SigningRequest, key dnssec.Key) (*dnssec.Plan, error) {
	if st.plan != nil && st.planFor == r.ID {
		return st.plan, st.retime(r)
	}
	if st.Target == nil || st.Target.Serial() != r.Target {
		return nil, fmt.Errorf("signing: request %d signs serial %d but the zone version kept is %v", r.ID, r.Target, serialOf(st.Target))
	}
	var prev *dnssec.Signed
	if r.Base != 0 {
		v, ok := s.Signed()
		if !ok || v.Request != r.Base || st.Signed == nil || st.Signed.Serial() != v.Serial {
			return nil, fmt.Errorf("signing: request %d updates the version of request %d, which is not the one kept", r.ID, r.Base)
		}
		prev = st.Signed
	}
	// Planned as at the opening (see Run), then retimed to the session's
	// window.
	p, err := plan(prev, st.Target, key, r.Opened.Add(-registry.InceptionOffset), r.Expiration, time.Duration(s.Constitution().SigningPolicy().Refresh))
	if err != nil {
		return nil, err
	}
	if len(p.Inputs()) != r.RRsets {
		return nil, fmt.Errorf("signing: request %d has %d messages but its plan %d", r.ID, r.RRsets, len(p.Inputs()))
	}
	st.plan, st.planFor, st.digested = p, r.ID, nil
	return p, st.retime(r)
}

// retime sets the validity window of the plan's signatures to r's current
// one (see registry.SigningRequest): a new session of the rrsets round's
// first batch may have moved it; later it stays.
func (st *Step) retime(r registry.SigningRequest) error {
	if r.Round != registry.RoundRRsets {
		return nil
	}
	if err := st.plan.Retime(dnssec.Policy{Inception: r.Inception, Expiration: r.Expiration}); err != nil {
		return fmt.Errorf("signing: request %d: %v", r.ID, err)
	}
	return nil
}

func serialOf(z *zone.Zone) any {
	if z == nil {
		return "none"
	}
	return z.Serial()
}

// finishRound aggregates the shares of r's complete session.
func (st *Step) finishRound(s *registry.State, r registry.SigningRequest, zk registry.ZoneKey) ([][]byte, error) {
	if r.Ceremony != zk.Ceremony {
		return nil, fmt.Errorf("signing: request %d signs with the key of ceremony %d, the zone key is ceremony %d's", r.ID, r.Ceremony, zk.Ceremony)
	}
	key, err := RequestKey(r)
	if err != nil {
		return nil, err
	}
	p, err := st.planOf(s, r, key)
	if err != nil {
		// The replica lost what every other replica has: stop rather
		// than diverge.
		return nil, err
	}
	msgs, err := st.messages(s, r, p)
	if err != nil {
		return s.AbandonSigning(err.Error()), nil
	}
	pkp, err := zk.PublicKeyPackage()
	if err != nil {
		return nil, err
	}
	sigs, culprits, err := Aggregate(pkp, zk, r, msgs)
	if len(culprits) > 0 {
		return s.SigningBlame(culprits, "signature share does not verify"), nil
	}
	if err != nil {
		return s.AbandonSigning(err.Error()), nil
	}
	if r.Round == registry.RoundRRsets {
		if r.Done+r.Count == r.RRsets { // the last batch
			d, err := p.Attach(split(append(s.RoundSignatures(), sigs...)))
			if err != nil {
				return s.AbandonSigning(err.Error()), nil
			}
			st.digested = d
		}
		return s.SigningAggregated(sigs), nil
	}
	signed, err := st.digested.Finish(sigs)
	if err != nil {
		return s.AbandonSigning(err.Error()), nil
	}
	st.Signed, st.Target, st.plan, st.planFor, st.digested = signed, nil, nil, 0, nil
	return s.PublishSigned(registry.SignedVersion{Serial: signed.Serial(), KeyTag: key.KeyTag(), ZONEMD: fmt.Sprintf("%X", signed.Digest()),
		Signatures: signed.Signatures(), Inception: r.Inception, Expires: signed.Expires(s.Time())}), nil
}

// split cuts concatenated 64-byte signatures.
func split(b []byte) [][]byte {
	out := make([][]byte, 0, len(b)/64)
	for off := 0; off+64 <= len(b); off += 64 {
		out = append(out, b[off:off+64:off+64])
	}
	return out
}

// Aggregate aggregates, for each message, the signature shares of r's
// session into a signature verified under the group key, and returns them
// concatenated. If shares do not verify it returns the names of their
// signers (every culprit of the first message that has any).
func Aggregate(pkp *threshold.PublicKeyPackage, zk registry.ZoneKey, r registry.SigningRequest, msgs [][]byte) ([]byte, []string, error) {
	if len(msgs) != r.Count {
		return nil, nil, fmt.Errorf("signing: %d messages for a round of %d", len(msgs), r.Count)
	}
	out := make([]byte, 0, len(msgs)*64)
	for i, msg := range msgs {
		comms, err := r.CommitmentList(zk, i)
		if err != nil {
			return nil, nil, err
		}
		shares, err := r.SignatureShares(zk, i)
		if err != nil {
			return nil, nil, err
		}
		// The key package and the pooled commitments were checked when
		// they entered the state.
		sig, err := threshold.AggregateChecked(pkp, msg, comms, shares)
		var bad *threshold.InvalidSharesError
		if errors.As(err, &bad) {
			var names []string
			for _, id := range bad.IDs {
				names = append(names, zk.Participants[id-1])
			}
			return nil, names, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("signing: message %d: %v", i, err)
		}
		out = append(out, sig...)
	}
	return out, nil, nil
}

// Messages returns the messages of the open request's current round, in
// order: what its signers sign. It fails if no request is open.
func (st *Step) Messages(s *registry.State) ([][]byte, error) {
	r, ok := s.SigningRequest()
	if !ok {
		return nil, errors.New("signing: no request is open")
	}
	key, err := RequestKey(r)
	if err != nil {
		return nil, err
	}
	p, err := st.planOf(s, r, key)
	if err != nil {
		return nil, err
	}
	return st.messages(s, r, p)
}

// messages returns the messages of r's current session: its batch of the
// plan's inputs, or the ZONEMD RRset's input once every batch's
// signatures are attached.
func (st *Step) messages(s *registry.State, r registry.SigningRequest, p *dnssec.Plan) ([][]byte, error) {
	if r.Round == registry.RoundRRsets {
		in := p.Inputs()
		if r.Done < 0 || r.Count < 1 || r.Done+r.Count > len(in) {
			return nil, fmt.Errorf("signing: request %d's batch of %d messages from %d is outside its %d", r.ID, r.Count, r.Done, len(in))
		}
		return in[r.Done : r.Done+r.Count], nil
	}
	if st.digested == nil {
		d, err := p.Attach(split(s.RoundSignatures()))
		if err != nil {
			return nil, fmt.Errorf("the rrsets round's signatures: %v", err)
		}
		st.digested = d
	}
	return [][]byte{st.digested.Input()}, nil
}
