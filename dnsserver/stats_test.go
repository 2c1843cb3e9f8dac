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
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
