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

// pooledSigner signs as a federation does, in one process, batch by batch
// (4,096 messages, the default signing batch): the t signers of each
// message use nonce commitments made ahead of time, whose points were
// decoded and checked on arrival (the nodes keep pools of them, and their
// memory of the points: threshold.PointMemo); each signer computes its
// share with threshold.SignChecked and the aggregator aggregates with
// threshold.AggregateChecked, which verifies the signature with
// crypto/ed25519.Verify. Work is spread over all cores. Making the
// commitments happens between pause and resume (a benchmark's timer
// stopped).
type pooledSigner struct {
	*frostSigner
	pause, resume func() // nil: nothing to do
	next          int    // messages signed so far: the signers rotate
}

// pooledBatch is the default signing batch (constitution.MaxSigningBatch).
const pooledBatch = 4096

// signers returns the shares that sign message m, in identifier order.
func (f *frostSigner) signers(m int) []*threshold.KeyShare {
	var out []*threshold.KeyShare
	for j := range f.t {
		out = append(out, f.shares[(m+j)%len(f.shares)])
	}
	slices.SortFunc(out, func(a, b *threshold.KeyShare) int { return int(a.ID) - int(b.ID) })
	return out
}

// commit makes the nonces and the decoded commitment lists of messages
// first to first+n.
func (p *pooledSigner) commit(first, n int) ([][]*threshold.SigningNonces, [][]threshold.SigningCommitment, error) {
	nonces := make([][]*threshold.SigningNonces, n)
	lists := make([][]threshold.SigningCommitment, n)
	errs := make([]error, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for _, s := range p.signers(first + i) {
				nc, err := threshold.Commit(rand.Reader, s)
				if err != nil {
					errs[i] = err
					return
				}
				// As a node's mempool checks a commitment on arrival.
				c, err := threshold.DecodeSigningCommitment(nc.Commitment().Encode())
				if err != nil {
					errs[i] = err
					return
				}
				nonces[i] = append(nonces[i], nc)
				lists[i] = append(lists[i], c)
			}
		}
	})
	return nonces, lists, errors.Join(errs...)
}

func (p *pooledSigner) SignBatch(msgs [][]byte) ([][]byte, error) {
	out := make([][]byte, len(msgs))
	for lo := 0; lo < len(msgs); lo += pooledBatch {
		hi := min(lo+pooledBatch, len(msgs))
		if p.pause != nil {
			p.pause()
		}
		nonces, lists, err := p.commit(p.next, hi-lo)
		if p.resume != nil {
			p.resume()
		}
		if err != nil {
			return nil, err
		}
		errs := make([]error, hi-lo)
		parallel(hi-lo, func(a, b int) {
			for i := a; i < b; i++ {
				out[lo+i], errs[i] = p.sign(p.next+i, msgs[lo+i], nonces[i], lists[i])
			}
		})
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		p.next += hi - lo
	}
	return out, nil
}

// sign has message m's signers sign msg and aggregates their shares.
func (p *pooledSigner) sign(m int, msg []byte, nonces []*threshold.SigningNonces, list []threshold.SigningCommitment) ([]byte, error) {
	var zs []threshold.SignatureShare
	for j, s := range p.signers(m) {
		z, err := threshold.SignChecked(s, nonces[j], msg, list)
		if err != nil {
			return nil, fmt.Errorf("message %d, signer %d: %w", m, s.ID, err)
		}
		zs = append(zs, z)
	}
	return threshold.AggregateChecked(p.pkp, msg, list, zs)
}
