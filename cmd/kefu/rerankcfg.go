package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/rerank"
	"github.com/kefuhq/kefu/rerank/hosted"
)

// RerankConfig chooses the second-stage scorer that reorders the retrieved
// candidates: the offline learned reranker (local, the default), none
// (off), or a hosted cross-encoder behind a /rerank endpoint (cohere,
// jina, tei). The API key is read from the environment or a file only.
type RerankConfig struct {
	Provider   string        `yaml:"provider"`
	URL        string        `yaml:"url"`
	Model      string        `yaml:"model"`
	APIKeyFile string        `yaml:"api_key_file"`
	Timeout    time.Duration `yaml:"timeout"`
	TopN       int           `yaml:"top_n"`
	// APIKey in kefu.yaml is refused; the environment's is kept in apiKey.
	APIKey string `yaml:"api_key"`
	apiKey string
}

// Rerank providers.
const (
	rerankLocal = "local"
	rerankOff   = "off"
)

// LogValue keeps the API key out of any log line that prints the config.
func (r RerankConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", r.Provider), slog.String("url", r.URL), slog.String("model", r.Model),
		slog.Duration("timeout", r.Timeout), slog.Int("top_n", r.TopN), slog.Bool("api_key_set", r.apiKey != "" || r.APIKeyFile != ""))
}

func (r *RerankConfig) fillDefaults() {
	if r.Provider == "" {
		r.Provider = rerankLocal
	}
	if r.Timeout == 0 {
		r.Timeout = hosted.DefaultTimeout
	}
}

// hosted reports whether the provider is a hosted service.
func (r RerankConfig) hosted() bool {
	switch hosted.Dialect(r.Provider) {
	case hosted.Cohere, hosted.Jina, hosted.TEI:
		return true
	}
	return false
}

func (r RerankConfig) problems() []string {
	var problems []string
	switch {
	case r.Provider == rerankLocal || r.Provider == rerankOff:
		for key, v := range map[string]string{"rerank.url": r.URL, "rerank.model": r.Model} {
			if v != "" {
				problems = append(problems, fmt.Sprintf("%s is set, but rerank.provider is %s: set rerank.provider to cohere, jina or tei to use a hosted reranker", key, r.Provider))
			}
		}
	case r.hosted():
		if r.URL == "" && hosted.DefaultURL(hosted.Dialect(r.Provider)) == "" {
			problems = append(problems, fmt.Sprintf("rerank.url is required for rerank.provider %s: the endpoint, e.g. http://localhost:8081/rerank", r.Provider))
		}
	default:
		problems = append(problems, fmt.Sprintf("rerank.provider %q is not local, off, cohere, jina or tei", r.Provider))
	}
	if r.URL != "" && !httpURL(r.URL) {
		problems = append(problems, "rerank.url is not an http or https URL")
	}
	if r.Timeout < 0 {
		problems = append(problems, fmt.Sprintf("rerank.timeout %s is negative", r.Timeout))
	}
	if r.TopN < 0 {
		problems = append(problems, fmt.Sprintf("rerank.top_n %d is negative", r.TopN))
	}
	return append(problems, keyProblems("rerank", r.APIKey, r.apiKey, r.APIKeyFile)...)
}

// rerankOptions returns the pipeline options of the configured reranker:
// none for off, the hosted client for cohere, jina and tei (whose failures
// are logged to log and leave the first-stage order; the relevance bar
// stays the first stage's), and the local reranker otherwise.
func rerankOptions(cfg RerankConfig, embedder string, log *slog.Logger) ([]rag.Option, error) {
	switch {
	case cfg.Provider == rerankOff:
		return nil, nil
	case cfg.Provider == rerankLocal && embedder != "local":
		// The local weights read the built-in embedder's cosines; another
		// embedder's are on another scale, and would mislead them.
		log.Info("rerank.provider local is fitted to the local embedder; with embedding.provider " + embedder + " the first-stage order and relevance bar stand")
		return nil, nil
	case cfg.hosted():
		c, err := newHostedReranker(cfg)
		if err != nil {
			return nil, err
		}
		return []rag.Option{rag.WithReranker(loggedReranker(c, log))}, nil
	}
	// rerank.provider local, the one place the offline learned reranker
	// (package rerank, weights embedded) is plugged in, with the answer
	// bar fitted with it.
	m, err := rerank.Local()
	if err != nil {
		return nil, fmt.Errorf("load the local reranker: %w", err)
	}
	return []rag.Option{rag.WithReranker(m), rag.WithRerankBar(m.AnswerBar), rag.WithStrongBar(m.StrongBar)}, nil
}

// loggedReranker logs each failure of c, one warning line naming the
// service and the reason (never the key, nor the shopper's words), and
// passes it on.
func loggedReranker(c *hosted.Client, log *slog.Logger) rag.Reranker {
	return rag.RerankFunc(func(ctx context.Context, query string, hits []kefu.Hit) ([]kefu.Hit, error) {
		out, err := c.Rerank(ctx, query, hits)
		if err != nil && ctx.Err() == nil {
			log.LogAttrs(ctx, slog.LevelWarn, "rerank failed; the first-stage order stands",
				slog.String("reranker", c.Name()), slog.Int("candidates", len(hits)), slog.String("err", err.Error()))
		}
		return out, err
	})
}

// newHostedReranker returns the client of the configured rerank endpoint.
func newHostedReranker(cfg RerankConfig) (*hosted.Client, error) {
	key, err := apiKey("rerank", cfg.apiKey, cfg.APIKeyFile)
	if err != nil {
		return nil, err
	}
	c, err := hosted.New(hosted.Config{Dialect: hosted.Dialect(cfg.Provider), URL: cfg.URL, Model: cfg.Model, APIKey: key,
		Timeout: cfg.Timeout, TopN: cfg.TopN})
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	return c, nil
}

var _ rag.Reranker = (*hosted.Client)(nil)
