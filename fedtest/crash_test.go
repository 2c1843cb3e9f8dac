package fedtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/setup"
)

// Kill points of TestCrashSafety.
const (
	killAfterDelay    = "after a random delay"
	killInBurst       = "during a burst"
	killAfterAccepted = "right after the victim accepted an action"
	killInStartup     = "during start-up"
)

// crashSeed is the seed of TestCrashSafety's random choices: $FEDTEST_SEED
// when set (to replay a failure), else the clock.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("FEDTEST_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FEDTEST_SEED=%q: %v", s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// operator is one TLD operator's stream of actions. Its i-th action's
// bytes depend only on i (fixed expiry, body toggle(tld, i)), so a resent
// action is the same transaction and can be committed at most once.
type operator struct {
	tld     string
	key     *setup.Key
	first   uint64 // its first sequence number
	next    uint64 // the next one it sends
	expires string
	origin  string
}

func (o *operator) action(seq uint64) ([]byte, error) {
	return action.Sign(action.Action{Origin: o.origin, Signer: o.key.Signer.Name(), Seq: seq, Expires: o.expires,
		Kind: action.KindDelegate, Body: toggle(o.tld, int(seq-o.first+1))}, o.key.Signer)
}

// accepted is an action a node's API reported accepted.
type accepted struct {
	msg   []byte
	seq   uint64
	index int64
	via   string
}

// crashRun is the shared book of TestCrashSafety's senders.
type crashRun struct {
	cl       *cluster
	victim   *host
	replicas []*host
	// victimUp is set while the victim has caught up and may be sent to.
	victimUp atomic.Bool
	// acceptedByVictim receives (without blocking the sender) when the
	// victim reports an action accepted and the killer is listening.
	acceptedByVictim chan struct{}

	mu       sync.Mutex
	accepted []accepted
	sent     int
	refused  map[string]int // outcome not accepted: reason (sequence numbers elided) → count
}

// via picks the node a sender uses: the victim one time in four when it
// is up, else one of the others.
func (r *crashRun) via(rng *rand.Rand) *host {
	if r.victimUp.Load() && rng.IntN(4) == 0 {
		return r.victim
	}
	return r.replicas[rng.IntN(len(r.replicas))]
}

// send sends o's next action through h once. Accepted, o moves on; any
// other outcome (refused, connection reset by a kill, timeout) leaves the
// fate of the action open: o re-reads its next sequence number from an
// undisturbed node, so the action is sent again (the same bytes) unless it
// was committed after all.
func (r *crashRun) send(o *operator, h *host, rng *rand.Rand) error {
	msg, err := o.action(o.next)
	if err != nil {
		return err
	}
	out, err := h.api.Submit(msg)
	r.mu.Lock()
	r.sent++
	if err == nil {
		r.accepted = append(r.accepted, accepted{msg: msg, seq: o.next, index: out.Index, via: h.name})
		r.mu.Unlock()
		o.next++
		if h == r.victim {
			select {
			case r.acceptedByVictim <- struct{}{}:
			default:
			}
		}
		return nil
	}
	reason := err.Error()
	if !errors.Is(err, client.ErrRejected) {
		reason = "not answered"
	}
	reason = strings.Map(func(c rune) rune {
		if c >= '0' && c <= '9' {
			return 'N'
		}
		return c
	}, reason)
	r.refused[h.name+": "+reason]++
	r.mu.Unlock()
	time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
	rep := r.replicas[rng.IntN(len(r.replicas))]
	next, err := rep.api.NextSeq(o.key.Signer.Name())
	if err != nil {
		return fmt.Errorf("%s after a refused action: %v", rep.name, err)
	}
	if next > o.next {
		o.next = next
	}
	return nil
}

