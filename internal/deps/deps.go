//go:build tools

// Package deps pins the modules the project is built on, so that go.mod
// keeps them while the packages that import them are written.
package deps

import (
	_ "filippo.io/edwards25519"
	_ "github.com/cometbft/cometbft/node"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/transparency-dev/merkle"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/mod/sumdb/tlog"
)
