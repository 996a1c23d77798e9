package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/ingest"
)

// Config is everything kefu reads at start-up: kefu.yaml first, then KEFU_*
// environment variables over it. The zero value of a field means its
// documented default.
type Config struct {
	DataDir   string          `yaml:"data_dir"`
	Server    ServerConfig    `yaml:"server"`
	Auth      AuthConfig      `yaml:"auth"`
	Shop      ShopConfig      `yaml:"shop"`
	Retrieval RetrievalConfig `yaml:"retrieval"`
	Embedding EmbeddingConfig `yaml:"embedding"`
	VectorDB  VectorDBConfig  `yaml:"vectordb"`
	LLM       LLMConfig       `yaml:"llm"`
	Rerank    RerankConfig    `yaml:"rerank"`
	Orders    OrdersConfig    `yaml:"orders"`
	Actions   ActionsConfig   `yaml:"actions"`
	Log       LogConfig       `yaml:"log"`
	Ingest    IngestConfig    `yaml:"ingest"`
	Limits    LimitsConfig    `yaml:"limits"`

	Escalation EscalationConfig `yaml:"escalation"`
	Store      StoreConfig      `yaml:"store"`
}

type ServerConfig struct {
	Addr            string        `yaml:"addr"`
	MaxMessageBytes int           `yaml:"max_message_bytes"`
	MaxBodyBytes    int           `yaml:"max_body_bytes"`
	Heartbeat       time.Duration `yaml:"heartbeat"`
	MaxUploadFile   int           `yaml:"max_upload_file_bytes"`
	MaxUpload       int           `yaml:"max_upload_bytes"`
	// MetricsAddr, when set, serves /metrics on a listener of its own,
	// without a key (for the operators' network only).
	MetricsAddr    string        `yaml:"metrics_addr"`
	TrustedProxies []string      `yaml:"trusted_proxies"`
	UploadTimeout  time.Duration `yaml:"upload_read_timeout"`
	UploadMinRate  int           `yaml:"upload_min_bytes_per_second"`
}

// AuthConfig is who may use the API. The token secrets are read from the
// environment or files only: TokenSecret in kefu.yaml is refused, the
// environment's is kept in tokenSecret.
type AuthConfig struct {
	TokenSecret             string        `yaml:"token_secret"`
	TokenSecretFile         string        `yaml:"token_secret_file"`
	TokenSecretID           string        `yaml:"token_secret_id"`
	TokenSecretPrevious     string        `yaml:"token_secret_previous"` // refused: env or file only
	TokenSecretPreviousFile string        `yaml:"token_secret_previous_file"`
	TokenSecretPreviousID   string        `yaml:"token_secret_previous_id"`
	TokenMaxTTL             time.Duration `yaml:"token_max_ttl"`
	SessionTTL              time.Duration `yaml:"session_ttl"`
	SessionIdle             time.Duration `yaml:"session_idle"`
	MaxSessions             int           `yaml:"max_sessions"`
	APIKeys                 []APIKeyCfg   `yaml:"api_keys"`
	tokenSecret             string
	tokenSecretPrevious     string
}

// LogValue keeps the token secrets out of any log line that prints the
// config.
func (a AuthConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("api_keys", len(a.APIKeys)), slog.Duration("token_max_ttl", a.TokenMaxTTL),
		slog.Bool("token_secret_set", a.tokenSecret != "" || a.TokenSecretFile != ""),
		slog.Bool("token_secret_previous_set", a.tokenSecretPrevious != "" || a.TokenSecretPreviousFile != ""))
}

func (a AuthConfig) problems() []string {
	var problems []string
	if a.TokenSecret != "" {
		problems = append(problems, "auth.token_secret is a secret: set KEFU_TOKEN_SECRET or auth.token_secret_file, not kefu.yaml")
	}
	if a.TokenSecretPrevious != "" {
		problems = append(problems, "auth.token_secret_previous is a secret: set KEFU_TOKEN_SECRET_PREVIOUS or auth.token_secret_previous_file, not kefu.yaml")
	}
	if a.tokenSecret != "" && len(a.tokenSecret) < 16 {
		problems = append(problems, "auth.token_secret (KEFU_TOKEN_SECRET) is shorter than 16 bytes")
	}
	if a.tokenSecret != "" && a.TokenSecretFile != "" {
		problems = append(problems, "KEFU_TOKEN_SECRET and auth.token_secret_file are both set; keep one")
	}
	if a.tokenSecretPrevious != "" && len(a.tokenSecretPrevious) < 16 {
		problems = append(problems, "auth.token_secret_previous (KEFU_TOKEN_SECRET_PREVIOUS) is shorter than 16 bytes")
	}
	if a.tokenSecretPrevious != "" && a.TokenSecretPreviousFile != "" {
		problems = append(problems, "KEFU_TOKEN_SECRET_PREVIOUS and auth.token_secret_previous_file are both set; keep one")
	}
	for name, id := range map[string]string{"auth.token_secret_id": a.TokenSecretID, "auth.token_secret_previous_id": a.TokenSecretPreviousID} {
		if id != "" && (len(id) > auth.MaxKeyIDLen || !auth.ValidCustomerID(id)) {
			problems = append(problems, fmt.Sprintf("%s %q is not 1 to %d characters of A-Z a-z 0-9 _ . @ -", name, id, auth.MaxKeyIDLen))
		}
	}
	if a.TokenSecretID != "" && a.TokenSecretID == a.TokenSecretPreviousID {
		problems = append(problems, "auth.token_secret_id and auth.token_secret_previous_id are the same; a rotated secret needs a new id")
	}
	if a.TokenMaxTTL < 0 {
		problems = append(problems, fmt.Sprintf("auth.token_max_ttl %s is negative", a.TokenMaxTTL))
	}
	if a.SessionTTL < 0 || a.SessionIdle < 0 || a.MaxSessions < 0 {
		problems = append(problems, "auth.session_ttl, auth.session_idle and auth.max_sessions must not be negative")
	}
	return problems
}

