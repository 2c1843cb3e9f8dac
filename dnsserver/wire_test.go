package dnsserver

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func wireHeader(qd, an, ns, ar uint16) []byte {
	b := []byte{0xbe, 0xef, 0, 0}
	for _, n := range []uint16{qd, an, ns, ar} {
		b = binary.BigEndian.AppendUint16(b, n)
	}
	return b
}

func TestCheckWire(t *testing.T) {
	good := new(dns.Msg)
	good.SetQuestion("www.example.", dns.TypeA)
	good.SetEdns0(1232, true)
	goodWire, err := good.Pack()
	if err != nil {
		t.Fatal(err)
	}
	long := wireHeader(1, 0, 0, 0)
	for range 4 {
		long = append(append(long, 63), strings.Repeat("a", 63)...)
	}
	long = append(long, 0, 0, 1, 0, 1)
	tests := []struct {
		name string
		msg  []byte
		want string // "" for well formed
	}{
		{"a query with EDNS", goodWire, ""},
		{"backward pointer", append(wireHeader(2, 0, 0, 0), 3, 'c', 'o', 'm', 0, 0, 1, 0, 1, 1, 'a', 0xc0, 12, 0, 1, 0, 1), ""},
		{"short header", []byte{1, 2, 3}, "3 octets, shorter than a header"},
		{"ARCOUNT larger than the records", func() []byte { b := append([]byte(nil), goodWire...); b[11] = 2; return b }(), "record 2: name runs past the message"},
		{"QDCOUNT 65535", append(wireHeader(0xffff, 0, 0, 0), goodWire[12:]...), "question 4 is cut short"},
		{"octets after the last record", append(append([]byte(nil), goodWire...), 0), "1 octets after the last record"},
		{"pointer to itself", append(wireHeader(1, 0, 0, 0), 0xc0, 12, 0, 1, 0, 1), "question 1: compression pointer from 12 to 12, not to an earlier name"},
		{"pointer forward", append(wireHeader(1, 0, 0, 0), 0xc0, 18, 0, 1, 0, 1, 0), "question 1: compression pointer from 12 to 18, not to an earlier name"},
		{"pointer into the header", append(wireHeader(1, 0, 0, 0), 0xc0, 2, 0, 1, 0, 1), "question 1: compression pointer from 12 to 2, not to an earlier name"},
		{"label type 01", append(wireHeader(1, 0, 0, 0), 0x41, 0, 0, 1, 0, 1), "question 1: label type 0x40 is not a length or a pointer"},
		{"name of 256 octets", long, "question 1: name longer than 255 octets"},
		{"record data past the end", append(wireHeader(0, 0, 0, 1), 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 200, 1), "record 1's data runs past the message"},
	}
	for _, tt := range tests {
		err := checkWire(tt.msg)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: checkWire = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestMalformedWire sends messages miekg/dns would read leniently over UDP
// and TCP: both answer FORMERR with the query's id, and the server still
// answers after.
func TestMalformedWire(t *testing.T) {
	z := newTestZone(t, "example.", exampleZone)
	s := newTestServer(t, Config{}, z)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("example.", dns.TypeSOA)
	q.Id = 0xbeef
	b, _ := q.Pack()
	lying := append(append([]byte(nil), b[:10]...), 0xff, 0xff)
	lying = append(lying, b[12:]...)
	forward := append(wireHeader(1, 0, 0, 0), 0xc0, 18, 0, 6, 0, 1, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0)
	for _, network := range []string{"udp", "tcp"} {
		for name, msg := range map[string][]byte{"ARCOUNT 65535": lying, "forward pointer": forward} {
			conn, err := net.Dial(network, s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			out := msg
			if network == "tcp" {
				out = append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write(out); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 65537)
			n, err := conn.Read(buf)
			conn.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", network, name, err)
			}
			ans := buf[:n]
			if network == "tcp" {
				ans = ans[2:]
			}
			var r dns.Msg
			if err := r.Unpack(ans); err != nil || r.Id != 0xbeef || r.Rcode != dns.RcodeFormatError || !r.Response {
				t.Errorf("%s %s: answer %v (err %v), want FORMERR for id 0xbeef", network, name, &r, err)
			}
		}
		r, _, err := (&dns.Client{Net: network, Timeout: 5 * time.Second}).Exchange(q, s.Addr())
		if err != nil || r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: an honest query after: %v, %v", network, r, err)
		}
	}
}

// FuzzCheckWire: checkWire never panics, and a message it accepts unpacks
// with miekg/dns to exactly the counts its header states, unless its
// record data is what miekg/dns refuses.
func FuzzCheckWire(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("www.example.", dns.TypeA)
	m.SetEdns0(1232, true)
	b, _ := m.Pack()
	f.Add(b)
	f.Add(append(wireHeader(1, 0, 0, 0), 0xc0, 12, 0, 1, 0, 1))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if checkWire(msg) != nil {
			return
		}
		var r dns.Msg
		if err := r.Unpack(msg); err != nil {
			return
		}
		counts := [4]int{len(r.Question), len(r.Answer), len(r.Ns), len(r.Extra)}
		for i, c := range counts {
			if want := int(binary.BigEndian.Uint16(msg[4+2*i:])); c != want {
				t.Fatalf("section %d: %d records unpacked, header says %d", i, c, want)
			}
		}
	})
}
