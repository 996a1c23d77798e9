package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/time/rate"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/limit"
	"github.com/kefuhq/kefu/store"
)

// codeRateLimited is the API's code for a request over a limit, with
// status 429 and a Retry-After header.
const codeRateLimited = "rate_limited"

// Limits are the API's rate limits and caps. Rates are requests per second
// on average, bursts how many may come at once; a zero field takes its
// default and a negative one turns that limit off.
type Limits struct {
	// AddressRate and AddressBurst limit every request from one client
	// address (an IPv6 client by its /64), whatever the route.
	AddressRate  float64
	AddressBurst int
	// KeyRate and KeyBurst limit the requests made with one API key, by
	// all its holders together (the widget key is shared by every shopper
	// of the shop, so its default is high).
	KeyRate  float64
	KeyBurst int
	// ShopperRate and ShopperBurst limit one signed-in shopper (the
	// token's subject), across addresses and keys.
	ShopperRate  float64
	ShopperBurst int
	// AuthFailRate and AuthFailBurst limit failed authentications (a
	// wrong or missing API key on a protected route, a bad shopper token)
	// from one address; an address over it gets 429 on every
	// authenticated request until its bucket refills.
	AuthFailRate  float64
	AuthFailBurst int
	// StreamsPerKey, StreamsPerShopper and StreamsPerAddress cap the open
	// streams: chat turns (POST /v1/chat with Accept: text/event-stream,
	// and every POST /v1/chat/completions) and message streams (GET
	// /v1/conversations/{id}/messages with Accept: text/event-stream).
	StreamsPerKey     int
	StreamsPerShopper int
	StreamsPerAddress int
	// TicketsPerHour caps the tickets one shopper (an anonymous one by
	// address) opens in an hour; a repeat of the question of one of their
	// open tickets joins that ticket instead of opening another.
	TicketsPerHour int
	// MaxTracked bounds the keys each limit remembers (default 100,000);
	// idle ones are dropped first.
	MaxTracked int
}

// Default limits.
const (
	DefaultAddressRate       = 20
	DefaultAddressBurst      = 100
	DefaultKeyRate           = 200
	DefaultKeyBurst          = 400
	DefaultShopperRate       = 2
	DefaultShopperBurst      = 30
	DefaultAuthFailRate      = 0.1
	DefaultAuthFailBurst     = 10
	DefaultStreamsPerKey     = 1000
	DefaultStreamsPerShopper = 4
	DefaultStreamsPerAddress = 50
	DefaultTicketsPerHour    = 5
	// DefaultBodyReadTimeout bounds reading a request body; an upload
	// gets uploadBodyTimeout, on top of the upload's own limits.
	DefaultBodyReadTimeout = 30 * time.Second
)

// uploadBodyTimeout is the read deadline of an upload's body (POST
// /v1/admin/documents), a backstop to the upload's own pacing.
const uploadBodyTimeout = 10 * time.Minute

func (l Limits) withDefaults() Limits {
	rate := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	count := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	rate(&l.AddressRate, DefaultAddressRate)
	rate(&l.KeyRate, DefaultKeyRate)
	rate(&l.ShopperRate, DefaultShopperRate)
	rate(&l.AuthFailRate, DefaultAuthFailRate)
	count(&l.AddressBurst, DefaultAddressBurst)
	count(&l.KeyBurst, DefaultKeyBurst)
	count(&l.ShopperBurst, DefaultShopperBurst)
	count(&l.AuthFailBurst, DefaultAuthFailBurst)
	count(&l.StreamsPerKey, DefaultStreamsPerKey)
	count(&l.StreamsPerShopper, DefaultStreamsPerShopper)
	count(&l.StreamsPerAddress, DefaultStreamsPerAddress)
	count(&l.TicketsPerHour, DefaultTicketsPerHour)
	count(&l.MaxTracked, limit.DefaultMaxKeys)
	return l
}

// limiters are the Server's buckets and slots, built from Limits.
type limiters struct {
	address, key, shopper, authFail *limit.Buckets
	streamsKey, streamsShopper      *limit.Slots
	streamsAddress                  *limit.Slots
	tickets                         *ticketGate
	failures                        *failureLog
	refused                         *prometheus.CounterVec // kefu_rate_limited_total{limit}
}