// LimitsConfig are the API's rate limits and caps (api.Limits): rates in
// requests per second, a negative rate turning its limit off.
type LimitsConfig struct {
	AddressRate       float64       `yaml:"address_rate"`
	AddressBurst      int           `yaml:"address_burst"`
	KeyRate           float64       `yaml:"key_rate"`
	KeyBurst          int           `yaml:"key_burst"`
	ShopperRate       float64       `yaml:"shopper_rate"`
	ShopperBurst      int           `yaml:"shopper_burst"`
	AuthFailRate      float64       `yaml:"auth_fail_rate"`
	AuthFailBurst     int           `yaml:"auth_fail_burst"`
	StreamsPerKey     int           `yaml:"streams_per_key"`
	StreamsPerShopper int           `yaml:"streams_per_shopper"`
	StreamsPerAddress int           `yaml:"streams_per_address"`
	TicketsPerHour    int           `yaml:"tickets_per_shopper_hour"`
	BodyReadTimeout   time.Duration `yaml:"body_read_timeout"`
}

func (l LimitsConfig) api() api.Limits {
	return api.Limits{
		AddressRate: l.AddressRate, AddressBurst: l.AddressBurst, KeyRate: l.KeyRate, KeyBurst: l.KeyBurst,
		ShopperRate: l.ShopperRate, ShopperBurst: l.ShopperBurst, AuthFailRate: l.AuthFailRate, AuthFailBurst: l.AuthFailBurst,
		StreamsPerKey: l.StreamsPerKey, StreamsPerShopper: l.StreamsPerShopper, StreamsPerAddress: l.StreamsPerAddress,
		TicketsPerHour: l.TicketsPerHour,
	}
}

func (l LimitsConfig) problems() []string {
	var problems []string
	if l.BodyReadTimeout < 0 {
		problems = append(problems, fmt.Sprintf("limits.body_read_timeout %s is negative", l.BodyReadTimeout))
	}
	return problems
}

type APIKeyCfg struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"`
	Hash string `yaml:"hash"`
}

type ShopConfig struct {
	Name         map[string]string `yaml:"name"`
	Hours        map[string]string `yaml:"hours"`
	RefuseTopics []string          `yaml:"refuse_topics"`
}

type RetrievalConfig struct {
	TopK       int     `yaml:"top_k"`
	ContextK   int     `yaml:"context_k"`
	MinLexical float64 `yaml:"min_lexical"`
	MinDense   float64 `yaml:"min_dense"`
}

// VectorDBConfig chooses the chunk store: the embedded one under the data
// dir, or a Qdrant server shared by any number of kefu processes.
type VectorDBConfig struct {
	Provider string       `yaml:"provider"`
	Qdrant   QdrantConfig `yaml:"qdrant"`
}

type QdrantConfig struct {
	Addr       string `yaml:"addr"`
	APIKey     string `yaml:"api_key"`
	APIKeyFile string `yaml:"api_key_file"`
	Collection string `yaml:"collection"`
	TLS        bool   `yaml:"tls"`
}

// LogValue keeps the API key out of any log line that prints the config.
func (q QdrantConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", q.Addr), slog.String("collection", q.Collection), slog.Bool("tls", q.TLS),
		slog.Bool("api_key_set", q.APIKey != "" || q.APIKeyFile != ""))
}

// EscalationConfig is when conversations go to people, to which team, and
// the helpdesk webhook that hears of every ticket. The webhook secret is
// read from the environment or a file only.
type EscalationConfig struct {
	RefundThreshold    string          `yaml:"refund_threshold"`
	MaxUnresolvedTurns int             `yaml:"max_unresolved_turns"`
	Teams              []escalate.Team `yaml:"teams"`
	DefaultTeam        string          `yaml:"default_team"`
	WebhookURL         string          `yaml:"webhook_url"`
	WebhookSecretFile  string          `yaml:"webhook_secret_file"`
	// WebhookSecret in kefu.yaml is refused; the environment's is kept in
	// webhookSecret.
	WebhookSecret string `yaml:"webhook_secret"`
	webhookSecret string
}

// LogValue keeps the webhook secret out of any log line that prints the
// config.
func (e EscalationConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("refund_threshold", e.RefundThreshold), slog.Int("max_unresolved_turns", e.MaxUnresolvedTurns),
		slog.Int("teams", len(e.Teams)), slog.String("default_team", e.DefaultTeam), slog.Bool("webhook", e.WebhookURL != ""),
		slog.Bool("webhook_secret_set", e.webhookSecret != "" || e.WebhookSecretFile != ""))
}

// policy is the escalation policy the configuration describes.
func (e EscalationConfig) policy() (escalate.Config, error) {
	thresholds, err := escalate.ParseThresholds(e.RefundThreshold)
	if err != nil {
		return escalate.Config{}, fmt.Errorf("escalation.refund_threshold: %w", err)
	}
	cfg := escalate.Config{RefundThresholds: thresholds, MaxUnresolvedTurns: e.MaxUnresolvedTurns, Teams: e.Teams, DefaultTeam: e.DefaultTeam}
	if err := cfg.Validate(); err != nil {
		return escalate.Config{}, err
	}
	return cfg, nil
}

// secret returns the webhook secret from the environment or its file.
func (e EscalationConfig) secret() ([]byte, error) {
	if e.WebhookSecretFile == "" {
		return []byte(e.webhookSecret), nil
	}
	raw, err := os.ReadFile(e.WebhookSecretFile)
	if err != nil {
		return nil, fmt.Errorf("escalation.webhook_secret_file: %w", err)
	}
	return []byte(strings.TrimSpace(string(raw))), nil
}

type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// IngestConfig is the server's gate on knowledge changes: with Gate and
// Golden set, an upload to POST /v1/admin/documents stays only when the
// golden set, run through the pipeline after it, keeps the gate's
// thresholds; otherwise it is rolled back and answered 422.
type IngestConfig struct {
	Gate         string        `yaml:"gate"`
	Golden       string        `yaml:"golden"`
	GateTimeout  time.Duration `yaml:"gate_timeout"`
	GateMaxCases int           `yaml:"gate_max_cases"`

	// Limits on each file read, by uploads and kefu ingest alike.
	MaxPDFPages       int           `yaml:"max_pdf_pages"`
	MaxDocumentChars  int           `yaml:"max_document_chars"`
	MaxDocumentChunks int           `yaml:"max_document_chunks"`
	DocumentTimeout   time.Duration `yaml:"document_timeout"`
	PDFMaxMemory      int           `yaml:"pdf_max_memory_bytes"`
}

// limits are the ingest limits the configuration sets.
func (i IngestConfig) limits() ingest.Limits {
	return ingest.Limits{MaxPDFPages: i.MaxPDFPages, MaxChars: i.MaxDocumentChars, MaxChunks: i.MaxDocumentChunks,
		FileTimeout: i.DocumentTimeout, PDFMemory: int64(i.PDFMaxMemory)}
}

