package threshold_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/commonroot/commonroot/threshold"
)

// A 2-of-3 signature with dealer keys; the result is a plain Ed25519
// signature under the group key.
func Example() {
	shares, vss, err := threshold.DealerKeygen(rand.Reader, 2, 3)
	if err != nil {
		panic(err)
	}
	pkp, _ := vss.PublicKeyPackage(3)
	msg := []byte("DNSKEY RRset signing input")

	// Round one: signers 1 and 3 commit; the coordinator records the
	// commitments as used and sends the sorted list to both.
	n1, _ := threshold.Commit(rand.Reader, shares[0])
	n3, _ := threshold.Commit(rand.Reader, shares[2])
	list := []threshold.SigningCommitment{n1.Commitment(), n3.Commitment()}
	used := &threshold.UsedCommitments{}
	if err := used.Use(list, pkp.N()); err != nil {
		panic(err)
	}

	// Round two: each signer checks msg against its policy, then signs.
	z1, _ := threshold.Sign(shares[0], n1, msg, list)
	z3, _ := threshold.Sign(shares[2], n3, msg, list)
	sig, err := threshold.Aggregate(pkp, msg, list, []threshold.SignatureShare{z1, z3})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(sig), ed25519.Verify(pkp.GroupKey.Bytes(), msg, sig))

	// The same commitments cannot be used again.
	fmt.Println(used.Use(list, pkp.N()) != nil)
	// Output:
	// 64 true
	// true
}
