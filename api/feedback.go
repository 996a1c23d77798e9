package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/store"
)

// FeedbackStore keeps shoppers' ratings of answers.
type FeedbackStore interface {
	// PutFeedback stores a rating, replacing any earlier one of the same
	// message. It fails with kefu.ENotFound when the message is not one of
	// the conversation's and kefu.EInvalid when it is not an assistant
	// answer.
	PutFeedback(ctx context.Context, f store.Feedback) (store.Feedback, error)
	// ConversationFeedback returns the ratings of a conversation's answers.
	ConversationFeedback(ctx context.Context, conversationID string) ([]store.Feedback, error)
}

// AnalyticsReader reads what ratings and stored answers say about the
// shop's knowledge.
type AnalyticsReader interface {
	// FeedbackStats counts ratings and returns the latest recent "down"
	// ratings with their exchanges, newest first.
	FeedbackStats(ctx context.Context, recent int) (store.FeedbackStats, error)
	// AnswersByReason returns the latest limit answers stored with a
	// reason code, newest first, with their questions.
	AnswersByReason(ctx context.Context, reason string, limit int) ([]store.Exchange, error)
}

var (
	_ FeedbackStore   = (*store.Bolt)(nil)
	_ AnalyticsReader = (*store.Bolt)(nil)
)

// Limits of feedback and analytics.
const (
	maxCommentChars       = store.MaxFeedbackComment
	defaultAnalyticsLimit = 20
	maxAnalyticsLimit     = 200
)

// newFeedbackCounter makes kefu_feedback_total{rating}.
func newFeedbackCounter(reg prometheus.Registerer, log *slog.Logger) *prometheus.CounterVec {
	return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kefu_feedback_total",
		Help: "Ratings of answers given by shoppers (a changed rating counts again), by rating: up or down.",
	}, []string{"rating"}), log)
}

// postFeedback rates an answer: POST /v1/conversations/{id}/feedback
// {"message_id", "rating": "up"|"down", "comment"?}, for the shopper who
// owns the conversation. A second rating of the same answer replaces the
// first. The reply is the stored rating.
func (s *Server) postFeedback(c *gin.Context) {
	if s.convs == nil || s.feedback == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "feedback is not configured on this server"))
		return
	}
	var req FeedbackRequest
	if err := s.decodeBody(c, &req); err != nil {
		writeError(c, err)
		return
	}
	f := store.Feedback{
		MessageID: strings.TrimSpace(req.MessageID),
		Rating:    strings.ToLower(strings.TrimSpace(req.Rating)),
		Comment:   strings.TrimSpace(req.Comment),
	}
	switch {
	case f.MessageID == "":
		writeError(c, kefu.Errorf(kefu.EInvalid, "message_id is required: the id of the answer rated"))
		return
	case f.Rating != store.RatingUp && f.Rating != store.RatingDown:
		writeError(c, kefu.Errorf(kefu.EInvalid, "rating %q is not \"up\" or \"down\"", clip(req.Rating)))
		return
	case !utf8.ValidString(f.Comment):
		writeError(c, kefu.Errorf(kefu.EInvalid, "comment is not valid UTF-8"))
		return
	}
	if n := utf8.RuneCountInString(f.Comment); n > maxCommentChars {
		writeError(c, kefu.Errorf(kefu.ETooLarge, "comment is %d characters; the limit is %d", n, maxCommentChars))
		return
	}
	conv, err := s.ownConversation(c)
	if err != nil {
		writeError(c, err)
		return
	}
	f.ConversationID = conv.ID
	f, err = s.feedback.PutFeedback(c.Request.Context(), f)
	switch kefu.ErrorCode(err) {
	case "":
	case kefu.ENotFound:
		writeError(c, kefu.WrapError(kefu.ENotFound, "message not found in this conversation", err))
		return
	default:
		writeError(c, err)
		return
	}
	s.feedbackTotal.WithLabelValues(f.Rating).Inc()
	c.JSON(http.StatusOK, feedbackView(f))
}

func feedbackView(f store.Feedback) *Feedback {
	return &Feedback{MessageID: f.MessageID, Rating: f.Rating, Comment: f.Comment, CreatedAt: f.CreatedAt}
}

// analyticsRoutes registers the knowledge-gap analytics for admins.
func (s *Server) analyticsRoutes(r gin.IRouter) {
	r.GET("/v1/admin/analytics", s.requireAnalytics, s.getAnalytics)
}

// requireAnalytics admits an admin API key. Analytics show shoppers'
// words, so, like the agent API, they are closed when no keys are
// configured. Each access is audited when there is an audit log; one that
// cannot be recorded is refused.
func (s *Server) requireAnalytics(c *gin.Context) {
	if !s.staffKey(c, auth.RoleAdmin,
		"analytics are closed: no API keys are configured; add a key with role admin to auth.api_keys",
		"unauthorized: an admin API key is required",
		"may not read analytics; it needs role admin") {
		return
	}
	name, role := c.GetString(ginKeyName), c.GetString(ginKeyRole)
	if s.analytics == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "analytics are not configured on this server"))
		return
	}
	if s.auditLog != nil {
		rec := store.AuditRecord{At: time.Now(), Actor: name, Role: role, Action: "analytics.view"}
		if err := s.auditLog.AppendAudit(c.Request.Context(), rec); err != nil {
			writeError(c, kefu.WrapError(kefu.EUnavailable, "the audit log is unavailable, so admin access is refused", err))
			return
		}
	}
	c.Next()
}

// getAnalytics reports ratings and knowledge gaps: GET
// /v1/admin/analytics?limit=20. limit (1 to 200) bounds both lists: the
// latest "down" ratings with their questions, and the latest questions
// that the shop's knowledge could not answer.
func (s *Server) getAnalytics(c *gin.Context) {
	limit := defaultAnalyticsLimit
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAnalyticsLimit {
			writeError(c, kefu.Errorf(kefu.EInvalid, "limit %q is not a whole number from 1 to %d", clip(v), maxAnalyticsLimit))
			return
		}
		limit = n
	}
	ctx := c.Request.Context()
	st, err := s.analytics.FeedbackStats(ctx, limit)
	if err != nil {
		writeError(c, fmt.Errorf("feedback stats: %w", err))
		return
	}
	gaps, err := s.analytics.AnswersByReason(ctx, escalate.ReasonNoKnowledge, limit)
	if err != nil {
		writeError(c, fmt.Errorf("knowledge gaps: %w", err))
		return
	}
	c.JSON(http.StatusOK, Analytics{
		Feedback:      FeedbackSummary{Up: st.Up, Down: st.Down, RecentDown: exchanges(st.RecentDown)},
		KnowledgeGaps: exchanges(gaps),
	})
}

// exchanges shows stored exchanges with personal data redacted; never nil.
func exchanges(in []store.Exchange) []Exchange {
	out := make([]Exchange, len(in))
	for i, ex := range in {
		a := ex.Answer
		out[i] = Exchange{
			ConversationID: a.ConversationID, MessageID: a.ID, Question: redact(ex.Question.Content), Answer: redact(a.Content),
			Intent: a.Intent, Decision: a.Decision, Reason: a.Reason, PromptVersion: a.PromptVersion, AnsweredAt: a.CreatedAt,
		}
		if f := ex.Feedback; f != nil {
			at := f.CreatedAt
			out[i].Rating, out[i].Comment, out[i].RatedAt = f.Rating, redact(f.Comment), &at
		}
	}
	return out
}

func redact(text string) string {
	out, _ := guard.Redact(text)
	return out
}
