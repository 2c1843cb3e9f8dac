package fedtest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/setup"
)

// benchTLDs is how many genesis TLDs (each with its own operator key) the
// benchmarks' federations have: each batch changes every one once.
const benchTLDs = 1000

// changer is a genesis TLD's operator with its next sequence number,
// changing its delegation back and forth.
type changer struct {
	tld string
	key *setup.Key
	seq uint64
}

// changers returns cl's TLD operators with their next sequence numbers
// as h's node has them.
func (cl *cluster) changers(h *host) []*changer {
	t := cl.t
	t.Helper()
	var ops []*changer
	for _, tld := range cl.tlds {
		o := &changer{tld: tld, key: cl.ops[tld]}
		if err := h.api.GetJSON("/v1/signers/"+o.key.Signer.Name(), &struct {
			NextSeq *uint64 `json:"next_seq"`
		}{&o.seq}); err != nil {
			t.Fatalf("next sequence of %s: %v", tld, err)
		}
		ops = append(ops, o)
	}
	return ops
}

// next signs o's next change of its delegation.
func (o *changer) next(origin string) []byte {
	msg, err := action.Sign(action.Action{
		Origin: origin, Signer: o.key.Signer.Name(), Seq: o.seq,
		Expires: time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339),
		Kind:    action.KindDelegate, Body: toggle(o.tld, int(o.seq)+1),
	}, o.key.Signer)
	if err != nil {
		panic(err)
	}
	o.seq++
	return msg
}

// batch submits one change of each of ops (signed beforehand) to the
// hosts' APIs in turn, all at once, and waits until every host's log has
// them all. It returns the time from the first submission to the last
// host's catching up.
func (cl *cluster) batch(ops []*changer) time.Duration {
	t := cl.t
	t.Helper()
	msgs := make([][]byte, len(ops))
	for i, o := range ops {
		msgs[i] = o.next(cl.c.Origin)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(msgs))
	sem := make(chan struct{}, 200)
	for i, msg := range msgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			h := cl.hosts[i%len(cl.hosts)]
			if _, err := h.api.Submit(msg); err != nil {
				errs <- fmt.Errorf("%s through %s: %v", ops[i].tld, h.name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var target int64
	for _, h := range cl.hosts {
		if s, err := h.status(); err == nil {
			target = max(target, s.LogSize)
		}
	}
	for _, h := range cl.hosts {
		eventually(t, h.name+" has the batch", 120*time.Second, func() error {
			s, err := h.status()
			if err == nil && s.LogSize < target {
				err = fmt.Errorf("log size %d, want %d", s.LogSize, target)
			}
			return err
		})
	}
	return time.Since(start)
}

// dnsProbe asks h's DNS server, from inside h's namespace, for a TLD's
// NS set.
type dnsProbe struct {
	h    *host
	conn *dns.Conn
}

func (cl *cluster) probes() []*dnsProbe {
	var ps []*dnsProbe
	for _, h := range cl.hosts {
		c, err := dialIn(h.ns)(context.Background(), "udp", h.ip+":5353")
		if err != nil {
			cl.t.Fatal(err)
		}
		cl.t.Cleanup(func() { c.Close() })
		ps = append(ps, &dnsProbe{h: h, conn: &dns.Conn{Conn: c}})
	}
	return ps
}

// ns returns the sorted NS targets h serves for tld.
func (p *dnsProbe) ns(tld string) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(tld, dns.TypeNS)
	p.conn.SetDeadline(time.Now().Add(time.Second))
	if err := p.conn.WriteMsg(m); err != nil {
		return "", err
	}
	for {
		r, err := p.conn.ReadMsg()
		if err != nil {
			return "", err
		}
		if r.Id != m.Id {
			continue // a late answer to an earlier probe
		}
		var out []string
		for _, rr := range append(r.Answer, r.Ns...) {
			if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, tld) {
				out = append(out, ns.Ns)
			}
		}
		slices.Sort(out)
		return strings.Join(out, " "), nil
	}
}

// benchCluster founds and starts a federation of n member processes with
// benchTLDs operators, each host its own network namespace.
func benchCluster(b *testing.B, n int) *cluster {
	cl := newCluster(b, n)
	cl.found(benchTLDs)
	cl.startAll()
	agree(b, cl.hosts, 120*time.Second)
	return cl
}

