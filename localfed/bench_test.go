package localfed

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/zone"
)

// The benchmarks run the dev federation (4 members, the real root zone
// imported) on loopback, as `commonroot dev` does. Run them with
//
//	go test -run XXX -bench . -benchtime 2000x ./localfed   (throughput)
//	go test -run XXX -bench Served -benchtime 200x ./localfed (latency)

// benchFed starts a 4-member dev federation for a benchmark.
func benchFed(b *testing.B) (*Federation, string) {
	b.Helper()
	dir := b.TempDir()
	if _, err := CreateDev(dir, 4); err != nil {
		b.Fatal(err)
	}
	f, err := Start(Options{Dir: dir, CometLog: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Stop)
	if err := f.WaitReady(60 * time.Second); err != nil {
		b.Fatal(err)
	}
	return f, dir
}

// toggler changes a TLD's delegation back and forth: it adds the extra
// name server (a host of another TLD, which has addresses) to the TLD's NS
// set, then takes it away again. The DS records the policy allows are kept
// (the real root still has SHA-1 DS, which a change may not carry on).
type toggler struct {
	tld   string
	key   *setup.Key
	ns    []string // the genesis NS set, without extra
	ds    []string
	added bool
	seq   uint64
}

const extraNS = "a.gtld-servers.net."

// next returns the next change's NS set and flips the state.
func (t *toggler) next() *action.Delegate {
	ns := append([]string(nil), t.ns...)
	if !t.added {
		ns = append(ns, extraNS)
	}
	t.added = !t.added
	return &action.Delegate{TLD: t.tld, NS: ns, DS: t.ds}
}

// sign signs the next change with t's next sequence number.
func (t *toggler) sign(b *testing.B, origin string) ([]byte, []string) {
	d := t.next()
	msg, err := action.Sign(action.Action{
		Origin: origin, Signer: t.key.Signer.Name(), Seq: t.seq,
		Expires: time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339),
		Kind:    action.KindDelegate, Body: d,
	}, t.key.Signer)
	if err != nil {
		b.Fatal(err)
	}
	t.seq++
	return msg, d.NS
}

// togglers makes a toggler for every TLD of the served zone that can take
// one more name server, at most max of them, com. excluded.
func togglers(b *testing.B, f *Federation, dir string, max int) []*toggler {
	b.Helper()
	z, _ := f.Nodes["alpha"].App().Zone()
	policy := f.Constitution.Policy
	var out []*toggler
	for _, d := range z.Delegations() {
		if len(out) == max {
			break
		}
		if d.Name == "com." || len(d.NS)+1 > policy.MaxNS || slices.Contains(d.NS, extraNS) {
			continue
		}
		k, err := setup.LoadKey(setup.OperatorKeyPath(dir, d.Name))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, &toggler{tld: d.Name, key: k, ns: d.NS, ds: allowedDS(d.DS, policy.DSDigestTypes)})
	}
	// Fresh operators start at sequence 0; ask the node to be sure.
	cl := client.New(f.HTTP("alpha"))
	for _, t := range out {
		seq, err := cl.NextSeq(t.key.Signer.Name())
		if err != nil {
			b.Fatal(err)
		}
		t.seq = seq
	}
	return out
}

func allowedDS(ds []zone.DS, types []uint8) []string {
	var out []string
	for _, d := range ds {
		for _, t := range types {
			if d.DigestType == t {
				out = append(out, fmt.Sprintf("%d %d %d %s", d.KeyTag, d.Algorithm, d.DigestType, d.Digest))
			}
		}
	}
	return out
}

// BenchmarkCommittedActions measures committed signed actions per second
// through the whole federation: b.N delegate actions, signed beforehand by
// up to 1,000 different operator keys, are submitted concurrently to all
// four nodes' HTTP APIs (each action to one node, round robin), and the
// clock stops when every node has committed all of them.
func BenchmarkCommittedActions(b *testing.B) {
	f, dir := benchFed(b)
	origin := f.Constitution.Origin
	ts := togglers(b, f, dir, 1000)
	if len(ts) < 100 {
		b.Fatalf("only %d TLDs to change", len(ts))
	}
	var clients []*client.Client
	for _, m := range f.Constitution.Members {
		c := client.New(f.HTTP(m.Name))
		c.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: 1000}
		clients = append(clients, c)
	}
	const workers = 1000
	b.ResetTimer()
	var elapsed time.Duration
	for done := 0; done < b.N; {
		// One batch: each TLD changes at most once, so no signer's
		// actions can be reordered.
		b.StopTimer()
		n := min(len(ts), b.N-done)
		msgs := make([][]byte, n)
		for i := range msgs {
			msgs[i], _ = ts[i].sign(b, origin)
		}
		b.StartTimer()
		start := time.Now()
		jobs := make(chan int)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					if _, err := clients[i%len(clients)].Submit(msgs[i]); err != nil {
						errs <- fmt.Errorf("action %d to %s: %v", i, clients[i%len(clients)].Base, err)
					}
				}
			}()
		}
		for i := range msgs {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		// Each action is committed on the node that answered; wait for
		// every node to reach the largest log any of them has.
		var target int64
		for _, nd := range f.Nodes {
			target = max(target, nd.App().Log().Size())
		}
		for _, nd := range f.Nodes {
			for nd.App().Log().Size() < target {
				time.Sleep(time.Millisecond)
			}
		}
		elapsed += time.Since(start)
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "actions/s")
}

