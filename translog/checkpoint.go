package translog

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// FormatCheckpoint returns the C2SP tlog-checkpoint body of a tree:
// "<origin>\n<size>\n<base64 root>\n", with no extension lines. The origin
// must be valid (see [Open]); FormatCheckpoint does not check it.
func FormatCheckpoint(origin string, size int64, root tlog.Hash) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// checkOrigin checks an origin line: non-empty UTF-8 with no control
// characters (a signed note's text may hold none but newlines).
func checkOrigin(origin string) error {
	if origin == "" {
		return errors.New("translog: empty origin")
	}
	if !utf8.ValidString(origin) {
		return fmt.Errorf("translog: origin %q is not valid UTF-8", origin)
	}
	for _, r := range origin {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("translog: origin %q contains a control character", origin)
		}
	}
	return nil
}

// ParseCheckpoint parses an untrusted C2SP tlog-checkpoint body strictly:
// exactly three lines, each ending in a newline; a non-empty origin with no
// control characters; the tree size in decimal with no sign and no leading
// zeros (except "0"), at most 2⁶³−1; and the root as the canonical standard
// base64 encoding (with padding) of exactly 32 bytes. Extension lines are
// refused. For every body it accepts, FormatCheckpoint gives back the same
// bytes.
func ParseCheckpoint(text []byte) (origin string, size int64, root tlog.Hash, err error) {
	fail := func(why string) (string, int64, tlog.Hash, error) {
		return "", 0, tlog.Hash{}, fmt.Errorf("translog: malformed checkpoint %q: %s", text, why)
	}
	s, ok := strings.CutSuffix(string(text), "\n")
	if !ok {
		return fail("it does not end with a newline")
	}
	lines := strings.Split(s, "\n")
	if len(lines) != 3 {
		return fail(fmt.Sprintf("%d lines, want exactly 3", len(lines)))
	}
	if err := checkOrigin(lines[0]); err != nil {
		return fail(err.Error())
	}
	size, ok = parseDecimal(lines[1], 1<<63-1)
	if !ok {
		return fail(fmt.Sprintf("tree size %q is not a decimal number without leading zeros", lines[1]))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize || base64.StdEncoding.EncodeToString(raw) != lines[2] {
		return fail(fmt.Sprintf("root hash %q is not the base64 of %d bytes", lines[2], tlog.HashSize))
	}
	copy(root[:], raw)
	return lines[0], size, root, nil
}

// parseDecimal parses a decimal number 0 ≤ n ≤ max with no sign and no
// leading zeros.
func parseDecimal(s string, max int64) (int64, bool) {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > max {
		return 0, false
	}
	return n, true
}

// CheckpointBody returns the checkpoint body of the committed log at an
// earlier (or the current) size.
func (l *Log) CheckpointBody(size int64) ([]byte, error) {
	root, err := l.TreeHash(size)
	if err != nil {
		return nil, err
	}
	return FormatCheckpoint(l.origin, size, root), nil
}

// CurrentCheckpointBody returns the checkpoint body of the committed log.
func (l *Log) CurrentCheckpointBody() []byte {
	t := l.Tree()
	return FormatCheckpoint(l.origin, t.N, t.Hash)
}

// An EquivocationError reports that a member key signed a checkpoint body
// of this log's origin and Size whose root differs from ours: proof that
// someone signed two different trees of the same size.
type EquivocationError struct {
	Size int64
	// Ours is our stored signed note for Size with the signatures collected
	// so far, or, if we hold none for that size, our unsigned checkpoint body.
	Ours []byte
	// Theirs is the note that was offered, as received; at least one of its
	// signatures verified with a known member key.
	Theirs []byte
}

func (e *EquivocationError) Error() string {
	return fmt.Sprintf("translog: equivocation at tree size %d: a member key signed the checkpoint %q, but ours is %q",
		e.Size, noteText(e.Theirs), noteText(e.Ours))
}

// noteText returns the text of a note (everything before its signatures).
func noteText(msg []byte) []byte {
	if i := bytes.LastIndex(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+1]
	}
	return msg
}

// Sign signs the checkpoint of the committed log with signer, stores the
// signature with the others collected for that size, and returns a note
// carrying only signer's signature (the one to hand to the other members).
// The signer must make plain Ed25519 note signatures (type 0x01), which are
// deterministic: signing the same size twice gives the same bytes.
func (l *Log) Sign(signer note.Signer) ([]byte, error) {
	t := l.Tree()
	body := FormatCheckpoint(l.origin, t.N, t.Hash)
	msg, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		return nil, fmt.Errorf("translog: signing the checkpoint of size %d as %q: %v", t.N, signer.Name(), err)
	}
	n, err := openUnverified(msg)
	if err != nil {
		return nil, err
	}
	for _, s := range n.UnverifiedSigs {
		raw, _ := base64.StdEncoding.DecodeString(s.Base64)
		if len(raw) != 4+64 {
			return nil, fmt.Errorf("translog: signer %q made a %d-byte signature, not an Ed25519 one", signer.Name(), len(raw)-4)
		}
	}
	if _, err := l.merge(t.N, body, n.UnverifiedSigs); err != nil {
		return nil, err
	}
	return msg, nil
}

