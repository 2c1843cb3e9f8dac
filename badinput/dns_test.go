package badinput

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsCase is one hostile DNS message and what the server does with it:
// no answer at all, or an answer with this rcode (the only error text DNS
// has) and the request's id.
type dnsCase struct {
	name string
	tcp  bool
	// msg is the message as sent (over TCP with its length prefix, unless
	// raw is set: then msg is written to the connection as is).
	msg   []byte
	raw   bool
	none  bool
	rcode int
}

// packed returns m in wire form, after edit changes the bytes.
func packed(t *testing.T, m *dns.Msg, edit ...func(b []byte) []byte) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edit {
		b = e(b)
	}
	return b
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0xbeef
	return m
}

// header is a 12-octet header with id 0xbeef and these counts.
func header(qd, an, ns, ar uint16) []byte {
	b := []byte{0xbe, 0xef, 0, 0}
	for _, n := range []uint16{qd, an, ns, ar} {
		b = binary.BigEndian.AppendUint16(b, n)
	}
	return b
}

func withOPT(m *dns.Msg, f func(o *dns.OPT)) *dns.Msg {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(1232)
	f(o)
	m.Extra = append(m.Extra, o)
	return m
}

// exchange sends c's message and returns the answer, or nil when none came.
func exchange(t *testing.T, c dnsCase) []byte {
	t.Helper()
	network := "udp"
	if c.tcp {
		network = "tcp"
	}
	conn, err := net.Dial(network, fed.dns)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := c.msg
	if c.tcp && !c.raw {
		out = append(binary.BigEndian.AppendUint16(nil, uint16(len(c.msg))), c.msg...)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	// Absence of an answer can only be shown by waiting: a second is
	// ample on loopback, and a slow machine only makes this pass later.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if !c.tcp {
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		return buf[:n]
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset") {
			return nil
		}
		t.Fatalf("reading the answer: %v", err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return buf
}

func TestDNS(t *testing.T) {
	q := func(edit ...func(b []byte) []byte) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return packed(t, query("com.", dns.TypeNS), edit...) }
	}
	cases := []struct {
		dnsCase
		build func(t *testing.T) []byte
	}{
		{dnsCase: dnsCase{name: "3 octets", none: true}, build: func(*testing.T) []byte { return []byte{1, 2, 3} }},
		{dnsCase: dnsCase{name: "header cut at 11 octets", none: true}, build: func(*testing.T) []byte { return header(1, 0, 0, 0)[:11] }},
		{dnsCase: dnsCase{name: "QDCOUNT 65535 with one question", rcode: dns.RcodeFormatError}, build: q(func(b []byte) []byte { b[4], b[5] = 0xff, 0xff; return b })},
		{dnsCase: dnsCase{name: "QDCOUNT 1 without a question", rcode: dns.RcodeFormatError}, build: func(*testing.T) []byte { return header(1, 0, 0, 0) }},
		{dnsCase: dnsCase{name: "ARCOUNT 65535 without records", rcode: dns.RcodeFormatError}, build: q(func(b []byte) []byte { b[10], b[11] = 0xff, 0xff; return b })},
		{dnsCase: dnsCase{name: "compression pointer to itself", rcode: dns.RcodeFormatError}, build: func(*testing.T) []byte {
			return append(header(1, 0, 0, 0), 0xc0, 12, 0, 2, 0, 1)
		}},
		{dnsCase: dnsCase{name: "compression loop of two", rcode: dns.RcodeFormatError}, build: func(*testing.T) []byte {
			return append(header(1, 0, 0, 0), 1, 'a', 0xc0, 16, 1, 'b', 0xc0, 12, 0, 0, 2, 0, 1)
		}},
		{dnsCase: dnsCase{name: "forward compression pointer", rcode: dns.RcodeFormatError}, build: func(*testing.T) []byte {
			return append(header(1, 0, 0, 0), 0xc0, 18, 0, 2, 0, 1, 3, 'c', 'o', 'm', 0)
		}},
		{dnsCase: dnsCase{name: "label of 64 octets", rcode: dns.RcodeFormatError}, build: func(*testing.T) []byte {
			b := append(header(1, 0, 0, 0), 64)
			b = append(b, strings.Repeat("a", 64)...)
			return append(b, 0, 0, 2, 0, 1)
		}},
		{dnsCase: dnsCase{name: "name of 256 octets", rcode: dns.RcodeFormatError}, build: func(*testing.T) []byte {
			b := header(1, 0, 0, 0)
			for range 4 {
				b = append(b, 63)
				b = append(b, strings.Repeat("a", 63)...)
			}
			return append(b, 3, 'c', 'o', 'm', 0, 0, 2, 0, 1)
		}},
		{dnsCase: dnsCase{name: "name growing past 255 octets through a pointer back", rcode: dns.RcodeFormatError}, build: func(t *testing.T) []byte {
			b := header(1, 0, 0, 0)
			for range 3 {
				b = append(b, 63)
				b = append(b, strings.Repeat("a", 63)...)
			}
			return append(b, 0xc0, 12, 0, 2, 0, 1) // back to its own start
		}},
		{dnsCase: dnsCase{name: "octets after the question", rcode: dns.RcodeFormatError}, build: q(func(b []byte) []byte { return append(b, 0, 0, 0) })},
		{dnsCase: dnsCase{name: "TCP: ARCOUNT 65535 without records", tcp: true, rcode: dns.RcodeFormatError}, build: q(func(b []byte) []byte { b[10], b[11] = 0xff, 0xff; return b })},
		{dnsCase: dnsCase{name: "TCP: compression loop", tcp: true, rcode: dns.RcodeFormatError}, build: func(*testing.T) []byte {
			return append(header(1, 0, 0, 0), 1, 'a', 0xc0, 16, 1, 'b', 0xc0, 12, 0, 0, 2, 0, 1)
		}},
		{dnsCase: dnsCase{name: "two OPT records", rcode: dns.RcodeFormatError}, build: func(t *testing.T) []byte {
			m := withOPT(withOPT(query("com.", dns.TypeNS), func(*dns.OPT) {}), func(*dns.OPT) {})
			return packed(t, m)
		}},
		{dnsCase: dnsCase{name: "EDNS version 1", rcode: dns.RcodeBadVers}, build: func(t *testing.T) []byte {
			return packed(t, withOPT(query("com.", dns.TypeNS), func(o *dns.OPT) { o.SetVersion(1) }))
		}},
		{dnsCase: dnsCase{name: "OPT owned by com.", rcode: dns.RcodeFormatError}, build: func(t *testing.T) []byte {
			return packed(t, withOPT(query("com.", dns.TypeNS), func(o *dns.OPT) { o.Hdr.Name = "com." }))
		}},
		{dnsCase: dnsCase{name: "EDNS option longer than its OPT", rcode: dns.RcodeFormatError}, build: func(t *testing.T) []byte {
			b := packed(t, withOPT(query("com.", dns.TypeNS), func(o *dns.OPT) {
				o.Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3, 4}}}
			}))
			b[len(b)-5] = 200 // option length 200 in an RDATA of 8
			return b
		}},
		{dnsCase: dnsCase{name: "response bit set", none: true}, build: q(func(b []byte) []byte { b[2] |= 0x80; return b })},
		{dnsCase: dnsCase{name: "UPDATE", rcode: dns.RcodeNotImplemented}, build: q(func(b []byte) []byte { b[2] |= dns.OpcodeUpdate << 3; return b })},
		{dnsCase: dnsCase{name: "NOTIFY from a stranger", rcode: dns.RcodeRefused}, build: q(func(b []byte) []byte { b[2] |= dns.OpcodeNotify << 3; return b })},
		{dnsCase: dnsCase{name: "AXFR from a non-allowed address", tcp: true, rcode: dns.RcodeRefused}, build: func(t *testing.T) []byte { return packed(t, query(".", dns.TypeAXFR)) }},
		{dnsCase: dnsCase{name: "IXFR from a non-allowed address", tcp: true, rcode: dns.RcodeRefused}, build: func(t *testing.T) []byte {
			m := query(".", dns.TypeIXFR)
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: "a.", Mbox: "b.", Serial: 1}}
			return packed(t, m)
		}},
		{dnsCase: dnsCase{name: "AXFR over UDP", rcode: dns.RcodeRefused}, build: func(t *testing.T) []byte { return packed(t, query(".", dns.TypeAXFR)) }},
		{dnsCase: dnsCase{name: "class CHAOS", rcode: dns.RcodeRefused}, build: func(t *testing.T) []byte {
			m := query("version.bind.", dns.TypeTXT)
			m.Question[0].Qclass = dns.ClassCHAOS
			return packed(t, m)
		}},
		{dnsCase: dnsCase{name: "TCP length 0", tcp: true, raw: true, none: true}, build: func(*testing.T) []byte { return []byte{0, 0} }},
		{dnsCase: dnsCase{name: "TCP length beyond the data", tcp: true, raw: true, none: true}, build: func(t *testing.T) []byte {
			b := packed(t, query("com.", dns.TypeNS))
			return append([]byte{0xff, 0xff}, b...)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := take(t)
			c.msg = c.build(t)
			ans := exchange(t, c.dnsCase)
			var got string
			if ans == nil {
				got = "no answer"
			} else {
				var m dns.Msg
				if err := m.Unpack(ans); err != nil {
					got = "unparseable answer " + err.Error()
				} else {
					got = dns.RcodeToString[m.Rcode]
					if m.Id != 0xbeef {
						got += " with another id"
					}
				}
			}
			want := "no answer"
			if !c.none {
				want = dns.RcodeToString[c.rcode]
			}
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			stillAnswers(t)
			unchanged(t, before)
		})
	}
}

// stillAnswers checks that the server answers an honest query.
func stillAnswers(t *testing.T) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("com.", dns.TypeNS)
	r, _, err := (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(m, fed.dns)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Ns) == 0 {
		t.Errorf("an honest query after it: %v, %v", r, err)
	}
}
