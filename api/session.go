package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/store"
)

// Staff sessions let the agent console and the admin dashboard sign in once
// with an API key: the server keeps the session (the key's name and role, a
// CSRF token, when it began and was last used) and the browser holds only a
// random id in an HttpOnly, SameSite=Strict cookie (Secure over TLS). The
// key itself is never stored, neither here nor in the browser. A request
// with a session cookie and no API key is admitted as that key; a write
// (any method but GET, HEAD, OPTIONS) must also carry the session's CSRF
// token in HeaderCSRF and an Origin naming this server.

// SessionCookie is the name of the staff session cookie; HeaderCSRF
// carries the session's CSRF token on every write.
const (
	SessionCookie = "kefu_session"
	HeaderCSRF    = "X-Kefu-CSRF"
)

// Defaults of staff sessions.
const (
	DefaultSessionTTL  = 12 * time.Hour
	DefaultSessionIdle = 2 * time.Hour
	DefaultMaxSessions = 1000
)

// SessionRequest is the body of POST /v1/session: the API key to sign in
// with, of role agent or admin.
type SessionRequest struct {
	Key string `json:"key"`
}

// SessionResponse describes the caller's session (POST and GET
// /v1/session): the key's name and role, the CSRF token to send in
// X-Kefu-CSRF on every write, and when the session ends at the latest.
type SessionResponse struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

type session struct {
	name     string
	role     auth.Role
	csrf     string
	created  time.Time
	lastSeen time.Time
}

// sessions are the server's staff sessions, bounded in number (the oldest
// go first when full) and in lifetime (ttl from sign-in, idle since the
// last use). Safe for concurrent use.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	max  int
	ttl  time.Duration
	idle time.Duration
	now  func() time.Time
	// shared, when set, keeps the sessions instead of m, where every
	// replica reads them (Deps.Sessions).
	shared SessionStore
}

// SessionStore keeps staff sessions where every replica of the server
// reads them, so a console signed in through one replica works through
// any. Sessions are keyed by the SHA-256 of their id (sessionKeyOf): the
// store never holds an id a browser could present.
type SessionStore interface {
	// StartSession stores s under key, then drops expired sessions and,
	// beyond max, the least recently used.
	StartSession(ctx context.Context, key string, s store.StaffSession, max int, ttl, idle time.Duration) error
	// TouchSession returns the live session of key and marks it used at
	// now; found is false for an unknown or expired one.
	TouchSession(ctx context.Context, key string, now time.Time, ttl, idle time.Duration) (s store.StaffSession, found bool, err error)
	// EndSession removes the session of key, if any.
	EndSession(ctx context.Context, key string) error
}

// sessionKeyOf is the key a session is kept under in a SessionStore.
func sessionKeyOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func newSessions(max int, ttl, idle time.Duration, now func() time.Time) *sessions {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = DefaultMaxSessions
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if idle <= 0 {
		idle = DefaultSessionIdle
	}
	return &sessions{m: map[string]*session{}, max: max, ttl: ttl, idle: idle, now: now}
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", kefu.WrapError(kefu.EInternal, "no randomness for a session", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.created) >= ss.ttl || now.Sub(s.lastSeen) >= ss.idle
}