// AddSignatures merges into our stored note the signatures of msg, another
// member's copy of one of our checkpoints, that verify with verifiers. It
// returns how many signatures were new. Signatures from unknown keys are
// ignored; one that fails with a known key refuses the whole note (as
// note.Open does).
//
// The note must be a checkpoint of this log's origin at a size we have
// committed (otherwise the error wraps [ErrNotFound]: try again later).
// If its body differs from ours at the same size, AddSignatures returns an
// [*EquivocationError] carrying both notes, and stores nothing.
func (l *Log) AddSignatures(msg []byte, verifiers note.Verifiers) (added int, err error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return 0, fmt.Errorf("translog: opening a cosigned checkpoint: %w", err)
	}
	origin, size, _, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return 0, err
	}
	if origin != l.origin {
		return 0, fmt.Errorf("translog: checkpoint of origin %q offered to the log of origin %q", origin, l.origin)
	}
	ours, err := l.CheckpointBody(size)
	if err != nil {
		return 0, err
	}
	if n.Text != string(ours) {
		e := &EquivocationError{Size: size, Ours: ours, Theirs: bytes.Clone(msg)}
		if stored, err := l.CheckpointAt(size); err == nil {
			e.Ours = stored
		}
		return 0, e
	}
	return l.merge(size, ours, n.Sigs)
}

// merge adds sigs to the stored note for size, whose text is body, and
// returns how many were new. Signatures are kept sorted by name and key
// hash, one per key.
func (l *Log) merge(size int64, body []byte, sigs []note.Signature) (added int, err error) {
	l.signMu.Lock()
	defer l.signMu.Unlock()
	err = l.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCheckpoints)
		var have []note.Signature
		if old := b.Get(itob(size)); old != nil {
			n, err := openUnverified(old)
			if err != nil {
				return err
			}
			if n.Text != string(body) {
				return fmt.Errorf("translog: stored checkpoint for size %d has the body %q, not %q", size, n.Text, body)
			}
			have = n.UnverifiedSigs
		}
		for _, s := range sigs {
			if !slices.ContainsFunc(have, func(h note.Signature) bool { return h.Name == s.Name && h.Hash == s.Hash }) {
				have = append(have, s)
				added++
			}
		}
		if added == 0 {
			return nil
		}
		slices.SortFunc(have, func(a, b note.Signature) int {
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return cmp.Compare(a.Hash, b.Hash)
		})
		msg, err := note.Sign(&note.Note{Text: string(body), Sigs: have})
		if err != nil {
			return fmt.Errorf("translog: encoding the checkpoint note for size %d: %v", size, err)
		}
		return b.Put(itob(size), msg)
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// openUnverified parses a note without checking any signature: all of them
// end up in UnverifiedSigs.
func openUnverified(msg []byte) (*note.Note, error) {
	_, err := note.Open(msg, note.VerifierList())
	var u *note.UnverifiedNoteError
	if !errors.As(err, &u) {
		return nil, fmt.Errorf("translog: malformed note %q: %v", msg, err)
	}
	return u.Note, nil
}

// SetServeQuorum makes Checkpoint (and so /checkpoint) return only
// checkpoints with at least k signatures (0, the default, means any). The
// signatures stored were verified when they were added.
func (l *Log) SetServeQuorum(k int) { l.serveQuorum.Store(int64(k)) }

// Checkpoint returns the signed checkpoint of the largest size that has
// enough signatures (see SetServeQuorum), with every signature collected
// for it. The error wraps [ErrNotFound] if there is none yet.
func (l *Log) Checkpoint() ([]byte, error) {
	var msg []byte
	k := int(l.serveQuorum.Load())
	err := l.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketCheckpoints).Cursor()
		steps := 0
		for key, v := c.Last(); key != nil && steps < 4096; key, v = c.Prev() {
			steps++
			if k > 0 {
				n, err := openUnverified(v)
				if err != nil || len(n.UnverifiedSigs) < k {
					continue
				}
			}
			msg = bytes.Clone(v)
			return nil
		}
		return fmt.Errorf("%w: no checkpoint with %d signatures yet", ErrNotFound, k)
	})
	return msg, err
}

// CheckpointAt returns the signed checkpoint of the given size with every
// signature collected for it. The error wraps [ErrNotFound] if nothing was
// signed at that size.
func (l *Log) CheckpointAt(size int64) ([]byte, error) {
	var msg []byte
	err := l.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketCheckpoints).Get(itob(size))
		if v == nil {
			return fmt.Errorf("%w: no signed checkpoint for tree size %d", ErrNotFound, size)
		}
		msg = bytes.Clone(v)
		return nil
	})
	return msg, err
}

// VerifyCheckpoint opens an untrusted signed checkpoint of the given
// origin and checks that at least quorum distinct known keys (distinct
// name and key hash) signed it. It returns the tree and the names of the
// keys that signed, in the note's order (a name appears once per key). As
// with note.Open, one signature that fails with a known key refuses the
// note. quorum must be at least 1.
func VerifyCheckpoint(msg []byte, origin string, verifiers note.Verifiers, quorum int) (tlog.Tree, []string, error) {
	if quorum < 1 {
		return tlog.Tree{}, nil, fmt.Errorf("translog: quorum %d is less than 1", quorum)
	}
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return tlog.Tree{}, nil, fmt.Errorf("translog: opening checkpoint: %w", err)
	}
	o, size, root, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return tlog.Tree{}, nil, err
	}
	if o != origin {
		return tlog.Tree{}, nil, fmt.Errorf("translog: checkpoint of origin %q, want %q", o, origin)
	}
	// note.Open keeps one verified signature per name and key hash.
	var names []string
	for _, s := range n.Sigs {
		names = append(names, s.Name)
	}
	if len(names) < quorum {
		return tlog.Tree{}, names, fmt.Errorf("translog: checkpoint of size %d signed by %d known keys %q, want at least %d",
			size, len(names), names, quorum)
	}
	return tlog.Tree{N: size, Hash: root}, names, nil
}
