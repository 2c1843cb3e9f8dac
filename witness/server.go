package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Log is a log the witness cosigns: its origin, its signers' keys, and
// how many distinct ones must sign a checkpoint (the witness's policy).
type Log struct {
	Origin    string
	Verifiers []note.Verifier
	// Quorum is how many of Verifiers must have signed (at least 1).
	Quorum int
}

// ParseLog parses a log's policy as `commonroot witness serve --log` takes
// it: "ORIGIN=VKEY,VKEY,...[:K]", where the VKEYs are the log's signed-note
// verifier keys (for commonroot, the members' keys) and K, by default more
// than two thirds of them, is how many must have signed. The origin must
// not contain '='.
func ParseLog(s string) (Log, error) {
	origin, rest, ok := strings.Cut(s, "=")
	if !ok || origin == "" || rest == "" {
		return Log{}, fmt.Errorf("witness: log %q: want ORIGIN=VKEY,VKEY,...[:K]", s)
	}
	l := Log{Origin: origin}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		k, err := strconv.Atoi(rest[i+1:])
		if err != nil || k < 1 {
			return Log{}, fmt.Errorf("witness: log %q: quorum %q is not a positive number", origin, rest[i+1:])
		}
		l.Quorum, rest = k, rest[:i]
	}
	for _, k := range strings.Split(rest, ",") {
		v, err := note.NewVerifier(strings.TrimSpace(k))
		if err != nil {
			return Log{}, fmt.Errorf("witness: log %q: key %q: %v", origin, k, err)
		}
		l.Verifiers = append(l.Verifiers, v)
	}
	if l.Quorum == 0 {
		l.Quorum = len(l.Verifiers)*2/3 + 1
	}
	if l.Quorum > len(l.Verifiers) {
		return Log{}, fmt.Errorf("witness: log %q: quorum %d of %d keys can never be met", origin, l.Quorum, len(l.Verifiers))
	}
	return l, nil
}

// ServerConfig configures a witness server.
type ServerConfig struct {
	// Signer cosigns; normally a [*Cosigner].
	Signer note.Signer
	// Logs are the logs the witness cosigns, each origin once.
	Logs []Log
	// StateDir keeps, per origin, the latest cosigned checkpoint (a file
	// named by the SHA-256 of the origin, replaced atomically).
	StateDir string
	Logger   *slog.Logger
}

// A Server is a C2SP tlog-witness (v1.0.0) serving POST /add-checkpoint.
// For each configured log it keeps the latest checkpoint it cosigned and
// cosigns a new one only if a quorum of the log's keys signed it and it is
// consistent with that one. Checking and persisting happen under one lock,
// so two requests never roll the witness back.
type Server struct {
	cfg  ServerConfig
	logs map[string]*Log
	mu   sync.Mutex
}

// state is what the witness knows of one log.
type state struct {
	tree tlog.Tree
	note []byte // the latest cosigned checkpoint, as stored
}

// NewServer checks cfg and creates the state directory.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Signer == nil {
		return nil, errors.New("witness: no signer")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("witness: no state directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, logs: map[string]*Log{}}
	for i := range cfg.Logs {
		l := &cfg.Logs[i]
		if _, dup := s.logs[l.Origin]; dup {
			return nil, fmt.Errorf("witness: log %q configured twice", l.Origin)
		}
		if l.Quorum < 1 || l.Quorum > len(l.Verifiers) {
			return nil, fmt.Errorf("witness: log %q: quorum %d of %d keys", l.Origin, l.Quorum, len(l.Verifiers))
		}
		s.logs[l.Origin] = l
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("witness: state directory: %v", err)
	}
	for origin := range s.logs {
		if _, err := s.load(origin); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) statePath(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return filepath.Join(s.cfg.StateDir, hex.EncodeToString(h[:])+".checkpoint")
}

// load reads the state of origin (the zero state if there is none).
func (s *Server) load(origin string) (state, error) {
	path := s.statePath(origin)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("witness: state of %q: %v", origin, err)
	}
	text, _, err := splitNote(b)
	if err != nil {
		return state{}, fmt.Errorf("witness: state file %s: %v", path, err)
	}
	o, tree, err := checkpointTree(text)
	if err != nil {
		return state{}, fmt.Errorf("witness: state file %s: %v", path, err)
	}
	if o != origin {
		return state{}, fmt.Errorf("witness: state file %s holds origin %q, not %q", path, o, origin)
	}
	return state{tree: tree, note: b}, nil
}

