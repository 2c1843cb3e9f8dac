package dnsserver_test

import (
	"fmt"
	"strings"

	"github.com/commonroot/commonroot/dnsserver"
	"github.com/miekg/dns"
)

// zone is a Zone read from master-file text already in canonical order.
type zone struct{ rrs []dns.RR }

func (z zone) Origin() string    { return "example." }
func (z zone) Serial() uint32    { return z.rrs[0].(*dns.SOA).Serial }
func (z zone) Records() []dns.RR { return z.rrs }

func Example() {
	zp := dns.NewZoneParser(strings.NewReader(`$TTL 3600
example. SOA ns1.example. hostmaster.example. 1 3600 900 1209600 300
example. NS ns1.example.
child.example. NS ns1.child.example.
ns1.child.example. A 192.0.2.1
ns1.example. A 192.0.2.53
`), "example.", "")
	var z zone
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		z.rrs = append(z.rrs, rr)
	}
	s, err := dnsserver.New(dnsserver.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	if err := s.Publish(z); err != nil {
		panic(err)
	}
	if err := s.Start(); err != nil {
		panic(err)
	}
	m := new(dns.Msg)
	m.SetQuestion("www.child.example.", dns.TypeA)
	r, err := dns.Exchange(m, s.Addr())
	if err != nil {
		panic(err)
	}
	fmt.Println("authoritative:", r.Authoritative)
	fmt.Println("referral to:", r.Ns[0].(*dns.NS).Ns, "glue:", r.Extra[0].(*dns.A).A)
	// Output:
	// authoritative: false
	// referral to: ns1.child.example. glue: 192.0.2.1
}