func (i IngestConfig) problems() []string {
	var problems []string
	if (i.Gate == "") != (i.Golden == "") {
		problems = append(problems, "ingest.gate and ingest.golden go together: set both or neither")
	}
	if i.GateTimeout < 0 {
		problems = append(problems, fmt.Sprintf("ingest.gate_timeout %s is negative", i.GateTimeout))
	}
	if i.GateMaxCases < 0 {
		problems = append(problems, fmt.Sprintf("ingest.gate_max_cases %d is negative", i.GateMaxCases))
	}
	if i.MaxPDFPages < 0 || i.MaxDocumentChars < 0 || i.MaxDocumentChunks < 0 || i.DocumentTimeout < 0 || i.PDFMaxMemory < 0 {
		problems = append(problems, "ingest.max_pdf_pages, max_document_chars, max_document_chunks, document_timeout and pdf_max_memory_bytes must not be negative")
	}
	if i.PDFMaxMemory > 0 && i.PDFMaxMemory < 32<<20 {
		problems = append(problems, fmt.Sprintf("ingest.pdf_max_memory_bytes %d is too small (at least 33554432, 32 MiB)", i.PDFMaxMemory))
	}
	return problems
}

// configKey documents one setting: its kefu.yaml path, its environment
// variable, its default, and how to apply a string value. The README's
// configuration table and `kefu serve --help` come from this list.
type configKey struct {
	Path, Env, Default, Doc string
	set                     func(c *Config, v string) error
}