// start opens a session for the key named name, dropping expired sessions
// and, when still full, the least recently used one.
func (ss *sessions) start(ctx context.Context, name string, role auth.Role, now time.Time) (string, *session, error) {
	id, err := randomToken()
	if err != nil {
		return "", nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", nil, err
	}
	s := &session{name: name, role: role, csrf: csrf, created: now, lastSeen: now}
	if ss.shared != nil {
		st := store.StaffSession{Name: name, Role: string(role), CSRF: csrf, Created: now, LastSeen: now}
		if err := ss.shared.StartSession(ctx, sessionKeyOf(id), st, ss.max, ss.ttl, ss.idle); err != nil {
			return "", nil, kefu.WrapError(kefu.EUnavailable, "the session store is unavailable", err)
		}
		return id, s, nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= ss.max {
		var oldestID string
		var oldest time.Time
		for k, v := range ss.m {
			if ss.expired(v, now) {
				delete(ss.m, k)
				continue
			}
			if oldestID == "" || v.lastSeen.Before(oldest) {
				oldestID, oldest = k, v.lastSeen
			}
		}
		if len(ss.m) >= ss.max {
			delete(ss.m, oldestID)
		}
	}
	ss.m[id] = s
	return id, s, nil
}

// get returns the live session of id, marking it used; nil for an
// unknown or expired one (which is dropped).
func (ss *sessions) get(ctx context.Context, id string, now time.Time) (*session, error) {
	if id == "" || len(id) > 128 {
		return nil, nil
	}
	if ss.shared != nil {
		st, found, err := ss.shared.TouchSession(ctx, sessionKeyOf(id), now, ss.ttl, ss.idle)
		if err != nil {
			return nil, kefu.WrapError(kefu.EUnavailable, "the session store is unavailable", err)
		}
		if !found {
			return nil, nil
		}
		return &session{name: st.Name, role: auth.Role(st.Role), csrf: st.CSRF, created: st.Created, lastSeen: st.LastSeen}, nil
	}
	return ss.local(id, now), nil
}

// local is get on the process's own sessions.
func (ss *sessions) local(id string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil
	}
	if ss.expired(s, now) {
		delete(ss.m, id)
		return nil
	}
	s.lastSeen = now
	cp := *s
	return &cp
}

func (ss *sessions) end(ctx context.Context, id string) error {
	if ss.shared != nil {
		if err := ss.shared.EndSession(ctx, sessionKeyOf(id)); err != nil {
			return kefu.WrapError(kefu.EUnavailable, "the session store is unavailable", err)
		}
		return nil
	}
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
	return nil
}

// sessionRoutes registers sign-in, the session's description and sign-out.
func (s *Server) sessionRoutes(r gin.IRouter) {
	r.POST("/v1/session", s.signIn)
	r.GET("/v1/session", s.getSession)
	r.DELETE("/v1/session", s.signOut)
}

// signIn opens a staff session: POST /v1/session {"key"} with an agent or
// admin API key. Its Origin, when sent, must be this server's (no other
// site may sign a browser in). A wrong key counts as a failed
// authentication of the address, as on the API.
func (s *Server) signIn(c *gin.Context) {
	if s.keys.Len() == 0 {
		writeError(c, kefu.Errorf(kefu.EForbidden, "sign-in is closed: no API keys are configured; add a key with role agent or admin to auth.api_keys"))
		return
	}
	if err := checkOrigin(c.Request, false); err != nil {
		writeError(c, err)
		return
	}
	if err := s.authBlocked(c); err != nil {
		writeError(c, err)
		return
	}
	var req SessionRequest
	if err := s.decodeBody(c, &req); err != nil {
		writeError(c, err)
		return
	}
	key := strings.TrimSpace(req.Key)
	name, role, ok := s.keys.Lookup(key)
	if !ok {
		why := "no API key"
		if key != "" {
			why = "wrong API key"
		}
		writeError(c, s.authFailed(c, "", "sign-in: "+why, kefu.Errorf(kefu.EUnauthorized, "sign-in failed: the key is not an API key of this server")))
		return
	}
	if !role.Allows(auth.RoleAgent) {
		writeError(c, s.authFailed(c, name, "sign-in with a key of role "+string(role),
			kefu.Errorf(kefu.EForbidden, "sign-in needs an API key with role agent or admin, not %s", role)))
		return
	}
	if err := s.admitKey(c, name); err != nil {
		writeError(c, err)
		return
	}
	now := s.sessions.now()
	id, sess, err := s.sessions.start(c.Request.Context(), name, role, now)
	if err != nil {
		writeError(c, err)
		return
	}
	if s.auditLog != nil {
		_ = s.auditLog.AppendAudit(c.Request.Context(), auditRecord(now, name, role, "session.start"))
	}
	s.setSessionCookie(c, id, int(s.sessions.ttl/time.Second))
	c.Set(ginKeyName, name)
	c.JSON(http.StatusOK, s.sessionView(sess))
}

// getSession describes the caller's session: GET /v1/session; 401 without
// a live one. The console reads its CSRF token here after a reload.
func (s *Server) getSession(c *gin.Context) {
	sess, err := s.cookieSession(c)
	if err != nil {
		writeError(c, err)
		return
	}
	if sess == nil {
		writeError(c, kefu.Errorf(kefu.EUnauthorized, "not signed in: the session is missing or has expired"))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, s.sessionView(sess))
}

