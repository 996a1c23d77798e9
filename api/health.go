package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
)

// healthz reports that the process is alive; it checks nothing else.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, HealthResponse{Status: "ok", Version: s.cfg.Version})
}

// readyz runs every readiness check at once, each under
// Config.CheckTimeout, and
// answers 200 when all pass and 503 otherwise. A failed check shows the
// client-safe message of a *kefu.Error, or a generic text with the cause
// in the log.
func (s *Server) readyz(c *gin.Context) {
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.checks))
	var wg sync.WaitGroup
	for name, check := range s.checks {
		wg.Go(func() { results <- result{name, runCheck(c.Request.Context(), check, s.cfg.CheckTimeout)} })
	}
	wg.Wait()
	close(results)

	resp := ReadyResponse{Status: "ready", Checks: make(map[string]string, len(s.checks))}
	if s.knowledge != nil {
		resp.KnowledgeVersion = s.knowledge()
	}
	status := http.StatusOK
	for r := range results {
		if r.err == nil {
			resp.Checks[r.name] = "ok"
			continue
		}
		resp.Status, status = "unavailable", http.StatusServiceUnavailable
		resp.Checks[r.name] = checkText(r.err, s.cfg.CheckTimeout)
		_ = c.Error(fmt.Errorf("readiness check %s: %w", r.name, r.err))
	}
	c.JSON(status, resp)
}

// runCheck runs one check under its timeout; a panicking check fails.
func runCheck(ctx context.Context, check Check, timeout time.Duration) (err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("check panicked: %v", v)
		}
	}()
	if check == nil {
		return errors.New("no check function")
	}
	return check(ctx)
}

func checkText(err error, timeout time.Duration) string {
	var e *kefu.Error
	switch {
	case errors.As(err, &e):
		return e.Message
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out after %s", timeout)
	}
	return "failed (the cause is in the server log)"
}
