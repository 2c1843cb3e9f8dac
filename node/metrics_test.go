package node

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/commonroot/commonroot/dnsserver"
)

// TestDNSCollector checks the DNS metrics as a scrape sees them: responses
// by transport and rcode, and the answer latency histograms, cumulative,
// with their count and sum in seconds.
func TestDNSCollector(t *testing.T) {
	var st dnsserver.Stats
	st.UDP[0], st.UDP[3], st.TCP[3] = 7, 2, 1
	st.UDPLatency.Buckets[0] = 5  // ≤ 5µs
	st.UDPLatency.Buckets[7] = 4  // ≤ 1ms
	st.UDPLatency.Buckets[16] = 1 // above 1s
	st.UDPLatency.Count = 10
	st.UDPLatency.Sum = 3 * time.Second
	st.TCPLatency.Buckets[9] = 1
	st.TCPLatency.Count = 1
	st.TCPLatency.Sum = 4 * time.Millisecond
	reg := prometheus.NewRegistry()
	reg.MustRegister(newDNSCollector(func() dnsserver.Stats { return st }))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	type hist struct {
		count   uint64
		sum     float64
		buckets map[float64]uint64
	}
	hists := map[string]hist{}
	responses := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "commonroot_dns_answer_duration_seconds":
				h := hist{count: m.GetHistogram().GetSampleCount(), sum: m.GetHistogram().GetSampleSum(), buckets: map[float64]uint64{}}
				for _, b := range m.GetHistogram().GetBucket() {
					h.buckets[b.GetUpperBound()] = b.GetCumulativeCount()
				}
				hists[labels["transport"]] = h
			case "commonroot_dns_responses_total":
				responses[labels["transport"]+" "+labels["rcode"]] = m.GetCounter().GetValue()
			}
		}
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{"udp NOERROR", responses["udp NOERROR"], 7},
		{"udp NXDOMAIN", responses["udp NXDOMAIN"], 2},
		{"tcp NXDOMAIN", responses["tcp NXDOMAIN"], 1},
		{"udp count", float64(hists["udp"].count), 10},
		{"udp sum", hists["udp"].sum, 3},
		{"udp ≤ 5µs", float64(hists["udp"].buckets[0.000005]), 5},
		{"udp ≤ 500µs", float64(hists["udp"].buckets[0.0005]), 5},
		{"udp ≤ 1ms", float64(hists["udp"].buckets[0.001]), 9},
		{"udp ≤ 1s", float64(hists["udp"].buckets[1]), 9},
		{"udp buckets", float64(len(hists["udp"].buckets)), float64(len(dnsserver.LatencyBuckets))},
		{"tcp count", float64(hists["tcp"].count), 1},
		{"tcp sum", hists["tcp"].sum, 0.004},
		{"tcp ≤ 2.5ms", float64(hists["tcp"].buckets[0.0025]), 0},
		{"tcp ≤ 5ms", float64(hists["tcp"].buckets[0.005]), 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
