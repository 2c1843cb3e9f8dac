// Command soakload is the action side of bench/soak.sh: it sends a steady
// stream of delegation changes, signed by TLD operators of a `commonroot
// dev` federation, to the federation's nodes in turn, then checks that
// every action a node reported accepted is in the log at the index it was
// given, with exactly its bytes, and that each operator's committed
// sequence numbers are the ones it sent.
//
//	soakload -dir DIR -nodes URL,URL,... [-rate 10] [-duration 10m] [-tlds 40]
//
// It changes only TLDs that have no glue below them (so a changed NS set
// never affects another TLD's delegation) and at least 3 name servers, one
// of which another TLD that it does not change also uses (so that host and
// its addresses stay in the registry while this TLD drops it): odd changes
// drop that name server, even ones put it back; the DS set is kept. Each operator has at most one action in flight (its
// sequence numbers must arrive in order); a tick with no idle operator is
// counted as skipped. The report goes to stdout as "key value" lines; the
// exit status is 1 when an accepted action is missing from the log or
// when not every action sent was accepted.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/setup"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "soakload: %v\n", err)
		os.Exit(1)
	}
}

// operator is one TLD operator's stream. Its action of sequence number s
// has bytes that depend only on s (one expiry for the whole run), so an
// action sent again is the same transaction and commits at most once.
type operator struct {
	tld      string
	key      *setup.Key
	ns, ds   []string
	drop     string // the name server odd changes drop
	first    uint64
	next     uint64
	expires  string
	origin   string
	accepted []accepted
}

type accepted struct {
	msg   []byte
	seq   uint64
	index int64
}

func (o *operator) action(seq uint64) ([]byte, error) {
	ns := o.ns
	if (seq-o.first)%2 == 0 {
		ns = slices.DeleteFunc(slices.Clone(ns), func(h string) bool { return h == o.drop })
	}
	return action.Sign(action.Action{Origin: o.origin, Signer: o.key.Signer.Name(), Seq: seq, Expires: o.expires,
		Kind: action.KindDelegate, Body: &action.Delegate{TLD: o.tld, NS: ns, DS: o.ds}}, o.key.Signer)
}

// book counts what became of the actions sent.
type book struct {
	mu         sync.Mutex
	sent       int
	accepted   int
	refused    map[string]int
	unanswered int
	skipped    int
	latencies  []time.Duration
}

func run() error {
	dir := flag.String("dir", "", "the `commonroot dev` federation directory (operator keys under keys/operators)")
	nodes := flag.String("nodes", "", "comma-separated HTTP API base URLs of the nodes, sent to in turn")
	rate := flag.Float64("rate", 10, "actions per second")
	duration := flag.Duration("duration", 10*time.Minute, "how long to send")
	ntlds := flag.Int("tlds", 40, "how many operators send")
	flag.Parse()
	if *dir == "" || *nodes == "" || *rate <= 0 || *ntlds <= 0 {
		flag.Usage()
		return errors.New("-dir and -nodes are required, -rate and -tlds positive")
	}
	var apis []*client.Client
	for _, u := range strings.Split(*nodes, ",") {
		c := client.New(u)
		c.HTTP = &http.Client{Timeout: 2 * time.Minute}
		apis = append(apis, c)
	}
	st, err := apis[0].Status()
	if err != nil {
		return fmt.Errorf("reading the status of %s: %v", apis[0].Base, err)
	}
	ops, err := operators(*dir, apis[0], *ntlds, st.Origin, time.Now().Add(*duration+time.Hour))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "soakload: %d operators, %.1f actions/s for %s over %d nodes\n", len(ops), *rate, *duration, len(apis))

	b := &book{refused: map[string]int{}}
	idle := make(chan *operator, len(ops))
	for _, o := range ops {
		idle <- o
	}
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	defer tick.Stop()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	end := time.After(*duration)
	turn := 0
loop:
	for {
		select {
		case <-end:
			break loop
		case <-progress.C:
			b.mu.Lock()
			fmt.Fprintf(os.Stderr, "soakload: %s sent %d accepted %d refused %d unanswered %d skipped %d\n",
				time.Now().Format(time.TimeOnly), b.sent, b.accepted, sum(b.refused), b.unanswered, b.skipped)
			b.mu.Unlock()
		case <-tick.C:
			select {
			case o := <-idle:
				api := apis[turn%len(apis)]
				turn++
				wg.Add(1)
				go func() {
					defer wg.Done()
					send(b, o, api, apis)
					idle <- o
				}()
			default:
				b.mu.Lock()
				b.skipped++
				b.mu.Unlock()
			}
		}
	}
	wg.Wait()
	return check(b, ops, apis)
}

