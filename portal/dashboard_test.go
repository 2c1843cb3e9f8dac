package portal

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestGrafanaDashboard checks docs/grafana-dashboard.json: it parses, its
// panels have unique ids and fit the 24-column grid, and every metric its
// queries name is one that the node, the API or the monitor registers
// (read from their source), or a Go runtime / process collector's; every
// registered metric has a panel; and the charts the issue asks for (blocks,
// actions by reason, DNS answers by rcode, DNS and HTTP latency
// histograms, cosigners, monitor alerts) are there.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		Panels []struct {
			ID      int
			Type    string
			Title   string
			GridPos struct{ X, Y, W, H int }
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	known := map[string]bool{}
	nameRE := regexp.MustCompile(`(?:Name:\s*|NewDesc\()"(commonroot_[a-z_]+)"`)
	for _, src := range []string{"../api/metrics.go", "../node/metrics.go", "../monitor/monitor.go"} {
		s, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range nameRE.FindAllStringSubmatch(string(s), -1) {
			known[m[1]] = true
		}
	}
	if len(known) < 10 {
		t.Fatalf("found only %d metric names in the sources: %v", len(known), known)
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	metricRE := regexp.MustCompile(`\b(commonroot_[a-z_]+|go_[a-z_]+|process_[a-z_]+)`)
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: grid position %+v", p.Title, p.GridPos)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metricRE.FindAllString(tg.Expr, -1) {
				if strings.HasPrefix(m, "go_") || strings.HasPrefix(m, "process_") {
					continue
				}
				base := m
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if k := strings.TrimSuffix(m, suf); k != m && known[k] {
						base = k
					}
				}
				if !known[base] {
					t.Errorf("panel %q queries %q, which nothing registers", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	for k := range known {
		if !used[k] {
			t.Errorf("metric %q has no panel", k)
		}
	}
	// The charts issue 5 asks for, each a query some panel must make.
	required := []struct {
		chart string
		expr  *regexp.Regexp
	}{
		{"blocks", regexp.MustCompile(`rate\(commonroot_blocks_committed_total`)},
		{"actions by outcome", regexp.MustCompile(`by \(outcome\) \(rate\(commonroot_actions_submitted_total`)},
		{"rejections by reason", regexp.MustCompile(`by \(code\) \(rate\(commonroot_actions_submitted_total\{[^}]*outcome="rejected"`)},
		{"DNS answers by rcode", regexp.MustCompile(`by \(rcode, transport\) \(rate\(commonroot_dns_responses_total`)},
		{"DNS latency quantiles by transport", regexp.MustCompile(`histogram_quantile\(0\.99, sum by \(le, transport\) \(rate\(commonroot_dns_answer_duration_seconds_bucket`)},
		{"DNS latency heatmap", regexp.MustCompile(`sum by \(le\) \(rate\(commonroot_dns_answer_duration_seconds_bucket`)},
		{"HTTP latency quantiles by route", regexp.MustCompile(`histogram_quantile\(0\.99, sum by \(le, route\) \(rate\(commonroot_http_request_duration_seconds_bucket`)},
		{"HTTP latency heatmap", regexp.MustCompile(`sum by \(le\) \(rate\(commonroot_http_request_duration_seconds_bucket`)},
		{"cosigners per checkpoint", regexp.MustCompile(`commonroot_checkpoint_cosigners`)},
		{"monitor alerts", regexp.MustCompile(`commonroot_monitor_alerts_total`)},
	}
	for _, r := range required {
		found := false
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				found = found || r.expr.MatchString(tg.Expr)
			}
		}
		if !found {
			t.Errorf("no panel charts %s (a query matching %s)", r.chart, r.expr)
		}
	}
}
