package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/kefuhq/kefu/embedding"
	embopenai "github.com/kefuhq/kefu/embedding/openai"
	"github.com/kefuhq/kefu/embedding/use"
	"github.com/kefuhq/kefu/llm"
	"github.com/kefuhq/kefu/llm/anthropic"
	"github.com/kefuhq/kefu/llm/ollama"
	"github.com/kefuhq/kefu/llm/openai"
	"github.com/kefuhq/kefu/rag"
)

// EmbeddingConfig chooses the embedder: the local one, the Universal
// Sentence Encoder lite read from ModelDir, or a model behind an
// OpenAI-compatible embeddings endpoint. The API key is read from the
// environment or a file only.
type EmbeddingConfig struct {
	Provider   string `yaml:"provider"`
	Dims       int    `yaml:"dims"`
	ModelDir   string `yaml:"model_dir"`
	BaseURL    string `yaml:"base_url"`
	Model      string `yaml:"model"`
	APIKeyFile string `yaml:"api_key_file"`
	// APIKey in kefu.yaml is refused; the environment's is kept in apiKey.
	APIKey string `yaml:"api_key"`
	apiKey string
}

// LogValue keeps the API key out of any log line that prints the config.
func (e EmbeddingConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", e.Provider), slog.Int("dims", e.Dims), slog.String("model_dir", e.ModelDir), slog.String("base_url", e.BaseURL),
		slog.String("model", e.Model), slog.Bool("api_key_set", e.apiKey != "" || e.APIKeyFile != ""))
}

func (e *EmbeddingConfig) fillDefaults() {
	if e.Provider == "local" && e.Dims == 0 {
		e.Dims = embedding.DefaultDims
	}
}

func (e EmbeddingConfig) problems() []string {
	var problems []string
	switch e.Provider {
	case "local":
	case "use":
		if e.ModelDir == "" {
			problems = append(problems, "embedding.model_dir is required for embedding.provider use: the folder scripts/fetch-use.sh fills")
		}
		if e.Dims != 0 && e.Dims != use.Dims {
			problems = append(problems, fmt.Sprintf("embedding.dims %d is not the use model's %d; leave it unset", e.Dims, use.Dims))
		}
		for key, v := range map[string]string{"embedding.base_url": e.BaseURL, "embedding.model": e.Model} {
			if v != "" {
				problems = append(problems, fmt.Sprintf("%s is set, but embedding.provider use reads its model from embedding.model_dir", key))
			}
		}
	case "openai":
		if e.Model == "" {
			problems = append(problems, "embedding.model is required for embedding.provider openai")
		}
		if e.Dims == 0 {
			problems = append(problems, "embedding.dims is required for embedding.provider openai: the model's vector size (1536 for text-embedding-3-small, 1024 for bge-m3)")
		}
	default:
		problems = append(problems, fmt.Sprintf("embedding.provider %q is not local, use or openai", e.Provider))
	}
	if e.ModelDir != "" && e.Provider != "use" {
		problems = append(problems, fmt.Sprintf("embedding.model_dir is set, but embedding.provider is %s: set embedding.provider to use", e.Provider))
	}
	if e.Dims != 0 && (e.Dims < 16 || e.Dims > 8192) {
		problems = append(problems, fmt.Sprintf("embedding.dims %d is outside 16..8192", e.Dims))
	}
	if e.BaseURL != "" && !httpURL(e.BaseURL) {
		problems = append(problems, "embedding.base_url is not an http or https URL")
	}
	problems = append(problems, keyProblems("embedding", e.APIKey, e.apiKey, e.APIKeyFile)...)
	return problems
}

// LLMConfig chooses the answer generator: the extractive answerer, or a
// language model (which falls back to the extractive answerer when it
// fails). The API key is read from the environment or a file only.
type LLMConfig struct {
	Provider          string        `yaml:"provider"`
	BaseURL           string        `yaml:"base_url"`
	Model             string        `yaml:"model"`
	APIKeyFile        string        `yaml:"api_key_file"`
	Timeout           time.Duration `yaml:"timeout"`
	FirstTokenTimeout time.Duration `yaml:"first_token_timeout"`
	MaxTokens         int           `yaml:"max_tokens"`
	Temperature       *float64      `yaml:"temperature"`
	// APIKey in kefu.yaml is refused; the environment's is kept in apiKey.
	APIKey string `yaml:"api_key"`
	apiKey string
}

// LogValue keeps the API key out of any log line that prints the config.
func (l LLMConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", l.Provider), slog.String("base_url", l.BaseURL), slog.String("model", l.Model),
		slog.Duration("timeout", l.Timeout), slog.Duration("first_token_timeout", l.FirstTokenTimeout),
		slog.Bool("api_key_set", l.apiKey != "" || l.APIKeyFile != ""))
}

// Defaults of the llm settings.
const (
	defaultLLMTimeout    = 60 * time.Second
	defaultFirstToken    = 15 * time.Second
	defaultMaxTokens     = 512
	defaultTemperature   = 0.2
	defaultOllamaBaseURL = "http://localhost:11434"
)

func (l *LLMConfig) fillDefaults() {
	if l.Timeout == 0 {
		l.Timeout = defaultLLMTimeout
	}
	if l.FirstTokenTimeout == 0 {
		l.FirstTokenTimeout = defaultFirstToken
	}
	if l.MaxTokens == 0 {
		l.MaxTokens = defaultMaxTokens
	}
	if l.Temperature == nil {
		t := defaultTemperature
		l.Temperature = &t
	}
}

