package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(2, 3) // 2 per second, bursts of 3
	l.now = func() time.Time { return now }
	tests := []struct {
		advance time.Duration
		key     string
		ok      bool
	}{
		{0, "a", true}, {0, "a", true}, {0, "a", true}, {0, "a", false}, // the burst, then no more
		{0, "b", true},                                                                 // another key has its own bucket
		{250 * time.Millisecond, "a", false},                                           // half a token
		{250 * time.Millisecond, "a", true},                                            // one token after 0.5 s
		{10 * time.Second, "a", true}, {0, "a", true}, {0, "a", true}, {0, "a", false}, // refills to the burst, no more
	}
	for i, tt := range tests {
		now = now.Add(tt.advance)
		ok, wait := l.allow(tt.key)
		if ok != tt.ok {
			t.Fatalf("step %d (%s): allow = %v, want %v", i, tt.key, ok, tt.ok)
		}
		if !ok && (wait <= 0 || wait > time.Second) {
			t.Errorf("step %d: wait %s", i, wait)
		}
	}
	if newLimiter(0, 5) != nil {
		t.Error("a zero rate must mean no limiter")
	}
}

// TestSubmitLimits: a client address and a signer get 429 beyond their
// burst, while another signer goes on.
func TestSubmitLimits(t *testing.T) {
	f := newFed(t, 0, Options{Limits: Limits{PerSigner: 0.001, Burst: 2}})
	d := &action.Delegate{TLD: "shared.", NS: []string{"ns1.shared.", "ns2.shared."}}
	for i := 0; i < 2; i++ {
		if code, got := f.post(f.act("op1", action.KindDelegate, d)); code != http.StatusOK {
			t.Fatalf("action %d of op1: %d %+v", i+1, code, got)
		}
	}
	code, hd, body := f.do("POST", "/v1/actions", f.act("op1", action.KindDelegate, d), "Content-Type", "text/plain")
	if code != http.StatusTooManyRequests || hd.Get("Retry-After") == "" {
		t.Fatalf("third action of op1: %d %s (Retry-After %q), want 429", code, body, hd.Get("Retry-After"))
	}
	checkErrorBody(t, body)
	f.seq["op1"]-- // that one never reached the node
	if code, got := f.post(f.act("op2", action.KindDelegate, &action.Delegate{TLD: "uses.", NS: []string{"ns1.shared.", "ns2.shared."}})); code != http.StatusOK {
		t.Fatalf("op2 while op1 is limited: %d %+v", code, got)
	}

	g := newFed(t, 0, Options{Limits: Limits{PerAddress: 0.001, Burst: 1}})
	if code, _ := g.post(g.act("op1", action.KindDelegate, d)); code != http.StatusOK {
		t.Fatalf("first action from the address: %d", code)
	}
	if code, _, _ := g.do("POST", "/v1/actions", g.act("op2", action.KindDelegate, d), "Content-Type", "text/plain"); code != http.StatusTooManyRequests {
		t.Fatalf("second action from the same address: %d, want 429", code)
	}
}
