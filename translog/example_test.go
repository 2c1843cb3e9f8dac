package translog_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/translog"
)

// The life of one block: stage the block's entries, commit them with the
// rest of the node's state in one bbolt transaction, advance the committed
// view, then cosign the new checkpoint.
func Example() {
	dir, _ := os.MkdirTemp("", "translog-example")
	defer os.RemoveAll(dir)
	db, err := bbolt.Open(filepath.Join(dir, "node.db"), 0o600, nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()

	lg, err := translog.Open(db, "example.org/federation")
	if err != nil {
		panic(err)
	}

	b := lg.NewBatch()
	for _, e := range []string{"first action", "second action", "zone version 1"} {
		i, err := b.Append([]byte(e))
		if err != nil {
			panic(err)
		}
		fmt.Println("entry", i)
	}
	if _, err := b.Root(); err != nil { // goes into the app hash
		panic(err)
	}
	if err := db.Update(b.Write); err != nil { // the node's one write transaction
		panic(err)
	}
	if err := lg.Advance(b); err != nil {
		panic(err)
	}
	fmt.Println("size", lg.Size())

	skey, vkey, err := note.GenerateKey(rand.Reader, "alpha") // a member's key
	if err != nil {
		panic(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	if _, err := lg.Sign(signer); err != nil {
		panic(err)
	}
	cp, err := lg.Checkpoint() // what /checkpoint serves
	if err != nil {
		panic(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	tree, names, err := translog.VerifyCheckpoint(cp, "example.org/federation", note.VerifierList(verifier), 1)
	fmt.Println(tree.N, names, err)
	// Output:
	// entry 0
	// entry 1
	// entry 2
	// size 3
	// 3 [alpha] <nil>
}
