package fedtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/setup"
)

// addressFloodRate is BenchmarkAddressFlood's default flood, in
// submissions a second; addressLimit the per-address limit of the nodes'
// APIs it runs against.
const (
	addressFloodRate = 2000
	addressLimit     = 20
)

// BenchmarkAddressFlood measures what a flood of submissions from one
// client address costs honest actions: the 4 member processes' APIs limit
// each client address to addressLimit actions a second (a burst of ten
// seconds' worth); each TLD operator (4) makes b.N delegation changes
// through the 4 nodes in turn, first alone, then while a fifth host floods
// alpha's API with FEDTEST_ADDRESS_FLOOD (default addressFloodRate)
// submissions a second of an action signed by a key the federation does
// not know. It reports the honest changes' latency (submission to
// committed answer), p50 and p99, in both phases and their ratio, and how
// many flood submissions were sent, refused with 429 before the node
// looked at them, and answered otherwise.
//
//	go test -run XXX -bench AddressFlood -benchtime 50x ./fedtest   # as root
func BenchmarkAddressFlood(b *testing.B) {
	rate := envRate(b, "FEDTEST_ADDRESS_FLOOD", addressFloodRate)
	cl := newCluster(b, 5)
	flooder := cl.hosts[4]
	cl.hosts = cl.hosts[:4]
	cl.found(4)
	for _, h := range cl.hosts {
		h.writeConfig(map[string]any{"limits": map[string]any{"per_address": addressLimit}})
	}
	cl.startAll()
	alpha := cl.hosts[0]
	stranger, err := setup.NewKey("stranger")
	if err != nil {
		b.Fatal(err)
	}
	junk, err := action.Sign(action.Action{Origin: cl.c.Origin, Signer: stranger.Signer.Name(), Seq: 1,
		Expires: time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339),
		Kind:    action.KindDelegate, Body: toggle(cl.tlds[0], 1)}, stranger.Signer)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	base := stream(b, cl, cl.hosts, b.N)

	ctx, stop := context.WithCancel(context.Background())
	var sent, limited, answered, failed atomic.Int64
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialIn(flooder.ns), MaxIdleConnsPerHost: 64}}
	tokens := make(chan struct{}, rate)
	var wg sync.WaitGroup
	wg.Go(func() { // rate/100 tokens every 10 ms
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				close(tokens)
				return
			case <-tick.C:
				for range max(1, rate/100) {
					select {
					case tokens <- struct{}{}:
					default:
					}
				}
			}
		}
	})
	for range 32 {
		wg.Go(func() {
			for range tokens {
				sent.Add(1)
				resp, err := hc.Post("http://"+alpha.ip+":8053/v1/actions", "text/plain; charset=utf-8", bytes.NewReader(junk))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					limited.Add(1)
				} else {
					answered.Add(1)
				}
			}
		})
	}
	// Measure under the steady flood: once the burst is spent and the
	// limiter refuses.
	eventually(b, "alpha refuses the flood with 429", 60*time.Second, func() error {
		if limited.Load() == 0 {
			return fmt.Errorf("no flood submission refused yet (%d sent, %d answered, %d failed)", sent.Load(), answered.Load(), failed.Load())
		}
		return nil
	})
	flooded := stream(b, cl, cl.hosts, b.N)
	stop()
	wg.Wait()
	b.StopTimer()
	reportFlood(b, base, flooded)
	b.ReportMetric(float64(sent.Load()), "flood-sent")
	b.ReportMetric(float64(limited.Load()), "flood-429")
	b.ReportMetric(float64(answered.Load()), "flood-answered")
	b.ReportMetric(float64(failed.Load()), "flood-failed")
}
