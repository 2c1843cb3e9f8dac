package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/commonroot/commonroot/witness"
)

// repeated is a repeatable flag whose values are kept whole (no comma
// splitting).
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func runWitness(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: commonroot witness key NAME --out FILE | witness serve --key FILE --log ORIGIN=VKEY,...[:K] --addr ADDR --state DIR")
	}
	switch args[0] {
	case "key":
		fs := flag.NewFlagSet("witness key", flag.ContinueOnError)
		out := fs.String("out", "", "the key file to write")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || *out == "" {
			return fmt.Errorf("usage: commonroot witness key NAME --out FILE (NAME: a schema-less URL such as witness.example/w1)")
		}
		skey, vkey, err := witness.GenerateKey(rand.Reader, pos[0])
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(*out), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("writing the key: %v", err)
		}
		if _, err := f.WriteString(skey + "\n"); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Println(vkey)
		return nil
	case "serve":
		return runWitnessServe(args[1:])
	}
	return fmt.Errorf("unknown witness command %q (want key or serve)", args[0])
}

func runWitnessServe(args []string) error {
	fs := flag.NewFlagSet("witness serve", flag.ContinueOnError)
	keyPath := fs.String("key", "", "the witness's key file (from `commonroot witness key`)")
	addr := fs.String("addr", "127.0.0.1:7380", "listen address")
	stateDir := fs.String("state", "", "directory keeping the latest cosigned checkpoint of each log")
	var logs repeated
	fs.Var(&logs, "log", "ORIGIN=VKEY,VKEY,...[:K]: a log to cosign, its keys and how many must sign (repeatable)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *keyPath == "" || *stateDir == "" || len(logs) == 0 {
		return fmt.Errorf("usage: commonroot witness serve --key FILE --log ORIGIN=VKEY,VKEY,...[:K] --addr ADDR --state DIR")
	}
	b, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	cs, err := witness.NewCosigner(string(b))
	if err != nil {
		return fmt.Errorf("%s: %v", *keyPath, err)
	}
	var ls []witness.Log
	for _, s := range logs {
		l, err := witness.ParseLog(s)
		if err != nil {
			return err
		}
		ls = append(ls, l)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := witness.NewServer(witness.ServerConfig{Signer: cs, Logs: ls, StateDir: *stateDir, Logger: logger})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}()
	for _, l := range ls {
		logger.Info("witnessing", "origin", l.Origin, "keys", len(l.Verifiers), "quorum", l.Quorum)
	}
	logger.Info("listening", "addr", l.Addr().String(), "vkey", cs.VerifierKey())
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
