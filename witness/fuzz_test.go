package witness

import (
	"bytes"
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func FuzzParseRequest(f *testing.F) {
	f.Add(FormatRequest(0, nil, []byte("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— o AAAA\n")))
	f.Add(FormatRequest(20852014, []tlog.Hash{{1}, {2}}, []byte(body+"\n— x AAAA\n")))
	f.Add([]byte("old 01\n\nx"))
	f.Add([]byte("old 5\nnot base64\n\nx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		old, proof, cp, err := ParseRequest(data)
		if err != nil {
			return
		}
		if len(proof) > MaxProof || old < 0 {
			t.Fatalf("accepted %d proof lines, old %d", len(proof), old)
		}
		if got := FormatRequest(old, proof, cp); !bytes.Equal(got, data) {
			t.Fatalf("FormatRequest(ParseRequest(%q)) = %q", data, got)
		}
	})
}

func FuzzParseSignatureLines(f *testing.F) {
	f.Add([]byte("— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"))
	f.Add([]byte("— a AAAAAAA=\n— b AAAAAAA=\n"))
	f.Add([]byte("— a AAAAAAA="))
	f.Fuzz(func(t *testing.T, data []byte) {
		sigs, err := ParseSignatureLines(data)
		if err != nil {
			return
		}
		// What it accepts appends to a checkpoint as a well-formed note.
		msg, err := Cosigned([]byte(body+"\n— x AAAA\n"), sigs)
		if err != nil {
			t.Fatal(err)
		}
		text, rest, err := splitNote(msg)
		if err != nil || string(text) != body || !bytes.Equal(rest, data) {
			t.Fatalf("Cosigned = %q", msg)
		}
	})
}

func FuzzVerify(f *testing.F) {
	skey, vkey, err := GenerateKey(rand.Reader, "w")
	if err != nil {
		f.Fatal(err)
	}
	cs, _ := NewCosigner(skey)
	v, _ := NewVerifier(vkey)
	good, _ := cs.Sign([]byte(body))
	f.Add([]byte(body), good)
	f.Add([]byte(body), make([]byte, 72))
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		if v.Verify(msg, sig) && (!bytes.Equal(msg, []byte(body)) || !bytes.Equal(sig, good)) {
			t.Fatalf("Verify accepted %q on %q", sig, msg)
		}
	})
}
