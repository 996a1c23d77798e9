package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/store"
)

// Privacy serves the shopper's rights and the audit log to admins: a
// shopper's data erased or exported, the audit log read (package store's
// Bolt).
type Privacy interface {
	// EraseCustomer removes everything held about a shopper and records
	// the erasure, with by as its actor, in the audit log.
	EraseCustomer(ctx context.Context, customerID string, by store.AuditRecord) (store.Erasure, error)
	ExportCustomer(ctx context.Context, customerID string) (store.CustomerExport, error)
	Audit(ctx context.Context, q store.AuditQuery) (store.AuditPage, error)
}

var _ Privacy = (*store.Bolt)(nil)

// Audit actions of the privacy routes.
const (
	actionCustomerExport = "customers.export"
	actionAuditRead      = "audit.read"
)

// customerRoutes registers the shopper's rights and the audit log: every
// route needs an admin key, and they are closed when no keys are
// configured (they hold every shopper's words). The erasure is audited by the store, in the
// transaction that erases; an export and a read of the log are audited
// before they run (refused with 503 when that fails).
func (s *Server) customerRoutes(r gin.IRouter) {
	g := r.Group("/v1/admin", s.requireAdminKey, s.requirePrivacy)
	g.DELETE("/customers/:id", s.eraseCustomer)
	g.GET("/customers/:id/export", s.auditPrivacy(actionCustomerExport), s.exportCustomer)
	g.GET("/audit", s.auditPrivacy(actionAuditRead), s.readAudit)
}

func (s *Server) requireAdminKey(c *gin.Context) {
	if !s.staffKey(c, auth.RoleAdmin,
		"shopper data administration is closed: no API keys are configured; add a key with role admin to auth.api_keys",
		"unauthorized: an admin API key is required",
		"may not administer shoppers' data or read the audit log; it needs role admin") {
		c.Abort()
		return
	}
	c.Next()
}

func (s *Server) requirePrivacy(c *gin.Context) {
	if s.privacy == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "shopper data administration is not configured on this server"))
		return
	}
	c.Next()
}

// actor is the admin making the request, for the audit log.
func actor(c *gin.Context) store.AuditRecord {
	return store.AuditRecord{At: time.Now(), Actor: c.GetString(ginKeyName), Role: c.GetString(ginKeyRole)}
}

// customerParam returns the shopper id of the path, or writes a 400.
func customerParam(c *gin.Context) (string, bool) {
	id := c.Param("id")
	if !auth.ValidCustomerID(id) {
		writeError(c, kefu.Errorf(kefu.EInvalid, "customer id %q is not 1 to %d letters, digits, '_', '.', '@' or '-'", clip(id), auth.MaxCustomerIDLen))
		return "", false
	}
	return id, true
}

func (s *Server) auditPrivacy(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		rec := actor(c)
		rec.Action = action
		if id := c.Param("id"); id != "" && auth.ValidCustomerID(id) {
			rec.Target = store.CustomerRef(id)
		}
		if err := s.privacyAudit().AppendAudit(c.Request.Context(), rec); err != nil {
			writeError(c, kefu.WrapError(kefu.EUnavailable, "the audit log is unavailable, so admin access is refused", err))
			return
		}
		c.Next()
		s.logPrivacy(c, rec)
	}
}

// privacyAudit is where the privacy routes' accesses are recorded: the
// configured audit log, else the privacy store's own.
func (s *Server) privacyAudit() AuditLog {
	if s.auditLog != nil {
		return s.auditLog
	}
	if a, ok := s.privacy.(AuditLog); ok {
		return a
	}
	return discardAudit{}
}

type discardAudit struct{}

func (discardAudit) AppendAudit(context.Context, store.AuditRecord) error { return nil }

func (s *Server) logPrivacy(c *gin.Context, rec store.AuditRecord) {
	s.log.LogAttrs(context.WithoutCancel(c.Request.Context()), slog.LevelInfo, "admin access",
		slog.String("actor", rec.Actor), slog.String("role", rec.Role), slog.String("action", rec.Action),
		slog.String("target", rec.Target), slog.Int("status", c.Writer.Status()), slog.Time("at", rec.At.UTC()))
}

// EraseReply is the answer to DELETE /v1/admin/customers/{id}.
type EraseReply struct {
	Customer string        `json:"customer"` // as the audit log names them
	Erased   store.Erasure `json:"erased"`
}

// eraseCustomer is DELETE /v1/admin/customers/{id}: every conversation,
// message, ticket, feedback and outbox event of the shopper is removed,
// and the audit log keeps that it was, with the counts.
func (s *Server) eraseCustomer(c *gin.Context) {
	id, ok := customerParam(c)
	if !ok {
		return
	}
	by := actor(c)
	e, err := s.privacy.EraseCustomer(c.Request.Context(), id, by)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, EraseReply{Customer: store.CustomerRef(id), Erased: e})
	by.Action, by.Target = store.ActionCustomerErase, store.CustomerRef(id)
	s.logPrivacy(c, by)
}

// exportCustomer is GET /v1/admin/customers/{id}/export: everything held
// about the shopper as one JSON document (store.CustomerExport), served as
// an attachment.
func (s *Server) exportCustomer(c *gin.Context) {
	id, ok := customerParam(c)
	if !ok {
		return
	}
	ex, err := s.privacy.ExportCustomer(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="kefu-export.json"`)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, ex)
}

// readAudit is GET /v1/admin/audit?actor=&action=&since=&until=&limit=&after=:
// a page of the audit log, oldest first; since and until are RFC 3339
// times (since inclusive, until exclusive), limit 1 to 1000 (default
// 100), after the next of the previous page.
func (s *Server) readAudit(c *gin.Context) {
	q, err := auditQuery(c)
	if err != nil {
		writeError(c, err)
		return
	}
	page, err := s.privacy.Audit(c.Request.Context(), q)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, page)
}

// maxAuditParam bounds the actor and action filters.
const maxAuditParam = 200

func auditQuery(c *gin.Context) (store.AuditQuery, error) {
	q := store.AuditQuery{Actor: c.Query("actor"), Action: c.Query("action")}
	if len(q.Actor) > maxAuditParam || len(q.Action) > maxAuditParam {
		return q, kefu.Errorf(kefu.EInvalid, "actor and action are at most %d bytes", maxAuditParam)
	}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return q, kefu.Errorf(kefu.EInvalid, "%s %q is not an RFC 3339 time such as 2026-03-01T09:00:00Z", name, clip(v))
			}
			*dst = t
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			return q, kefu.Errorf(kefu.EInvalid, "limit %q is not a whole number from 1 to %d", clip(v), store.MaxAuditLimit)
		}
		q.Limit = n
	}
	if v := c.Query("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return q, kefu.Errorf(kefu.EInvalid, "after %q is not a record number", clip(v))
		}
		q.After = n
	}
	return q, nil
}