func newLimiters(l Limits, reg prometheus.Registerer, s *Server) *limiters {
	buckets := func(perSecond float64, burst int) *limit.Buckets {
		if perSecond < 0 || burst < 0 {
			return nil // off
		}
		return limit.NewBuckets(perSecond, burst, l.MaxTracked)
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kefu_rate_limited_total",
		Help: "Requests refused with 429, by the limit they hit (address, key, shopper, auth_failures, streams); tickets not opened (tickets: over the cap, tickets_duplicate: a repeat joined its open ticket).",
	}, []string{"limit"})
	return &limiters{
		address:        buckets(l.AddressRate, l.AddressBurst),
		key:            buckets(l.KeyRate, l.KeyBurst),
		shopper:        buckets(l.ShopperRate, l.ShopperBurst),
		authFail:       buckets(l.AuthFailRate, l.AuthFailBurst),
		streamsKey:     limit.NewSlots(l.StreamsPerKey),
		streamsShopper: limit.NewSlots(l.StreamsPerShopper),
		streamsAddress: limit.NewSlots(l.StreamsPerAddress),
		tickets:        newTicketGate(l.TicketsPerHour, l.MaxTracked),
		failures: &failureLog{m: map[string]*failureCount{}, max: l.MaxTracked,
			global: rate.NewLimiter(failureAuditRate, failureAuditBurst)},
		refused: register(reg, refused, s.log),
	}
}

// rateLimited is the error of a request over a limit; it sets Retry-After.
func (s *Server) rateLimited(c *gin.Context, which string, wait time.Duration, format string, args ...any) error {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	c.Header("Retry-After", strconv.Itoa(secs))
	s.limits.refused.WithLabelValues(which).Inc()
	return kefu.Errorf(codeRateLimited, format+"; retry after %d s", append(args, secs)...)
}

// clientAddress is the key of a client's address: its IP (from
// X-Forwarded-For only through configured trusted proxies), an IPv6 one
// cut to its /64, since one subscriber holds a whole /64.
func clientAddress(c *gin.Context) string {
	ip := net.ParseIP(c.ClientIP())
	if ip == nil {
		return "unknown"
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// limitAddress admits a request within its address's rate and puts a read
// deadline on its body. It runs first, before any route's own checks, so
// that no route and no failed authentication escapes it.
func (s *Server) limitAddress(c *gin.Context) {
	if ok, wait := s.limits.address.Take(clientAddress(c), time.Now()); !ok {
		writeError(c, s.rateLimited(c, "address", wait, "too many requests from this address"))
		return
	}
	s.bodyDeadline(c)
	c.Next()
}

// bodyDeadline bounds the time a request body may take to arrive, on this
// request's connection alone (http.Server's ReadTimeout would also cut the
// streams a reply may hold open). The deadline is lifted once the body has
// been read to its end, so that it never touches a stream that follows.
func (s *Server) bodyDeadline(c *gin.Context) {
	r := c.Request
	if r.Body == nil || r.Body == http.NoBody || (r.ContentLength == 0 && len(r.TransferEncoding) == 0) {
		return
	}
	d := s.cfg.BodyReadTimeout
	if c.FullPath() == "/v1/admin/documents" {
		d = max(d, uploadBodyTimeout)
	}
	rc := http.NewResponseController(c.Writer)
	if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return // a test recorder, or a transport without deadlines
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: d}
}

// deadlineBody lifts its connection's read deadline at the body's end and
// names a deadline that passed.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	done    bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if !b.done {
			b.done = true
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = kefu.WrapError(kefu.EInvalid, fmt.Sprintf("the request body did not arrive within %s", b.timeout), err)
	}
	return n, err
}

// admitKey takes a token from the bucket of the API key named name.
func (s *Server) admitKey(c *gin.Context, name string) error {
	if ok, wait := s.limits.key.Take(name, time.Now()); !ok {
		return s.rateLimited(c, "key", wait, "too many requests with this API key")
	}
	if ok, wait := s.takeShared(c, "key:"+name, s.cfg.Limits.KeyRate, s.cfg.Limits.KeyBurst); !ok {
		return s.rateLimited(c, "key", wait, "too many requests with this API key")
	}
	return nil
}

// admitShopper takes a token from the shopper's bucket.
func (s *Server) admitShopper(c *gin.Context, customerID string) error {
	if ok, wait := s.limits.shopper.Take(customerID, time.Now()); !ok {
		return s.rateLimited(c, "shopper", wait, "too many requests from this shopper")
	}
	if ok, wait := s.takeShared(c, "shopper:"+customerID, s.cfg.Limits.ShopperRate, s.cfg.Limits.ShopperBurst); !ok {
		return s.rateLimited(c, "shopper", wait, "too many requests from this shopper")
	}
	return nil
}

// SharedLimiter keeps token buckets that every replica of a shop draws
// from, so that a limit holds however requests are spread over them (the
// PostgreSQL store is one). Each replica's own buckets apply first.
type SharedLimiter interface {
	// TakeToken takes a token from bucket key, refilled at perSecond up
	// to burst; when there is none it says how long until there is.
	TakeToken(ctx context.Context, key string, perSecond float64, burst int) (ok bool, retryAfter time.Duration, err error)
}

