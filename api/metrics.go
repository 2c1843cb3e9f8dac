package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are a node's Prometheus metrics. The API updates the HTTP and
// action ones; the node sets the others when it commits a block.
type Metrics struct {
	// Requests counts HTTP requests by route pattern and status code;
	// Latency observes their duration by route.
	Requests *prometheus.CounterVec
	Latency  *prometheus.HistogramVec
	// Actions counts submitted actions by outcome ("accepted", "rejected",
	// "timeout", "error") and result code.
	Actions *prometheus.CounterVec
	// Blocks counts committed blocks; Height, LogSize and ZoneSerial are
	// the last committed block's height, log size and zone serial.
	Blocks     prometheus.Counter
	Height     prometheus.Gauge
	LogSize    prometheus.Gauge
	ZoneSerial prometheus.Gauge
}

// NewMetrics registers the metrics with reg and returns them. Calling it
// again with the same registry returns the same collectors, so the node and
// New can each call it. It panics if reg holds a different collector under
// one of the names (a programmer error).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		Requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commonroot_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"})),
		Latency: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "commonroot_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"})),
		Actions: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commonroot_actions_submitted_total", Help: "Actions submitted through the API by outcome and result code.",
		}, []string{"outcome", "code"})),
		Blocks: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commonroot_blocks_committed_total", Help: "Blocks committed by this node.",
		})),
		Height: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "commonroot_height", Help: "Height of the last committed block.",
		})),
		LogSize: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "commonroot_log_size", Help: "Size of the committed transparency log.",
		})),
		ZoneSerial: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "commonroot_zone_serial", Help: "SOA serial of the committed zone.",
		})),
	}
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		panic("api: registering metrics: " + err.Error())
	}
	return c
}

func (m *Metrics) observe(route string, code int, d time.Duration) {
	m.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.Latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *Metrics) action(outcome string, code uint32) {
	if m != nil {
		m.Actions.WithLabelValues(outcome, strconv.FormatUint(uint64(code), 10)).Inc()
	}
}

func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request, _ []string) {
	if s.o.Metrics == nil {
		writeError(w, http.StatusNotFound, "this node does not export metrics")
		return
	}
	promhttp.HandlerFor(s.o.Metrics, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}
