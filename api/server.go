package api

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/telemetry"
	"github.com/kefuhq/kefu/web"
)

// Answerer answers one shopper turn as a stream of events (the answering
// pipeline). The stream must end soon after ctx is cancelled.
type Answerer interface {
	Stream(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error]
}

// Conversations is the conversation store as the API uses it. Lookups of
// unknown ids fail with kefu.ENotFound.
type Conversations interface {
	// StartConversation stores a new conversation with its first message,
	// both or neither.
	StartConversation(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, error)
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	AppendMessage(ctx context.Context, m store.Message) (store.Message, error)
	Messages(ctx context.Context, conversationID string, limit int) ([]store.Message, error)
}

var (
	_ Answerer      = (*rag.Pipeline)(nil)
	_ Conversations = (*store.Bolt)(nil)
)

// Config holds the API's settings. The zero value of each field means its
// default.
type Config struct {
	// MaxMessageBytes is the longest chat message accepted, in bytes of
	// UTF-8; default 4000. Longer ones get 413 too_large.
	MaxMessageBytes int
	// MaxBodyBytes is the largest request body read; default 64 KiB.
	MaxBodyBytes int64
	// HeartbeatInterval is how often a chat stream sends a comment line
	// while waiting for the next event; default 15s.
	HeartbeatInterval time.Duration
	// CheckTimeout bounds each readiness check run by /readyz; default 2s.
	CheckTimeout time.Duration
	// ShutdownTimeout is how long ListenAndServe waits for requests in
	// flight after its context ends before it cuts them; default 10s.
	ShutdownTimeout time.Duration
	// Version is reported by /healthz and the kefu_build_info metric.
	Version string
	// MaxUploadFileBytes bounds each file uploaded to POST
	// /v1/admin/documents, MaxUploadBytes all of them together; defaults
	// 10 MiB and 50 MiB. A larger upload gets 413 too_large.
	MaxUploadFileBytes int64
	MaxUploadBytes     int64
	// OpenShopperRoutes admits requests without an API key to the
	// shopper routes (chat, conversations, feedback, completions) when no
	// key is presented (kefu serve --demo). Admin, agent, analytics and,
	// with keys configured, metrics routes always need a key. Without it
	// and without keys, the shopper routes are closed too.
	OpenShopperRoutes bool
	// Limits are the rate limits and caps; the zero value is the defaults.
	Limits Limits
	// BodyReadTimeout bounds the time a request body may take to arrive
	// (default 30s; an upload to POST /v1/admin/documents gets 10m or this,
	// whichever is longer); a slower body is cut.
	BodyReadTimeout time.Duration
	// TokenMaxTTL is the longest lifetime (exp - iat) of a shopper token
	// accepted; default auth.DefaultMaxTTL.
	TokenMaxTTL time.Duration
	// TrustedProxies are the addresses (IPs or CIDRs) of proxies whose
	// X-Forwarded-For names the client for the per-address limits; with
	// none, the connection's address is the client's.
	TrustedProxies []string
	// UploadReadTimeout bounds reading an upload's body, default 10m;
	// UploadMinBytesPerSecond is the least average rate it must keep after
	// its first 10s, default 16 KiB/s. A slower body is cut with 408.
	UploadReadTimeout       time.Duration
	UploadMinBytesPerSecond int64
	// SessionTTL bounds a staff session of the console or dashboard from
	// its sign-in (default 12h), SessionIdle from its last use (default
	// 2h); MaxSessions bounds the sessions held at once (default 1,000;
	// the least recently used goes first).
	SessionTTL  time.Duration
	SessionIdle time.Duration
	MaxSessions int
}

// Defaults.
const (
	DefaultMaxMessageBytes   = 4000
	DefaultMaxBodyBytes      = 64 << 10
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultCheckTimeout      = 2 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
)

