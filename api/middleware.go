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
	c.Next()
	elapsed := time.Since(start)

	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	s.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()

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
// need, in "Authorization: Bearer <key>" or X-API-Key. With no keys
// configured every request is admitted.
func (s *Server) requireRole(need auth.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.keys.Len() == 0 {
			c.Next()
			return
		}
		name, role, ok := s.keys.Lookup(presentedKey(c.Request))
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="kefu"`)
			writeError(c, kefu.Errorf(kefu.EUnauthorized,
				"unauthorized: a valid API key is required (Authorization: Bearer <key> or %s)", HeaderAPIKey))
			return
		}
		c.Set(ginKeyName, name)
		if !role.Allows(need) {
			writeError(c, kefu.Errorf(kefu.EForbidden, "an API key with role %s may not do this; it needs role %s", role, need))
			return
		}
		c.Next()
	}
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
// its customer id in the request's context. A bad or expired token is
// refused with 401 and the reason; no token means an anonymous shopper.
func (s *Server) identifyShopper(c *gin.Context) {
	token := strings.TrimSpace(c.GetHeader(HeaderCustomerToken))
	if token == "" {
		c.Next()
		return
	}
	id, err := auth.Verify(s.secret, token, time.Now())
	if err != nil {
		writeError(c, err)
		return
	}
	c.Request = c.Request.WithContext(withCustomer(c.Request.Context(), id))
	c.Next()
}
