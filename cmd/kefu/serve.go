package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
	demoshop "github.com/kefuhq/kefu/examples/demo-shop"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/telemetry"
	"github.com/kefuhq/kefu/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func serveCmd(g *globals) *cobra.Command {
	var addr string
	var demo bool
	cmd := &cobra.Command{
		Use:   "serve [--addr :8080] [--demo]",
		Short: "Run the HTTP API (chat, health, metrics)",
		Long:  "Run the HTTP API.\n\n" + configHelp(),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			if addr != "" {
				cfg.Server.Addr = addr
			}
			return serve(cmd.Context(), g, cfg, demo, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (default server.addr: :8080 with API keys, 127.0.0.1:8080 without)")
	cmd.Flags().BoolVar(&demo, "demo", false, "ingest the bundled demo shop into the data dir if it is empty; without API keys, open the shopper routes on loopback and print an admin and an agent key for this run")
	return cmd
}

// serve runs the API until ctx ends. ready, when not nil, receives the
// listening address once the server accepts connections (tests use it).
func serve(ctx context.Context, g *globals, cfg Config, demo bool, ready func(addr string)) error {
	start := time.Now()
	configured := len(cfg.Auth.APIKeys) > 0
	addr, err := listenAddr(cfg.Server.Addr, configured)
	if err != nil {
		return err
	}
	cfg.Server.Addr = addr
	// kefu ask, ingest and eval through this server answer as they would
	// in a process of their own on the same configuration: without what
	// --demo adds to it below.
	cliCfg := cfg
	if demo && len(cfg.Shop.Name) == 0 {
		cfg.Shop.Name = demoshop.Name
	}
	// What a first turn would load (the message model, the tokenizer)
	// loads beside the store's opening, not on the first shopper's time.
	warm := make(chan error, 1)
	go func() { warm <- rag.Warm() }()
	if demo && cfg.Orders.RulesFile == "" {
		cfg.Orders.rulesData = demoshop.Rules
	}
	a, err := openApp(cfg, g.stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	log := a.log
	stopTraces, err := telemetry.Setup(ctx, g.getenv, version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTraces(sctx); err != nil {
			log.Warn("flushing traces failed", "error", err.Error())
		}
	}()
	if telemetry.Enabled(g.getenv) {
		log.Info("traces are exported over OTLP/HTTP (OTEL_* variables)")
	}
	gate, err := uploadGate(cfg.Ingest)
	if err != nil {
		return err
	}
	if gate != nil {
		log.Info("uploads are gated", "gate", cfg.Ingest.Gate, "golden", cfg.Ingest.Golden, "cases", len(gate.cases))
	}

	if demo {
		sum, loaded, err := a.loadDemo(ctx)
		if err != nil {
			return fmt.Errorf("load demo shop: %w", err)
		}
		if loaded {
			log.Info("demo shop ingested", "documents", sum.Documents, "chunks", sum.Chunks, "failed", len(sum.Failed), "elapsed", sum.Elapsed.Round(time.Millisecond))
		}
	}
	if empty, err := a.storeIsEmpty(ctx); err == nil && empty {
		log.Warn("the knowledge store is empty: every question will be handed to a human; run kefu ingest, or serve --demo")
	}

	// The knowledge version, for /readyz, read now and again after every
	// change this server makes and every knowledgePoll (another process
	// may write a shared store).
	know := &knowledge{store: a.store, log: log}
	if err := know.refresh(ctx); err != nil {
		log.Warn("cannot read the knowledge version", "error", err.Error())
	}
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); know.watch(wctx) }()
	defer func() { stopWatch(); <-watched }()
	cliPipeline := a.pipeline // before withActions: their proposals stay in memory, as in their own process
	if demo {
		ca, err := assembleApp(cliCfg, log, a.embedder, a.store)
		if err != nil {
			return err
		}
		cliPipeline = ca.pipeline
	}

	convs, err := openConversations(cfg)
	if err != nil {
		return err
	}
	defer convs.Close()
	defer startStoreJobs(ctx, cfg, convs, log)()
	a.withActions(convs, a.rules)

	secret, err := tokenSecret(cfg)
	if err != nil {
		return err
	}
	previous, err := previousTokenSecrets(cfg)
	if err != nil {
		return err
	}
	keyCfg := make([]auth.KeyConfig, len(cfg.Auth.APIKeys))
	for i, k := range cfg.Auth.APIKeys {
		keyCfg[i] = auth.KeyConfig{Name: k.Name, Role: auth.Role(k.Role), Hash: k.Hash}
	}
	if demo && !configured {
		generated, err := demoKeys()
		if err != nil {
			return err
		}
		keyCfg = generated
		printDemoKeys(g.stderr, generated, addr)
	}
	keys, err := auth.NewKeys(keyCfg)
	if err != nil {
		return fmt.Errorf("auth.api_keys: %w", err)
	}

	desk, runWebhook, err := handoff(cfg, convs, log)
	if err != nil {
		return err
	}
	if runWebhook != nil {
		// The worker stops with ctx and is waited for before the store
		// closes; undelivered events stay in the outbox for the next start.
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); runWebhook(wctx) }()
		defer func() { stop(); <-done }()
	}

	site, err := web.New(web.Config{ShopName: cfg.Shop.Name})
	if err != nil {
		return err
	}
	evaluator, err := shopEvaluator(cfg, demo, a.pipeline)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := api.New(api.Config{
		MaxMessageBytes:         cfg.Server.MaxMessageBytes,
		MaxBodyBytes:            int64(cfg.Server.MaxBodyBytes),
		MaxUploadFileBytes:      int64(cfg.Server.MaxUploadFile),
		MaxUploadBytes:          int64(cfg.Server.MaxUpload),
		UploadReadTimeout:       cfg.Server.UploadTimeout,
		UploadMinBytesPerSecond: int64(cfg.Server.UploadMinRate),
		HeartbeatInterval:       cfg.Server.Heartbeat,
		Version:                 version,
		OpenShopperRoutes:       demo && !configured,
		Limits:                  cfg.Limits.api(),
		BodyReadTimeout:         cfg.Limits.BodyReadTimeout,
		TokenMaxTTL:             cfg.Auth.TokenMaxTTL,
		TrustedProxies:          cfg.Server.TrustedProxies,
		SessionTTL:              cfg.Auth.SessionTTL,
		SessionIdle:             cfg.Auth.SessionIdle,
		MaxSessions:             cfg.Auth.MaxSessions,
	}, api.Deps{
		Answerer:             a.pipeline,
		Conversations:        convs,
		TokenSecret:          secret,
		TokenSecretID:        cfg.Auth.TokenSecretID,
		PreviousTokenSecrets: previous,
		Keys:                 keys,
		Readiness: map[string]api.Check{
			"knowledge_store": a.store.Ping,
			"conversations":   convs.Ping,
		},
		Logger:   log,
		Registry: reg,
		Handoff:  desk,
		Agents:   desk,
		Tickets:  convs,
		AuditLog: convs,
		// Uploads go through the same pipeline as kefu ingest, and
		// through the gate when one is configured.
		Documents: versionedIngester{in: a.ingester(a.gatedOptions(ingest.Options{}, gate)), know: know},
		Feedback:  convs,
		Analytics: convs,
		Privacy:   convs,
		Web:       site,
		Library:   libraryOf(a.store),
		Evaluator: evaluator,
		// A store shared by replicas carries agents' messages and rate
		// limits between them.
		Bus:              shared[api.MessageBus](convs),
		SharedLimits:     shared[api.SharedLimiter](convs),
		Sessions:         shared[api.SessionStore](convs),
		KnowledgeVersion: know.Version,
	})
	if err := <-warm; err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	if cfg.Server.MetricsAddr != "" {
		stop, err := serveMetrics(ctx, cfg.Server.MetricsAddr, srv.MetricsHandler(), log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	stopCLI, err := startCLI(ctx, cfg, a, cliPipeline, know, ln.Addr().String(), log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopCLI()
	log.Info("kefu is ready", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "startup", time.Since(start).Round(time.Millisecond), "version", version)
	if ready != nil {
		ready(ln.Addr().String())
	}
	return srv.Serve(ctx, ln)
}

// handoff builds the escalation desk over the conversation store and, with
// a webhook configured, the worker that delivers ticket changes (run it
// until its context ends).
func handoff(cfg Config, convs conversationStore, log *slog.Logger) (*escalate.Desk, func(context.Context), error) {
	policy, err := cfg.Escalation.policy()
	if err != nil {
		return nil, nil, err
	}
	if cfg.Escalation.WebhookURL == "" {
		desk, err := escalate.NewDesk(convs, convs, policy)
		return desk, nil, err
	}
	secret, err := cfg.Escalation.secret()
	if err != nil {
		return nil, nil, err
	}
	w, err := escalate.NewWorker(convs, escalate.WebhookConfig{URL: cfg.Escalation.WebhookURL, Secret: secret}, log.With("component", "webhook"))
	if err != nil {
		return nil, nil, err
	}
	desk, err := escalate.NewDesk(convs, convs, policy, escalate.WithWebhook(w.Notify))
	if err != nil {
		return nil, nil, err
	}
	run := func(ctx context.Context) { _ = w.Run(ctx) }
	return desk, run, nil
}

// listenAddr is the address serve listens on: the configured one, or by
// default :8080 with API keys and 127.0.0.1:8080 without. Without keys only
// a loopback address is accepted, so that a server nobody configured is
// never reachable from another machine.
func listenAddr(addr string, haveKeys bool) (string, error) {
	if addr == "" {
		if haveKeys {
			return ":8080", nil
		}
		return "127.0.0.1:8080", nil
	}
	if haveKeys || loopbackAddr(addr) {
		return addr, nil
	}
	return "", kefu.Errorf(kefu.EInvalid,
		"server.addr %q is reachable from other machines and no API keys are configured: set auth.api_keys (KEFU_API_KEYS) first, or listen on 127.0.0.1", addr)
}

// loopbackAddr reports whether addr (host:port) listens on this machine
// only; an empty host listens everywhere.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && loopback(host)
}

// demoKeys are an admin and an agent key made at random for one run of
// serve --demo without configured keys; they are not stored anywhere.
func demoKeys() ([]auth.KeyConfig, error) {
	var out []auth.KeyConfig
	for _, role := range []auth.Role{auth.RoleAdmin, auth.RoleAgent} {
		buf := make([]byte, 24)
		if _, err := rand.Read(buf); err != nil {
			return nil, fmt.Errorf("generate the demo keys: %w", err)
		}
		out = append(out, auth.KeyConfig{Name: "demo-" + string(role), Role: role, Key: "kefu_" + string(role) + "_" + hex.EncodeToString(buf)})
	}
	return out, nil
}

// printDemoKeys shows the generated keys once, on the terminal (stderr),
// never through the logger.
func printDemoKeys(w io.Writer, keys []auth.KeyConfig, addr string) {
	fmt.Fprintln(w, "kefu: demo mode: the shopper routes are open on this machine; admin and agent routes need these keys (this run only):")
	for _, k := range keys {
		fmt.Fprintf(w, "  %-6s %s\n", k.Role, k.Key)
	}
	host := addr
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	fmt.Fprintf(w, "  e.g. curl -H \"Authorization: Bearer <agent key>\" %s/v1/agent/tickets\n", host)
}

// serveMetrics serves handler at /metrics on addr until ctx ends or the
// returned stop is called.
func serveMetrics(ctx context.Context, addr string, handler http.Handler, log *slog.Logger) (stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server.metrics_addr: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", handler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "error", err.Error())
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { srv.Close(); <-done }, nil
}
