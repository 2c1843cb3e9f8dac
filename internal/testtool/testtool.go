// Package testtool finds the standard programs (nsd, kdig, unbound,
// ldns-verify-zone, named-checkzone, …) that commonroot's tests use as
// independent judges.
//
// A missing tool fails the test: the suite's promise is that the interop
// tests run, and `make test` installs the tools. Only an explicit
// COMMONROOT_SKIP_INTEROP=1 turns a missing tool into a skip, for a
// developer who knows what they are leaving out.
package testtool

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Path returns the absolute path of the program name, looked up in PATH and
// in the sbin directories where Debian puts daemons. A missing program fails
// t (or skips it when COMMONROOT_SKIP_INTEROP=1).
func Path(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("COMMONROOT_SKIP_INTEROP") == "1" {
		t.Skipf("%s not installed (COMMONROOT_SKIP_INTEROP=1)", name)
	}
	t.Fatalf("%s not installed: run `make test`, which installs the Debian packages the tests use", name)
	return ""
}

// FreePort returns a port on 127.0.0.1 that is free for both TCP and UDP
// (a DNS server needs both). Another process may still take it before the
// caller binds it; tests bind it at once.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP on 127.0.0.1")
	return 0
}

// FreeAddr is FreePort as "127.0.0.1:PORT".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// WriteNSDSecondary writes, in dir, the configuration of an nsd that runs
// as a secondary of the root zone: it listens on 127.0.0.1:port, transfers
// from the primary at 127.0.0.1:primaryPort, accepts its NOTIFY, logs to
// stderr and has response rate limiting off. It returns the file's path,
// for `nsd -d -c PATH`.
func WriteNSDSecondary(t testing.TB, dir string, port, primaryPort int) string {
	t.Helper()
	conf := fmt.Sprintf(`server:
	ip-address: 127.0.0.1
	port: %[2]d
	username: ""
	chroot: ""
	zonesdir: "%[1]s"
	database: ""
	pidfile: "%[1]s/nsd.pid"
	xfrdfile: "%[1]s/xfrd.state"
	xfrdir: "%[1]s"
	zonelistfile: "%[1]s/zone.list"
	server-count: 1
	rrl-ratelimit: 0
	verbosity: 2
	logfile: ""
remote-control:
	control-enable: no
zone:
	name: "."
	zonefile: "%[1]s/root.zone"
	request-xfr: 127.0.0.1@%[3]d NOKEY
	allow-notify: 127.0.0.1 NOKEY
`, dir, port, primaryPort)
	path := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
