package consensus

import (
	"errors"
	"sync"

	dbm "github.com/cometbft/cometbft-db"
	cfg "github.com/cometbft/cometbft/config"
)

// dbTracker opens CometBFT's databases and closes them all at Stop. Each
// is wrapped so that the goroutines CometBFT leaves running for a few
// seconds after Stop read "not found" instead of crashing the process on a
// closed database.
type dbTracker struct {
	mu  sync.Mutex
	dbs []*safeDB
}

func (t *dbTracker) provide(ctx *cfg.DBContext) (dbm.DB, error) {
	db, err := cfg.DefaultDBProvider(ctx)
	if err != nil {
		return nil, err
	}
	s := &safeDB{db: db}
	t.mu.Lock()
	t.dbs = append(t.dbs, s)
	t.mu.Unlock()
	return s, nil
}

func (t *dbTracker) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range t.dbs {
		d.Close()
	}
	t.dbs = nil
}

var errClosed = errors.New("database closed")

// safeDB is a dbm.DB that tolerates use after Close.
type safeDB struct {
	mu     sync.RWMutex
	db     dbm.DB
	closed bool
}

func (s *safeDB) read(f func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	return f()
}

func (s *safeDB) Get(k []byte) (v []byte, err error) {
	err = s.read(func() error { v, err = s.db.Get(k); return err })
	if err == errClosed {
		return nil, nil
	}
	return v, err
}

func (s *safeDB) Has(k []byte) (ok bool, err error) {
	err = s.read(func() error { ok, err = s.db.Has(k); return err })
	if err == errClosed {
		return false, nil
	}
	return ok, err
}

func (s *safeDB) Set(k, v []byte) error { return s.read(func() error { return s.db.Set(k, v) }) }
func (s *safeDB) SetSync(k, v []byte) error {
	return s.read(func() error { return s.db.SetSync(k, v) })
}
func (s *safeDB) Delete(k []byte) error { return s.read(func() error { return s.db.Delete(k) }) }
func (s *safeDB) DeleteSync(k []byte) error {
	return s.read(func() error { return s.db.DeleteSync(k) })
}
func (s *safeDB) Iterator(a, b []byte) (it dbm.Iterator, err error) {
	err = s.read(func() error { it, err = s.db.Iterator(a, b); return err })
	return it, err
}
func (s *safeDB) ReverseIterator(a, b []byte) (it dbm.Iterator, err error) {
	err = s.read(func() error { it, err = s.db.ReverseIterator(a, b); return err })
	return it, err
}
func (s *safeDB) NewBatch() dbm.Batch {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return closedBatch{}
	}
	return s.db.NewBatch()
}
func (s *safeDB) Print() error { return s.read(s.db.Print) }
func (s *safeDB) Stats() map[string]string {
	var st map[string]string
	s.read(func() error { st = s.db.Stats(); return nil })
	return st
}
func (s *safeDB) Compact(a, b []byte) error {
	return s.read(func() error { return s.db.Compact(a, b) })
}

func (s *safeDB) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

type closedBatch struct{}

func (closedBatch) Set(_, _ []byte) error { return errClosed }
func (closedBatch) Delete([]byte) error   { return errClosed }
func (closedBatch) Write() error          { return errClosed }
func (closedBatch) WriteSync() error      { return errClosed }
func (closedBatch) Close() error          { return nil }
