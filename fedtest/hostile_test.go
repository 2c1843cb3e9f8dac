package fedtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/translog"
)

// floodRate is the hostile member's flood in the tests: invalid actions a
// second, about 130 times the honest load of stream.
const floodRate = 400

// stream has each genesis TLD's operator change its delegation perOp
// times, one change at a time per operator and all operators at once,
// through the nodes of via in turn. Each action must be accepted; it
// returns each one's time from submission to its committed answer.
func stream(t testing.TB, cl *cluster, via []*host, perOp int) []time.Duration {
	t.Helper()
	cl.t.Helper()
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	for k, o := range cl.changers(via[0]) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perOp {
				msg := o.next(cl.c.Origin)
				h := via[(k+i)%len(via)]
				start := time.Now()
				_, err := h.api.Submit(msg)
				d := time.Since(start)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s's change %d through %s: %v", o.tld, i, h.name, err))
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	slices.Sort(lat)
	return lat
}

// quantile is the q-quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// metric reads a counter or gauge (name with its labels, as exposed) from
// h's /metrics; a missing series is 0.
func (h *host) metric(series string) (float64, error) {
	b, err := h.api.Get("/metrics")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, sc.Err()
}

// event finds the newest log entry of h that is an event of the given
// kind, or nil.
func (h *host) event(kind string) (*registry.Event, error) {
	s, err := h.status()
	if err != nil {
		return nil, err
	}
	for i := s.LogSize - 1; i >= 0; i-- {
		b, err := h.api.Get(fmt.Sprintf("/entry/%d", i))
		if err != nil {
			return nil, err
		}
		if e, err := registry.DecodeEvent(b); err == nil && e.Event == kind {
			return e, nil
		}
	}
	return nil, nil
}

// TestHostileMember: delta's node is a hostile build that signs wrong
// checkpoints in its vote extensions and floods invalid actions (validly
// signed but out of sequence, badly signed, or no action at all) into its
// mempool, which it gossips to the others and packs into the blocks it
// proposes. The three honest nodes catch the equivocation and log both
// notes as evidence; every honest action is accepted while the flood
// runs; no flooded action is ever applied or logged, although the
// blocks delta proposed carried them (the honest nodes count them as
// rejected in blocks); and the honest nodes agree throughout.
func TestHostileMember(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, 4)
	cl.found(4)
	alpha, delta := cl.hosts[0], cl.hosts[3]
	delta.bin = hostileCommonroot(t)
	delta.env = []string{fmt.Sprintf("COMMONROOT_HOSTILE=equivocate,flood=%d", floodRate)}
	cl.startAll()
	honest := cl.hosts[:3]

	lat := stream(t, cl, honest, 10)
	t.Logf("%d honest changes under a flood of %d invalid actions/s: p50 %s, p99 %s", len(lat), floodRate, quantile(lat, 0.5), quantile(lat, 0.99))

	// The equivocation, with delta's wrong note and the right checkpoint.
	var ev *registry.Event
	eventually(t, "the equivocation is logged", 60*time.Second, func() error {
		var err error
		if ev, err = alpha.event("checkpoint.equivocation"); err == nil && ev == nil {
			err = fmt.Errorf("no checkpoint.equivocation entry yet")
		}
		return err
	})
	if ev.Member != "delta" || len(ev.Evidence) != 2 {
		t.Fatalf("evidence names %q with %d notes", ev.Member, len(ev.Evidence))
	}
	m, _ := cl.c.Member("delta")
	if err := testtool.CheckEquivocation(ev.Evidence, m.Key); err != nil {
		t.Fatal(err)
	}

	// The flood reached the honest nodes in delta's blocks and was refused
	// there; none of it was applied.
	st := agree(t, honest, 60*time.Second)
	for _, h := range honest {
		rejected, err := h.metric(`commonroot_block_actions_total{outcome="rejected"}`)
		if err != nil {
			t.Fatal(err)
		}
		if rejected == 0 {
			t.Errorf("%s counts no rejected action in a block: the flood never reached a block", h.name)
		}
	}
	// Nothing delta flooded is in the log (its flood is all delegations;
	// its node's own actions, such as nonce commitments, may be).
	indexes := make([]int64, st.LogSize)
	for i := range indexes {
		indexes[i] = int64(i)
	}
	entries, err := alpha.entries(indexes)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if a, err := action.Decode(e); err == nil && a.Signer == "delta" && a.Kind == action.KindDelegate {
			t.Errorf("log entry %d is a flooded action of delta's (sequence %d)", i, a.Seq)
		}
	}
	if !strings.Contains(delta.log.String(), "hostile: flood") {
		t.Errorf("delta's log does not show its flood:\n%s", tail(delta.log.String(), 20))
	}
	// The honest nodes' checkpoints are cosigned by the three of them.
	msg, err := alpha.api.Get("/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	var vs []note.Verifier
	for _, h := range honest {
		m, _ := cl.c.Member(h.name)
		v, _ := note.NewVerifier(m.Key)
		vs = append(vs, v)
	}
	if _, signers, err := translog.VerifyCheckpoint(msg, cl.c.Origin, note.VerifierList(vs...), 3); err != nil {
		t.Errorf("alpha's checkpoint at height %d: %v (signers %v)", st.ChainHeight, err, signers)
	}
}

