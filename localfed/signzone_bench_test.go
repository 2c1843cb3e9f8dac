package localfed

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/internal/devzone"
	"github.com/commonroot/commonroot/registry"
)

// BenchmarkSignLargeZone measures the first threshold signing, through
// consensus, of a zone whose RRsets to sign are several times what a nonce
// pool holds (registry.MaxPool): the real root plus LOCALFED_SIGN_EXTRA
// (default 10,000) delegations with a DS each, signed by 3 of 4 members
// in batches of the default signing batch (4,096). It reports the seconds
// from every node having the key to every node serving the signed version,
// the signatures and the batches of the rrsets round.
//
//	go test -run XXX -bench SignLargeZone -benchtime 1x -timeout 30m ./localfed
func BenchmarkSignLargeZone(b *testing.B) {
	extra := 10_000
	if s := os.Getenv("LOCALFED_SIGN_EXTRA"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			b.Fatalf("LOCALFED_SIGN_EXTRA=%q is not a count", s)
		}
		extra = n
	}
	var z strings.Builder
	z.Write(devzone.Root)
	for i := range extra {
		name := fmt.Sprintf("x%06d.", i)
		fmt.Fprintf(&z, "%s 172800 IN NS a.gtld-servers.net.\n%s 172800 IN NS b.gtld-servers.net.\n", name, name)
		fmt.Fprintf(&z, "%s 86400 IN DS %d 13 2 %X\n", name, i%65536, sha256.Sum256([]byte(name)))
	}
	f, dir := startDevZone(b, 4, nil, []byte(z.String()))
	zk := generateKey(b, f, dir)
	b.ResetTimer()
	start := time.Now()
	eventually(b, "every node serves the signed zone", 20*time.Minute, func() error {
		for _, m := range MemberNames[:4] {
			if _, err := signedSOA(b, f.Nodes[m].DNSAddr(), zk.PublicKey()); err != nil {
				return fmt.Errorf("%s: %v", m, err)
			}
		}
		return nil
	})
	took := time.Since(start)
	b.StopTimer()
	var v registry.SignedVersion
	f.Nodes["alpha"].App().View(func(s *registry.State) { v, _ = s.Signed() })
	batches := 0
	lg := f.Nodes["alpha"].App().Log()
	for i := range lg.Size() {
		e, err := lg.Entry(i)
		if err != nil {
			b.Fatal(err)
		}
		if ev, err := registry.DecodeEvent(e); err == nil && ev.Event == "signing.session" && ev.Request == v.Request && ev.Round == registry.RoundRRsets {
			batches++ // (a batch signed again after an exclusion counts twice)
		}
	}
	b.ReportMetric(took.Seconds(), "sign-s")
	b.ReportMetric(float64(v.Signatures), "signatures")
	b.ReportMetric(float64(batches), "sessions")
	b.ReportMetric(0, "ns/op")
}
