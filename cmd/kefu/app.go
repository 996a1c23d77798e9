package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kefuhq/kefu/auth"
	demoshop "github.com/kefuhq/kefu/examples/demo-shop"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/llm"
	"github.com/kefuhq/kefu/orders"
	"github.com/kefuhq/kefu/prompts"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/rules"
	"github.com/kefuhq/kefu/vectordb/embedded"
	"github.com/kefuhq/kefu/vectordb/qdrant"
)

// app is the wired stack: the chunk store (embedded by default, or Qdrant),
// the embedder (local by default) and the answer generator (extractive by
// default, or a language model that falls back to it).
type app struct {
	cfg      Config
	log      *slog.Logger
	store    chunkStore
	embedder vectorEmbedder
	pipeline *rag.Pipeline
	// What the pipeline was built from, so that serve can add the
	// after-sales actions once the conversation store is open.
	gen     rag.Generator
	prompts *prompts.Set
	ragOpts []rag.Option
	orders  *orders.Client // nil without orders.endpoint
	// rules decides whether an order may undergo an after-sales action;
	// without it no action is proposed.
	rules rag.EligibilityChecker
}

// chunkStore is what the app needs of a chunk store: what the answering
// pipeline and ingest need, plus readiness and release. The embedded and
// the Qdrant store both satisfy it.
type chunkStore interface {
	rag.Searcher
	ingest.Store
	Ping(ctx context.Context) error
	io.Closer
}

// qdrantOpenTimeout bounds connecting to Qdrant and checking its collection
// at start-up, so that a wrong address fails the command instead of hanging.
const qdrantOpenTimeout = 30 * time.Second

