package localfed

import (
	"bytes"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/setup"
)

// BenchmarkFlood measures how much a member flooding the federation with
// actions that must be refused (delegations of TLDs it does not control,
// signed with its real key; and forged signatures) slows honest actions:
// the p50 and p99 time from submitting an honest delegation change to its
// commit, without and with the flood, and the refused actions per second
// the nodes absorbed.
func BenchmarkFlood(b *testing.B) {
	dir := b.TempDir()
	if _, err := CreateDev(dir, 4); err != nil {
		b.Fatal(err)
	}
	f, err := Start(Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Stop()
	if err := f.WaitReady(60 * time.Second); err != nil {
		b.Fatal(err)
	}
	op, _ := setup.LoadKey(setup.OperatorKeyPath(dir, "org."))
	hostile, _ := setup.LoadKey(setup.MemberKeyPath(dir, "delta"))
	cl := client.New(f.HTTP("alpha"))
	honest := func(n int) []time.Duration {
		var lat []time.Duration
		for i := 0; i < n; i++ {
			// Toggle org.'s DS record: its name servers stay as they are.
			d := &action.Delegate{TLD: "org.", NS: orgNS}
			if i%2 == 1 {
				d.DS = []string{"26974 8 2 4FEDE294C53F438A158C41D39489CD78A86BEB0D8A0AEAFF14745C0D16E1DE32"}
			}
			msg, err := cl.Build(op.Signer, action.KindDelegate, d, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := cl.Submit(msg); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		return lat
	}
	n := max(b.N, 10)
	b.ResetTimer()
	quiet := honest(n)

	// The flood: delta signs delegations of com., which it does not
	// control, with fresh sequence numbers; plus garbage signatures.
	var refused atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	bad, err := cl.Build(hostile.Signer, action.KindDelegate, &action.Delegate{TLD: "com.", NS: []string{"a.gtld-servers.net.", "b.gtld-servers.net."}}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	forged := bytes.Replace(bad, []byte("b.gtld"), []byte("c.gtld"), 1)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			target := f.HTTP(f.Constitution.Members[w%len(f.Constitution.Members)].Name) + "/v1/actions"
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := bad
				if i%2 == 1 {
					body = forged
				}
				resp, err := hc.Post(target, "text/plain", bytes.NewReader(body))
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusUnprocessableEntity {
					refused.Add(1)
				}
			}
		}(w)
	}
	start := time.Now()
	flooded := honest(n)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(pct(quiet, 50).Seconds()*1000, "quiet-p50-ms")
	b.ReportMetric(pct(quiet, 99).Seconds()*1000, "quiet-p99-ms")
	b.ReportMetric(pct(flooded, 50).Seconds()*1000, "flood-p50-ms")
	b.ReportMetric(pct(flooded, 99).Seconds()*1000, "flood-p99-ms")
	b.ReportMetric(float64(refused.Load())/elapsed.Seconds(), "refused/s")
}

var orgNS = []string{"a0.org.afilias-nst.info.", "a2.org.afilias-nst.info.", "b0.org.afilias-nst.org.",
	"b2.org.afilias-nst.org.", "c0.org.afilias-nst.info.", "d0.org.afilias-nst.org."}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}
