package dnsserver

import (
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Stats counts the responses a server sent, by transport and rcode (the
// header's 4-bit RCODE), and the UDP responses rate limiting dropped; and
// the latency of its answers by transport.
type Stats struct {
	UDP, TCP [16]uint64
	Dropped  uint64
	// UDPLatency and TCPLatency are the answer latencies: the time from
	// the server's read of a query to its send of the answer. On UDP it is
	// measured once per batch of datagrams (one recvmmsg to the sendmmsg
	// of the batch's answers) and counted for every answer of the batch,
	// so each answer's figure is an upper bound of its own; the time a
	// datagram waits in the socket buffer before the read is not in it.
	// On TCP it is measured per query, to its answer's first message.
	UDPLatency, TCPLatency Histogram
}

// LatencyBuckets are the upper bounds of the latency histograms' buckets,
// ascending.
var LatencyBuckets = [latencyBuckets]time.Duration{
	5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, time.Second,
}

const latencyBuckets = 16

// Histogram is a latency histogram over [LatencyBuckets]. Invariant:
// Count is the sum of Buckets.
type Histogram struct {
	// Buckets[i] counts the latencies d with LatencyBuckets[i-1] < d ≤
	// LatencyBuckets[i] (not cumulative); the last element counts those
	// above the last bound.
	Buckets [latencyBuckets + 1]uint64
	Count   uint64
	// Sum is the sum of the latencies counted.
	Sum time.Duration
}

// Cumulative returns the number of latencies ≤ LatencyBuckets[i], for
// each i (the form Prometheus histograms take).
func (h Histogram) Cumulative() [latencyBuckets]uint64 {
	var out [latencyBuckets]uint64
	var n uint64
	for i := range out {
		n += h.Buckets[i]
		out[i] = n
	}
	return out
}

// latency is the live histogram behind a Histogram. An observation costs
// a search of 16 bounds and two atomic additions, however many answers
// it counts.
type latency struct {
	buckets [latencyBuckets + 1]atomic.Uint64
	sum     atomic.Int64 // nanoseconds
}

// observe counts n answers of latency d.
func (l *latency) observe(d time.Duration, n int) {
	if n <= 0 {
		return
	}
	i := 0
	for i < latencyBuckets && d > LatencyBuckets[i] {
		i++
	}
	l.buckets[i].Add(uint64(n))
	l.sum.Add(int64(d) * int64(n))
}

func (l *latency) load() Histogram {
	var h Histogram
	for i := range h.Buckets {
		h.Buckets[i] = l.buckets[i].Load()
		h.Count += h.Buckets[i]
	}
	h.Sum = time.Duration(l.sum.Load())
	return h
}

// counters are the live counts behind Stats.
type counters struct {
	udp, tcp       [16]atomic.Uint64
	dropped        atomic.Uint64
	udpLat, tcpLat latency
}

func (c *counters) response(tcp bool, msg []byte) {
	if len(msg) < 4 {
		return
	}
	rc := msg[3] & 0x0f
	if tcp {
		c.tcp[rc].Add(1)
	} else {
		c.udp[rc].Add(1)
	}
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	var st Stats
	for i := range st.UDP {
		st.UDP[i] = s.stats.udp[i].Load()
		st.TCP[i] = s.stats.tcp[i].Load()
	}
	st.Dropped = s.stats.dropped.Load()
	st.UDPLatency = s.stats.udpLat.load()
	st.TCPLatency = s.stats.tcpLat.load()
	return st
}

// tcpHandler serves TCP through ServeDNS and counts what it answers, and
// the latency to each query's first answer message.
type tcpHandler struct{ s *Server }

func (h tcpHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	h.s.ServeDNS(&countingWriter{ResponseWriter: w, s: h.s, start: time.Now()}, r)
}

type countingWriter struct {
	dns.ResponseWriter
	s     *Server
	start time.Time
	timed bool // the first message's latency is counted
}

func (w *countingWriter) WriteMsg(m *dns.Msg) error {
	w.s.stats.tcp[m.Rcode&0x0f].Add(1)
	err := w.ResponseWriter.WriteMsg(m)
	w.sent()
	return err
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.s.stats.response(true, b)
	n, err := w.ResponseWriter.Write(b)
	w.sent()
	return n, err
}

func (w *countingWriter) sent() {
	if !w.timed {
		w.timed = true
		w.s.stats.tcpLat.observe(time.Since(w.start), 1)
	}
}
