package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// serverFileName is the file in the data dir where a running kefu serve
// says where the command line reaches it.
const serverFileName = "serve.json"

// maxServerFile bounds what is read of serve.json.
const maxServerFile = 64 << 10

// serverRecord is the content of serve.json: the API's address as
// listened, the loopback address of the command line's endpoints, the
// server's process id, and the credential those endpoints want (made at
// random at each start, never logged).
type serverRecord struct {
	Addr    string    `json:"addr"`
	CLIAddr string    `json:"cli_addr"`
	PID     int       `json:"pid"`
	Token   string    `json:"token"`
	Started time.Time `json:"started"`
	Version string    `json:"version"`
}

// newCLIToken makes a credential for the command line's endpoints.
func newCLIToken() (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("make the command line's credential: %w", err)
	}
	return "kefu_cli_" + hex.EncodeToString(buf), nil
}

// writeServerRecord writes serve.json into dir atomically (a temporary
// file, mode 0600, renamed over any earlier one: a file left by a server
// that died is replaced).
func writeServerRecord(dir string, rec serverRecord) error {
	raw, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", serverFileName, err)
	}
	f, err := os.CreateTemp(dir, ".serve-*.json")
	if err != nil {
		return fmt.Errorf("write %s: %w", serverFileName, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", serverFileName, err)
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", serverFileName, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", serverFileName, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", serverFileName, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, serverFileName)); err != nil {
		return fmt.Errorf("write %s: %w", serverFileName, err)
	}
	return nil
}

// readServerRecord reads serve.json from dir.
func readServerRecord(dir string) (serverRecord, error) {
	var rec serverRecord
	f, err := os.Open(filepath.Join(dir, serverFileName))
	if err != nil {
		return rec, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxServerFile+1))
	if err != nil {
		return rec, err
	}
	if len(raw) > maxServerFile {
		return rec, fmt.Errorf("%s is larger than %d bytes", serverFileName, maxServerFile)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", serverFileName, err)
	}
	if rec.CLIAddr == "" || rec.Token == "" || rec.PID <= 0 {
		return rec, fmt.Errorf("%s is incomplete", serverFileName)
	}
	return rec, nil
}

// removeServerRecord removes serve.json from dir if it is still the one
// holding token (a later server may have replaced it).
func removeServerRecord(dir, token string) {
	if rec, err := readServerRecord(dir); err == nil && rec.Token == token {
		os.Remove(filepath.Join(dir, serverFileName))
	}
}

// serverProbeTimeout bounds asking a recorded server whether it answers.
const serverProbeTimeout = 3 * time.Second

// findServer returns a client of the live server that serve.json in dir
// records, or nil when there is none: no file, an unreadable one, a dead
// process, or nothing that answers with the recorded credential (a stale
// file, ignored; the next kefu serve replaces it).
func findServer(ctx context.Context, dir string) *serverClient {
	rec, err := readServerRecord(dir)
	if err != nil {
		return nil
	}
	if host, _, err := net.SplitHostPort(rec.CLIAddr); err != nil || !loopback(host) {
		return nil // the command line talks to this machine only
	}
	if !processAlive(rec.PID) {
		return nil
	}
	c := newServerClient(rec)
	ctx, cancel := context.WithTimeout(ctx, serverProbeTimeout)
	defer cancel()
	if _, err := c.status(ctx); err != nil {
		return nil
	}
	return c
}

// lockedByAnother reports whether err is the embedded chunk store's lock
// held by another process (bbolt's lock timeout).
func lockedByAnother(err error) bool { return errors.Is(err, bolt.ErrTimeout) }

// newServerClient returns a client of the command line's endpoints at
// rec.CLIAddr. It never goes through a proxy.
func newServerClient(rec serverRecord) *serverClient {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: 0, // an ingest answers once its files are read; bounded by the request's context
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
	}
	return &serverClient{rec: rec, base: "http://" + rec.CLIAddr, http: &http.Client{Transport: tr}}
}

// serverClient speaks to a running server's command line endpoints.
type serverClient struct {
	rec  serverRecord
	base string
	http *http.Client
}
