package dnssec

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/commonroot/commonroot/threshold"
)

// frostSigner runs one FROST(Ed25519, SHA-512) session per message with t
// of the n dealer shares, a different signing set for each message in
// turn: a stand-in for the federation's signing through consensus.
type frostSigner struct {
	shares []*threshold.KeyShare
	pkp    *threshold.PublicKeyPackage
	t      int
}

func newFrostSigner(t testing.TB, th, n int) (*frostSigner, Key) {
	t.Helper()
	shares, vss, err := threshold.DealerKeygen(rand.Reader, th, n)
	if err != nil {
		t.Fatal(err)
	}
	pkp, err := vss.PublicKeyPackage(n)
	if err != nil {
		t.Fatal(err)
	}
	return &frostSigner{shares: shares, pkp: pkp, t: th}, Key{Public: ed25519.PublicKey(pkp.GroupKey.Bytes())}
}

func (f *frostSigner) SignBatch(msgs [][]byte) ([][]byte, error) {
	out := make([][]byte, len(msgs))
	errs := make([]error, len(msgs))
	parallel(len(msgs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i], errs[i] = f.sign(i, msgs[i])
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
	}
	return out, nil
}

func (f *frostSigner) sign(i int, msg []byte) ([]byte, error) {
	signers := f.signers(i)
	var nonces []*threshold.SigningNonces
	var list []threshold.SigningCommitment
	for _, s := range signers {
		nc, err := threshold.Commit(rand.Reader, s)
		if err != nil {
			return nil, err
		}
		nonces = append(nonces, nc)
		list = append(list, nc.Commitment())
	}
	var zs []threshold.SignatureShare
	for j, s := range signers {
		z, err := threshold.Sign(s, nonces[j], msg, list)
		if err != nil {
			return nil, err
		}
		zs = append(zs, z)
	}
	return threshold.Aggregate(f.pkp, msg, list, zs)
}

// TestRootFROST signs the real root zone with a 3-of-4 FROST dealer key,
// each RRset by a different set of three members, and has ldns-verify-zone
// check it against the group key's DNSKEY; so also as the federation signs
// (pooledSigner: commitments made ahead, decoded from bytes, SignChecked
// and AggregateChecked).
func TestRootFROST(t *testing.T) {
	f, k := newFrostSigner(t, 3, 4)
	root := rootZone(t)
	var sz *Signed
	for _, s := range []struct {
		name string
		Signer
	}{{"frostSigner", f}, {"pooledSigner", &pooledSigner{frostSigner: f}}} {
		sz = signWith(t, root, k, s, testPolicy)
		if out, err := ldnsVerify(t, zoneText(t, sz), k, "."); err != nil {
			t.Fatalf("ldns-verify-zone rejects the root signed by %s: %v\n%s", s.name, err, out)
		}
	}
	// Two members alone cannot sign.
	two := &frostSigner{shares: f.shares, pkp: f.pkp, t: 2}
	pl, err := NewPlan(sz.Zone(), k, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Sign(two); err == nil {
		t.Fatal("2 of a 3-of-4 key signed the zone")
	}
}

// pooledSigner signs as a federation does, in one process: the t signers
// of each message use nonce commitments made ahead of time (fill: the
// nodes keep pools of them in the federation's state); each signer decodes
// the message's commitment list from its bytes, as its node reads it from
// the state, and computes its share with threshold.SignChecked; the
// aggregator decodes the list again and aggregates with
// threshold.AggregateChecked, which verifies the signature with
// crypto/ed25519.Verify. Work is spread over all cores.
type pooledSigner struct {
	*frostSigner
	// nonces[m][j] are the nonces of message m's j-th signer (signers in
	// identifier order) and lists[m] the encoded commitment list; next is
	// the first message not yet signed.
	nonces [][]*threshold.SigningNonces
	lists  [][]byte
	next   int
}

// signers returns the shares that sign message m, in identifier order.
func (f *frostSigner) signers(m int) []*threshold.KeyShare {
	var out []*threshold.KeyShare
	for j := range f.t {
		out = append(out, f.shares[(m+j)%len(f.shares)])
	}
	slices.SortFunc(out, func(a, b *threshold.KeyShare) int { return int(a.ID) - int(b.ID) })
	return out
}

// fill makes the nonce commitments of n more messages.
func (p *pooledSigner) fill(n int) error {
	first := len(p.nonces)
	p.nonces = append(p.nonces, make([][]*threshold.SigningNonces, n)...)
	p.lists = append(p.lists, make([][]byte, n)...)
	errs := make([]error, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m := first + i
			for _, s := range p.signers(m) {
				nc, err := threshold.Commit(rand.Reader, s)
				if err != nil {
					errs[i] = err
					return
				}
				p.nonces[m] = append(p.nonces[m], nc)
				p.lists[m] = append(p.lists[m], nc.Commitment().Encode()...)
			}
		}
	})
	return errors.Join(errs...)
}

func (p *pooledSigner) SignBatch(msgs [][]byte) ([][]byte, error) {
	if short := p.next + len(msgs) - len(p.nonces); short > 0 {
		if err := p.fill(short); err != nil {
			return nil, err
		}
	}
	base := p.next
	p.next += len(msgs)
	out := make([][]byte, len(msgs))
	errs := make([]error, len(msgs))
	parallel(len(msgs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i], errs[i] = p.sign(base+i, msgs[i])
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
	}
	return out, nil
}

// decodeList decodes message m's commitment list as a node reads it.
func (p *pooledSigner) decodeList(m int) ([]threshold.SigningCommitment, error) {
	enc := p.lists[m]
	var list []threshold.SigningCommitment
	for off := 0; off < len(enc); off += threshold.SigningCommitmentSize {
		c, err := threshold.DecodeCheckedSigningCommitment(enc[off : off+threshold.SigningCommitmentSize])
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, nil
}

func (p *pooledSigner) sign(m int, msg []byte) ([]byte, error) {
	var zs []threshold.SignatureShare
	for j, s := range p.signers(m) {
		list, err := p.decodeList(m)
		if err != nil {
			return nil, err
		}
		z, err := threshold.SignChecked(s, p.nonces[m][j], msg, list)
		if err != nil {
			return nil, err
		}
		zs = append(zs, z)
	}
	list, err := p.decodeList(m)
	if err != nil {
		return nil, err
	}
	return threshold.AggregateChecked(p.pkp, msg, list, zs)
}