func (l LLMConfig) problems() []string {
	var problems []string
	switch l.Provider {
	case "extractive":
	case "openai", "ollama", "anthropic":
		if l.Model == "" {
			problems = append(problems, fmt.Sprintf("llm.model is required for llm.provider %s", l.Provider))
		}
		if l.Provider == "anthropic" && l.Temperature != nil && *l.Temperature > 1 {
			problems = append(problems, fmt.Sprintf("llm.temperature %v is above 1, the most Anthropic's API takes", *l.Temperature))
		}
	default:
		problems = append(problems, fmt.Sprintf("llm.provider %q is not extractive, openai, ollama or anthropic", l.Provider))
	}
	if l.BaseURL != "" && !httpURL(l.BaseURL) {
		problems = append(problems, "llm.base_url is not an http or https URL")
	}
	if l.Timeout < 0 {
		problems = append(problems, fmt.Sprintf("llm.timeout %s is negative", l.Timeout))
	}
	if l.FirstTokenTimeout < 0 || l.FirstTokenTimeout > l.Timeout {
		problems = append(problems, fmt.Sprintf("llm.first_token_timeout %s is outside 0..llm.timeout (%s)", l.FirstTokenTimeout, l.Timeout))
	}
	if l.MaxTokens < 0 {
		problems = append(problems, fmt.Sprintf("llm.max_tokens %d is negative", l.MaxTokens))
	}
	if l.Temperature != nil && (*l.Temperature < 0 || *l.Temperature > 2) {
		problems = append(problems, fmt.Sprintf("llm.temperature %v is outside 0..2", *l.Temperature))
	}
	problems = append(problems, keyProblems("llm", l.APIKey, l.apiKey, l.APIKeyFile)...)
	return problems
}

// keyProblems checks where a section's API key comes from.
func keyProblems(section, inYAML, fromEnv, file string) []string {
	env := "KEFU_" + strings.ToUpper(section) + "_API_KEY"
	var problems []string
	if inYAML != "" {
		problems = append(problems, fmt.Sprintf("%s.api_key is a secret: set %s or %s.api_key_file, not kefu.yaml", section, env, section))
	}
	if fromEnv != "" && file != "" {
		problems = append(problems, fmt.Sprintf("%s and %s.api_key_file are both set; keep one", env, section))
	}
	return problems
}

func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// apiKey returns a key from the environment or from its file.
func apiKey(section, fromEnv, file string) (string, error) {
	if file == "" {
		return fromEnv, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s.api_key_file: %w", section, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

// vectorEmbedder is what the app needs of an embedder: vectors for search
// and ingest, and the identity the chunk store records.
type vectorEmbedder interface {
	rag.Embedder
	Name() string
	Dims() int
}

// newEmbedder returns the configured embedder.
func newEmbedder(cfg EmbeddingConfig) (vectorEmbedder, error) {
	switch cfg.Provider {
	case "use":
		enc, err := use.Load(cfg.ModelDir)
		if err != nil {
			return nil, fmt.Errorf("embedding: %w (bash scripts/fetch-use.sh %s fetches the model)", err, cfg.ModelDir)
		}
		return use.NewEmbedder(enc), nil
	case "openai":
	default:
		return embedding.NewLocal(cfg.Dims), nil
	}
	key, err := apiKey("embedding", cfg.apiKey, cfg.APIKeyFile)
	if err != nil {
		return nil, err
	}
	e, err := embopenai.New(embopenai.Config{BaseURL: cfg.BaseURL, Model: cfg.Model, APIKey: key, Dims: cfg.Dims})
	if err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	return e, nil
}

// newGenerator returns the configured answer generator and its name for
// answers' metadata, and the model itself (nil without one) for rewriting
// follow-up questions. A language model answering is wrapped so that its
// failures fall back to the extractive answerer.
func newGenerator(cfg LLMConfig) (rag.Generator, string, rag.Generator, error) {
	extractive := llm.Extractive{}
	if cfg.Provider == "extractive" {
		return extractive, extractive.Name(), nil, nil
	}
	key, err := apiKey("llm", cfg.apiKey, cfg.APIKeyFile)
	if err != nil {
		return nil, "", nil, err
	}
	var model interface {
		llm.Generator
		Name() string
	}
	switch cfg.Provider {
	case "ollama":
		base := cfg.BaseURL
		if base == "" {
			base = defaultOllamaBaseURL
		}
		model, err = ollama.New(ollama.Config{BaseURL: base, Model: cfg.Model, Temperature: cfg.Temperature,
			MaxTokens: cfg.MaxTokens, Timeout: cfg.Timeout})
	case "anthropic":
		model, err = anthropic.New(anthropic.Config{BaseURL: cfg.BaseURL, Model: cfg.Model, APIKey: key, Temperature: cfg.Temperature,
			MaxTokens: cfg.MaxTokens, Timeout: cfg.Timeout})
	default:
		model, err = openai.New(openai.Config{BaseURL: cfg.BaseURL, Model: cfg.Model, APIKey: key, Temperature: cfg.Temperature,
			MaxTokens: cfg.MaxTokens, Timeout: cfg.Timeout})
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("llm: %w", err)
	}
	g := llm.Resilient(model, extractive, llm.WithFirstTokenTimeout(cfg.FirstTokenTimeout), llm.WithOverallTimeout(cfg.Timeout))
	return g, model.Name(), model, nil
}

var (
	_ vectorEmbedder = (*embedding.Local)(nil)
	_ vectorEmbedder = (*embopenai.Embedder)(nil)
	_ rag.Generator  = (*llm.Failover)(nil)
)
