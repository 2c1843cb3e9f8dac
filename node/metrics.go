package node

import (
	"strconv"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/dnsserver"
)

// metrics are the node's Prometheus metrics, served at /metrics: the API's
// (HTTP, actions, blocks, height, log size, zone serial), the node's own
// (cosigners of the served checkpoint, equivocations seen) and the Go
// runtime's.
type metrics struct {
	reg          *prometheus.Registry
	api          *api.Metrics
	cosigners    prometheus.Gauge
	equivocation prometheus.Counter
	inBlocks     *prometheus.CounterVec
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{
		reg: reg,
		api: api.NewMetrics(reg),
		cosigners: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "commonroot_checkpoint_cosigners", Help: "Signatures on the checkpoint this node serves.",
		}),
		equivocation: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commonroot_equivocations_seen_total", Help: "Member cosignatures of a wrong checkpoint this node has seen.",
		}),
	}
	m.inBlocks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "commonroot_block_actions_total", Help: "Actions in committed blocks, by outcome (rejected: refused by the state machine in the block, e.g. a hostile proposer's).",
	}, []string{"outcome"})
	reg.MustRegister(m.cosigners, m.equivocation, m.inBlocks)
	return m
}

// committed updates the per-block figures.
func (m *metrics) committed(c Commit, served []byte) {
	m.api.Blocks.Inc()
	m.api.Height.Set(float64(c.Height))
	m.api.LogSize.Set(float64(c.LogSize))
	m.api.ZoneSerial.Set(float64(c.Zone.Serial()))
	m.inBlocks.WithLabelValues("accepted").Add(float64(c.Actions - c.Rejected))
	m.inBlocks.WithLabelValues("rejected").Add(float64(c.Rejected))
	if served != nil {
		if n, err := note.Open(served, note.VerifierList()); err == nil {
			m.cosigners.Set(float64(len(n.Sigs)))
		} else if u, ok := err.(*note.UnverifiedNoteError); ok {
			m.cosigners.Set(float64(len(u.Note.UnverifiedSigs)))
		}
	}
}

// dnsCollector exports the DNS server's response counts and answer
// latency histograms at each scrape (the server keeps its own lock-free
// counts; nothing is done per query on its behalf).
type dnsCollector struct {
	stats                     func() dnsserver.Stats
	responses, drops, latency *prometheus.Desc
}

func newDNSCollector(stats func() dnsserver.Stats) *dnsCollector {
	return &dnsCollector{
		stats:     stats,
		responses: prometheus.NewDesc("commonroot_dns_responses_total", "DNS responses sent, by transport and rcode.", []string{"transport", "rcode"}, nil),
		drops:     prometheus.NewDesc("commonroot_dns_rrl_dropped_total", "UDP responses dropped by response rate limiting.", nil, nil),
		latency: prometheus.NewDesc("commonroot_dns_answer_duration_seconds",
			"DNS answer latency by transport: from reading a query to sending its answer (UDP: per receive batch, counted for each answer of the batch).",
			[]string{"transport"}, nil),
	}
}

func (c *dnsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.responses
	ch <- c.drops
	ch <- c.latency
}

// latencyMetric is h as a Prometheus histogram.
func (c *dnsCollector) latencyMetric(h dnsserver.Histogram, transport string) prometheus.Metric {
	cum := h.Cumulative()
	buckets := make(map[float64]uint64, len(cum))
	for i, n := range cum {
		buckets[dnsserver.LatencyBuckets[i].Seconds()] = n
	}
	return prometheus.MustNewConstHistogram(c.latency, h.Count, h.Sum.Seconds(), buckets, transport)
}

func (c *dnsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for rc := range st.UDP {
		name := dns.RcodeToString[rc]
		if name == "" {
			name = strconv.Itoa(rc)
		}
		if st.UDP[rc] > 0 {
			ch <- prometheus.MustNewConstMetric(c.responses, prometheus.CounterValue, float64(st.UDP[rc]), "udp", name)
		}
		if st.TCP[rc] > 0 {
			ch <- prometheus.MustNewConstMetric(c.responses, prometheus.CounterValue, float64(st.TCP[rc]), "tcp", name)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st.Dropped))
	ch <- c.latencyMetric(st.UDPLatency, "udp")
	ch <- c.latencyMetric(st.TCPLatency, "tcp")
}
