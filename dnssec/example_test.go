package dnssec_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"time"

	"github.com/commonroot/commonroot/dnssec"
	"github.com/commonroot/commonroot/zone"
)

// Signing a zone version in the two rounds a federation runs through
// consensus: the RRsets, then the ZONEMD over the signed zone. Here one
// Ed25519 key stands in for the t-of-n FROST group.
func Example() {
	seed := sha256.Sum256([]byte("example key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	key := dnssec.Key{Public: priv.Public().(ed25519.PublicKey), TTL: 3600}
	signer := dnssec.Ed25519Signer{Key: priv}

	z, err := zone.Build(zone.Params{
		Origin: "corp.",
		SOA:    zone.SOA{MName: "ns1.corp.", RName: "hostmaster.corp.", Refresh: 3600, Retry: 600, Expire: 604800, Minimum: 300},
		NS:     []string{"ns1.corp."},
	}, 1, []zone.Delegation{
		{Name: "a.corp.", NS: []string{"ns.example.net."}},
		{Name: "b.corp.", NS: []string{"ns.example.net."}, DS: []zone.DS{{KeyTag: 7, Algorithm: 15, DigestType: 2, Digest: "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}}},
	}, []zone.Host{{Name: "ns1.corp.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}})
	if err != nil {
		panic(err)
	}
	plan, err := dnssec.NewPlan(z, key, dnssec.Policy{
		Inception:  time.Date(2026, 8, 22, 0, 0, 0, 0, time.UTC), // from block time
		Expiration: time.Date(2026, 9, 5, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	// Round one: every RRset but the ZONEMD.
	sigs, _ := signer.SignBatch(plan.Inputs())
	digested, err := plan.Attach(sigs)
	if err != nil {
		panic(err)
	}
	// Round two: the ZONEMD.
	zsig, _ := signer.SignBatch([][]byte{digested.Input()})
	signed, err := digested.Finish(zsig[0])
	if err != nil {
		panic(err)
	}
	fmt.Println(len(plan.Inputs()), "RRsets in round one,", signed.Signatures(), "RRSIGs,", len(signed.Records()), "records")

	_, ta, _ := dnssec.DSLines(key, "corp.")
	fmt.Println(ta)
	// Output:
	// 9 RRsets in round one, 10 RRSIGs, 22 records
	// trust-anchor: "corp. DS 41643 15 2 8C202A53AEE5E8617661A4490F6E131374AC3FFAC3B886413FF95FBC73044F2A"
}