// Default upload limits of the admin API.
const (
	DefaultMaxUploadFileBytes = 10 << 20
	DefaultMaxUploadBytes     = 50 << 20

	DefaultUploadReadTimeout       = 10 * time.Minute
	DefaultUploadMinBytesPerSecond = 16 << 10
)

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.CheckTimeout <= 0 {
		c.CheckTimeout = DefaultCheckTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.MaxUploadFileBytes <= 0 {
		c.MaxUploadFileBytes = DefaultMaxUploadFileBytes
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	c.Limits = c.Limits.withDefaults()
	if c.UploadReadTimeout <= 0 {
		c.UploadReadTimeout = DefaultUploadReadTimeout
	}
	if c.UploadMinBytesPerSecond <= 0 {
		c.UploadMinBytesPerSecond = DefaultUploadMinBytesPerSecond
	}
	return c
}

// Check is a readiness check: it reports whether a store or backend is
// reachable, and must return soon after ctx is done.
type Check func(ctx context.Context) error

// Deps are the Server's collaborators. Answerer and Conversations are
// needed for chat (without them chat answers 503). With no Keys every route
// but health and metrics is closed, save the shopper routes when
// Config.OpenShopperRoutes is set; AuditLog also receives the failed
// authentications. With an empty TokenSecret every shopper is anonymous and
// any shopper token is refused. Logger and Registry default to a discarding
// logger and a new registry.
type Deps struct {
	Answerer      Answerer
	Conversations Conversations
	TokenSecret   []byte
	Keys          *auth.Keys
	Readiness     map[string]Check // by name, run by /readyz
	Logger        *slog.Logger
	Registry      *prometheus.Registry
	// Handoff hands chat turns to people; without it no ticket is opened.
	Handoff Handoff
	// Agents, Tickets and AuditLog serve the agent API (/v1/agent/...),
	// which answers 503 without them.
	Agents   AgentDesk
	Tickets  TicketReader
	AuditLog AuditLog
	// Documents serves the admin API's documents (/v1/admin/documents),
	// which answers 503 without it. Admin access is audited in AuditLog
	// when there is one.
	Documents DocumentIngester
	// Feedback keeps shoppers' ratings of answers (POST
	// /v1/conversations/{id}/feedback answers 503 without it), Analytics
	// serves GET /v1/admin/analytics (503 without it).
	Feedback  FeedbackStore
	Analytics AnalyticsReader
	// PreviousTokenSecrets are shopper-token secrets still accepted after
	// a rotation (TokenSecret is the current one); TokenSecretID is the
	// current secret's key id, checked against a token's kid.
	PreviousTokenSecrets []auth.Secret
	TokenSecretID        string
	// Privacy serves the shopper's rights and the audit log
	// (/v1/admin/customers/..., /v1/admin/audit), 503 without it.
	Privacy Privacy
	// Web serves the screens (GET /, /chat, /kefu/...); without it they
	// are served with the defaults of web.Config.
	Web *web.Site
	// Now is the clock of staff sessions; default time.Now.
	Now func() time.Time
	// Library lists the knowledge store's documents and their chunks for
	// the dashboard (GET /v1/admin/documents...), 503 without it.
	Library Library
	// Evaluator runs the shop's golden set for the dashboard (POST
	// /v1/admin/eval), 503 without it.
	Evaluator Evaluator
	// Bus carries agents' messages to the other replicas' streams; nil
	// for a server that runs alone.
	Bus MessageBus
	// SharedLimits holds the API key and shopper rate limits across
	// replicas; nil for a server that runs alone.
	SharedLimits SharedLimiter
	// Sessions, when set, keeps the staff sessions where every replica
	// reads them; unset, each server keeps its own in memory.
	Sessions SessionStore
	// KnowledgeVersion names what the knowledge store holds now, for
	// /readyz (knowledge_version); it must return at once. Nil leaves the
	// field out.
	KnowledgeVersion func() string
}

// Server is the HTTP API. It is immutable once built and safe for
// concurrent use.
type Server struct {
	cfg      Config
	answerer Answerer
	convs    Conversations
	secret   []byte
	keys     *auth.Keys
	checks   map[string]Check
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	handler  http.Handler

	handoff        Handoff
	agents         AgentDesk
	tickets        TicketReader
	auditLog       AuditLog
	handoffMetrics *handoffMetrics
	hub            *hub
	bus            MessageBus
	shared         SharedLimiter
	documents      DocumentIngester
	feedback       FeedbackStore
	analytics      AnalyticsReader
	feedbackTotal  *prometheus.CounterVec
	verifier       auth.Verifier
	limits         *limiters
	privacy        Privacy
	inflight       sync.Map // shopper message id -> chan closed once its answer is stored, see claimTurn
	sessions       *sessions
	library        Library
	evaluator      Evaluator
	evals          evalRuns
	web            *web.Site
	knowledge      func() string
}

// New builds a Server. With no API keys configured, only the shopper
// routes can be opened (Config.OpenShopperRoutes); it logs which.
func New(cfg Config, deps Deps) *Server {
	s := &Server{
		cfg:      cfg.withDefaults(),
		answerer: deps.Answerer,
		convs:    deps.Conversations,
		secret:   deps.TokenSecret,
		keys:     deps.Keys,
		checks:   make(map[string]Check, len(deps.Readiness)),
		log:      deps.Logger,
		registry: deps.Registry,
		handoff:  deps.Handoff,
		agents:   deps.Agents,
		tickets:  deps.Tickets,
		auditLog: deps.AuditLog,
		hub:      newHub(),
		bus:      deps.Bus,
		shared:   deps.SharedLimits,

		documents: deps.Documents,
		feedback:  deps.Feedback,
		analytics: deps.Analytics,
		privacy:   deps.Privacy,
		web:       deps.Web,
	}
	s.library = deps.Library
	s.knowledge = deps.KnowledgeVersion
	s.evaluator = deps.Evaluator
	s.sessions = newSessions(s.cfg.MaxSessions, s.cfg.SessionTTL, s.cfg.SessionIdle, deps.Now)
	s.sessions.shared = deps.Sessions
	for name, check := range deps.Readiness {
		s.checks[name] = check
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// A record logged with a request's context names the request (and
	// its trace).
	s.log = slog.New(telemetry.LogHandler(s.log.Handler()))
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.registry, s.cfg.Version, s.log)
	s.handoffMetrics = newHandoffMetrics(s.registry, s.log)
	s.feedbackTotal = newFeedbackCounter(s.registry, s.log)
	s.limits = newLimiters(s.cfg.Limits, s.registry, s)
	s.verifier = auth.Verifier{Secrets: append([]auth.Secret{{ID: deps.TokenSecretID, Key: deps.TokenSecret}}, deps.PreviousTokenSecrets...),
		MaxTTL: s.cfg.TokenMaxTTL}
	switch {
	case s.keys.Len() == 0 && s.cfg.OpenShopperRoutes:
		s.log.Warn("no API keys are configured: the shopper routes are open without a key (demo mode); admin and agent routes are closed")
	case s.keys.Len() == 0:
		s.log.Warn("no API keys are configured: every route but health and metrics is closed; add keys to auth.api_keys")
	case s.cfg.OpenShopperRoutes:
		s.log.Warn("demo mode: the shopper routes are open without a key; admin and agent routes need a key")
	}
	if len(s.secret) == 0 {
		s.log.Info("no shopper token secret is configured: every shopper is anonymous")
	}
	s.handler = s.routes()
	return s
}

// routes registers every route and the middleware around them.
func (s *Server) routes() http.Handler {
	// gin's mode is process-wide; release mode stops its debug printing.
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	if err := r.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		s.log.Error("trusted proxies are invalid; X-Forwarded-For is ignored", "error", err.Error())
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(s.logRequests, s.recoverPanics, s.limitAddress)

	r.POST("/v1/chat", s.requireRole(auth.RoleWidget), s.identifyShopper, s.capStreams(false), s.chat)
	r.GET("/v1/conversations/:id/messages", s.requireRole(auth.RoleWidget), s.identifyShopper, s.capStreams(false), s.conversationMessages)
	s.conversationRoutes(r)
	s.completionRoutes(r)
	s.agentRoutes(r)
	s.adminRoutes(r)
	s.analyticsRoutes(r)
	s.customerRoutes(r)
	s.sessionRoutes(r)
	s.periodRoutes(r)
	s.libraryRoutes(r)
	s.evalRoutes(r)
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.requireMetrics, gin.WrapH(s.MetricsHandler()))
	s.webRoutes(r)

	r.NoRoute(func(c *gin.Context) {
		writeError(c, kefu.Errorf(kefu.ENotFound, "no route for %s %s", c.Request.Method, clip(c.Request.URL.Path)))
	})
	r.NoMethod(func(c *gin.Context) {
		writeError(c, kefu.Errorf(codeMethodNotAllowed, "method %s is not allowed on %s", c.Request.Method, clip(c.Request.URL.Path)))
	})
	return r
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics without any key check, for
// a listener of its own (server.metrics_addr) that only operators reach.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// ListenAndServe serves the API on addr until ctx ends, then shuts down
// gracefully: it stops accepting connections and waits up to
// Config.ShutdownTimeout for requests in flight (streams included) before
// cutting them. It returns nil after a shutdown caused by ctx.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener it takes over (and closes).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Requests get a context that outlives ctx, so that a shutdown lets
	// them finish; it is cancelled only when the grace period is over.
	base, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(s.hub.close) // open message streams end at once
	if s.bus != nil && s.convs != nil {
		rctx, stop := context.WithCancel(ctx)
		relayed := make(chan struct{})
		go func() { defer close(relayed); s.relay(rctx) }()
		defer func() { stop(); <-relayed }()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "version", s.cfg.Version)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", s.cfg.ShutdownTimeout.String())
	grace, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(grace); err != nil {
		s.log.Warn("requests still running after the grace period were cut", "error", err.Error())
		cut()
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