var configKeys = []configKey{
	{"data_dir", "KEFU_DATA_DIR", "data", "directory for the chunk store, conversations and the generated token secret", func(c *Config, v string) error { c.DataDir = v; return nil }},
	{"server.addr", "KEFU_ADDR", ":8080 with API keys, 127.0.0.1:8080 without", "HTTP listen address; without API keys only a loopback address is accepted", func(c *Config, v string) error { c.Server.Addr = v; return nil }},
	{"server.metrics_addr", "KEFU_METRICS_ADDR", "(none)", "a listen address of its own for GET /metrics, served there without a key (keep it on the operators' network); /metrics on server.addr needs an admin key when keys are configured", func(c *Config, v string) error { c.Server.MetricsAddr = v; return nil }},
	{"server.trusted_proxies", "KEFU_TRUSTED_PROXIES", "(none)", "proxies (IPs or CIDRs, comma-separated in env) whose X-Forwarded-For names the client for the per-address limits; with none the connection's address counts", func(c *Config, v string) error {
		c.Server.TrustedProxies = splitList(v)
		return nil
	}},
	{"server.max_message_bytes", "KEFU_MAX_MESSAGE_BYTES", "4000", "longest accepted chat message, in bytes", intSetter(func(c *Config) *int { return &c.Server.MaxMessageBytes })},
	{"server.max_body_bytes", "KEFU_MAX_BODY_BYTES", "65536", "largest accepted request body, in bytes", intSetter(func(c *Config) *int { return &c.Server.MaxBodyBytes })},
	{"server.max_upload_file_bytes", "KEFU_MAX_UPLOAD_FILE_BYTES", "10485760", "largest file accepted by POST /v1/admin/documents, in bytes", intSetter(func(c *Config) *int { return &c.Server.MaxUploadFile })},
	{"server.max_upload_bytes", "KEFU_MAX_UPLOAD_BYTES", "52428800", "largest upload (all files together) accepted by POST /v1/admin/documents, in bytes", intSetter(func(c *Config) *int { return &c.Server.MaxUpload })},
	{"server.upload_read_timeout", "KEFU_UPLOAD_READ_TIMEOUT", "10m", "longest the body of one POST /v1/admin/documents may take to arrive; a slower one is cut with 408", durationSetter(func(c *Config) *time.Duration { return &c.Server.UploadTimeout })},
	{"server.upload_min_bytes_per_second", "KEFU_UPLOAD_MIN_BYTES_PER_SECOND", "16384", "least average rate an upload's body must keep after its first 10s; a trickle is cut with 408", intSetter(func(c *Config) *int { return &c.Server.UploadMinRate })},
	{"server.heartbeat", "KEFU_HEARTBEAT", "15s", "interval of SSE keep-alive comments", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.Server.Heartbeat = d
		return err
	}},
	{"auth.token_secret", "KEFU_TOKEN_SECRET", "(generated)", "HMAC secret for shopper tokens (16 bytes or more); environment or file only, refused in kefu.yaml; when unset, a random one is generated into <data_dir>/token.secret", func(c *Config, v string) error { c.Auth.tokenSecret = v; return nil }},
	{"auth.token_secret_file", "KEFU_TOKEN_SECRET_FILE", "", "file holding the token secret", func(c *Config, v string) error { c.Auth.TokenSecretFile = v; return nil }},
	{"auth.token_secret_id", "KEFU_TOKEN_SECRET_ID", "(none)", "key id (kid) of the current token secret: kefu token writes it into tokens, and a token whose kid names another secret is refused", func(c *Config, v string) error { c.Auth.TokenSecretID = v; return nil }},
	{"auth.token_secret_previous", "KEFU_TOKEN_SECRET_PREVIOUS", "(none)", "the token secret before a rotation, still accepted (never used to sign); environment or file only", func(c *Config, v string) error { c.Auth.tokenSecretPrevious = v; return nil }},
	{"auth.token_secret_previous_file", "KEFU_TOKEN_SECRET_PREVIOUS_FILE", "", "file holding the previous token secret", func(c *Config, v string) error { c.Auth.TokenSecretPreviousFile = v; return nil }},
	{"auth.token_secret_previous_id", "KEFU_TOKEN_SECRET_PREVIOUS_ID", "(none)", "key id of the previous token secret", func(c *Config, v string) error { c.Auth.TokenSecretPreviousID = v; return nil }},
	{"auth.token_max_ttl", "KEFU_TOKEN_MAX_TTL", "24h", "longest lifetime (exp - iat) of a shopper token accepted, and of one kefu token mints; a token issued more than 60s in the future is refused too", durationSetter(func(c *Config) *time.Duration { return &c.Auth.TokenMaxTTL })},
	{"auth.session_ttl", "KEFU_SESSION_TTL", "12h", "longest a sign-in to the agent console or the admin dashboard lasts; then the agent signs in again", durationSetter(func(c *Config) *time.Duration { return &c.Auth.SessionTTL })},
	{"auth.session_idle", "KEFU_SESSION_IDLE", "2h", "a console or dashboard session unused this long ends", durationSetter(func(c *Config) *time.Duration { return &c.Auth.SessionIdle })},
	{"auth.max_sessions", "KEFU_MAX_SESSIONS", "1000", "most console and dashboard sessions held at once (per process); the least recently used ends first", intSetter(func(c *Config) *int { return &c.Auth.MaxSessions })},
	{"auth.api_keys", "KEFU_API_KEYS", "(none: loopback only, shopper routes open with --demo)", "API keys as name:role:sha256-hex,... (roles widget, agent, admin); in kefu.yaml a list of {name, role, hash}", func(c *Config, v string) error {
		for _, entry := range strings.Split(v, ",") {
			parts := strings.SplitN(strings.TrimSpace(entry), ":", 3)
			if len(parts) != 3 {
				return fmt.Errorf("want name:role:hash, got %q", entry)
			}
			c.Auth.APIKeys = append(c.Auth.APIKeys, APIKeyCfg{Name: parts[0], Role: parts[1], Hash: parts[2]})
		}
		return nil
	}},
	{"shop.name", "KEFU_SHOP_NAME", "our shop / 本店", "shop name used in replies; in kefu.yaml a map by locale (en, zh)", func(c *Config, v string) error { c.Shop.Name = map[string]string{"en": v, "zh": v}; return nil }},
	{"shop.hours", "KEFU_SHOP_HOURS", "9:00-21:00 every day", "human service hours used in replies; in kefu.yaml a map by locale", func(c *Config, v string) error { c.Shop.Hours = map[string]string{"en": v, "zh": v}; return nil }},
	{"shop.refuse_topics", "KEFU_REFUSE_TOPICS", "(none)", "extra topics this shop declines (words or phrases, comma-separated in env), on top of the built-in ones", func(c *Config, v string) error {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Shop.RefuseTopics = append(c.Shop.RefuseTopics, t)
			}
		}
		return nil
	}},
	{"retrieval.top_k", "KEFU_TOP_K", "10", "hits retrieved per question", intSetter(func(c *Config) *int { return &c.Retrieval.TopK })},
	{"retrieval.context_k", "KEFU_CONTEXT_K", "4", "best hits given to the answer generator", intSetter(func(c *Config) *int { return &c.Retrieval.ContextK })},
	{"retrieval.min_lexical", "KEFU_MIN_LEXICAL", "0.45", "relevance bar: share of the question's weighted terms the best hit must contain...", floatSetter(func(c *Config) *float64 { return &c.Retrieval.MinLexical })},
	{"retrieval.min_dense", "KEFU_MIN_DENSE", "0.45", "...or the cosine it must reach; below both, kefu says it does not know and offers a human", floatSetter(func(c *Config) *float64 { return &c.Retrieval.MinDense })},
	{"embedding.provider", "KEFU_EMBEDDING_PROVIDER", "local", "embedder: local (offline feature hashing), use (the Universal Sentence Encoder lite, English, offline, from embedding.model_dir) or openai (any OpenAI-compatible embeddings endpoint); changing it needs a re-ingest", func(c *Config, v string) error { c.Embedding.Provider = v; return nil }},
	{"embedding.model_dir", "KEFU_EMBEDDING_MODEL_DIR", "", "folder holding the use model's model.json, weight shards and vocab.json (required for use; bash scripts/fetch-use.sh DIR fetches them)", func(c *Config, v string) error { c.Embedding.ModelDir = v; return nil }},
	{"embedding.dims", "KEFU_EMBEDDING_DIMS", "512 (local)", "vector size: of the local embedder, or the remote model's (required for openai); changing it needs a re-ingest", intSetter(func(c *Config) *int { return &c.Embedding.Dims })},
	{"embedding.base_url", "KEFU_EMBEDDING_BASE_URL", "https://api.openai.com/v1", "base URL of the OpenAI-compatible embeddings API", func(c *Config, v string) error { c.Embedding.BaseURL = v; return nil }},
	{"embedding.model", "KEFU_EMBEDDING_MODEL", "", "embedding model name (required for openai), e.g. text-embedding-3-small, bge-m3", func(c *Config, v string) error { c.Embedding.Model = v; return nil }},
	{"embedding.api_key", "KEFU_EMBEDDING_API_KEY", "", "API key of the embeddings endpoint; environment or file only, refused in kefu.yaml", func(c *Config, v string) error { c.Embedding.apiKey = v; return nil }},
	{"embedding.api_key_file", "KEFU_EMBEDDING_API_KEY_FILE", "", "file holding the embeddings API key", func(c *Config, v string) error { c.Embedding.APIKeyFile = v; return nil }},
	{"vectordb.provider", "KEFU_VECTORDB", "embedded", "chunk store: embedded (on disk under data_dir) or qdrant (a Qdrant server; re-ingest after switching)", func(c *Config, v string) error { c.VectorDB.Provider = v; return nil }},
	{"vectordb.qdrant.addr", "KEFU_QDRANT_ADDR", "localhost:6334", "Qdrant gRPC address, host:port", func(c *Config, v string) error { c.VectorDB.Qdrant.Addr = v; return nil }},
	{"vectordb.qdrant.api_key", "KEFU_QDRANT_API_KEY", "", "Qdrant API key (a secret: set it in the environment or a file, never in the repository)", func(c *Config, v string) error { c.VectorDB.Qdrant.APIKey = v; return nil }},
	{"vectordb.qdrant.api_key_file", "KEFU_QDRANT_API_KEY_FILE", "", "file holding the Qdrant API key", func(c *Config, v string) error { c.VectorDB.Qdrant.APIKeyFile = v; return nil }},
	{"vectordb.qdrant.collection", "KEFU_QDRANT_COLLECTION", "kefu_chunks", "Qdrant collection holding the chunks (created on first use)", func(c *Config, v string) error { c.VectorDB.Qdrant.Collection = v; return nil }},
	{"vectordb.qdrant.tls", "KEFU_QDRANT_TLS", "false", "connect to Qdrant over TLS (Qdrant Cloud)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not true or false: %q", v)
		}
		c.VectorDB.Qdrant.TLS = b
		return nil
	}},
	{"llm.provider", "KEFU_LLM_PROVIDER", "extractive", "answer generator: extractive (offline, quotes the sources), openai (any OpenAI-compatible endpoint), ollama (Ollama's native API) or anthropic (Anthropic's Messages API); a model falls back to extractive when it fails", func(c *Config, v string) error { c.LLM.Provider = v; return nil }},
	{"llm.base_url", "KEFU_LLM_BASE_URL", "https://api.openai.com/v1 (openai), http://localhost:11434 (ollama), https://api.anthropic.com (anthropic)", "base URL of the model's API", func(c *Config, v string) error { c.LLM.BaseURL = v; return nil }},
	{"llm.model", "KEFU_LLM_MODEL", "", "model name (required for openai, ollama and anthropic), e.g. gpt-4o-mini, deepseek-chat, qwen2.5:7b, claude-sonnet-4-5", func(c *Config, v string) error { c.LLM.Model = v; return nil }},
	{"llm.api_key", "KEFU_LLM_API_KEY", "", "API key of the model's endpoint; environment or file only, refused in kefu.yaml", func(c *Config, v string) error { c.LLM.apiKey = v; return nil }},
	{"llm.api_key_file", "KEFU_LLM_API_KEY_FILE", "", "file holding the model's API key", func(c *Config, v string) error { c.LLM.APIKeyFile = v; return nil }},
	{"llm.timeout", "KEFU_LLM_TIMEOUT", "60s", "longest a whole answer from the model may take", durationSetter(func(c *Config) *time.Duration { return &c.LLM.Timeout })},
	{"llm.first_token_timeout", "KEFU_LLM_FIRST_TOKEN_TIMEOUT", "15s", "longest wait for the model's first word before the extractive answer is given instead", durationSetter(func(c *Config) *time.Duration { return &c.LLM.FirstTokenTimeout })},
	{"llm.max_tokens", "KEFU_LLM_MAX_TOKENS", "512", "longest answer, in the model's tokens", intSetter(func(c *Config) *int { return &c.LLM.MaxTokens })},
	{"llm.temperature", "KEFU_LLM_TEMPERATURE", "0.2", "sampling temperature, 0..2; low keeps answers close to the sources", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		c.LLM.Temperature = &f
		return nil
	}},
	{"rerank.provider", "KEFU_RERANK_PROVIDER", "local", "second-stage reranker of the retrieved candidates: local (offline, learned), off, or a hosted /rerank endpoint: cohere, jina or tei (Hugging Face text-embeddings-inference); a hosted one that fails leaves the first-stage order", func(c *Config, v string) error { c.Rerank.Provider = v; return nil }},
	{"rerank.url", "KEFU_RERANK_URL", "(per provider)", "the rerank endpoint itself, path included (default https://api.cohere.com/v1/rerank for cohere, https://api.jina.ai/v1/rerank for jina; required for tei, e.g. http://localhost:8081/rerank)", func(c *Config, v string) error { c.Rerank.URL = v; return nil }},
	{"rerank.model", "KEFU_RERANK_MODEL", "(per provider)", "rerank model of a hosted provider (default rerank-v3.5 for cohere, jina-reranker-v2-base-multilingual for jina; tei serves one and is sent none)", func(c *Config, v string) error { c.Rerank.Model = v; return nil }},
	{"rerank.api_key", "KEFU_RERANK_API_KEY", "", "API key of the rerank endpoint; environment or file only, refused in kefu.yaml", func(c *Config, v string) error { c.Rerank.apiKey = v; return nil }},
	{"rerank.api_key_file", "KEFU_RERANK_API_KEY_FILE", "", "file holding the rerank endpoint's API key", func(c *Config, v string) error { c.Rerank.APIKeyFile = v; return nil }},
	{"rerank.timeout", "KEFU_RERANK_TIMEOUT", "3s", "longest one hosted rerank may take; after it the first-stage order stands", durationSetter(func(c *Config) *time.Duration { return &c.Rerank.Timeout })},
	{"rerank.top_n", "KEFU_RERANK_TOP_N", "0 (all)", "candidates a hosted reranker keeps, best first; 0 keeps every candidate, reordered", intSetter(func(c *Config) *int { return &c.Rerank.TopN })},
	{"orders.endpoint", "KEFU_ORDERS_ENDPOINT", "(none: orders from the store)", "the shop's live order look-up, GET {endpoint}?customer_id=...&order_id=... (see package orders); a language model's get_order tool reads orders from it", func(c *Config, v string) error { c.Orders.Endpoint = v; return nil }},
	{"orders.api_key", "KEFU_ORDERS_API_KEY", "", "bearer key of the order look-up; environment or file only, refused in kefu.yaml", func(c *Config, v string) error { c.Orders.apiKey = v; return nil }},
	{"orders.api_key_file", "KEFU_ORDERS_API_KEY_FILE", "", "file holding the order look-up's key", func(c *Config, v string) error { c.Orders.APIKeyFile = v; return nil }},
	{"orders.rules_file", "KEFU_ORDERS_RULES_FILE", "(none; serve --demo: the demo shop's)", "the shop's after-sales rules (YAML, see README \"Shop rules\"): a signed-in shopper asking whether an order can be cancelled, changed, returned, exchanged, refunded or price-protected gets the decision computed from them", func(c *Config, v string) error { c.Orders.RulesFile = v; return nil }},
	{"orders.timeout", "KEFU_ORDERS_TIMEOUT", "5s", "longest one order look-up may take", durationSetter(func(c *Config) *time.Duration { return &c.Orders.Timeout })},
	{"orders.actions_endpoint", "KEFU_ORDERS_ACTIONS_ENDPOINT", "(none: confirmed actions go to an agent on a ticket)", "where confirmed after-sales actions are posted, POST {actions_endpoint} with an Idempotency-Key (see package orders)", func(c *Config, v string) error { c.Orders.ActionsEndpoint = v; return nil }},
	{"orders.action_attempts", "KEFU_ORDERS_ACTION_ATTEMPTS", "3", "attempts at one action on a timeout or a 5xx, each with the same Idempotency-Key", intSetter(func(c *Config) *int { return &c.Orders.ActionAttempts })},
	{"actions.proposal_ttl", "KEFU_ACTIONS_PROPOSAL_TTL", "10m", "how long a proposed after-sales action waits for the shopper's yes (at most 24h)", durationSetter(func(c *Config) *time.Duration { return &c.Actions.ProposalTTL })},
	{"ingest.gate", "KEFU_INGEST_GATE", "(none)", "gate file (JSON min/max thresholds, as kefu eval --gate) that every upload to POST /v1/admin/documents must pass on ingest.golden, or be rolled back (422 gate_failed)", func(c *Config, v string) error { c.Ingest.Gate = v; return nil }},
	{"ingest.golden", "KEFU_INGEST_GOLDEN", "(none)", "golden set (JSONL) the upload gate runs through the pipeline after each upload", func(c *Config, v string) error { c.Ingest.Golden = v; return nil }},
	{"ingest.gate_timeout", "KEFU_INGEST_GATE_TIMEOUT", "2m", "longest the gate's golden run may take (uploads and kefu ingest --gate); a run that takes longer fails the gate and the change is rolled back", durationSetter(func(c *Config) *time.Duration { return &c.Ingest.GateTimeout })},
	{"ingest.gate_max_cases", "KEFU_INGEST_GATE_MAX_CASES", "1000", "largest golden set a gate may run; a larger one is refused at start", intSetter(func(c *Config) *int { return &c.Ingest.GateMaxCases })},
	{"limits.address_rate", "KEFU_LIMIT_ADDRESS_RATE", "20", "requests per second one client address may make on average, on every route (an IPv6 client counts by its /64); negative turns it off", floatSetter(func(c *Config) *float64 { return &c.Limits.AddressRate })},
	{"limits.address_burst", "KEFU_LIMIT_ADDRESS_BURST", "100", "requests one address may make at once", intSetter(func(c *Config) *int { return &c.Limits.AddressBurst })},
	{"limits.key_rate", "KEFU_LIMIT_KEY_RATE", "200", "requests per second all holders of one API key may make together (the widget key is shared by every shopper)", floatSetter(func(c *Config) *float64 { return &c.Limits.KeyRate })},
	{"limits.key_burst", "KEFU_LIMIT_KEY_BURST", "400", "requests one API key may make at once", intSetter(func(c *Config) *int { return &c.Limits.KeyBurst })},
	{"limits.shopper_rate", "KEFU_LIMIT_SHOPPER_RATE", "2", "requests per second one signed-in shopper (token subject) may make on average", floatSetter(func(c *Config) *float64 { return &c.Limits.ShopperRate })},
	{"limits.shopper_burst", "KEFU_LIMIT_SHOPPER_BURST", "30", "requests one shopper may make at once", intSetter(func(c *Config) *int { return &c.Limits.ShopperBurst })},
	{"limits.auth_fail_rate", "KEFU_LIMIT_AUTH_FAIL_RATE", "0.1", "failed authentications (wrong or missing key, bad shopper token) per second one address may make; over it every authenticated request from there gets 429", floatSetter(func(c *Config) *float64 { return &c.Limits.AuthFailRate })},
	{"limits.auth_fail_burst", "KEFU_LIMIT_AUTH_FAIL_BURST", "10", "failed authentications one address may make at once", intSetter(func(c *Config) *int { return &c.Limits.AuthFailBurst })},
	{"limits.streams_per_key", "KEFU_LIMIT_STREAMS_PER_KEY", "1000", "open streams (SSE chat turns, completions, message streams) per API key", intSetter(func(c *Config) *int { return &c.Limits.StreamsPerKey })},
	{"limits.streams_per_shopper", "KEFU_LIMIT_STREAMS_PER_SHOPPER", "4", "open streams per signed-in shopper", intSetter(func(c *Config) *int { return &c.Limits.StreamsPerShopper })},
	{"limits.streams_per_address", "KEFU_LIMIT_STREAMS_PER_ADDRESS", "50", "open streams per client address", intSetter(func(c *Config) *int { return &c.Limits.StreamsPerAddress })},
	{"limits.tickets_per_shopper_hour", "KEFU_LIMIT_TICKETS_PER_SHOPPER_HOUR", "5", "tickets one shopper (an anonymous one by address) may open an hour; a repeat of the question of their open ticket joins it instead", intSetter(func(c *Config) *int { return &c.Limits.TicketsPerHour })},
	{"limits.body_read_timeout", "KEFU_LIMIT_BODY_READ_TIMEOUT", "30s", "longest a request body may take to arrive; a slower one is cut", durationSetter(func(c *Config) *time.Duration { return &c.Limits.BodyReadTimeout })},
	{"ingest.max_pdf_pages", "KEFU_INGEST_MAX_PDF_PAGES", "1000", "most pages a PDF may have (uploads and kefu ingest); a longer one fails alone, naming the limit", intSetter(func(c *Config) *int { return &c.Ingest.MaxPDFPages })},
	{"ingest.max_document_chars", "KEFU_INGEST_MAX_DOCUMENT_CHARS", "1000000", "most characters of text one document may have; a PDF stops being read past it", intSetter(func(c *Config) *int { return &c.Ingest.MaxDocumentChars })},
	{"ingest.max_document_chunks", "KEFU_INGEST_MAX_DOCUMENT_CHUNKS", "3000", "most chunks one document may be cut into", intSetter(func(c *Config) *int { return &c.Ingest.MaxDocumentChunks })},
	{"ingest.document_timeout", "KEFU_INGEST_DOCUMENT_TIMEOUT", "1m", "longest reading one file may take (parsing, PDF text extraction, chunking); the PDF reader is killed after it", durationSetter(func(c *Config) *time.Duration { return &c.Ingest.DocumentTimeout })},
	{"ingest.pdf_max_memory_bytes", "KEFU_INGEST_PDF_MAX_MEMORY_BYTES", "536870912", "memory the separate process that reads one PDF may take (a hard bound on Linux); a PDF that needs more fails", intSetter(func(c *Config) *int { return &c.Ingest.PDFMaxMemory })},
	{"log.level", "KEFU_LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"log.format", "KEFU_LOG_FORMAT", "text", "text or json", func(c *Config, v string) error { c.Log.Format = v; return nil }},
	{"escalation.refund_threshold", "KEFU_ESCALATION_REFUND_THRESHOLD", "CNY 2000", "a refund request naming more than this goes to a person; one amount per currency, comma-separated (CNY 2000, USD 300)", func(c *Config, v string) error { c.Escalation.RefundThreshold = v; return nil }},
	{"escalation.max_unresolved_turns", "KEFU_ESCALATION_MAX_UNRESOLVED_TURNS", "3", "this many answers in a row that asked to clarify or did not know go to a person; -1 turns the rule off", intSetter(func(c *Config) *int { return &c.Escalation.MaxUnresolvedTurns })},
	{"escalation.teams", "KEFU_ESCALATION_TEAMS", "(none)", "teams that take tickets by intent, locale and reason, first match wins; yaml a list of {name, intents, locales, reasons}, env name:intents:locales:reasons;...", func(c *Config, v string) error {
		teams, err := escalate.ParseTeams(v)
		c.Escalation.Teams = teams
		return err
	}},
	{"escalation.default_team", "KEFU_ESCALATION_DEFAULT_TEAM", "support", "the team that takes what no other team takes", func(c *Config, v string) error { c.Escalation.DefaultTeam = v; return nil }},
	{"escalation.webhook_url", "KEFU_ESCALATION_WEBHOOK_URL", "(none)", "helpdesk URL that receives every new and changed ticket as signed JSON", func(c *Config, v string) error { c.Escalation.WebhookURL = v; return nil }},
	{"escalation.webhook_secret", "KEFU_WEBHOOK_SECRET", "", "HMAC secret that signs webhook calls (16 bytes or more); environment or file only, never kefu.yaml", func(c *Config, v string) error { c.Escalation.webhookSecret = v; return nil }},
	{"escalation.webhook_secret_file", "KEFU_WEBHOOK_SECRET_FILE", "", "file holding the webhook secret", func(c *Config, v string) error { c.Escalation.WebhookSecretFile = v; return nil }},
	{"store.provider", "KEFU_STORE_PROVIDER", "embedded", "conversation store: embedded (a file in data_dir; one kefu process) or postgres (PostgreSQL, shared by any number of replicas; needs store.postgres.dsn and an encryption key set on every replica)", func(c *Config, v string) error { c.Store.Provider = v; return nil }},
	{"store.postgres.dsn", "KEFU_POSTGRES_DSN", "", "PostgreSQL connection string, e.g. postgres://kefu:PASSWORD@db:5432/kefu?sslmode=require; environment or file only, never kefu.yaml; migrations are applied on start (or by kefu migrate)", func(c *Config, v string) error { c.Store.Postgres.dsn = v; return nil }},
	{"store.postgres.dsn_file", "KEFU_POSTGRES_DSN_FILE", "", "file holding the PostgreSQL connection string", func(c *Config, v string) error { c.Store.Postgres.DSNFile = v; return nil }},
	{"store.postgres.max_conns", "KEFU_POSTGRES_MAX_CONNS", "(4 or the CPUs)", "most connections one kefu process holds to PostgreSQL", intSetter(func(c *Config) *int { return &c.Store.Postgres.MaxConns })},
	{"store.encryption_key", "KEFU_ENCRYPTION_KEY", "(generated)", "key that encrypts conversations, tickets, feedback, outbox and audit at rest: base64 of 32 bytes; older keys after it, comma-separated, only decrypt; environment only, never kefu.yaml; when no key is set one is generated into <data_dir>/encryption.key", func(c *Config, v string) error { c.Store.encryptionKey = v; return nil }},
	{"store.encryption_key_file", "KEFU_ENCRYPTION_KEY_FILE", "", "file holding the encryption keys, one base64 key per line, the current first (kefu keys rotate writes it)", func(c *Config, v string) error { c.Store.EncryptionKeyFile = v; return nil }},
	{"store.retention.chats", "KEFU_RETENTION_CHATS", "4320h", "how long a conversation is kept after its last message (180 days); one with an open ticket stays", durationSetter(func(c *Config) *time.Duration { return &c.Store.Retention.Chats })},
	{"store.retention.tickets", "KEFU_RETENTION_TICKETS", "17520h", "how long a closed ticket, with its handoff packet, is kept (2 years)", durationSetter(func(c *Config) *time.Duration { return &c.Store.Retention.Tickets })},
	{"store.retention.audit", "KEFU_RETENTION_AUDIT", "26280h", "how long audit records are kept (3 years)", durationSetter(func(c *Config) *time.Duration { return &c.Store.Retention.Audit })},
	{"store.retention.feedback", "KEFU_RETENTION_FEEDBACK", "(chats)", "how long feedback is kept; it goes with its conversation in any case", durationSetter(func(c *Config) *time.Duration { return &c.Store.Retention.Feedback })},
	{"store.retention.outbox", "KEFU_RETENTION_OUTBOX", "(chats)", "how long an undelivered webhook event is kept", durationSetter(func(c *Config) *time.Duration { return &c.Store.Retention.Outbox })},
	{"store.retention.interval", "KEFU_RETENTION_INTERVAL", "1h", "how often kefu serve applies retention", durationSetter(func(c *Config) *time.Duration { return &c.Store.Retention.Interval })},
}

