package dnsserver

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// frozenClock is a clock that moves only when told.
type frozenClock struct{ t time.Time }

func (c *frozenClock) now() time.Time { return c.t }

// outcome sorts an answer of the UDP path: none, a full answer, or a
// truncated empty one.
func outcome(t *testing.T, req, resp []byte) string {
	t.Helper()
	if resp == nil {
		return "dropped"
	}
	var q, m dns.Msg
	if err := q.Unpack(req); err != nil {
		t.Fatal(err)
	}
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("limited answer does not unpack: %v", err)
	}
	if m.Id != q.Id || !slices.Equal(m.Question, q.Question) || (q.IsEdns0() != nil) != (m.IsEdns0() != nil) {
		t.Fatalf("answer %v does not match query %v", &m, &q)
	}
	if m.Truncated {
		if len(m.Answer)+len(m.Ns) != 0 || len(m.Extra) > 1 {
			t.Fatalf("truncated answer carries records: %v", &m)
		}
		return "truncated"
	}
	return "answered"
}

func TestRateLimit(t *testing.T) {
	const rate, burst = 10, 5
	z := newTestZone(t, "example.", exampleZone)
	clock := &frozenClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	type flood struct {
		from  string
		n     int
		edns  bool
		fresh string // after the flood, an address of the same network
		other string // and one of another network
	}
	cases := []struct {
		name          string
		rl            RateLimit
		f             flood
		wantAnswered  int
		wantTruncated int
	}{
		{"off", RateLimit{}, flood{"192.0.2.1", 40, true, "192.0.2.200", "198.51.100.1"}, 40, 0},
		{"IPv4 /24, slip 2", RateLimit{ResponsesPerSecond: rate, Burst: burst}, flood{"192.0.2.1", 45, true, "192.0.2.200", "198.51.100.1"}, burst, (45 - burst) / 2},
		{"slip 1 truncates every one", RateLimit{ResponsesPerSecond: rate, Burst: burst, Slip: 1}, flood{"192.0.2.1", 45, false, "192.0.2.3", "192.0.3.1"}, burst, 45 - burst},
		{"slip -1 drops every one", RateLimit{ResponsesPerSecond: rate, Burst: burst, Slip: -1}, flood{"192.0.2.1", 45, true, "192.0.2.3", "192.0.3.1"}, burst, 0},
		{"burst defaults to the rate", RateLimit{ResponsesPerSecond: rate, Slip: -1}, flood{"192.0.2.1", 45, true, "192.0.2.3", "192.0.3.1"}, rate, 0},
		{"IPv6 /56", RateLimit{ResponsesPerSecond: rate, Burst: burst, Slip: 3}, flood{"2001:db8:0:100::1", 45, true, "2001:db8:0:1ff::2", "2001:db8:0:200::1"}, burst, (45 - burst) / 3},
		{"IPv4-mapped is IPv4", RateLimit{ResponsesPerSecond: rate, Burst: burst, Slip: -1}, flood{"::ffff:192.0.2.1", 45, true, "192.0.2.9", "::ffff:192.0.3.1"}, burst, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestServer(t, Config{RateLimit: c.rl}, z)
			s.clock = clock.now
			if s.rrl != nil {
				s.rrl.seed = 0 // the same bucket slots on every run
			}
			v := s.cur.Load()
			q := new(fastQuery)
			ask := func(from string, i int) string {
				var size uint16
				if c.f.edns {
					size = 1232
				}
				req := query("www.a.example.", dns.TypeA, size, false, uint16(i))
				addr := &net.UDPAddr{IP: net.ParseIP(from), Port: 5353}
				return outcome(t, req, s.respond(v, req, addr, testLocal, nil, q, s.now().UnixNano()))
			}
			got := map[string]int{}
			for i := range c.f.n {
				got[ask(c.f.from, i)]++
			}
			want := map[string]int{"answered": c.wantAnswered, "truncated": c.wantTruncated, "dropped": c.f.n - c.wantAnswered - c.wantTruncated}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("flood of %d from %s: %s %d, want %d (all: %v)", c.f.n, c.f.from, k, got[k], w, got)
				}
			}
			// Another network is served; the flooding network stays limited
			// while the clock stands still.
			if o := ask(c.f.other, 1000); o != "answered" {
				t.Errorf("query from %s: %s, want answered", c.f.other, o)
			}
			wantFresh := "answered"
			if c.rl.ResponsesPerSecond != 0 {
				slip := c.rl.Slip
				if slip == 0 {
					slip = 2
				}
				wantFresh = "dropped"
				if drops := c.f.n - c.wantAnswered + 1; slip > 0 && drops%slip == 0 {
					wantFresh = "truncated"
				}
			}
			if o := ask(c.f.fresh, 1001); o != wantFresh {
				t.Errorf("query from %s in the flooding network: %s, want %s", c.f.fresh, o, wantFresh)
			}
		})
	}
	// Tokens come back with time: one response per 1/rate seconds.
	s := newTestServer(t, Config{RateLimit: RateLimit{ResponsesPerSecond: rate, Burst: 1, Slip: -1}}, z)
	s.clock = clock.now
	v := s.cur.Load()
	req := query("example.", dns.TypeSOA, 0, false, 1)
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	answered := 0
	for range 3 * rate {
		if s.respond(v, req, from, testLocal, nil, new(fastQuery), s.now().UnixNano()) != nil {
			answered++
		}
		clock.t = clock.t.Add(time.Second / (2 * rate))
	}
	if want := 3 * rate / 2; answered != want {
		t.Errorf("queries at twice the rate for 3 s: %d answered, want %d", answered, want)
	}
}

