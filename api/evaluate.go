package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/store"
)

// Evaluator runs the shop's golden set through the answering pipeline
// over the live knowledge, as kefu eval does, within its own time bound.
type Evaluator interface {
	Evaluate(ctx context.Context) (eval.Report, error)
}

// EvalResponse is the reply to POST /v1/admin/eval: the report, with the
// keys of kefu eval --json, and how long the run took.
type EvalResponse struct {
	Report    eval.Report `json:"report"`
	ElapsedMS int64       `json:"elapsed_ms"`
}

// evalRuns lets one evaluation run at a time.
type evalRuns struct{ mu sync.Mutex }

func (s *Server) evalRoutes(r gin.IRouter) {
	r.POST("/v1/admin/eval", s.requireRole(auth.RoleAdmin), s.runEval)
}

// runEval runs the golden set: POST /v1/admin/eval. One run at a time: a
// second while one runs is 409 conflict. Audited.
func (s *Server) runEval(c *gin.Context) {
	if s.evaluator == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "no golden set is configured (ingest.golden)"))
		return
	}
	if !s.evals.mu.TryLock() {
		writeError(c, kefu.Errorf(kefu.EConflict, "an evaluation is already running; wait for it to finish"))
		return
	}
	defer s.evals.mu.Unlock()
	if s.auditLog != nil {
		rec := store.AuditRecord{At: time.Now(), Actor: c.GetString(ginKeyName), Role: c.GetString(ginKeyRole), Action: "eval.run"}
		if err := s.auditLog.AppendAudit(c.Request.Context(), rec); err != nil {
			writeError(c, kefu.WrapError(kefu.EUnavailable, "the audit log is unavailable, so admin access is refused", err))
			return
		}
	}
	start := time.Now()
	rep, err := s.evaluator.Evaluate(c.Request.Context())
	if err != nil {
		writeError(c, fmt.Errorf("run the golden set: %w", err))
		return
	}
	if rep.Failures == nil {
		rep.Failures = []eval.Failure{}
	}
	c.JSON(http.StatusOK, EvalResponse{Report: rep, ElapsedMS: time.Since(start).Milliseconds()})
}
