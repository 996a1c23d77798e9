// Package openai embeds text with any OpenAI-compatible embeddings endpoint
// (OpenAI, DeepSeek-compatible gateways, Qwen's compatible mode, vLLM,
// llama.cpp's server, LM Studio, Ollama's /v1) through langchaingo's OpenAI
// client: texts go in batches, rate limits and server errors are retried
// with backoff, and every vector is checked against the configured size.
package openai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	lcopenai "github.com/tmc/langchaingo/llms/openai"

	"github.com/kefuhq/kefu/internal/remote"
)

// Defaults of Config's zero values.
const (
	DefaultBaseURL    = "https://api.openai.com/v1"
	DefaultBatchSize  = 64
	DefaultTimeout    = 60 * time.Second
	DefaultMaxRetries = 2
	// maxWait caps a pause between attempts, Retry-After included.
	maxWait = 30 * time.Second
	// firstBackoff is the pause before the first retry when the service
	// named none; it doubles each time and is drawn from its upper half.
	firstBackoff = 500 * time.Millisecond
)

// Config is plain data; the zero value of a field means its default.
type Config struct {
	BaseURL string // default DefaultBaseURL
	Model   string // required, e.g. text-embedding-3-small, bge-m3
	// APIKey is sent as a bearer token; local servers need none. A secret:
	// read it from the environment or a file, never log it.
	APIKey string
	// Dims is the length of the model's vectors (required). For OpenAI's
	// text-embedding-3 models it is also requested from the API, which
	// shortens their vectors to it; other models must produce it natively.
	Dims       int
	BatchSize  int           // texts per request (default DefaultBatchSize)
	Timeout    time.Duration // per request (default DefaultTimeout)
	MaxRetries int           // retries of a request after a transient failure (default DefaultMaxRetries; negative: none)
	HTTPClient *http.Client  // its transport carries the requests (default http.DefaultTransport)
}

// LogValue keeps the API key out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", remote.RedactURL(c.baseURL())), slog.String("model", c.Model),
		slog.Int("dims", c.Dims), slog.Bool("api_key_set", c.APIKey != ""))
}

// String keeps the API key out of anything that prints the config.
func (c Config) String() string {
	return fmt.Sprintf("openai.Config{BaseURL: %s, Model: %s, Dims: %d, APIKey set: %t}",
		remote.RedactURL(c.baseURL()), c.Model, c.Dims, c.APIKey != "")
}

func (c Config) baseURL() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

// Embedder embeds texts through an OpenAI-compatible endpoint. It is safe
// for concurrent use.
type Embedder struct {
	cfg     Config
	llm     *lcopenai.LLM
	service string
	sleep   func(ctx context.Context, d time.Duration) error
}

// New returns an embedder for cfg. It fails on a missing model or size or
// a base URL that is not http(s); it does not call the server.
func New(cfg Config) (*Embedder, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("openai embedder: no model configured")
	}
	if cfg.Dims <= 0 {
		return nil, fmt.Errorf("openai embedder: the vector size of %q is not configured", cfg.Model)
	}
	u, err := url.Parse(cfg.baseURL())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openai embedder: base URL %s is not an http(s) URL", remote.RedactURL(cfg.baseURL()))
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	var base http.RoundTripper
	if cfg.HTTPClient != nil {
		base = cfg.HTTPClient.Transport
	}
	key := cfg.APIKey
	if key == "" {
		key = "no-key" // the client library insists on one; local servers ignore it
	}
	opts := []lcopenai.Option{
		lcopenai.WithToken(key),
		lcopenai.WithBaseURL(cfg.baseURL()),
		lcopenai.WithModel(cfg.Model),
		lcopenai.WithEmbeddingModel(cfg.Model),
		lcopenai.WithHTTPClient(&http.Client{Transport: &remote.Transport{Base: base}}),
	}
	if strings.HasPrefix(cfg.Model, "text-embedding-3") {
		opts = append(opts, lcopenai.WithEmbeddingDimensions(cfg.Dims))
	}
	llm, err := lcopenai.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("openai embedder: %s", remote.Scrub(err.Error(), cfg.APIKey))
	}
	return &Embedder{
		cfg: cfg, llm: llm, sleep: sleepCtx,
		service: fmt.Sprintf("openai embeddings %q at %s", cfg.Model, remote.RedactURL(cfg.baseURL())),
	}, nil
}

