package dnsserver

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkServeUDPLoop measures the UDP serving loops (the direct
// recvmmsg/sendmmsg one and the golang.org/x/net one) end to end over
// 127.0.0.1 on the root snapshot: each iteration sends a burst of queries
// (referrals and NXDOMAINs) and reads all their answers. It is the
// benchmark that shows what the per-batch latency measurement costs.
func BenchmarkServeUDPLoop(b *testing.B) {
	s := newTestServer(b, Config{}, rootZone(b, false))
	const burst = 32
	reqs := make([][]byte, burst)
	for i := range reqs {
		name := "www.example.com."
		if i%2 == 1 {
			name = "no-such-tld."
		}
		reqs[i] = query(name, dns.TypeA, 1232, i%4 < 2, uint16(i+1))
	}
	for _, loop := range []struct {
		name  string
		serve func(*net.UDPConn)
	}{{"direct", s.serveUDPDirect}, {"x-net", s.serveUDP}} {
		b.Run(loop.name, func(b *testing.B) {
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			go func() { loop.serve(conn); close(done) }()
			defer func() { conn.Close(); <-done }()
			client, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			buf := make([]byte, 4096)
			for b.Loop() {
				for _, r := range reqs {
					if _, err := client.Write(r); err != nil {
						b.Fatal(err)
					}
				}
				for range burst {
					client.SetReadDeadline(time.Now().Add(5 * time.Second))
					if _, err := client.Read(buf); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/query")
		})
	}
}

// BenchmarkLatencyHook measures what the UDP loops add per batch: two
// clock reads and one observation (however many answers the batch has).
func BenchmarkLatencyHook(b *testing.B) {
	var l latency
	for b.Loop() {
		read := time.Now()
		l.observe(time.Since(read), 64)
	}
}