// store replaces the state of origin atomically: a new file, synced, then
// renamed over the old one, then the directory synced.
func (s *Server) store(origin string, msg []byte) error {
	path := s.statePath(origin)
	f, err := os.CreateTemp(s.cfg.StateDir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(msg); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(s.cfg.StateDir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Latest returns the latest checkpoint the witness cosigned for origin,
// with its cosignature, and its tree; ok is false if there is none.
func (s *Server) Latest(origin string) (msg []byte, tree tlog.Tree, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load(origin)
	if err != nil || st.note == nil {
		return nil, tlog.Tree{}, false, err
	}
	return st.note, st.tree, true, nil
}

// httpErr is a refusal with its status.
type httpErr struct {
	status int
	msg    string
	size   int64 // for 409
}

func refuse(status int, format string, args ...any) *httpErr {
	return &httpErr{status: status, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP serves POST /add-checkpoint (relative to where it is mounted).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/add-checkpoint" {
		http.Error(w, fmt.Sprintf("no such resource %q", r.URL.Path), http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, fmt.Sprintf("method %s not allowed on %q", r.Method, r.URL.Path), http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(w, fmt.Sprintf("reading the request: %v", err), http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		http.Error(w, fmt.Sprintf("request of more than %d bytes", maxBody), http.StatusRequestEntityTooLarge)
		return
	}
	sigs, herr := s.addCheckpoint(body)
	if herr != nil {
		s.cfg.Logger.Info("add-checkpoint refused", "status", herr.status, "reason", herr.msg, "remote", r.RemoteAddr)
		if herr.status == http.StatusConflict {
			w.Header().Set("Content-Type", ContentTypeSize)
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "%d\n", herr.size)
			return
		}
		http.Error(w, herr.msg, herr.status)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(sigs)
}

// addCheckpoint runs the tlog-witness checks in the specification's order
// and, if they pass, persists and cosigns the checkpoint.
func (s *Server) addCheckpoint(body []byte) ([]byte, *httpErr) {
	old, proof, cp, err := ParseRequest(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	first, _, _ := bytes.Cut(cp, []byte("\n"))
	l, ok := s.logs[string(first)]
	if !ok {
		return nil, refuse(http.StatusNotFound, "unknown log origin %q", first)
	}
	n, err := note.Open(cp, note.VerifierList(l.Verifiers...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return nil, refuse(http.StatusForbidden, "no signature by a key of log %q", l.Origin)
		case errors.As(err, &invalid):
			return nil, refuse(http.StatusForbidden, "log %q: %v", l.Origin, err)
		}
		return nil, refuse(http.StatusBadRequest, "malformed checkpoint note: %v", err)
	}
	if len(n.Sigs) < l.Quorum {
		return nil, refuse(http.StatusForbidden, "checkpoint signed by %d of log %q's keys, the policy needs %d", len(n.Sigs), l.Origin, l.Quorum)
	}
	origin, tree, err := checkpointTree([]byte(n.Text))
	if err != nil || origin != l.Origin {
		return nil, refuse(http.StatusBadRequest, "malformed checkpoint: %v", err)
	}
	if old > tree.N {
		return nil, refuse(http.StatusBadRequest, "old size %d is larger than the checkpoint's size %d", old, tree.N)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load(l.Origin)
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, "%v", err)
	}
	if old != st.tree.N {
		return nil, &httpErr{status: http.StatusConflict, size: st.tree.N, msg: fmt.Sprintf("old size %d, the latest cosigned size is %d", old, st.tree.N)}
	}
	switch {
	case old == 0:
		if len(proof) != 0 {
			return nil, refuse(http.StatusUnprocessableEntity, "a proof of %d hashes from size 0, want none", len(proof))
		}
		if tree.N == 0 {
			if empty, _ := tlog.TreeHash(0, nil); tree.Hash != empty {
				return nil, refuse(http.StatusUnprocessableEntity, "the empty tree's root is %v, not %v", empty, tree.Hash)
			}
		}
	case old == tree.N:
		if tree.Hash != st.tree.Hash {
			return nil, &httpErr{status: http.StatusConflict, size: st.tree.N, msg: fmt.Sprintf("root %v at size %d, the cosigned root is %v", tree.Hash, tree.N, st.tree.Hash)}
		}
		if len(proof) != 0 {
			return nil, refuse(http.StatusUnprocessableEntity, "a proof of %d hashes between equal sizes, want none", len(proof))
		}
	default:
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, old, st.tree.Hash); err != nil {
			s.cfg.Logger.Warn("inconsistent checkpoint", "origin", l.Origin, "old", old, "size", tree.N, "checkpoint", string(cp), "err", err)
			return nil, refuse(http.StatusUnprocessableEntity, "the consistency proof from %d to %d does not verify: %v", old, tree.N, err)
		}
	}
	// Keep what was cosigned: the log's verified signatures and ours,
	// which note.Sign appends last.
	kept, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs}, s.cfg.Signer)
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, "cosigning: %v", err)
	}
	trimmed := kept[:len(kept)-1]
	line := kept[bytes.LastIndexByte(trimmed, '\n')+1:]
	if err := s.store(l.Origin, kept); err != nil {
		return nil, refuse(http.StatusInternalServerError, "persisting the state of %q: %v", l.Origin, err)
	}
	s.cfg.Logger.Info("cosigned", "origin", l.Origin, "size", tree.N, "old", old)
	return line, nil
}