// operators loads the keys of the first n TLDs (in name order) that have
// an operator key in dir, no glue below them, no restriction and at least
// 3 name servers, whose delegation can be sent again as it is, and one of
// whose name servers is used by a TLD that is not changed (pinned).
func operators(dir string, api *client.Client, n int, origin string, expires time.Time) ([]*operator, error) {
	chosen, pinned := map[string]bool{}, map[string]bool{}
	files, err := filepath.Glob(filepath.Join(dir, "keys", "operators", "*.key"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no operator keys in %s: %v", filepath.Join(dir, "keys", "operators"), err)
	}
	sort.Strings(files)
	var ops []*operator
	for _, f := range files {
		if len(ops) == n {
			break
		}
		tld := strings.TrimSuffix(filepath.Base(f), ".key") + "."
		var info struct {
			NS   []string         `json:"ns"`
			DS   []string         `json:"ds"`
			Glue []glueHost       `json:"glue"`
			Rest []restrictionRef `json:"restrictions"`
		}
		if err := api.GetJSON("/v1/tlds/"+tld, &info); err != nil {
			return nil, fmt.Errorf("reading TLD %q: %v", tld, err)
		}
		if pinned[tld] || len(info.Glue) > 0 || len(info.Rest) > 0 || len(info.NS) < 3 || !resubmittable(api, info.NS, info.DS) {
			continue
		}
		drop, keeper := "", ""
		for _, h := range info.NS {
			var host struct {
				UsedBy []string `json:"used_by"`
			}
			if api.GetJSON("/v1/hosts/"+h, &host) != nil {
				continue
			}
			for _, u := range host.UsedBy {
				if u != tld && !chosen[u] {
					drop, keeper = h, u
					break
				}
			}
			if drop != "" {
				break
			}
		}
		if drop == "" {
			continue
		}
		k, err := setup.LoadKey(f)
		if err != nil {
			return nil, err
		}
		next, err := api.NextSeq(k.Signer.Name())
		if err != nil {
			return nil, err
		}
		chosen[tld], pinned[keeper] = true, true
		ops = append(ops, &operator{tld: tld, key: k, ns: info.NS, ds: info.DS, drop: drop, first: next, next: next,
			expires: expires.UTC().Truncate(time.Second).Format(time.RFC3339), origin: origin})
	}
	if len(ops) < n {
		return nil, fmt.Errorf("only %d TLDs without glue and with 3 name servers have operator keys in %s, want %d", len(ops), dir, n)
	}
	return ops, nil
}

// resubmittable reports whether a delegation imported from the root zone
// would pass the registry's checks if sent again: every name server host
// has addresses in the registry, and every DS uses a digest type of the
// dev constitution's policy (SHA-256 or SHA-384; SHA-1 is refused).
func resubmittable(api *client.Client, ns, ds []string) bool {
	for _, d := range ds {
		if f := strings.Fields(d); len(f) < 4 || (f[2] != "2" && f[2] != "4") {
			return false
		}
	}
	for _, h := range ns {
		var host struct {
			Addrs []string `json:"addrs"`
		}
		if err := api.GetJSON("/v1/hosts/"+h, &host); err != nil || len(host.Addrs) == 0 {
			return false
		}
	}
	return true
}

type glueHost struct {
	Name string `json:"name"`
}

type restrictionRef struct {
	ID uint64 `json:"id"`
}

// send sends o's next action through api once. Not accepted (refused,
// unanswered), o re-reads its next sequence number, so the same action is
// sent again next time unless it was committed after all.
func send(b *book, o *operator, api *client.Client, apis []*client.Client) {
	msg, err := o.action(o.next)
	if err != nil {
		panic(err) // a key that signed before cannot fail now
	}
	began := time.Now()
	out, err := api.Submit(msg)
	b.mu.Lock()
	b.sent++
	if err == nil {
		b.accepted++
		b.latencies = append(b.latencies, time.Since(began))
		b.mu.Unlock()
		o.accepted = append(o.accepted, accepted{msg: msg, seq: o.next, index: out.Index})
		o.next++
		return
	}
	if errors.Is(err, client.ErrRejected) {
		b.refused[err.Error()]++
	} else {
		b.unanswered++
		fmt.Fprintf(os.Stderr, "soakload: %s: %v\n", api.Base, err)
	}
	b.mu.Unlock()
	for _, a := range apis {
		if next, err := a.NextSeq(o.key.Signer.Name()); err == nil {
			o.next = max(o.next, next)
			return
		}
	}
}

// check looks every accepted action up in the log and compares each
// operator's committed sequence numbers with what it sent.
func check(b *book, ops []*operator, apis []*client.Client) error {
	api := apis[0]
	inLog, committed, lost := 0, 0, 0
	var errs []string
	for _, o := range ops {
		for _, a := range o.accepted {
			got, err := api.Get(fmt.Sprintf("/entry/%d", a.index))
			if err != nil || !bytes.Equal(got, a.msg) {
				lost++
				errs = append(errs, fmt.Sprintf("%s seq %d at index %d: %q (%v)", o.key.Signer.Name(), a.seq, a.index, got, err))
				continue
			}
			inLog++
		}
		next, err := api.NextSeq(o.key.Signer.Name())
		if err != nil {
			return err
		}
		committed += int(next - o.first)
	}
	slices.Sort(b.latencies)
	pct := func(p float64) time.Duration {
		if len(b.latencies) == 0 {
			return 0
		}
		return b.latencies[int(p*float64(len(b.latencies)-1))]
	}
	fmt.Printf("actions_sent %d\n", b.sent)
	fmt.Printf("actions_accepted %d\n", b.accepted)
	fmt.Printf("actions_in_log %d\n", inLog)
	fmt.Printf("actions_committed %d\n", committed)
	fmt.Printf("actions_refused %d\n", sum(b.refused))
	fmt.Printf("actions_unanswered %d\n", b.unanswered)
	fmt.Printf("ticks_skipped %d\n", b.skipped)
	fmt.Printf("accept_latency_p50_ms %d\n", pct(0.5).Milliseconds())
	fmt.Printf("accept_latency_p99_ms %d\n", pct(0.99).Milliseconds())
	for r, n := range b.refused {
		fmt.Printf("refused %d %s\n", n, r)
	}
	for i, e := range errs {
		if i == 10 {
			break
		}
		fmt.Printf("lost %s\n", e)
	}
	switch {
	case lost > 0:
		return fmt.Errorf("%d of %d accepted actions are not in the log", lost, b.accepted)
	case b.sent != b.accepted || inLog != b.accepted || committed != b.accepted:
		return fmt.Errorf("sent %d, accepted %d, in the log %d, committed %d: want all equal", b.sent, b.accepted, inLog, committed)
	}
	return nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