// BenchmarkProcesses measures federations of 4 and 7 member processes,
// each on its own host (network namespace): "actions" submits b.N
// delegation changes, in batches of one change per operator (1,000
// operators), to all nodes' APIs in turn and reports committed actions
// per second (clock stopped when every node's log has them all);
// "served" makes b.N changes of one TLD one after another through the
// first node and reports the time from submission until every node's DNS
// server answers with the new NS set (p50 and p99).
//
//	go test -run XXX -bench Processes -benchtime 3000x ./fedtest   # as root
func BenchmarkProcesses(b *testing.B) {
	for _, n := range []int{4, 7} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			cl := benchCluster(b, n)
			ops := cl.changers(cl.hosts[0])
			b.Run("actions", func(b *testing.B) {
				cl.t = b
				var elapsed time.Duration
				for done := 0; done < b.N; {
					k := min(len(ops), b.N-done)
					elapsed += cl.batch(ops[:k])
					done += k
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "actions/s")
				b.ReportMetric(0, "ns/op")
			})
			b.Run("served", func(b *testing.B) {
				cl.t = b
				lat := changeServed(b, cl, ops[0], b.N)
				b.ReportMetric(float64(quantile(lat, 0.5).Milliseconds()), "p50-ms")
				b.ReportMetric(float64(quantile(lat, 0.99).Milliseconds()), "p99-ms")
				b.ReportMetric(0, "ns/op")
			})
		})
	}
}

// changeServed makes count changes of o's TLD through the first host and
// returns, sorted, each one's time from submission until every host's
// DNS server serves it.
func changeServed(b *testing.B, cl *cluster, o *changer, count int) []time.Duration {
	probes := cl.probes()
	var lat []time.Duration
	for range count {
		want := strings.Join(toggle(o.tld, int(o.seq)+1).NS, " ")
		msg := o.next(cl.c.Origin)
		start := time.Now()
		if _, err := cl.hosts[0].api.Submit(msg); err != nil {
			b.Fatal(err)
		}
		for _, p := range probes {
			for {
				got, err := p.ns(o.tld)
				if err == nil && got == want {
					break
				}
				if time.Since(start) > 60*time.Second {
					b.Fatalf("%s still serves %q for %s (want %q) 60 s after the change: %v", p.h.name, got, o.tld, want, err)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return lat
}

// BenchmarkNewMemberSync measures how long a new member's node takes to
// sync a federation's chain: 4 (or 7) founders commit delegation changes
// until the log holds FEDTEST_SYNC_ENTRIES entries (default 100,000);
// then a new member is admitted by vote and its node started, and from
// that start the clock runs until it has the founders' height and app hash. It reports
// the seconds, the log entries and the blocks synced.
//
//	go test -run XXX -bench NewMemberSync -benchtime 1x -timeout 60m ./fedtest
func BenchmarkNewMemberSync(b *testing.B) {
	entries := int64(100_000)
	if s := os.Getenv("FEDTEST_SYNC_ENTRIES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			b.Fatalf("FEDTEST_SYNC_ENTRIES=%q is not a positive number", s)
		}
		entries = n
	}
	for _, n := range []int{4, 7} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			cl := newCluster(b, n+1)
			joiner := cl.hosts[n]
			cl.hosts = cl.hosts[:n]
			cl.found(benchTLDs)
			cl.startAll()
			ops := cl.changers(cl.hosts[0])
			for {
				s, err := cl.hosts[0].status()
				if err != nil {
					b.Fatal(err)
				}
				if s.LogSize >= entries {
					break
				}
				cl.batch(ops[:min(int64(len(ops)), entries-s.LogSize)])
			}
			b.ResetTimer()
			cl.admit(joiner) // its last step starts the joiner's node
			start := time.Now()
			st := agree(b, cl.hosts, 30*time.Minute)
			took := time.Since(start)
			b.ReportMetric(took.Seconds(), "sync-s")
			b.ReportMetric(float64(st.LogSize), "entries")
			b.ReportMetric(float64(st.ChainHeight), "blocks")
			b.ReportMetric(0, "ns/op")
		})
	}
}
