package zone_test

import (
	"fmt"
	"net/netip"

	"github.com/commonroot/commonroot/zone"
	"github.com/miekg/dns"
)

func Example() {
	p := zone.Params{
		Origin: "corp.",
		SOA:    zone.SOA{MName: "ns1.corp.", RName: "hostmaster.corp.", Refresh: 7200, Retry: 900, Expire: 1209600, Minimum: 300},
		NS:     []string{"ns1.corp."},
		TTLs:   zone.TTLs{SOA: 3600, ApexNS: 3600, NS: 3600, DS: 3600, Glue: 3600},
	}
	z, err := zone.Build(p, 1,
		[]zone.Delegation{{Name: "sales.corp.", NS: []string{"ns.sales.corp.", "ns.example.net."}}},
		[]zone.Host{
			{Name: "ns1.corp.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")}},
			{Name: "ns.sales.corp.", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("192.0.2.54")}},
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The master file, but for the ZONEMD digest.
	for rr := range z.All {
		if md, ok := rr.(*dns.ZONEMD); ok {
			fmt.Printf("%s %d %d %d (%d octets)\n", md.Hdr.Name, md.Serial, md.Scheme, md.Hash, len(z.Digest()))
			continue
		}
		fmt.Println(rr)
	}
	z2, err := z.Update(2, nil, []string{"sales.corp."}, nil, []string{"ns.sales.corp."})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(z2.Len(), zone.VerifyDigest(z2.Records()))
	// Output:
	// corp.	3600	IN	SOA	ns1.corp. hostmaster.corp. 1 7200 900 1209600 300
	// corp.	3600	IN	NS	ns1.corp.
	// corp. 1 1 1 (48 octets)
	// ns1.corp.	3600	IN	A	192.0.2.53
	// sales.corp.	3600	IN	NS	ns.sales.corp.
	// sales.corp.	3600	IN	NS	ns.example.net.
	// ns.sales.corp.	3600	IN	A	192.0.2.54
	// ns.sales.corp.	3600	IN	AAAA	2001:db8::53
	// 0 <nil>
}
