package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/store"
)

// PeriodReader sums up a period for the dashboard (the embedded store's
// PeriodStats). The analytics store serves GET /v1/admin/analytics/period
// when it has this method.
type PeriodReader interface {
	PeriodStats(ctx context.Context, from, to time.Time) (store.PeriodStats, error)
}

var _ PeriodReader = (*store.Bolt)(nil)

// Bounds of the period analytics.
const (
	defaultPeriod   = 7 * 24 * time.Hour
	periodGapsRead  = 200 // the latest unanswered questions grouped
	periodTopN      = 10  // intents shown
	periodMaxGroups = 50  // knowledge-gap groups shown
)

// PeriodAnalytics is the body of GET /v1/admin/analytics/period: the
// dashboard's figures for [from, to). Rates are in 0..1 (0 with no
// conversations). Durations are in seconds.
type PeriodAnalytics struct {
	From                 time.Time        `json:"from"`
	To                   time.Time        `json:"to"`
	Conversations        int              `json:"conversations"`
	ResolvedWithoutHuman int              `json:"resolved_without_human"`
	ResolutionRate       float64          `json:"resolution_rate"`
	Escalated            int              `json:"escalated"`
	EscalationRate       float64          `json:"escalation_rate"`
	Answers              int              `json:"answers"`
	TopIntents           []Count          `json:"top_intents"`
	Decisions            map[string]int   `json:"decisions"`
	Feedback             UpDown           `json:"feedback"`
	Tickets              int              `json:"tickets"`
	ByReason             map[string]int   `json:"by_reason"`
	ByStatus             map[string]int   `json:"by_status"`
	ByOutcome            map[string]int   `json:"by_outcome"`
	FirstResponse        Durations        `json:"first_response"`
	TimeToResolution     Durations        `json:"time_to_resolution"`
	Days                 []store.DayStats `json:"days"`
	KnowledgeGaps        []GapGroup       `json:"knowledge_gaps"`
}

// Count is a name with how often it occurred.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// UpDown counts ratings given in the period.
type UpDown struct {
	Up   int `json:"up"`
	Down int `json:"down"`
}

// Durations summarise measured times, in seconds.
type Durations struct {
	Count         int     `json:"count"`
	MedianSeconds float64 `json:"median_seconds"`
	P90Seconds    float64 `json:"p90_seconds"`
}

// GapGroup is one question the knowledge could not answer, as asked (the
// latest wording, personal data redacted), with how often it was asked in
// the period.
type GapGroup struct {
	Question       string    `json:"question"`
	Count          int       `json:"count"`
	LastAskedAt    time.Time `json:"last_asked_at"`
	ConversationID string    `json:"conversation_id"`
}

func (s *Server) periodRoutes(r gin.IRouter) {
	r.GET("/v1/admin/analytics/period", s.requireAnalytics, s.getPeriod)
}

// getPeriod reports the period's figures: GET
// /v1/admin/analytics/period?from=2026-12-01&to=2026-12-08 (dates, UTC,
// to exclusive, or RFC 3339 times); without them the 7 UTC days ending
// with today.
func (s *Server) getPeriod(c *gin.Context) {
	pr, ok := s.analytics.(PeriodReader)
	if !ok {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "period analytics are not served by this store"))
		return
	}
	tomorrow := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	to, err := periodTime("to", c.Query("to"), tomorrow)
	if err != nil {
		writeError(c, err)
		return
	}
	from, err := periodTime("from", c.Query("from"), to.Add(-defaultPeriod))
	if err != nil {
		writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	st, err := pr.PeriodStats(ctx, from, to)
	if err != nil {
		writeError(c, err)
		return
	}
	rate := func(n int) float64 {
		if st.Conversations == 0 {
			return 0
		}
		return float64(n) / float64(st.Conversations)
	}
	out := PeriodAnalytics{
		From: from, To: to, Conversations: st.Conversations,
		ResolvedWithoutHuman: st.ResolvedByBot, ResolutionRate: rate(st.ResolvedByBot),
		Escalated: st.Escalated, EscalationRate: rate(st.Escalated),
		Answers: st.Answers, TopIntents: top(st.ByIntent, periodTopN), Decisions: st.ByDecision,
		Feedback: UpDown{Up: st.FeedbackUp, Down: st.FeedbackDown},
		Tickets:  st.Tickets, ByReason: st.ByReason, ByStatus: st.ByStatus, ByOutcome: st.ByOutcome,
		FirstResponse: durations(st.FirstResponses), TimeToResolution: durations(st.Resolutions),
		Days: st.Days, KnowledgeGaps: []GapGroup{},
	}
	gaps, err := s.analytics.AnswersByReason(ctx, escalate.ReasonNoKnowledge, periodGapsRead)
	if err != nil {
		writeError(c, fmt.Errorf("knowledge gaps: %w", err))
		return
	}
	out.KnowledgeGaps = groupGaps(gaps, from, to)
	c.JSON(http.StatusOK, out)
}

// periodTime reads a date (2006-01-02, UTC midnight) or an RFC 3339 time.
func periodTime(name, v string, def time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, kefu.Errorf(kefu.EInvalid, "%s %q is not a date (2006-01-02) or an RFC 3339 time", name, clip(v))
}

// top returns the n most frequent names, most frequent first (ties by
// name); never nil.
func top(m map[string]int, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Name: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out[:min(n, len(out))]
}

// durations summarises sorted durations: the median and the 90th
// percentile (nearest rank).
func durations(d []time.Duration) Durations {
	out := Durations{Count: len(d)}
	if len(d) == 0 {
		return out
	}
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))].Seconds()
	}
	if len(d)%2 == 1 {
		out.MedianSeconds = d[len(d)/2].Seconds()
	} else {
		out.MedianSeconds = (d[len(d)/2-1].Seconds() + d[len(d)/2].Seconds()) / 2
	}
	out.P90Seconds = at(0.9)
	return out
}

// groupGaps groups the period's unanswered questions by their folded form
// (sameQuestion), most asked first; never nil.
func groupGaps(in []store.Exchange, from, to time.Time) []GapGroup {
	groups := map[string]*GapGroup{}
	var order []string
	for _, ex := range in { // newest first
		at := ex.Answer.CreatedAt
		q := strings.TrimSpace(ex.Question.Content)
		if q == "" || at.Before(from) || !at.Before(to) {
			continue
		}
		key := sameQuestion(q)
		g, ok := groups[key]
		if !ok {
			g = &GapGroup{Question: redact(q), LastAskedAt: at, ConversationID: ex.Answer.ConversationID}
			groups[key] = g
			order = append(order, key)
		}
		g.Count++
	}
	out := make([]GapGroup, 0, len(order))
	for _, k := range order {
		out = append(out, *groups[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out[:min(periodMaxGroups, len(out))]
}
