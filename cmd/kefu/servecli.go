package main

import (
	"context"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/rag"
)

// cliShutdownGrace is how long a stopping server waits for the command
// line's requests in flight before it cuts them.
const cliShutdownGrace = 10 * time.Second

// startCLI serves the command line's endpoints (api.NewCLIHandler) on a
// loopback port of their own, and records it, with the server's API
// address, its pid and a fresh credential, in serve.json in the data dir:
// kefu ask, ingest and eval then go through this server while it holds the
// data dir. p is the pipeline those commands would build in their own
// process. stop removes serve.json and ends the listener, waiting for the
// requests in flight. Without a loopback interface, or when serve.json
// cannot be written, the command line cannot reach the server, which is
// logged, and serving goes on.
func startCLI(ctx context.Context, cfg Config, a *app, p *rag.Pipeline, know *knowledge, apiAddr string, log *slog.Logger) (stop func(), err error) {
	token, err := newCLIToken()
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Warn("kefu ask, ingest and eval cannot go through this server: no loopback listener", "error", err.Error())
		return func() {}, nil
	}
	deps := api.CLIDeps{
		Token:    token,
		Answerer: p,
		Ingest: func(ctx context.Context, fsys fs.FS, opts ingest.Options, gate *eval.Gate, golden []eval.Case, paths ...string) (ingest.Summary, error) {
			if gate != nil {
				opts.Gate = (&goldenGate{gate: *gate, cases: golden}).check(p, a.store)
				opts.GateTimeout = cfg.Ingest.GateTimeout
			}
			sum, err := a.ingester(opts).RunFS(ctx, fsys, paths...)
			know.refreshAfter(ctx)
			return sum, err
		},
		Status: func(ctx context.Context) (api.CLIStatus, error) {
			docs, err := a.store.Documents(ctx)
			if err != nil {
				return api.CLIStatus{}, err
			}
			return api.CLIStatus{Version: version, PID: os.Getpid(), Documents: len(docs), KnowledgeVersion: knowledgeVersion(docs)}, nil
		},
		Logger: log.With("component", "cli"),
	}
	if lister, ok := a.store.(interface {
		Chunks(ctx context.Context, fn func(kefu.Chunk) error) error
	}); ok {
		deps.Chunks = lister.Chunks
	}
	handler := api.NewCLIHandler(deps)

	// Requests in flight are counted, so that stop returns only once they
	// are over and the store can close.
	var (
		mu       sync.Mutex
		closed   bool
		inflight sync.WaitGroup
	)
	base, cut := context.WithCancel(context.WithoutCancel(ctx))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if closed {
				mu.Unlock()
				http.Error(w, "the server is stopping", http.StatusServiceUnavailable)
				return
			}
			inflight.Add(1)
			mu.Unlock()
			defer inflight.Done()
			handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	rec := serverRecord{Addr: apiAddr, CLIAddr: ln.Addr().String(), PID: os.Getpid(), Token: token, Started: time.Now().UTC(), Version: version}
	if err := writeServerRecord(cfg.DataDir, rec); err != nil {
		// Serving shoppers matters more than the command line's way in.
		log.Warn("kefu ask, ingest and eval cannot go through this server", "error", err.Error())
		cut()
		srv.Close()
		<-served
		return func() {}, nil
	}
	log.Info("kefu ask, ingest and eval on this data dir go through this server", "record", serverFileName, "cli_addr", rec.CLIAddr)
	return func() {
		removeServerRecord(cfg.DataDir, token)
		grace, cancel := context.WithTimeout(context.Background(), cliShutdownGrace)
		defer cancel()
		if err := srv.Shutdown(grace); err != nil {
			cut()
			srv.Close()
		}
		<-served
		mu.Lock()
		closed = true
		mu.Unlock()
		cut()
		inflight.Wait()
	}, nil
}
