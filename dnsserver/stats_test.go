package dnsserver

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestStats: responses are counted by transport and rcode, whichever path
// (fast or reference) made them.
func TestStats(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Publish(rootZone(t, true)); err != nil {
		t.Fatal(err)
	}
	ask := func(net, name string) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeNS)
		if _, _, err := (&dns.Client{Net: net, Timeout: 2 * time.Second}).Exchange(m, s.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		ask("udp", "com.") // a referral, twice from the fast path
	}
	ask("udp", "no-such-tld.")
	ask("udp", "no-such-tld.")
	ask("tcp", "no-such-tld.")
	// A latency is counted just after its answer is sent: stop the
	// server (Close waits for its loops) to be sure the last ones were.
	s.Close()
	st := s.Stats()
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"UDP NOERROR", st.UDP[dns.RcodeSuccess], 3},
		{"UDP NXDOMAIN", st.UDP[dns.RcodeNameError], 2},
		{"TCP NXDOMAIN", st.TCP[dns.RcodeNameError], 1},
		{"TCP NOERROR", st.TCP[dns.RcodeSuccess], 0},
		{"dropped", st.Dropped, 0},
		{"UDP latencies", st.UDPLatency.Count, 5},
		{"TCP latencies", st.TCPLatency.Count, 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// TestStatsLatency: both UDP loops count one latency per answer sent (not
// per datagram read: an ignored datagram has none), and the histograms
// keep their invariant (Count is the sum of the buckets, a positive Sum).
func TestStatsLatency(t *testing.T) {
	for _, loop := range []string{"direct", "x/net"} {
		t.Run(loop, func(t *testing.T) {
			s := newTestServer(t, Config{}, rootZone(t, true))
			serve := s.serveUDPDirect
			if loop == "x/net" {
				serve = s.serveUDP
			}
			client, stop := runUDPLoop(t, serve)
			reqs := [][]byte{
				query("com.", dns.TypeNS, 1232, false, 1),
				{1, 2, 3}, // ignored: no answer, no latency
				query("no-such-tld.", dns.TypeA, 1232, true, 2),
				query(".", dns.TypeANY, 0, false, 3), // the reference path
			}
			for _, r := range reqs {
				if _, err := client.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			buf := make([]byte, 4096)
			for range 3 {
				client.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := client.Read(buf); err != nil {
					t.Fatal(err)
				}
			}
			// A batch is counted just after its answers are sent: stop
			// the loop to be sure the last one was.
			stop()
			h := s.Stats().UDPLatency
			var sum uint64
			for _, n := range h.Buckets {
				sum += n
			}
			if h.Count != 3 || sum != h.Count || h.Sum <= 0 {
				t.Errorf("UDP latency histogram: count %d, bucket sum %d, sum %v; want 3, 3, > 0", h.Count, sum, h.Sum)
			}
			if tcp := s.Stats().TCPLatency.Count; tcp != 0 {
				t.Errorf("TCP latency count %d after UDP queries only", tcp)
			}
		})
	}
}

// TestLatencyBuckets checks where observations land, bounds included
// in their bucket, and the cumulative form.
func TestLatencyBuckets(t *testing.T) {
	tests := []struct {
		d      time.Duration
		n      int
		bucket int
	}{
		{0, 1, 0},
		{5 * time.Microsecond, 2, 0},
		{5*time.Microsecond + 1, 1, 1},
		{time.Millisecond, 64, 7},
		{time.Second, 1, latencyBuckets - 1},
		{time.Second + 1, 3, latencyBuckets},
		{time.Hour, 0, -1}, // no answers: nothing counted
	}
	for _, tt := range tests {
		var l latency
		l.observe(tt.d, tt.n)
		h := l.load()
		for i, got := range h.Buckets {
			want := uint64(0)
			if i == tt.bucket {
				want = uint64(tt.n)
			}
			if got != want {
				t.Errorf("observe(%v, %d): bucket %d = %d, want %d", tt.d, tt.n, i, got, want)
			}
		}
		if h.Count != uint64(max(tt.n, 0)) || h.Sum != tt.d*time.Duration(tt.n) {
			t.Errorf("observe(%v, %d): count %d sum %v, want %d and %v", tt.d, tt.n, h.Count, h.Sum, tt.n, tt.d*time.Duration(tt.n))
		}
	}
	var l latency
	l.observe(time.Microsecond, 1)
	l.observe(time.Millisecond, 2)
	l.observe(time.Minute, 4)
	c := l.load().Cumulative()
	if c[0] != 1 || c[6] != 1 || c[7] != 3 || c[latencyBuckets-1] != 3 {
		t.Errorf("cumulative %v, want 1 up to 500µs, 3 from 1ms (the minute is above every bound)", c)
	}
}