// sharedLimitTimeout bounds a shared limit's answer; past it, or when the
// limiter fails, the request is let through on the replica's own limits.
const sharedLimitTimeout = 500 * time.Millisecond

// takeShared takes a token from the shared bucket key, when a shared
// limiter is configured and the limit is on.
func (s *Server) takeShared(c *gin.Context, key string, perSecond float64, burst int) (bool, time.Duration) {
	if s.shared == nil || perSecond < 0 || burst < 0 {
		return true, 0
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), sharedLimitTimeout)
	defer cancel()
	ok, wait, err := s.shared.TakeToken(ctx, key, perSecond, burst)
	if err != nil {
		s.log.Warn("the shared rate limit did not answer; this replica's own limits apply", "error", err.Error())
		return true, 0
	}
	return ok, wait
}

// authBlocked refuses an authentication attempt from an address that has
// failed too often lately, before the key or token is even looked at.
func (s *Server) authBlocked(c *gin.Context) error {
	if blocked, wait := s.limits.authFail.Blocked(clientAddress(c), time.Now()); blocked {
		return s.rateLimited(c, "auth_failures", wait, "too many failed authentications from this address")
	}
	return nil
}

// authFailed counts a failed authentication against its address and
// records it in the audit log. When the address is over its limit, the
// failure is answered 429 instead of err.
func (s *Server) authFailed(c *gin.Context, actor, why string, err error) error {
	addr := clientAddress(c)
	s.limits.failures.record(c, s, addr, actor, why)
	if ok, wait := s.limits.authFail.Take(addr, time.Now()); !ok {
		_ = c.Error(err) // the cause, for the log
		return s.rateLimited(c, "auth_failures", wait, "too many failed authentications from this address")
	}
	return err
}

// failureAuditEvery is how often at most one address's failed
// authentications are written to the audit log.
const failureAuditEvery = time.Minute

// failureLog writes failed authentications to the audit log, at most one
// record per address a minute, carrying how many failures it stands for,
// and at most failureAuditRate records a second from all addresses
// together (the failures of a record held back are counted into the
// address's next), so that a flood of wrong keys, from one address or
// many, does not flood the store.
type failureLog struct {
	mu     sync.Mutex
	m      map[string]*failureCount
	max    int
	global *rate.Limiter
}

// failureAuditRate and failureAuditBurst bound the audit records of
// failed authentications from all addresses together.
const (
	failureAuditRate  = 5
	failureAuditBurst = 50
)

type failureCount struct {
	written time.Time
	unseen  int // failures since the last record
}

func (f *failureLog) record(c *gin.Context, s *Server, addr, actor, why string) {
	if s.auditLog == nil {
		return
	}
	now := time.Now()
	f.mu.Lock()
	e, ok := f.m[addr]
	if !ok {
		if len(f.m) >= f.max {
			for k, v := range f.m {
				if now.Sub(v.written) >= failureAuditEvery {
					delete(f.m, k)
				}
			}
		}
		if len(f.m) >= f.max {
			addr = "many addresses"
			if e, ok = f.m[addr]; !ok {
				e = &failureCount{}
				f.m[addr] = e
			}
		} else {
			e = &failureCount{}
			f.m[addr] = e
		}
	}
	e.unseen++
	if now.Sub(e.written) < failureAuditEvery || !f.global.AllowN(now, 1) {
		f.mu.Unlock()
		return
	}
	count := e.unseen
	e.unseen, e.written = 0, now
	f.mu.Unlock()

	if actor == "" {
		actor = "anonymous"
	}
	target := fmt.Sprintf("%s %s from %s: %s", c.Request.Method, routeOf(c), addr, why)
	if count > 1 {
		target += fmt.Sprintf(" (%d failures since the last record)", count)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), saveTimeout)
	defer cancel()
	if err := s.auditLog.AppendAudit(ctx, store.AuditRecord{At: now, Actor: actor, Role: "none", Action: "auth.failed", Target: target}); err != nil {
		_ = c.Error(fmt.Errorf("record a failed authentication: %w", err))
	}
}

func routeOf(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return clip(c.Request.URL.Path)
}

