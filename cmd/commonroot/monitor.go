package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/monitor"
)

func runMonitor(args []string) error {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	var nodes, dnss list
	fs.Var(&nodes, "node", "a member node's HTTP API (repeatable)")
	fs.Var(&dnss, "dns", "the DNS address of the node given at the same position, or - for none (repeatable)")
	cpath := fs.String("constitution", "", "the federation's constitution")
	quorum := fs.Int("quorum", 0, "member signatures a checkpoint needs (default: more than 2/3)")
	once := fs.Bool("once", false, "check every node once and exit: 0 if all agree, 1 on a divergence or a node that could not be checked")
	wait := fs.Duration("wait", 60*time.Second, "with --once, how long to keep trying nodes that cannot be checked yet")
	interval := fs.Duration("interval", 2*time.Second, "time between checks")
	grace := fs.Duration("grace", 30*time.Second, "how long a served zone may wait for a checkpoint covering its version")
	metrics := fs.String("metrics", "", "serve Prometheus metrics on ADDR at /metrics")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *cpath == "" || len(nodes) == 0 {
		return fmt.Errorf("usage: commonroot monitor --node URL... [--dns ADDR...] --constitution FILE [--once] [--interval 2s] [--metrics ADDR]")
	}
	if len(dnss) > len(nodes) {
		return fmt.Errorf("%d --dns addresses for %d --node URLs: the n-th --dns belongs to the n-th --node", len(dnss), len(nodes))
	}
	doc, err := os.ReadFile(*cpath)
	if err != nil {
		return err
	}
	c, err := constitution.Parse(doc)
	if err != nil {
		return err
	}
	var ns []monitor.Node
	for i, u := range nodes {
		n := monitor.Node{Name: u, URL: u}
		if i < len(dnss) && dnss[i] != "-" {
			n.DNS = dnss[i]
		}
		ns = append(ns, n)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()
	m, err := monitor.New(monitor.Config{Nodes: ns, Constitution: c, Quorum: *quorum, Grace: *grace, Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	if *metrics != "" {
		l, err := net.Listen("tcp", *metrics)
		if err != nil {
			return fmt.Errorf("--metrics: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(l)
		defer hs.Close()
		logger.Info("metrics", "addr", l.Addr().String())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *once {
		alerts, err := m.Once(ctx, *wait)
		if err != nil {
			return err
		}
		if len(alerts) > 0 {
			var errs []error
			for _, a := range alerts {
				errs = append(errs, a)
			}
			return fmt.Errorf("DIVERGENCE: %v", errors.Join(errs...))
		}
		fmt.Printf("ok: %d nodes agree\n", len(ns))
		return nil
	}
	m.Run(ctx, *interval)
	return nil
}
