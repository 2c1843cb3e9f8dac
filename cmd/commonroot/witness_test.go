package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/dnsserver"
	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/localfed"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/zone"
)

// TestWitnessAndMonitorCommands runs `commonroot witness key`, `witness
// serve`, `verify --witness` and `monitor --once` as processes against an
// in-process 4-member federation that pushes its checkpoints to the
// witness process.
func TestWitnessAndMonitorCommands(t *testing.T) {
	work := t.TempDir()
	bin := filepath.Join(work, "commonroot")
	if out, err := exec.Command(goTool(), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		c := exec.Command(bin, args...)
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("running %v: %v", args, err)
		}
		return o.String(), e.String(), code
	}

	out, stderr, code := run("witness", "key", "witness.test/w1", "--out", filepath.Join(work, "w.key"))
	if code != 0 {
		t.Fatalf("witness key: exit %d: %s", code, stderr)
	}
	vkey := strings.TrimSpace(out)

	dir := filepath.Join(work, "fed")
	c, err := localfed.CreateDev(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range c.Members {
		keys = append(keys, m.Key)
	}
	waddr := testtool.FreeAddr(t)
	serve := exec.Command(bin, "witness", "serve", "--key", filepath.Join(work, "w.key"), "--addr", waddr,
		"--state", filepath.Join(work, "wstate"), "--log", c.Origin+"="+strings.Join(keys, ",")+":3")
	var wlog syncBuffer
	serve.Stderr = &wlog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })

	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	f, err := localfed.Start(localfed.Options{Dir: dir, AllowTransfer: loopback, Witnesses: []string{"http://" + waddr + " " + vkey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	cpath := setup.ConstitutionPath(dir)

	// verify --witness: the witness process cosigned what alpha serves.
	verifyArgs := []string{"verify", "--node", f.HTTP("alpha"), "--dns", f.Nodes["alpha"].DNSAddr(), "--constitution", cpath, "--witness", vkey, "--witness-quorum", "1"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, stderr, code = run(verifyArgs...)
		if code == 0 || time.Now().After(deadline) {
			break
		}
	}
	if code != 0 || !strings.Contains(out, "cosigned by the witnesses [witness.test/w1]") {
		t.Fatalf("verify --witness: exit %d\n%s%s\nwitness log:\n%s", code, out, stderr, wlog.String())
	}
	// (A witness key that never cosigned fails verify: see the witness
	// package's TestFederationWitness, which need not wait 10 s for it.)

	monitorArgs := func(dnsOf func(string) string) []string {
		args := []string{"monitor", "--once", "--wait", "60s", "--constitution", cpath}
		for _, name := range localfed.MemberNames[:4] {
			args = append(args, "--node", f.HTTP(name), "--dns", dnsOf(name))
		}
		return args
	}
	honest := func(name string) string { return f.Nodes[name].DNSAddr() }
	if out, stderr, code := run(monitorArgs(honest)...); code != 0 || !strings.Contains(out, "ok: 4 nodes agree") {
		t.Fatalf("monitor --once on an honest federation: exit %d\n%s%s", code, out, stderr)
	}

	// delta's DNS lies about one delegation.
	z, _ := f.Nodes["delta"].App().Zone()
	dels := append([]zone.Delegation(nil), z.Delegations()...)
	for i, d := range dels {
		if d.Name == "net." {
			dels[i].NS = []string{"ns.evil.example."}
		}
	}
	forged, err := zone.Build(z.Params(), z.Serial(), dels, z.Hosts())
	if err != nil {
		t.Fatal(err)
	}
	liar, err := dnsserver.New(dnsserver.Config{Addr: "127.0.0.1:0", AllowTransfer: loopback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := liar.Publish(forged); err != nil {
		t.Fatal(err)
	}
	if err := liar.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { liar.Close() })
	lying := func(name string) string {
		if name == "delta" {
			return liar.Addr()
		}
		return honest(name)
	}
	out, stderr, code = run(monitorArgs(lying)...)
	if code != 1 {
		t.Fatalf("monitor --once with a lying node: exit %d, want 1\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"DIVERGENCE", f.HTTP("delta"), fmt.Sprintf("%X", forged.Digest()), fmt.Sprintf("%X", z.Digest()), `"kind":"zone"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("monitor's stderr lacks %q:\n%s", want, stderr)
		}
	}
}
