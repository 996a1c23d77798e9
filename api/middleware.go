package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/telemetry"
)

// ginKeyName is where requireRole leaves the API key's name for the log.
const ginKeyName = "kefu.api_key"

// customerKey is the context key of the verified shopper's customer id.
type customerKey struct{}

func withCustomer(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, customerKey{}, id)
}

// customerFrom returns the verified customer id, "" for an anonymous
// shopper.
func customerFrom(ctx context.Context) string {
	id, _ := ctx.Value(customerKey{}).(string)
	return id
}

// logRequests writes one line per request (method, route, status,
// duration, the API key's name, and the errors recorded with their causes)
// and counts it. It never logs bodies, headers, tokens or keys.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader(telemetry.HeaderRequestID)
	if !telemetry.ValidRequestID(id) {
		id = telemetry.NewRequestID()
	}
	c.Header(telemetry.HeaderRequestID, id)
	ctx, span := telemetry.StartRequest(telemetry.WithRequestID(c.Request.Context(), id), c.Request.Header, c.Request.Method, id)
	c.Request = c.Request.WithContext(ctx)
	c.Next()
	elapsed := time.Since(start)

	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	s.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	telemetry.EndRequest(span, c.Request.Method, route, status)

	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
	}
	if name := c.GetString(ginKeyName); name != "" {
		attrs = append(attrs, slog.String("api_key", name))
	}
	level := slog.LevelInfo
	if len(c.Errors) > 0 {
		msgs := make([]string, len(c.Errors))
		for i, e := range c.Errors {
			msgs[i] = e.Err.Error()
		}
		attrs = append(attrs, slog.String("error", strings.Join(msgs, "; ")))
		level = errorLevel(status, c.Errors.Last().Err)
	}
	s.log.LogAttrs(context.WithoutCancel(c.Request.Context()), level, "request", attrs...)
}

// errorLevel ranks a failed request for the log: server-side failures are
// errors, client mistakes warnings, a client that left is routine.
func errorLevel(status int, err error) slog.Level {
	switch {
	case status == statusClientClosed || errors.Is(err, context.Canceled):
		return slog.LevelInfo
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	// A stream that failed after its 200 was sent.
	if errorStatus(errorBody(err).Code) >= 500 {
		return slog.LevelError
	}
	return slog.LevelWarn
}

// recoverPanics turns a panic in a handler into a 500 in the error shape;
// the panic and its stack reach the log through the request's error.
// http.ErrAbortHandler is let through: it is net/http's way to drop a
// connection.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(v)
		}
		writeError(c, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
	}()
	c.Next()
}

// requireRole admits a request that presents an API key whose role allows
// need, in "Authorization: Bearer <key>" or X-API-Key, within the key's
// rate limit. With Config.OpenShopperRoutes a shopper route (need widget)
// also admits a request that presents no key. With no keys configured
// every other request is refused.
func (s *Server) requireRole(need auth.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.checkKey(c, need, "unauthorized: a valid API key is required"); err != nil {
			writeError(c, err)
			return
		}
		c.Next()
	}
}

// checkKey is requireRole's decision: nil to admit, or the error to answer
// with. A wrong or missing key, or one whose role is too low, counts as a
// failed authentication of the client's address (see authFailed).
func (s *Server) checkKey(c *gin.Context, need auth.Role, missing string) error {
	presented := presentedKey(c.Request)
	open := s.cfg.OpenShopperRoutes && need == auth.RoleWidget
	if open && (presented == "" || s.keys.Len() == 0) {
		return nil
	}
	if s.keys.Len() == 0 {
		return kefu.Errorf(kefu.EForbidden,
			"closed: this route needs an API key with role %s and no API keys are configured; add one to auth.api_keys (kefu serve --demo opens the shopper routes on this machine)", need)
	}
	if err := s.authBlocked(c); err != nil {
		return err
	}
	name, role, ok := s.keys.Lookup(presented)
	if presented == "" && need != auth.RoleWidget {
		sname, srole, found, err := s.sessionKey(c)
		if err != nil {
			return err
		}
		if found {
			name, role, ok = sname, srole, true
		}
	}
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="kefu"`)
		why := "no API key"
		if presented != "" {
			why = "wrong API key"
		}
		return s.authFailed(c, "", why, kefu.Errorf(kefu.EUnauthorized, "%s (Authorization: Bearer <key> or %s)", missing, HeaderAPIKey))
	}
	c.Set(ginKeyName, name)
	c.Set(ginKeyRole, string(role))
	if role != auth.RoleWidget && c.GetHeader(HeaderClient) == ClientWidget {
		// A key in the widget is read by every visitor of the shop.
		return s.authFailed(c, name, fmt.Sprintf("key of role %s used by the chat widget", role),
			kefu.Errorf(kefu.EForbidden, "the chat widget needs a key of role widget; this key has role %s, which every visitor of the page could read: make a widget key", role))
	}
	if !role.Allows(need) {
		return s.authFailed(c, name, fmt.Sprintf("key of role %s on a route for %s", role, need),
			kefu.Errorf(kefu.EForbidden, "an API key with role %s may not do this; it needs role %s", role, need))
	}
	return s.admitKey(c, name)
}

// presentedKey returns the API key a request carries, "" for none.
func presentedKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(key)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get(HeaderAPIKey))
}

// identifyShopper verifies the shopper token, when one is sent, and puts
// its customer id in the request's context, within the shopper's rate
// limit. A bad or expired token is refused with 401 and the reason (and
// counts as a failed authentication); no token means an anonymous shopper.
func (s *Server) identifyShopper(c *gin.Context) {
	if err := s.checkShopper(c); err != nil {
		writeError(c, err)
		return
	}
	c.Next()
}

// checkShopper is identifyShopper's decision: nil to go on, or the error
// to answer with.
func (s *Server) checkShopper(c *gin.Context) error {
	token := strings.TrimSpace(c.GetHeader(HeaderCustomerToken))
	if token == "" {
		return nil
	}
	if err := s.authBlocked(c); err != nil {
		return err
	}
	id, err := s.verifier.Verify(token, time.Now())
	if err != nil {
		return s.authFailed(c, c.GetString(ginKeyName), "bad shopper token: "+kefu.ErrorMessage(err), err)
	}
	if err := s.admitShopper(c, id); err != nil {
		return err
	}
	c.Request = c.Request.WithContext(withCustomer(c.Request.Context(), id))
	return nil
}
