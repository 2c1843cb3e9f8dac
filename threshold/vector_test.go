package threshold

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"filippo.io/edwards25519"
)

// rfcVector is the shape of testdata/frost-ed25519-sha512.json (RFC 9591
// Appendix E.1).
type rfcVector struct {
	Config struct {
		MaxParticipants string `json:"MAX_PARTICIPANTS"`
		NumParticipants string `json:"NUM_PARTICIPANTS"`
		MinParticipants string `json:"MIN_PARTICIPANTS"`
	} `json:"config"`
	Inputs struct {
		ParticipantList   []uint16 `json:"participant_list"`
		GroupSecretKey    string   `json:"group_secret_key"`
		GroupPublicKey    string   `json:"group_public_key"`
		Message           string   `json:"message"`
		ShareCoefficients []string `json:"share_polynomial_coefficients"`
		ParticipantShares []struct {
			Identifier uint16 `json:"identifier"`
			Share      string `json:"participant_share"`
		} `json:"participant_shares"`
	} `json:"inputs"`
	RoundOne struct {
		Outputs []struct {
			Identifier         uint16 `json:"identifier"`
			HidingRandomness   string `json:"hiding_nonce_randomness"`
			BindingRandomness  string `json:"binding_nonce_randomness"`
			HidingNonce        string `json:"hiding_nonce"`
			BindingNonce       string `json:"binding_nonce"`
			HidingCommitment   string `json:"hiding_nonce_commitment"`
			BindingCommitment  string `json:"binding_nonce_commitment"`
			BindingFactorInput string `json:"binding_factor_input"`
			BindingFactor      string `json:"binding_factor"`
		} `json:"outputs"`
	} `json:"round_one_outputs"`
	RoundTwo struct {
		Outputs []struct {
			Identifier uint16 `json:"identifier"`
			SigShare   string `json:"sig_share"`
		} `json:"outputs"`
	} `json:"round_two_outputs"`
	FinalOutput struct {
		Sig string `json:"sig"`
	} `json:"final_output"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q in vector: %v", s, err)
	}
	return b
}

func vecScalar(t *testing.T, s string) *edwards25519.Scalar {
	t.Helper()
	v, err := DecodeScalar(unhex(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if g := hex.EncodeToString(got); g != want {
		t.Errorf("%s = %s, want %s", what, g, want)
	}
}

// TestRFC9591Vector reproduces every value of RFC 9591 Appendix E.1 bit for
// bit: dealer shares, group key, nonces from the given randomness,
// commitments, binding-factor inputs and factors, signature shares and the
// final signature, which must also pass crypto/ed25519.Verify.
func TestRFC9591Vector(t *testing.T) {
	raw, err := os.ReadFile("testdata/frost-ed25519-sha512.json")
	if err != nil {
		t.Fatal(err)
	}
	var v rfcVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(v.Config.MaxParticipants)
	tt, _ := strconv.Atoi(v.Config.MinParticipants)
	if n != 3 || tt != 2 || len(v.Inputs.ParticipantList) != 2 {
		t.Fatalf("unexpected vector config %+v", v.Config)
	}

	// Trusted dealer (App. C) with the vector's polynomial.
	coeffs := []*edwards25519.Scalar{vecScalar(t, v.Inputs.GroupSecretKey)}
	for _, c := range v.Inputs.ShareCoefficients {
		coeffs = append(coeffs, vecScalar(t, c))
	}
	shares, vss := splitPolynomial(coeffs, n)
	checkHex(t, "group public key", vss[0].Bytes(), v.Inputs.GroupPublicKey)
	if len(v.Inputs.ParticipantShares) != n {
		t.Fatalf("vector has %d shares, want %d", len(v.Inputs.ParticipantShares), n)
	}
	for i, ps := range v.Inputs.ParticipantShares {
		if shares[i].ID != ps.Identifier {
			t.Fatalf("share %d has ID %d, want %d", i, shares[i].ID, ps.Identifier)
		}
		checkHex(t, "share of "+strconv.Itoa(int(ps.Identifier)), shares[i].Secret.Bytes(), ps.Share)
		if err := vss.VerifyShare(shares[i]); err != nil {
			t.Errorf("VerifyShare(%d): %v", ps.Identifier, err)
		}
	}
	pkp, err := vss.PublicKeyPackage(n)
	if err != nil {
		t.Fatal(err)
	}

	msg := unhex(t, v.Inputs.Message)
	var commitments []SigningCommitment
	nonces := map[uint16]*SigningNonces{}
	for _, o := range v.RoundOne.Outputs {
		rnd := append(unhex(t, o.HidingRandomness), unhex(t, o.BindingRandomness)...)
		nc, err := Commit(bytes.NewReader(rnd), shares[o.Identifier-1])
		if err != nil {
			t.Fatal(err)
		}
		id := strconv.Itoa(int(o.Identifier))
		checkHex(t, "hiding nonce of "+id, nc.hiding.Bytes(), o.HidingNonce)
		checkHex(t, "binding nonce of "+id, nc.binding.Bytes(), o.BindingNonce)
		checkHex(t, "hiding commitment of "+id, nc.Commitment().Hiding.Bytes(), o.HidingCommitment)
		checkHex(t, "binding commitment of "+id, nc.Commitment().Binding.Bytes(), o.BindingCommitment)
		nonces[o.Identifier] = nc
		commitments = append(commitments, nc.Commitment())
	}
	inputs := bindingFactorInputs(pkp.GroupKey.Bytes(), msg, commitments)
	s, err := newSession(pkp.GroupKey, msg, commitments, n, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range v.RoundOne.Outputs {
		id := strconv.Itoa(int(o.Identifier))
		checkHex(t, "binding factor input of "+id, inputs[i], o.BindingFactorInput)
		checkHex(t, "binding factor of "+id, s.rho[i].Bytes(), o.BindingFactor)
	}

	var sigShares []SignatureShare
	for i, o := range v.RoundTwo.Outputs {
		sh, err := Sign(shares[o.Identifier-1], nonces[o.Identifier], msg, commitments)
		if err != nil {
			t.Fatal(err)
		}
		if sh.ID != o.Identifier || commitments[i].ID != o.Identifier {
			t.Fatalf("signature share %d from %d, want %d", i, sh.ID, o.Identifier)
		}
		checkHex(t, "signature share of "+strconv.Itoa(int(o.Identifier)), sh.Z.Bytes(), o.SigShare)
		if err := VerifySignatureShare(pkp, msg, commitments, sh); err != nil {
			t.Errorf("VerifySignatureShare(%d): %v", sh.ID, err)
		}
		sigShares = append(sigShares, sh)
	}
	sig, err := Aggregate(pkp, msg, commitments, sigShares)
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "signature", sig, v.FinalOutput.Sig)
	if !ed25519.Verify(unhex(t, v.Inputs.GroupPublicKey), msg, unhex(t, v.FinalOutput.Sig)) {
		t.Error("crypto/ed25519.Verify rejects the vector signature")
	}
}