func intSetter(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		*field(c) = n
		return nil
	}
}

func durationSetter(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration such as 30s: %q", v)
		}
		*field(c) = d
		return nil
	}
}

func floatSetter(field func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		*field(c) = f
		return nil
	}
}

// LoadConfig reads path (when not empty) and then the environment given by
// getenv, and fills defaults. Unknown keys in the file are errors, so a typo
// does not silently fall back to a default.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	var c Config
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && err.Error() != "EOF" {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for _, k := range configKeys {
		if v := getenv(k.Env); v != "" {
			if err := k.set(&c, v); err != nil {
				return c, fmt.Errorf("environment %s: %w", k.Env, err)
			}
		}
	}
	c.fillDefaults()
	return c, c.validate()
}

func (c *Config) fillDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.DataDir, "data")
	def(&c.Embedding.Provider, "local")
	def(&c.VectorDB.Provider, "embedded")
	def(&c.VectorDB.Qdrant.Addr, "localhost:6334")
	def(&c.VectorDB.Qdrant.Collection, "kefu_chunks")
	def(&c.LLM.Provider, "extractive")
	def(&c.Log.Level, "info")
	def(&c.Log.Format, "text")
	def(&c.Escalation.RefundThreshold, "CNY 2000")
	def(&c.Escalation.DefaultTeam, escalate.DefaultTeam)
	if c.Escalation.MaxUnresolvedTurns == 0 {
		c.Escalation.MaxUnresolvedTurns = escalate.DefaultMaxUnresolvedTurns
	}
	c.Embedding.fillDefaults()
	c.LLM.fillDefaults()
	c.Rerank.fillDefaults()
	c.Store.fillDefaults()
}

