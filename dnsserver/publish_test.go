package dnsserver

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestCanonicalKey(t *testing.T) {
	// RFC 4034 §6.1: names in canonical order.
	ordered := []string{
		"example.",
		"a.example.",
		"yljkjljk.a.example.",
		"Z.a.example.",
		"zABC.a.EXAMPLE.",
		"z.example.",
		`\001.z.example.`,
		"*.z.example.",
		`\200.z.example.`,
	}
	for i := range ordered {
		for j := range ordered {
			a, b := canonicalKey(nil, ordered[i]), canonicalKey(nil, ordered[j])
			if got, want := bytes.Compare(a, b), cmpInt(i, j); got != want {
				t.Errorf("compare(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	// A zero byte in a label and a shorter label.
	if bytes.Compare(canonicalKey(nil, "a."), canonicalKey(nil, `a\000.`)) >= 0 {
		t.Errorf("a. does not sort before a\\000.")
	}
	if bytes.Compare(canonicalKey(nil, `a\000.`), canonicalKey(nil, `a\001.`)) >= 0 {
		t.Errorf("a\\000. does not sort before a\\001.")
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestIsBelow(t *testing.T) {
	cases := []struct {
		name, parent string
		want         bool
	}{
		{"example.", "example.", true},
		{"a.example.", "example.", true},
		{"aexample.", "example.", false},
		{`a\.example.`, "example.", false},
		{`a\\.example.`, "example.", true},
		{"example.", "a.example.", false},
		{"anything.", ".", true},
		{".", ".", true},
		{"", ".", false},
	}
	for _, c := range cases {
		if got := isBelow(c.name, c.parent); got != c.want {
			t.Errorf("isBelow(%q, %q) = %v, want %v", c.name, c.parent, got, c.want)
		}
	}
}

// TestPublishAtomic publishes versions while clients query: every answer
// must come from one version (the apex TXT names the SOA serial of its own
// version). Run with -race.
func TestPublishAtomic(t *testing.T) {
	version := func(serial uint32) *testZone {
		return newTestZone(t, "example.", fmt.Sprintf(`$TTL 3600
example. SOA ns1.example. hostmaster.example. %d 3600 900 1209600 300
example. NS ns1.example.
example. TXT "serial %d"
ns1.example. A 192.0.2.1
`, serial, serial))
	}
	s := newTestServer(t, Config{}, version(1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := new(dns.Msg)
			q.SetQuestion("example.", dns.TypeANY)
			for {
				select {
				case <-stop:
					return
				default:
				}
				w := &captureWriter{}
				s.ServeDNS(w, q)
				var r dns.Msg
				if err := r.Unpack(w.b); err != nil {
					errs <- err.Error()
					return
				}
				var serial uint32
				var txt string
				for _, rr := range r.Answer {
					switch rr := rr.(type) {
					case *dns.SOA:
						serial = rr.Serial
					case *dns.TXT:
						txt = strings.Join(rr.Txt, "")
					}
				}
				if want := fmt.Sprintf("serial %d", serial); txt != want {
					errs <- fmt.Sprintf("answer mixes versions: SOA serial %d with TXT %q", serial, txt)
					return
				}
			}
		}()
	}
	for serial := uint32(2); serial <= 200; serial++ {
		if err := s.Publish(version(serial)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := s.Serial(); got != 200 {
		t.Errorf("Serial = %d, want 200", got)
	}
}

// captureWriter keeps the last message written; safe for one goroutine.
type captureWriter struct{ b []byte }

func (w *captureWriter) LocalAddr() net.Addr { return benchAddr }
func (w *captureWriter) RemoteAddr() net.Addr {
	return benchAddr
}
func (w *captureWriter) WriteMsg(m *dns.Msg) error   { return nil }
func (w *captureWriter) Write(b []byte) (int, error) { w.b = slices.Clone(b); return len(b), nil }
func (w *captureWriter) Close() error                { return nil }
func (w *captureWriter) TsigStatus() error           { return nil }
func (w *captureWriter) TsigTimersOnly(bool)         {}
func (w *captureWriter) Hijack()                     {}

// notifyTarget is a fake secondary that records the NOTIFYs it receives and
// answers only from the answerFrom-th one on.
type notifyTarget struct {
	mu         sync.Mutex
	got        []*dns.Msg
	answerFrom int
	seen       chan struct{}
}

func (n *notifyTarget) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	n.mu.Lock()
	n.got = append(n.got, r.Copy())
	k := len(n.got)
	n.mu.Unlock()
	select {
	case n.seen <- struct{}{}:
	default:
	}
	if k < n.answerFrom {
		return // lost, as far as the primary can tell
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	w.WriteMsg(m)
}

func startNotifyTarget(t *testing.T, answerFrom int) (*notifyTarget, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &notifyTarget{answerFrom: answerFrom, seen: make(chan struct{}, 100)}
	srv := &dns.Server{PacketConn: pc, Handler: n}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return n, pc.LocalAddr().String()
}

func TestNotify(t *testing.T) {
	defer func(d time.Duration) { notifyTimeout = d }(notifyTimeout)
	notifyTimeout = 20 * time.Millisecond

	answering, a1 := startNotifyTarget(t, 1)
	lossy, a2 := startNotifyTarget(t, 3)
	deaf, a3 := startNotifyTarget(t, 1000)
	z := newTestZone(t, "example.", exampleZone)
	s := newTestServer(t, Config{Notify: []string{a1, a2, a3}}, z)
	// The first Publish notifies too.
	waitSeen := func(n *notifyTarget, count int) []*dns.Msg {
		t.Helper()
		for {
			n.mu.Lock()
			got := slices.Clone(n.got)
			n.mu.Unlock()
			if len(got) >= count {
				return got
			}
			select {
			case <-n.seen:
			case <-time.After(30 * time.Second):
				t.Fatalf("saw %d NOTIFYs, want %d", len(got), count)
			}
		}
	}
	got := waitSeen(answering, 1)
	m := got[0]
	if m.Opcode != dns.OpcodeNotify || !m.Authoritative || len(m.Question) != 1 ||
		m.Question[0] != (dns.Question{Name: "example.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET}) {
		t.Errorf("NOTIFY = %v, want opcode NOTIFY, AA, question example. SOA", m)
	}
	if len(m.Answer) != 1 || m.Answer[0].(*dns.SOA).Serial != z.Serial() {
		t.Errorf("NOTIFY answer section %v, want the SOA with serial %d", m.Answer, z.Serial())
	}
	// The lossy secondary gets retries until it answers, and no more.
	waitSeen(lossy, 3)
	// The deaf one gets a bounded number of attempts: Close waits for the
	// round to end, then nothing more may arrive.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		n    *notifyTarget
		max  int
	}{{"answering", answering, 1}, {"lossy", lossy, 3}, {"deaf", deaf, notifyAttempts}} {
		c.n.mu.Lock()
		if len(c.n.got) > c.max {
			t.Errorf("%s secondary got %d NOTIFYs, want at most %d", c.name, len(c.n.got), c.max)
		}
		c.n.mu.Unlock()
	}
}

func TestNotifyAllAttempts(t *testing.T) {
	defer func(d time.Duration) { notifyTimeout = d }(notifyTimeout)
	notifyTimeout = 10 * time.Millisecond
	deaf, addr := startNotifyTarget(t, 1000)
	s := newTestServer(t, Config{Notify: []string{addr}}, newTestZone(t, "example.", exampleZone))
	// Wait until the round has given up: notifyWG is done.
	s.notifyWG.Wait()
	deaf.mu.Lock()
	defer deaf.mu.Unlock()
	if len(deaf.got) != notifyAttempts {
		t.Errorf("unanswered secondary got %d NOTIFYs, want %d", len(deaf.got), notifyAttempts)
	}
	for i := 1; i < len(deaf.got); i++ {
		if deaf.got[i].Id == deaf.got[0].Id {
			t.Errorf("retry %d reuses the message ID", i)
		}
	}
}

// TestWithdraw: a withdrawn version is not served (SERVFAIL) until the
// next Publish.
func TestWithdraw(t *testing.T) {
	zone := func(serial uint32) *testZone {
		return newTestZone(t, "example.", fmt.Sprintf(`$TTL 3600
example. SOA ns1.example. hostmaster.example. %d 3600 900 1209600 300
example. NS ns1.example.
ns1.example. A 192.0.2.1
`, serial))
	}
	s := newTestServer(t, Config{}, zone(1))
	ask := func() (int, uint32) {
		q := new(dns.Msg)
		q.SetQuestion("example.", dns.TypeSOA)
		w := &captureWriter{}
		s.ServeDNS(w, q)
		var r dns.Msg
		if err := r.Unpack(w.b); err != nil {
			t.Fatal(err)
		}
		if len(r.Answer) == 1 {
			return r.Rcode, r.Answer[0].(*dns.SOA).Serial
		}
		return r.Rcode, 0
	}
	if rc, serial := ask(); rc != dns.RcodeSuccess || serial != 1 {
		t.Fatalf("before: rcode %d serial %d", rc, serial)
	}
	s.Withdraw()
	if rc, _ := ask(); rc != dns.RcodeServerFailure || s.Serial() != 0 {
		t.Fatalf("withdrawn: rcode %s, serial %d; want SERVFAIL", dns.RcodeToString[rc], s.Serial())
	}
	if err := s.Publish(zone(2)); err != nil {
		t.Fatal(err)
	}
	if rc, serial := ask(); rc != dns.RcodeSuccess || serial != 2 {
		t.Fatalf("after: rcode %d serial %d", rc, serial)
	}
}
