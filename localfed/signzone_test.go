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

// rootPlus is the real root zone with extra delegations more, each with
// two NS (hosts with glue in the root) and a DS: each adds two signatures
// (its DS RRset and its NSEC).
func rootPlus(extra int) []byte {
	var z strings.Builder
	z.Write(devzone.Root)
	for i := range extra {
		name := fmt.Sprintf("x%06d.", i)
		fmt.Fprintf(&z, "%s 172800 IN NS a.gtld-servers.net.\n%s 172800 IN NS b.gtld-servers.net.\n", name, name)
		fmt.Fprintf(&z, "%s 86400 IN DS %d 13 2 %X\n", name, i%65536, sha256.Sum256([]byte(name)))
	}
	return []byte(z.String())
}

// firstSigning makes the zone key of f and waits until every node serves
// a signed version. It returns the time that took (from every node having
// the key), the version, and the log's events about its request.
func firstSigning(t testing.TB, f *Federation, dir string, timeout time.Duration) (time.Duration, registry.SignedVersion, []*registry.Event) {
	t.Helper()
	zk := generateKey(t, f, dir)
	start := time.Now()
	eventually(t, "every node serves the signed zone", timeout, func() error {
		for _, m := range MemberNames[:4] {
			if _, err := signedSOA(t, f.Nodes[m].DNSAddr(), zk.PublicKey()); err != nil {
				return fmt.Errorf("%s: %v", m, err)
			}
		}
		return nil
	})
	took := time.Since(start)
	var v registry.SignedVersion
	f.Nodes["alpha"].App().View(func(s *registry.State) { v, _ = s.Signed() })
	return took, v, requestEvents(t, f, v.Request)
}

// requestEvents returns the events about signing request id in alpha's log.
func requestEvents(t testing.TB, f *Federation, id uint64) []*registry.Event {
	t.Helper()
	var out []*registry.Event
	lg := f.Nodes["alpha"].App().Log()
	for i := range lg.Size() {
		e, err := lg.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := registry.DecodeEvent(e); err == nil && ev.Request == id {
			out = append(out, ev)
		}
	}
	return out
}

// rrsetsSessions counts the sessions of the rrsets round among events.
func rrsetsSessions(events []*registry.Event) (sessions, laterBatches int) {
	for _, ev := range events {
		if ev.Event == "signing.session" && ev.Round == registry.RoundRRsets {
			sessions++
			if ev.First > 0 {
				laterBatches++
			}
		}
	}
	return sessions, laterBatches
}

// logSessions logs a request's sessions and exclusions, with their block
// heights and times from the request's opening, and returns why it was
// abandoned ("" if not).
func logSessions(t testing.TB, events []*registry.Event) (abandoned string) {
	t.Helper()
	var opened time.Time
	for _, ev := range events {
		at := fmt.Sprintf("height %d, %s", ev.Height, ev.Time.Sub(opened).Round(100*time.Millisecond))
		switch ev.Event {
		case "signing.opened":
			opened = ev.Time
			t.Logf("request %d opened at height %d: %d messages", ev.Request, ev.Height, ev.Count)
		case "signing.session":
			t.Logf("%s session %d, messages %d–%d of %d, signers %s: %s", ev.Round, ev.Attempt, ev.First+1, ev.First+ev.Count, ev.Total, strings.Join(ev.Participants, " "), at)
		case "signing.excluded":
			t.Logf("%s excluded from session %d: %s (%s)", ev.Member, ev.Attempt, ev.Reason, at)
		case "zone.signed":
			t.Logf("signed version published: %s", at)
		case "signing.abandoned":
			abandoned = ev.Reason
		}
	}
	return abandoned
}

// TestSignBeyondPool: the first signing of a zone whose RRsets to sign
// outnumber what a nonce pool holds (the root and 3,000 delegations with
// DS: ~8,800 signatures, MaxPool 8,192) goes through in batches of 4,096,
// the pools filled up to their bound and no further (a node that sent past
// it had an action refused, and the gap in its sequence numbers held its
// shares back until the request stalled). A signer may still miss a
// session's deadline on a loaded machine; it is then replaced.
func TestSignBeyondPool(t *testing.T) {
	f, dir := startDevZone(t, 4, nil, rootPlus(3000))
	took, v, events := firstSigning(t, f, dir, 5*time.Minute)
	sessions, later := rrsetsSessions(events)
	t.Logf("%d signatures in %d sessions, %s after every node had the key", v.Signatures, sessions, took.Round(100*time.Millisecond))
	if v.Signatures <= registry.MaxPool || later < 2 {
		t.Errorf("%d signatures, %d sessions past the first batch; want more than %d and at least 2", v.Signatures, later, registry.MaxPool)
	}
	if abandoned := logSessions(t, events); abandoned != "" {
		t.Errorf("request %d abandoned: %s", v.Request, abandoned)
	}
	sameAppHash(t, f)
}

// BenchmarkSignLargeZone measures the first threshold signing, through
// consensus, of a zone whose RRsets to sign are several times what a nonce
// pool holds (registry.MaxPool): the real root plus LOCALFED_SIGN_EXTRA
// (default 10,000) delegations with a DS each, signed by 3 of 4 members
// in batches of the default signing batch (4,096). It reports the seconds
// from every node having the key to every node serving the signed version,
// the signatures and the sessions of the rrsets round.
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
	f, dir := startDevZone(b, 4, nil, rootPlus(extra))
	b.ResetTimer()
	took, v, events := firstSigning(b, f, dir, 20*time.Minute)
	b.StopTimer()
	sessions, _ := rrsetsSessions(events)
	if abandoned := logSessions(b, events); abandoned != "" {
		b.Errorf("request %d abandoned: %s", v.Request, abandoned)
	}
	b.ReportMetric(took.Seconds(), "sign-s")
	b.ReportMetric(float64(v.Signatures), "signatures")
	b.ReportMetric(float64(sessions), "sessions")
	b.ReportMetric(0, "ns/op")
}