// capStreams holds a slot per key, shopper and address for as long as a
// streaming request runs; over a cap the request is refused with 429.
func (s *Server) capStreams(always bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !always && !wantsStream(c.Request) {
			c.Next()
			return
		}
		type slot struct {
			slots *limit.Slots
			key   string
			what  string
		}
		want := []slot{{s.limits.streamsAddress, clientAddress(c), "this address"}}
		if name := c.GetString(ginKeyName); name != "" {
			want = append(want, slot{s.limits.streamsKey, name, "this API key"})
		}
		if id := customerFrom(c.Request.Context()); id != "" {
			want = append(want, slot{s.limits.streamsShopper, id, "this shopper"})
		}
		var releases []func()
		defer func() {
			for _, r := range releases {
				r()
			}
		}()
		for _, w := range want {
			release, ok := w.slots.Acquire(w.key)
			if !ok {
				err := s.rateLimited(c, "streams", 5*time.Second, "too many open streams for %s; close one first", w.what)
				if c.FullPath() == "/v1/chat/completions" {
					writeOpenAIError(c, err)
				} else {
					writeError(c, err)
				}
				return
			}
			releases = append(releases, release)
		}
		c.Next()
	}
}

// ticketWindow is the period of TicketsPerHour.
const ticketWindow = time.Hour

// ticketGate caps the tickets each owner (a shopper, or an anonymous
// shopper's address) opens an hour, and finds the open ticket a repeated
// question belongs to. Owners are bounded like the buckets: those with
// nothing in the window go first, and newcomers to a full table share one
// entry.
type ticketGate struct {
	perHour int
	max     int
	mu      sync.Mutex
	m       map[string][]openedTicket
}

type openedTicket struct {
	at             time.Time
	question       string
	conversationID string
	ticketID       string // "" while it is being opened
}

func newTicketGate(perHour, max int) *ticketGate {
	return &ticketGate{perHour: perHour, max: max, m: map[string][]openedTicket{}}
}

// admit decides whether owner may open a ticket for question now. It
// returns the earlier ticket the same question was opened as, when there is
// one in the window (the caller checks it is still open), or else whether a
// new one may open; a new one is reserved until settle or release.
func (g *ticketGate) admit(owner, question string, now time.Time) (dup []openedTicket, ok bool) {
	if g == nil || g.perHour < 0 {
		return nil, true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	recent, known := g.m[owner]
	if !known && len(g.m) >= g.max {
		for k, v := range g.m {
			if len(v) == 0 || now.Sub(v[len(v)-1].at) >= ticketWindow {
				delete(g.m, k)
			}
		}
		if len(g.m) >= g.max {
			owner = "\x00overflow"
			recent = g.m[owner]
		}
	}
	kept := recent[:0]
	for _, t := range recent {
		if now.Sub(t.at) < ticketWindow {
			kept = append(kept, t)
		}
	}
	for _, t := range kept {
		if t.question == question && t.ticketID != "" {
			dup = append(dup, t)
		}
	}
	if len(kept) >= g.perHour {
		g.m[owner] = kept
		return dup, false
	}
	g.m[owner] = append(kept, openedTicket{at: now, question: question})
	return dup, true
}

// settle names the ticket a reservation of admit became; an empty ticket
// id (the open failed) gives the reservation back.
func (g *ticketGate) settle(owner, question string, at time.Time, conversationID, ticketID string) {
	if g == nil || g.perHour < 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	recent := g.m[owner]
	for i, t := range recent {
		if t.at.Equal(at) && t.question == question && t.ticketID == "" {
			if ticketID == "" {
				g.m[owner] = append(recent[:i], recent[i+1:]...)
				return
			}
			recent[i].conversationID, recent[i].ticketID = conversationID, ticketID
			return
		}
	}
}

// maxQuestionKey bounds the bytes of a question kept for finding repeats.
const maxQuestionKey = 512

// sameQuestion is the form in which two questions are compared for a
// repeat: NFKC, lower case, letters and digits only, single spaces, at most
// maxQuestionKey bytes.
func sameQuestion(s string) string {
	// Invalid bytes become a space first: NFKC copies the rune after one
	// unnormalised, so the key would change on a second pass.
	s = strings.ToLower(norm.NFKC.String(strings.ToValidUTF8(s, " ")))
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
			continue
		}
		space = true
	}
	out := b.String()
	if len(out) > maxQuestionKey {
		cut := maxQuestionKey
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = strings.TrimRight(out[:cut], " ") // a cut after a space leaves none behind
	}
	return out
}

// requireMetrics guards /metrics: with API keys configured it needs an
// admin key; with none the server listens on loopback only and it is open.
func (s *Server) requireMetrics(c *gin.Context) {
	if s.keys.Len() == 0 {
		c.Next()
		return
	}
	if !s.staffKey(c, auth.RoleAdmin, "", "unauthorized: an admin API key is required for /metrics",
		"may not read /metrics; it needs role admin") {
		return
	}
	c.Next()
}
