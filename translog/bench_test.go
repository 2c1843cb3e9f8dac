package translog

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

const benchSize = 1_000_000

// The million-entry log is built once per test binary, in batches of
// 10,000, and removed by TestMain.
var bench struct {
	once sync.Once
	dir  string
	lg   *Log
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

func benchEntry(i int64) []byte { return fmt.Appendf(nil, "%0200d", i) }

func millionLog(b *testing.B) *Log {
	bench.once.Do(func() {
		bench.dir, bench.err = os.MkdirTemp("", "translog-bench")
		if bench.err != nil {
			return
		}
		db, err := bbolt.Open(filepath.Join(bench.dir, "node.db"), 0o600, &bbolt.Options{NoSync: true})
		if err != nil {
			bench.err = err
			return
		}
		lg, err := Open(db, testOrigin)
		if err != nil {
			bench.err = err
			return
		}
		for lg.Size() < benchSize {
			bt := lg.NewBatch()
			for i := 0; i < 10000; i++ {
				if _, err := bt.Append(benchEntry(bt.Size())); err != nil {
					bench.err = err
					return
				}
			}
			if err := db.Update(bt.Write); err != nil {
				bench.err = err
				return
			}
			if err := lg.Advance(bt); err != nil {
				bench.err = err
				return
			}
		}
		bench.lg = lg
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.lg
}

func BenchmarkInclusionProof(b *testing.B) {
	lg := millionLog(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx := int64(i) * 7919 % benchSize
		if _, err := lg.InclusionProof(idx, benchSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConsistencyProof(b *testing.B) {
	lg := millionLog(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		old := 1 + int64(i)*7919%(benchSize-1)
		if _, err := lg.ConsistencyProof(old, benchSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadTile(b *testing.B) {
	lg := millionLog(b)
	for _, tt := range []struct {
		name string
		tile tlog.Tile
	}{
		{"level0", tlog.Tile{H: 8, L: 0, N: 1234, W: 256}},
		{"level1", tlog.Tile{H: 8, L: 1, N: 7, W: 256}},
		{"entries", tlog.Tile{H: 8, L: EntriesLevel, N: 1234, W: 256}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := lg.ReadTile(tt.tile); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppend measures Batch.Append alone (hashing into memory), per
// entry of 200 bytes, over a million-entry log.
func BenchmarkAppend(b *testing.B) {
	lg := millionLog(b)
	entry := benchEntry(0)
	bt := lg.NewBatch()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%100_000 == 0 {
			bt = lg.NewBatch() // keep the batch's memory bounded
		}
		if _, err := bt.Append(entry); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch measures one block's work: appending k entries of 200
// bytes, the root, Write in a bbolt transaction (NoSync) and Advance.
func BenchmarkBatch(b *testing.B) {
	for _, k := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("entries=%d", k), func(b *testing.B) {
			lg, db := newLog(b)
			growTo(b, lg, db, 100_000, 10_000)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt := lg.NewBatch()
				for j := 0; j < k; j++ {
					if _, err := bt.Append(benchEntry(bt.Size())); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := bt.Root(); err != nil {
					b.Fatal(err)
				}
				if err := db.Update(bt.Write); err != nil {
					b.Fatal(err)
				}
				if err := lg.Advance(bt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*k)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