// Name identifies the embedder, "openai:<model>"; a store built with one
// embedder must be queried with the same one.
func (e *Embedder) Name() string { return "openai:" + e.cfg.Model }

// Dims is the length of every vector Embed returns.
func (e *Embedder) Dims() int { return e.cfg.Dims }

// Embed returns one vector per text, in order, in batches of
// Config.BatchSize. An empty (or blank) text gets the zero vector without
// a call, as endpoints refuse empty input. A rate limit, a server error or
// a dropped connection is retried up to Config.MaxRetries times, after the
// service's Retry-After or a doubling backoff, until ctx ends. An error
// names the service and never holds the key; a failure that may pass has a
// Transient method that reports true. A vector of the wrong size fails the
// call, naming both sizes.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var idx []int
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			out[i] = make([]float32, e.cfg.Dims)
			continue
		}
		idx = append(idx, i)
	}
	for start := 0; start < len(idx); start += e.cfg.BatchSize {
		part := idx[start:min(start+e.cfg.BatchSize, len(idx))]
		batch := make([]string, len(part))
		for j, i := range part {
			batch[j] = texts[i]
		}
		vecs, err := e.embedBatch(ctx, batch)
		if err != nil {
			return nil, err
		}
		for j, i := range part {
			out[i] = vecs[j]
		}
	}
	return out, nil
}

// embedBatch embeds one request's worth of texts, with retries.
func (e *Embedder) embedBatch(ctx context.Context, batch []string) ([][]float32, error) {
	backoff := firstBackoff
	for attempt := 0; ; attempt++ {
		vecs, err := e.call(ctx, batch)
		if err == nil {
			return vecs, nil
		}
		var re *remote.Error
		if !errors.As(err, &re) || !re.Transient() || attempt >= e.cfg.MaxRetries || ctx.Err() != nil {
			return nil, err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		if re.RetryAfter() > 0 {
			wait = re.RetryAfter()
		}
		if wait > maxWait {
			return nil, err
		}
		if serr := e.sleep(ctx, wait); serr != nil {
			return nil, err
		}
		backoff *= 2
	}
}

// call makes one request and checks what came back.
func (e *Embedder) call(ctx context.Context, batch []string) ([][]float32, error) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	rctx, call := remote.WithCall(rctx)
	vecs, err := e.llm.CreateEmbedding(rctx, batch)
	if err != nil {
		re := remote.Failure(rctx, e.service, call, err, e.cfg.APIKey)
		re.Message = clientNoise.ReplaceAllString(re.Message, "")
		return nil, re
	}
	if len(vecs) != len(batch) {
		return nil, &remote.Error{Service: e.service, Final: true, Message: fmt.Sprintf("returned %d vectors for %d texts", len(vecs), len(batch))}
	}
	for _, v := range vecs {
		if len(v) != e.cfg.Dims {
			return nil, &remote.Error{Service: e.service, Err: ErrDims, Final: true,
				Message: fmt.Sprintf("returned %d-dimensional vectors, but %d are configured: set the embedder's dims to the model's vector size (and re-ingest)", len(v), e.cfg.Dims)}
		}
	}
	return vecs, nil
}

// ErrDims is the cause of a vector of the wrong size.
var ErrDims = errors.New("embedding size mismatch")

// clientNoise is how the client library words failures that the error
// already states.
var clientNoise = regexp.MustCompile(`^(failed to create openai embeddings: )?(API returned unexpected status code: \d+:? ?)?`)

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