// openStore opens the configured chunk store for the embedder emb.
func openStore(cfg Config, emb vectorEmbedder) (chunkStore, error) {
	if cfg.VectorDB.Provider != "qdrant" {
		s, err := embedded.Open(filepath.Join(cfg.DataDir, "chunks"), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return s, nil
	}
	q := cfg.VectorDB.Qdrant
	key := q.APIKey
	if q.APIKeyFile != "" {
		raw, err := os.ReadFile(q.APIKeyFile)
		if err != nil {
			return nil, fmt.Errorf("vectordb.qdrant.api_key_file: %w", err)
		}
		key = strings.TrimSpace(string(raw))
	}
	ctx, cancel := context.WithTimeout(context.Background(), qdrantOpenTimeout)
	defer cancel()
	s, err := qdrant.Open(ctx, qdrant.Config{Addr: q.Addr, APIKey: key, Collection: q.Collection, UseTLS: q.TLS},
		qdrant.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		return nil, fmt.Errorf("vectordb.qdrant at %s: %w", q.Addr, err)
	}
	return s, nil
}

func openApp(cfg Config, logOut io.Writer) (*app, error) {
	log, err := newLogger(cfg.Log, logOut)
	if err != nil {
		return nil, err
	}
	emb, err := newEmbedder(cfg.Embedding)
	if err != nil {
		return nil, err
	}
	store, err := openStore(cfg, emb)
	if err != nil {
		return nil, err
	}
	a, err := assembleApp(cfg, log, emb, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	return a, nil
}

// assembleApp builds the answering pipeline that cfg describes over an
// open store; the caller closes the store if it fails.
func assembleApp(cfg Config, log *slog.Logger, emb vectorEmbedder, store chunkStore) (*app, error) {
	gen, backend, rewriter, err := newGenerator(cfg.LLM)
	if err != nil {
		return nil, err
	}
	ps, err := prompts.Load()
	if err != nil {
		return nil, err
	}
	opts := []rag.Option{rag.WithBackend(backend)}
	if rewriter != nil {
		opts = append(opts, rag.WithHelperModel(rewriter))
	}
	if cfg.Retrieval.TopK > 0 {
		opts = append(opts, rag.WithTopK(cfg.Retrieval.TopK))
	}
	if cfg.Retrieval.ContextK > 0 {
		opts = append(opts, rag.WithContextK(cfg.Retrieval.ContextK))
	}
	if cfg.Retrieval.MinLexical > 0 || cfg.Retrieval.MinDense > 0 {
		opts = append(opts, rag.WithRelevance(cfg.Retrieval.MinLexical, cfg.Retrieval.MinDense))
	}
	if len(cfg.Shop.RefuseTopics) > 0 {
		opts = append(opts, rag.WithRefuseTopics(cfg.Shop.RefuseTopics...))
	}
	if len(cfg.Shop.Name) > 0 || len(cfg.Shop.Hours) > 0 {
		shop := rag.Shop{Name: cfg.Shop.Name, Hours: cfg.Shop.Hours}
		opts = append(opts, rag.WithShop(shop))
	}
	var ordersClient *orders.Client
	if cfg.Orders.Endpoint != "" {
		lookup, err := newOrderLookup(cfg.Orders)
		if err != nil {
			return nil, err
		}
		opts = append(opts, rag.WithOrderLookup(lookup))
		ordersClient = lookup
	}
	var eligibility rag.EligibilityChecker
	if book, err := loadRules(cfg.Orders); err != nil {
		return nil, err
	} else if book != nil {
		opts = append(opts, rag.WithRules(book))
		eligibility = rulesChecker{book: book}
	}
	rr, err := rerankOptions(cfg.Rerank, cfg.Embedding.Provider, log)
	if err != nil {
		return nil, err
	}
	opts = append(opts, rr...)
	popts := opts
	if eligibility != nil {
		// Proposals need somewhere to wait for the shopper's yes: a
		// process of its own (kefu ask, eval, the knowledge gate) keeps
		// them in memory; serve puts them in the conversation store
		// (withActions). Without an order system a confirmed action goes
		// to an agent.
		popts = append(slices.Clone(opts), rag.WithActions(newMemActions(), eligibility, nil, cfg.Actions.ProposalTTL))
	}
	p := rag.New(store, emb, gen, ps, popts...)
	return &app{rules: eligibility, cfg: cfg, log: log, store: store, embedder: emb, pipeline: p, gen: gen, prompts: ps, ragOpts: opts, orders: ordersClient}, nil
}

func (a *app) Close() error { return a.store.Close() }

// loadRules reads the shop's rules file, nil when none is configured.
func loadRules(cfg OrdersConfig) (*rules.Book, error) {
	switch {
	case cfg.RulesFile != "":
		b, err := rules.Load(cfg.RulesFile)
		if err != nil {
			return nil, fmt.Errorf("orders.rules_file: %w", err)
		}
		return b, nil
	case cfg.rulesData != nil:
		return rules.Parse(demoshop.Dir+"/rules.yaml", cfg.rulesData)
	}
	return nil, nil
}

// newOrderLookup returns the client of the shop's live order look-up.
func newOrderLookup(cfg OrdersConfig) (*orders.Client, error) {
	key, err := apiKey("orders", cfg.apiKey, cfg.APIKeyFile)
	if err != nil {
		return nil, err
	}
	c, err := orders.New(orders.Config{Endpoint: cfg.Endpoint, ActionsEndpoint: cfg.ActionsEndpoint, APIKey: key,
		Timeout: cfg.Timeout, ActionAttempts: cfg.ActionAttempts})
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	return c, nil
}

func newLogger(cfg LogConfig, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// Every log line passes through PII redaction, whatever logs it.
	return slog.New(guard.NewRedactingHandler(h)), nil
}

// ingester returns the ingest pipeline over the app's store and embedder,
// within the configured limits, reading PDFs in worker processes (this
// executable run as kefu pdf-worker) when the executable can be found.
func (a *app) ingester(opts ingest.Options) *ingest.Ingester {
	opts.Limits = a.cfg.Ingest.limits()
	if exe, err := os.Executable(); err == nil {
		opts.PDFWorker = []string{exe, ingest.PDFWorkerCommand}
	} else {
		a.log.Warn("PDFs are read in process, without a memory bound: the executable is not found", slog.String("error", err.Error()))
	}
	return ingest.New(a.store, a.embedder, opts)
}

// storeIsEmpty reports whether nothing has been ingested yet.
func (a *app) storeIsEmpty(ctx context.Context) (bool, error) {
	docs, err := a.store.Documents(ctx)
	return len(docs) == 0, err
}

// tokenSecret returns the configured shopper-token secret, or the one
// generated into the data dir on first use, so that `kefu serve` and
// `kefu token` agree without configuration while no secret ever ships in
// the repository.
func tokenSecret(cfg Config) ([]byte, error) {
	if cfg.Auth.tokenSecret != "" {
		return []byte(cfg.Auth.tokenSecret), nil
	}
	if cfg.Auth.TokenSecretFile != "" {
		raw, err := os.ReadFile(cfg.Auth.TokenSecretFile)
		if err != nil {
			return nil, fmt.Errorf("auth.token_secret_file: %w", err)
		}
		s := strings.TrimSpace(string(raw))
		if len(s) < 16 {
			return nil, fmt.Errorf("auth.token_secret_file %s holds fewer than 16 bytes", cfg.Auth.TokenSecretFile)
		}
		return []byte(s), nil
	}
	path := filepath.Join(cfg.DataDir, "token.secret")
	raw, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(raw))) >= 16 {
		return []byte(strings.TrimSpace(string(raw))), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read token secret: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(buf)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process created it first
		return tokenSecret(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("write token secret: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(secret + "\n"); err != nil {
		return nil, fmt.Errorf("write token secret: %w", err)
	}
	return []byte(secret), nil
}

// previousTokenSecrets returns the token secret still accepted after a
// rotation, from the environment or its file, with its key id; none when
// neither is set.
func previousTokenSecrets(cfg Config) ([]auth.Secret, error) {
	a := cfg.Auth
	s := a.tokenSecretPrevious
	if a.TokenSecretPreviousFile != "" {
		raw, err := os.ReadFile(a.TokenSecretPreviousFile)
		if err != nil {
			return nil, fmt.Errorf("auth.token_secret_previous_file: %w", err)
		}
		if s = strings.TrimSpace(string(raw)); len(s) < 16 {
			return nil, fmt.Errorf("auth.token_secret_previous_file %s holds fewer than 16 bytes", a.TokenSecretPreviousFile)
		}
	}
	if s == "" {
		return nil, nil
	}
	return []auth.Secret{{ID: a.TokenSecretPreviousID, Key: []byte(s)}}, nil
}

var _ rag.Searcher = (*embedded.Store)(nil)
var _ ingest.Store = (*embedded.Store)(nil)
var _ chunkStore = (*embedded.Store)(nil)
var _ rag.Searcher = (*qdrant.Store)(nil)
var _ ingest.Store = (*qdrant.Store)(nil)
var _ chunkStore = (*qdrant.Store)(nil)
var _ rag.Generator = llm.Extractive{}
var _ rag.OrderLookup = (*orders.Client)(nil)