// signOut ends the caller's session: DELETE /v1/session, with the CSRF
// token. It answers 204 and clears the cookie.
func (s *Server) signOut(c *gin.Context) {
	sess, err := s.cookieSession(c)
	if err != nil {
		writeError(c, err)
		return
	}
	if sess == nil {
		s.setSessionCookie(c, "", -1)
		c.Status(http.StatusNoContent)
		return
	}
	if err := checkCSRF(c.Request, sess); err != nil {
		writeError(c, err)
		return
	}
	id, _ := c.Cookie(SessionCookie)
	if err := s.sessions.end(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	if s.auditLog != nil {
		_ = s.auditLog.AppendAudit(c.Request.Context(), auditRecord(s.sessions.now(), sess.name, sess.role, "session.end"))
	}
	s.setSessionCookie(c, "", -1)
	c.Status(http.StatusNoContent)
}

func (s *Server) sessionView(sess *session) SessionResponse {
	return SessionResponse{Name: sess.name, Role: string(sess.role), CSRFToken: sess.csrf, ExpiresAt: sess.created.Add(s.sessions.ttl).UTC()}
}

// setSessionCookie sets (maxAge > 0) or clears (maxAge < 0) the cookie.
func (s *Server) setSessionCookie(c *gin.Context, id string, maxAge int) {
	ck := &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode,
	}
	http.SetCookie(c.Writer, ck)
}

// cookieSession returns the live session the request's cookie names, or
// nil.
func (s *Server) cookieSession(c *gin.Context) (*session, error) {
	id, err := c.Cookie(SessionCookie)
	if err != nil || id == "" {
		return nil, nil
	}
	return s.sessions.get(c.Request.Context(), id, s.sessions.now())
}

// sessionKey admits a request that carries no API key through its session
// cookie: found is false when there is no cookie at all (the caller goes on
// with its key check). Otherwise it returns the session's key name and role,
// or the error to answer with: an unknown or expired session is a failed
// authentication; a write without the CSRF token or from another origin is
// refused.
func (s *Server) sessionKey(c *gin.Context) (name string, role auth.Role, found bool, err error) {
	id, cerr := c.Cookie(SessionCookie)
	if cerr != nil || id == "" {
		return "", "", false, nil
	}
	sess, err := s.sessions.get(c.Request.Context(), id, s.sessions.now())
	if err != nil {
		return "", "", true, err
	}
	if sess == nil {
		return "", "", true, s.authFailed(c, "", "unknown or expired session",
			kefu.Errorf(kefu.EUnauthorized, "the session has expired or was ended; sign in again"))
	}
	if err := checkCSRF(c.Request, sess); err != nil {
		return "", "", true, err
	}
	return sess.name, sess.role, true, nil
}

// safeMethod reports whether a method only reads.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF refuses a write that lacks the session's CSRF token or comes
// from another origin.
func checkCSRF(r *http.Request, sess *session) error {
	if safeMethod(r.Method) {
		return nil
	}
	if err := checkOrigin(r, true); err != nil {
		return err
	}
	got := r.Header.Get(HeaderCSRF)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return kefu.Errorf(kefu.EForbidden, "csrf: a write with a session needs the session's token in %s", HeaderCSRF)
	}
	return nil
}

// checkOrigin refuses a request whose Origin (or, without one, Referer)
// names another host than the one it was sent to; required says whether
// a request with neither is refused too.
func checkOrigin(r *http.Request, required bool) error {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	if from == "" {
		if required {
			return kefu.Errorf(kefu.EForbidden, "csrf: a write with a session must carry an Origin header")
		}
		return nil
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return kefu.Errorf(kefu.EForbidden, "csrf: the Origin %q is not a web origin", clip(from))
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return kefu.Errorf(kefu.EForbidden, "csrf: the request comes from origin %q, not from this server", clip(u.Scheme+"://"+u.Host))
	}
	return nil
}

func auditRecord(at time.Time, actor string, role auth.Role, action string) store.AuditRecord {
	return store.AuditRecord{At: at, Actor: actor, Role: string(role), Action: action}
}