// TestCrashSafety kills one of 4 nodes with SIGKILL at 30 random points
// while TLD operators stream actions through the other three and through
// the victim whenever it is up: after a random delay, during a burst of
// actions, right after the victim reported an action accepted, and during
// its own start-up (replay, catch-up). It restarts the victim each time.
// At the end the victim must equal an undisturbed replica: app hash, log
// size, root and checkpoint, zone serial, ZONEMD and AXFR; and every action
// any node reported accepted must be in the log at the index it was given,
// with exactly its bytes, and every operator's actions in the log must be
// exactly its sequence numbers up to its next one.
//
// The kill schedule comes from a seeded math/rand/v2 generator; the seed is
// logged, and FEDTEST_SEED=seed replays the same schedule (the interleaving
// with the nodes' own timing still varies).
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	const (
		kills   = 30
		steady  = 12 // operators that send all along, a short pause between actions
		bursty  = 24 // operators that send only in bursts
		perKick = 4  // actions per bursty operator in one burst
	)
	seed := crashSeed(t)
	t.Logf("seed %d (replay: FEDTEST_SEED=%d go test -run TestCrashSafety ./fedtest/)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d", seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0))

	cl := newCluster(t, 4)
	cl.found(steady + bursty)
	cl.startAll()
	alpha, victim := cl.hosts[0], cl.hosts[3]
	r := &crashRun{cl: cl, victim: victim, replicas: cl.hosts[:3], acceptedByVictim: make(chan struct{}), refused: map[string]int{}}
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	ops := make([]*operator, len(cl.tlds))
	for i, tld := range cl.tlds {
		k := cl.ops[tld]
		first, err := alpha.api.NextSeq(k.Signer.Name())
		if err != nil {
			t.Fatal(err)
		}
		ops[i] = &operator{tld: tld, key: k, first: first, next: first, expires: expires, origin: cl.c.Origin}
	}
	r.victimUp.Store(true)

	// The steady senders run until stop is closed.
	stop := make(chan struct{})
	var stopOnce sync.Once
	var senders sync.WaitGroup
	var sendErr atomic.Pointer[error]
	fail := func(err error) { sendErr.CompareAndSwap(nil, &err) }
	for i, o := range ops[:steady] {
		senders.Add(1)
		go func() {
			defer senders.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(1+i)))
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(rng.IntN(150)) * time.Millisecond):
				}
				if err := r.send(o, r.via(rng), rng); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	// A burst: each bursty operator sends perKick actions, one after the
	// other, all operators at once. One burst at a time.
	var burst sync.WaitGroup
	bursts := 0
	kick := func() {
		burst.Wait()
		bursts++
		for i, o := range ops[steady:] {
			burst.Add(1)
			go func() {
				defer burst.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(1000*bursts+i)))
				for range perKick {
					if err := r.send(o, r.via(rng), rng); err != nil {
						fail(err)
						return
					}
				}
			}()
		}
	}
	stopSenders := func() {
		stopOnce.Do(func() { close(stop) })
		senders.Wait()
		burst.Wait()
	}
	defer stopSenders()

	// The schedule: kills of each kind in a random order.
	var schedule []string
	for i := range kills {
		schedule = append(schedule, []string{killAfterDelay, killInBurst, killAfterAccepted, killInStartup, killAfterDelay}[i%5])
	}
	rng.Shuffle(len(schedule), func(i, j int) { schedule[i], schedule[j] = schedule[j], schedule[i] })
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo)) * time.Millisecond }
	began := time.Now()
	for i, point := range schedule {
		if point != killInStartup && i > 0 {
			// Caught up: at the height the others had when it restarted.
			s, err := alpha.status()
			if err != nil {
				t.Fatal(err)
			}
			victim.waitHeight(s.ChainHeight, 60*time.Second)
			r.victimUp.Store(true)
		}
		switch point {
		case killAfterDelay:
			time.Sleep(ms(0, 2000))
		case killInBurst:
			kick()
			time.Sleep(ms(10, 600))
		case killAfterAccepted:
			select {
			case <-r.acceptedByVictim:
			case <-time.After(60 * time.Second):
				t.Fatalf("kill %d: the victim accepted no action within 60s", i+1)
			}
		case killInStartup:
			time.Sleep(ms(0, 1500))
		}
		r.victimUp.Store(false)
		if err := victim.signal(syscall.SIGKILL); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("kill %d %s: the victim had exited by itself (%v); log:\n%s", i+1, point, err, tail(victim.log.String(), 40))
		}
		s, err := alpha.status()
		if err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		n := len(r.accepted)
		r.mu.Unlock()
		t.Logf("kill %d %s, at %s: alpha at height %d, %d actions accepted", i+1, point, time.Since(began).Round(time.Millisecond), s.ChainHeight, n)
		if p := sendErr.Load(); p != nil {
			t.Fatal(*p)
		}
		time.Sleep(ms(0, 1000))
		victim.start()
	}
	s, err := alpha.status()
	if err != nil {
		t.Fatal(err)
	}
	victim.waitHeight(s.ChainHeight, 60*time.Second)
	r.victimUp.Store(true)
	kick()
	time.Sleep(2 * time.Second)
	stopSenders()
	if p := sendErr.Load(); p != nil {
		t.Fatal(*p)
	}
	if got := strings.Count(victim.log.String(), "=== start"); got != kills+1 {
		t.Fatalf("the victim started %d times, want %d", got, kills+1)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	byVictim := 0
	for _, a := range r.accepted {
		if a.via == victim.name {
			byVictim++
		}
	}
	var reasons []string
	for k, v := range r.refused {
		reasons = append(reasons, fmt.Sprintf("%d× %s", v, k))
	}
	sort.Strings(reasons)
	t.Logf("%d kills in %s; %d actions sent, %d accepted (%d by the victim), %d bursts; not accepted: %s",
		kills, time.Since(began).Round(time.Millisecond), r.sent, len(r.accepted), byVictim, bursts, strings.Join(reasons, "; "))
	if byVictim == 0 {
		t.Fatal("the victim accepted no action: the test did not test what it says")
	}

	// The victim equals the undisturbed alpha.
	st := agree(t, cl.hosts, 120*time.Second)
	t.Logf("all four at height %d, app hash %s, log size %d, serial %d", st.ChainHeight, st.AppHash, st.LogSize, st.Serial)
	compareReplicas(t, alpha, victim)

	// Every reported acceptance is in the victim's log, and the log holds
	// exactly each operator's sequence numbers up to its next one: nothing
	// accepted is lost, nothing appears twice.
	size := st.LogSize
	all := make([]int64, size)
	for i := range all {
		all[i] = int64(i)
	}
	entries, err := victim.entries(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.accepted {
		if a.index < 0 || a.index >= size || !bytes.Equal(entries[a.index], a.msg) {
			t.Errorf("action %d of %s accepted by %s at index %d: the victim's entry there is %q", a.seq, signerOf(a.msg), a.via, a.index, entries[a.index])
		}
	}
	logged := map[string][]uint64{}
	for _, i := range all {
		if sa, err := action.Decode(entries[i]); err == nil && sa.Kind == action.KindDelegate {
			logged[sa.Signer] = append(logged[sa.Signer], sa.Seq)
		}
	}
	total := 0
	for _, o := range ops {
		name := o.key.Signer.Name()
		next, err := victim.api.NextSeq(name)
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for s := o.first; s < next; s++ {
			want = append(want, s)
		}
		if got := logged[name]; !slices.Equal(got, want) {
			t.Errorf("the victim's log holds actions %v of %s, want %d..%d in order", got, name, o.first, next-1)
		}
		total += len(want)
	}
	if total < len(r.accepted) {
		t.Errorf("the log holds %d operator actions, fewer than the %d reported accepted", total, len(r.accepted))
	}
	t.Logf("the log holds %d operator actions: %d reported accepted, %d committed after their sender lost the answer", total, len(r.accepted), total-len(r.accepted))
}

func signerOf(msg []byte) string {
	if sa, err := action.Decode(msg); err == nil {
		return sa.Signer
	}
	return "?"
}

// compareReplicas checks that b's state, log and zone equal a's, read at
// the same height: app hash, log size and root, zone serial and ZONEMD,
// the checkpoint's head, and the zone by AXFR.
func compareReplicas(t testing.TB, a, b *host) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s and %s agree at one height", a.name, b.name), 60*time.Second, func() error {
		var sa, sb apiStatus
		if err := a.api.GetJSON("/v1/status", &sa); err != nil {
			return err
		}
		if err := b.api.GetJSON("/v1/status", &sb); err != nil {
			return err
		}
		if sa.ChainHeight != sb.ChainHeight {
			return fmt.Errorf("%s at height %d, %s at %d", a.name, sa.ChainHeight, b.name, sb.ChainHeight)
		}
		if sa != sb {
			t.Fatalf("at height %d %s has %+v, %s has %+v", sa.ChainHeight, a.name, sa, b.name, sb)
		}
		ca, err := a.checkpointHead()
		if err != nil {
			return err
		}
		cb, err := b.checkpointHead()
		if err != nil {
			return err
		}
		if ca != cb {
			return fmt.Errorf("%s serves checkpoint %q, %s %q", a.name, ca, b.name, cb)
		}
		za, err := a.axfr(a.cl.c.Apex)
		if err != nil {
			return fmt.Errorf("AXFR from %s: %v", a.name, err)
		}
		zb, err := b.axfr(b.cl.c.Apex)
		if err != nil {
			return fmt.Errorf("AXFR from %s: %v", b.name, err)
		}
		var ta, tb []string
		for _, rr := range za {
			ta = append(ta, rr.String())
		}
		for _, rr := range zb {
			tb = append(tb, rr.String())
		}
		if !slices.Equal(ta, tb) {
			i := 0
			for i < min(len(ta), len(tb)) && ta[i] == tb[i] {
				i++
			}
			at := func(rrs []string) string {
				if i < len(rrs) {
					return rrs[i]
				}
				return "(end)"
			}
			return fmt.Errorf("AXFR: %s serves %d records, %s %d; record %d is %q and %q", a.name, len(ta), b.name, len(tb), i, at(ta), at(tb))
		}
		t.Logf("%s and %s at height %d: log %d root %s, serial %d, ZONEMD %.16s…, checkpoint and AXFR (%d records) equal",
			a.name, b.name, sa.ChainHeight, sa.LogSize, sa.LogRoot, sa.Serial, sa.ZONEMD, len(ta))
		return nil
	})
}

// apiStatus is the part of GET /v1/status two replicas at one height must
// agree on.
type apiStatus struct {
	ChainHeight int64  `json:"chain_height"`
	AppHash     string `json:"app_hash"`
	LogSize     int64  `json:"log_size"`
	LogRoot     string `json:"log_root"`
	Serial      uint32 `json:"serial"`
	ZONEMD      string `json:"zonemd"`
	ZoneHeight  int64  `json:"zone_height"`
}
