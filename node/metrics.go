package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/api"
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
	reg.MustRegister(m.cosigners, m.equivocation)
	return m
}

// committed updates the per-block figures.
func (m *metrics) committed(c Commit, served []byte) {
	m.api.Blocks.Inc()
	m.api.Height.Set(float64(c.Height))
	m.api.LogSize.Set(float64(c.LogSize))
	m.api.ZoneSerial.Set(float64(c.Zone.Serial()))
	if served != nil {
		if n, err := note.Open(served, note.VerifierList()); err == nil {
			m.cosigners.Set(float64(len(n.Sigs)))
		} else if u, ok := err.(*note.UnverifiedNoteError); ok {
			m.cosigners.Set(float64(len(u.Note.UnverifiedSigs)))
		}
	}
}