// BenchmarkChangeServed measures change-to-served latency: for b.N
// sequential delegation changes (one operator's TLD, its NS set toggled),
// the time from Submit to the moment every node's DNS server answers with
// the new NS set, polled over UDP as fast as the servers answer. It
// reports the 50th and 99th percentiles (and the share of it until the
// submitting node's commit answered the Submit).
func BenchmarkChangeServed(b *testing.B) { benchChangeServed(b, false) }

// BenchmarkChangeSignedServed is BenchmarkChangeServed with the zone key
// made first (t=3 of 4): a change is served only once the federation has
// signed it through consensus (two signing rounds after its block), so the
// clock stops when every node serves a signed version with the change.
func BenchmarkChangeSignedServed(b *testing.B) { benchChangeServed(b, true) }

func benchChangeServed(b *testing.B, signed bool) {
	f, dir := benchFed(b)
	origin := f.Constitution.Origin
	var key []byte
	if signed {
		key = generateKey(b, f, dir).PublicKey()
		eventually(b, "the first signed version is served", 120*time.Second, func() error {
			for _, nd := range f.Nodes {
				if _, err := signedSOA(b, nd.DNSAddr(), key); err != nil {
					return err
				}
			}
			return nil
		})
	}
	ts := togglers(b, f, dir, 1)
	t := ts[0]
	cl := client.New(f.HTTP("alpha"))
	var addrs []string
	for _, nd := range f.Nodes {
		addrs = append(addrs, nd.DNSAddr())
	}
	dc := &dns.Client{Net: "udp", Timeout: time.Second}
	served := func(addr string, want string) bool {
		m := new(dns.Msg)
		m.SetQuestion(t.tld, dns.TypeNS)
		r, _, err := dc.Exchange(m, addr)
		return err == nil && sortedNS(r, t.tld) == want
	}
	var total, commit []time.Duration
	var blocks []int64
	height := func() int64 { h, _ := f.Nodes["alpha"].App().Height(); return h }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg, ns := t.sign(b, origin)
		want := strings.Join(sorted(ns), " ")
		start := time.Now()
		if _, err := cl.Submit(msg); err != nil {
			b.Fatalf("change %d: %v", i, err)
		}
		commit = append(commit, time.Since(start))
		h0 := height()
		var serial uint32
		f.Nodes["alpha"].App().View(func(s *registry.State) { serial = s.Serial() })
		for _, addr := range addrs {
			for !served(addr, want) || signed && !signedAt(b, addr, key, serial) {
				if time.Since(start) > 30*time.Second {
					b.Fatalf("change %d: %s does not serve %s NS %s after 30 s", i, addr, t.tld, want)
				}
			}
		}
		total = append(total, time.Since(start))
		blocks = append(blocks, height()-h0)
	}
	b.StopTimer()
	slices.Sort(blocks)
	b.ReportMetric(float64(blocks[len(blocks)/2]), "blocks-after-commit-p50")
	b.ReportMetric(ms(percentile(total, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(total, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(commit, 50)), "commit-p50-ms")
}

// signedAt reports whether addr serves a signed version of serial or later.
func signedAt(b *testing.B, addr string, key []byte, serial uint32) bool {
	s, err := signedSOA(b, addr, key)
	return err == nil && s >= serial
}

func sortedNS(r *dns.Msg, owner string) string {
	var ns []string
	for _, rr := range append(r.Answer, r.Ns...) {
		if n, ok := rr.(*dns.NS); ok && strings.EqualFold(n.Hdr.Name, owner) {
			ns = append(ns, n.Ns)
		}
	}
	return strings.Join(sorted(ns), " ")
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// percentile returns the p-th percentile (nearest rank) of d.
func percentile(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