// BenchmarkFloodBound measures what a flooding member costs the honest
// ones: in a federation of 4 member processes, each TLD operator (4)
// makes b.N delegation changes through the three honest nodes, first with
// delta's node honest, then with it flooding FEDTEST_FLOOD (default
// floodRate) invalid actions a second into its mempool, the others' and
// its proposals. It reports the honest changes' latency (submission to
// committed answer), p50 and p99, in both phases and their ratio.
//
//	go test -run XXX -bench FloodBound -benchtime 50x ./fedtest   # as root
func BenchmarkFloodBound(b *testing.B) {
	rate := envRate(b, "FEDTEST_FLOOD", floodRate)
	cl := newCluster(b, 4)
	cl.found(4)
	cl.startAll()
	honest, delta := cl.hosts[:3], cl.hosts[3]
	b.ResetTimer()
	base := stream(b, cl, honest, b.N)
	delta.signal(syscall.SIGTERM)
	delta.bin = hostileCommonroot(b)
	delta.env = []string{fmt.Sprintf("COMMONROOT_HOSTILE=flood=%d", rate)}
	delta.start()
	eventually(b, "delta floods", 60*time.Second, func() error {
		if !strings.Contains(delta.log.String(), "hostile: flood") {
			return fmt.Errorf("delta's log shows no flood yet")
		}
		return nil
	})
	flooded := stream(b, cl, honest, b.N)
	b.StopTimer()
	var rejected float64
	for _, h := range honest {
		r, err := h.metric(`commonroot_block_actions_total{outcome="rejected"}`)
		if err != nil {
			b.Fatal(err)
		}
		rejected = max(rejected, r)
	}
	reportFlood(b, base, flooded)
	b.ReportMetric(rejected, "rejected-in-blocks")
}

// envRate returns the positive rate in the environment variable name, or
// def if it is not set.
func envRate(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	rate, err := strconv.Atoi(s)
	if err != nil || rate < 1 {
		b.Fatalf("%s=%q is not a positive rate", name, s)
	}
	return rate
}

// reportFlood reports the honest latencies of a flood benchmark's two
// phases (sorted) and their ratios.
func reportFlood(b *testing.B, base, flooded []time.Duration) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(quantile(base, 0.5)), "base-p50-ms")
	b.ReportMetric(ms(quantile(base, 0.99)), "base-p99-ms")
	b.ReportMetric(ms(quantile(flooded, 0.5)), "flood-p50-ms")
	b.ReportMetric(ms(quantile(flooded, 0.99)), "flood-p99-ms")
	b.ReportMetric(ms(quantile(flooded, 0.5))/ms(quantile(base, 0.5)), "p50-ratio")
	b.ReportMetric(ms(quantile(flooded, 0.99))/ms(quantile(base, 0.99)), "p99-ratio")
	b.ReportMetric(0, "ns/op")
}
