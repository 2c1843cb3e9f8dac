package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/translog"
)

// MaxProof is the largest number of consistency proof lines an
// add-checkpoint request may carry (c2sp.org/tlog-witness).
const MaxProof = 63

// maxBody bounds an add-checkpoint request body: a checkpoint with the
// maximum of 100 note signatures of any type stays far below it.
const maxBody = 512 << 10

// ContentTypeSize is the media type of a 409 answer's body: the witness's
// latest cosigned tree size in decimal and a newline.
const ContentTypeSize = "text/x.tlog.size"

// FormatRequest returns an add-checkpoint request body: "old <old>\n", the
// proof's hashes in standard base64 one per line, an empty line, and the
// signed checkpoint.
func FormatRequest(old int64, proof []tlog.Hash, checkpoint []byte) []byte {
	b := fmt.Appendf(nil, "old %d\n", old)
	b = append(b, translog.FormatProof(proof)...)
	b = append(b, '\n')
	return append(b, checkpoint...)
}

// ParseRequest parses an untrusted add-checkpoint request body strictly:
// the old size in decimal without leading zeros, at most [MaxProof] proof
// lines each the canonical base64 of 32 bytes, an empty line, and the
// rest, the signed checkpoint, returned unparsed. For every body it
// accepts, FormatRequest gives back the same bytes.
func ParseRequest(body []byte) (old int64, proof []tlog.Hash, checkpoint []byte, err error) {
	fail := func(format string, args ...any) (int64, []tlog.Hash, []byte, error) {
		return 0, nil, nil, fmt.Errorf("witness: malformed add-checkpoint request: "+format, args...)
	}
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return fail("no old size line")
	}
	s, ok := strings.CutPrefix(string(line), "old ")
	if !ok {
		return fail("first line %q is not \"old <size>\"", line)
	}
	old, ok = parseSize(s)
	if !ok {
		return fail("old size %q is not a decimal number without leading zeros", s)
	}
	for {
		line, next, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return fail("no empty line before the checkpoint")
		}
		rest = next
		if len(line) == 0 {
			break
		}
		if len(proof) == MaxProof {
			return fail("more than %d proof lines", MaxProof)
		}
		h, err := parseHash(string(line))
		if err != nil {
			return fail("proof line %d: %v", len(proof)+1, err)
		}
		proof = append(proof, h)
	}
	if len(rest) == 0 {
		return fail("no checkpoint")
	}
	return old, proof, rest, nil
}

// parseSize parses a tree size: decimal, no sign, no leading zeros.
func parseSize(s string) (int64, bool) {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseHash(s string) (tlog.Hash, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != tlog.HashSize || base64.StdEncoding.EncodeToString(raw) != s {
		return tlog.Hash{}, fmt.Errorf("%q is not the base64 of %d bytes", s, tlog.HashSize)
	}
	return tlog.Hash(raw), nil
}

// splitNote splits a signed note into its text (ending in a newline) and
// its signature block (the lines after the empty line).
func splitNote(msg []byte) (text, sigs []byte, err error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return nil, nil, errors.New("no empty line between the text and the signatures")
	}
	return msg[:i+1], msg[i+2:], nil
}

// checkpointTree reads the origin, size and root of a checkpoint body:
// its first three lines, checked as strictly as translog.ParseCheckpoint
// does; extension lines after them are allowed (and signed over).
func checkpointTree(text []byte) (origin string, tree tlog.Tree, err error) {
	n := 0
	for i, c := range text {
		if c == '\n' {
			if n++; n == 3 {
				origin, size, root, err := translog.ParseCheckpoint(text[:i+1])
				if err != nil {
					return "", tlog.Tree{}, err
				}
				return origin, tlog.Tree{N: size, Hash: root}, nil
			}
		}
	}
	return "", tlog.Tree{}, fmt.Errorf("witness: checkpoint %q has fewer than 3 lines", text)
}

// ParseSignatureLines checks an add-checkpoint answer: one or more note
// signature lines ("— <name> <base64>\n"), at most 100, and returns it.
func ParseSignatureLines(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("witness: empty cosignature answer")
	}
	if !bytes.HasSuffix(b, []byte("\n")) {
		return nil, fmt.Errorf("witness: cosignature answer %q does not end with a newline", b)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) > 100 {
		return nil, fmt.Errorf("witness: cosignature answer of %d lines", len(lines))
	}
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, "— ")
		name, sig, ok2 := strings.Cut(rest, " ")
		if !ok || !ok2 || !validName(name) {
			return nil, fmt.Errorf("witness: %q is not a note signature line", l)
		}
		if raw, err := base64.StdEncoding.Strict().DecodeString(sig); err != nil || len(raw) < 5 {
			return nil, fmt.Errorf("witness: signature line %q: bad base64 signature", l)
		}
	}
	return b, nil
}

// Cosigned returns checkpoint's text with the signature lines sigs (a
// witness's answer) as its only signatures: a note to merge into one's own
// copy, for example with translog's Log.AddSignatures and the witnesses'
// verifiers.
func Cosigned(checkpoint, sigs []byte) ([]byte, error) {
	text, _, err := splitNote(checkpoint)
	if err != nil {
		return nil, fmt.Errorf("witness: checkpoint: %v", err)
	}
	out := append(bytes.Clone(text), '\n')
	return append(out, sigs...), nil
}
