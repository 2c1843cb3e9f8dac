package testtool

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/translog"
)

// CheckEquivocation checks the evidence of a checkpoint.equivocation
// entry: the first note is signed by the member's key (vkey) and
// contradicts the second, a checkpoint of the same size with another root.
func CheckEquivocation(evidence []string, vkey string) error {
	if len(evidence) != 2 {
		return fmt.Errorf("evidence of %d notes, want 2", len(evidence))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	bad, err := note.Open([]byte(evidence[0]), note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("the evidence note does not verify with the member's key: %v", err)
	}
	_, badSize, badRoot, err := translog.ParseCheckpoint([]byte(bad.Text))
	if err != nil {
		return fmt.Errorf("the evidence note: %v", err)
	}
	_, goodSize, goodRoot, err := translog.ParseCheckpoint([]byte(evidence[1]))
	if err != nil || badSize != goodSize || badRoot == goodRoot {
		return fmt.Errorf("evidence: sizes %d/%d, roots equal %v, %v", badSize, goodSize, badRoot == goodRoot, err)
	}
	return nil
}