// TestRateLimitNetwork floods a started server from 127.0.0.1 while its
// clock stands still: at most the burst gets full answers, some get
// truncated ones, and a client in another /24 (127.0.1.1) is still answered.
func TestRateLimitNetwork(t *testing.T) {
	const burst = 5
	z := newTestZone(t, "example.", exampleZone)
	s := newTestServer(t, Config{RateLimit: RateLimit{ResponsesPerSecond: 100, Burst: burst, Slip: 2}}, z)
	clock := &frozenClock{t: time.Now()}
	s.clock = clock.now
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	server, err := net.ResolveUDPAddr("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	flooder, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer flooder.Close()
	const n = 60
	for i := range n {
		if _, err := flooder.WriteToUDP(query("www.a.example.", dns.TypeA, 1232, true, uint16(i)), server); err != nil {
			t.Fatal(err)
		}
	}
	honest, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 1, 1)})
	if err != nil {
		t.Fatalf("binding 127.0.1.1: %v", err)
	}
	defer honest.Close()
	if _, err := honest.WriteToUDP(query("www.a.example.", dns.TypeA, 1232, true, 999), server); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	honest.SetReadDeadline(time.Now().Add(10 * time.Second))
	k, err := honest.Read(buf)
	if err != nil {
		t.Fatalf("client in another network got no answer: %v", err)
	}
	var m dns.Msg
	if err := m.Unpack(buf[:k]); err != nil || m.Truncated || len(m.Ns) == 0 {
		t.Errorf("client in another network: %v (err %v), want a full referral", &m, err)
	}
	// Collect what the flooder got until the line is quiet.
	got := map[bool]int{}
	for {
		flooder.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		k, err := flooder.Read(buf)
		if err != nil {
			break
		}
		var m dns.Msg
		if err := m.Unpack(buf[:k]); err != nil {
			t.Fatalf("answer to the flood does not unpack: %v", err)
		}
		got[m.Truncated]++
	}
	if got[false] > burst || got[true] == 0 || got[false]+got[true] >= n {
		t.Errorf("flood of %d: %d full and %d truncated answers, want at most %d full, some truncated, some dropped", n, got[false], got[true], burst)
	}
}

func TestSlipped(t *testing.T) {
	for _, edns := range []uint16{0, 1232} {
		req := query("www.a.example.", dns.TypeA, edns, true, 42)
		z := newTestZone(t, "example.", exampleZone)
		s := newTestServer(t, Config{}, z)
		full := s.respond(s.cur.Load(), req, testClient, testLocal, nil, new(fastQuery), 0)
		if outcome(t, req, slipped(full)) != "truncated" {
			t.Errorf("EDNS %d: slipped answer is not truncated", edns)
		}
	}
	if got := slipped([]byte{1, 2, 3}); got != nil {
		t.Errorf("slipped(short) = %x, want nil", got)
	}
}