func (c *Config) validate() error {
	var problems []string
	problems = append(problems, c.Embedding.problems()...)
	problems = append(problems, c.LLM.problems()...)
	problems = append(problems, c.Orders.problems()...)
	problems = append(problems, c.Actions.problems()...)
	problems = append(problems, c.Rerank.problems()...)
	switch c.VectorDB.Provider {
	case "embedded", "qdrant":
	default:
		problems = append(problems, fmt.Sprintf("vectordb.provider %q is not embedded or qdrant", c.VectorDB.Provider))
	}
	if !qdrantCollectionName.MatchString(c.VectorDB.Qdrant.Collection) {
		problems = append(problems, fmt.Sprintf("vectordb.qdrant.collection %q is not 1-255 letters, digits, _ or -", c.VectorDB.Qdrant.Collection))
	}
	if c.VectorDB.Qdrant.APIKey != "" && c.VectorDB.Qdrant.APIKeyFile != "" {
		problems = append(problems, "vectordb.qdrant.api_key and vectordb.qdrant.api_key_file are both set; keep one")
	}
	for name, v := range map[string]float64{"retrieval.min_lexical": c.Retrieval.MinLexical, "retrieval.min_dense": c.Retrieval.MinDense} {
		if v < 0 || v > 1 {
			problems = append(problems, fmt.Sprintf("%s %v is outside 0..1", name, v))
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, fmt.Sprintf("log.level %q is not debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		problems = append(problems, fmt.Sprintf("log.format %q is not text or json", c.Log.Format))
	}
	for i, k := range c.Auth.APIKeys {
		if k.Name == "" || k.Hash == "" {
			problems = append(problems, fmt.Sprintf("auth.api_keys[%d] needs a name and a hash", i))
		}
	}
	problems = append(problems, c.Auth.problems()...)
	problems = append(problems, c.Limits.problems()...)
	problems = append(problems, c.Escalation.problems()...)
	problems = append(problems, c.Ingest.problems()...)
	problems = append(problems, c.Store.problems()...)
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// splitList splits a comma-separated environment value, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var qdrantCollectionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// configHelp renders configKeys as the table shown by `kefu serve --help`.
func configHelp() string {
	var b strings.Builder
	b.WriteString("Configuration (kefu.yaml key / environment variable / default):\n")
	for _, k := range configKeys {
		fmt.Fprintf(&b, "  %-26s %-24s %-14s %s\n", k.Path, k.Env, k.Default, k.Doc)
	}
	return b.String()
}

func (e EscalationConfig) problems() []string {
	var problems []string
	if _, err := e.policy(); err != nil {
		problems = append(problems, strings.TrimPrefix(err.Error(), kefu.EInvalid+": "))
	}
	if e.MaxUnresolvedTurns < -1 {
		problems = append(problems, fmt.Sprintf("escalation.max_unresolved_turns %d is below -1", e.MaxUnresolvedTurns))
	}
	if e.WebhookSecret != "" {
		problems = append(problems, "escalation.webhook_secret is a secret: set KEFU_WEBHOOK_SECRET or escalation.webhook_secret_file, not kefu.yaml")
	}
	if e.webhookSecret != "" && e.WebhookSecretFile != "" {
		problems = append(problems, "KEFU_WEBHOOK_SECRET and escalation.webhook_secret_file are both set; keep one")
	}
	if e.WebhookURL != "" {
		if u, err := url.Parse(e.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "escalation.webhook_url is not an http or https URL")
		}
		if e.webhookSecret == "" && e.WebhookSecretFile == "" {
			problems = append(problems, "escalation.webhook_url is set but no webhook secret is: set KEFU_WEBHOOK_SECRET or escalation.webhook_secret_file")
		}
		if e.webhookSecret != "" && len(e.webhookSecret) < escalate.MinWebhookSecretLen {
			problems = append(problems, fmt.Sprintf("KEFU_WEBHOOK_SECRET is shorter than %d bytes", escalate.MinWebhookSecretLen))
		}
	}
	return problems
}

// ActionsConfig tunes after-sales actions taken in the chat.
type ActionsConfig struct {
	// ProposalTTL is how long a proposed action waits for the shopper's
	// yes (default 10m, at most 24h).
	ProposalTTL time.Duration `yaml:"proposal_ttl"`
}

func (a ActionsConfig) problems() []string {
	if a.ProposalTTL < 0 || a.ProposalTTL > 24*time.Hour {
		return []string{fmt.Sprintf("actions.proposal_ttl %s is not between 0 and 24h", a.ProposalTTL)}
	}
	return nil
}

// OrdersConfig points at the shop's live order look-up. Without an
// endpoint, orders are read from their ingested copies in the store. The
// key is read from the environment or a file only.
type OrdersConfig struct {
	Endpoint string `yaml:"endpoint"`
	// ActionsEndpoint takes confirmed after-sales actions; ActionAttempts
	// bounds the tries of one.
	ActionsEndpoint string        `yaml:"actions_endpoint"`
	ActionAttempts  int           `yaml:"action_attempts"`
	APIKeyFile      string        `yaml:"api_key_file"`
	Timeout         time.Duration `yaml:"timeout"`
	// RulesFile is the shop's rules file (package rules); empty: none,
	// except that serve --demo uses the demo shop's (rulesData).
	RulesFile string `yaml:"rules_file"`
	rulesData []byte
	// APIKey in kefu.yaml is refused; the environment's is kept in apiKey.
	APIKey string `yaml:"api_key"`
	apiKey string
}

// LogValue keeps the key out of any log line that prints the config.
func (o OrdersConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", o.Endpoint), slog.Duration("timeout", o.Timeout),
		slog.Bool("api_key_set", o.apiKey != "" || o.APIKeyFile != ""))
}

func (o OrdersConfig) problems() []string {
	var problems []string
	if o.Endpoint != "" && !httpURL(o.Endpoint) {
		problems = append(problems, "orders.endpoint is not an http or https URL")
	}
	if o.Timeout < 0 {
		problems = append(problems, fmt.Sprintf("orders.timeout %s is negative", o.Timeout))
	}
	if o.ActionsEndpoint != "" && !httpURL(o.ActionsEndpoint) {
		problems = append(problems, "orders.actions_endpoint is not an http or https URL")
	}
	if o.ActionsEndpoint != "" && o.Endpoint == "" {
		problems = append(problems, "orders.actions_endpoint needs orders.endpoint: an action is checked against the live order first")
	}
	if o.ActionAttempts < 0 || o.ActionAttempts > 10 {
		problems = append(problems, fmt.Sprintf("orders.action_attempts %d is not between 1 and 10", o.ActionAttempts))
	}
	return append(problems, keyProblems("orders", o.APIKey, o.apiKey, o.APIKeyFile)...)
}
