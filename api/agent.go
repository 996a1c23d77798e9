package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/store"
)

// AgentDesk is what human agents do to tickets (package escalate's Desk).
// A ticket claimed by someone else or closed is a kefu.EConflict.
type AgentDesk interface {
	Claim(ctx context.Context, id, agent string) (store.Ticket, error)
	Reply(ctx context.Context, id, agent, text string) (store.Ticket, store.Message, error)
	Resolve(ctx context.Context, id, agent, outcome string) (store.Ticket, error)
}

// TicketReader reads tickets for the agents' queue and analytics. Unknown
// ids fail with kefu.ENotFound.
type TicketReader interface {
	Ticket(ctx context.Context, id string) (store.Ticket, error)
	Tickets(ctx context.Context, f store.TicketFilter) ([]store.Ticket, error)
	TicketStats(ctx context.Context) (store.TicketStats, error)
}

// AuditLog records each access of an agent or admin to the agent API.
type AuditLog interface {
	AppendAudit(ctx context.Context, r store.AuditRecord) error
}

var (
	_ AgentDesk    = (*escalate.Desk)(nil)
	_ TicketReader = (*store.Bolt)(nil)
	_ AuditLog     = (*store.Bolt)(nil)
)

// Gin keys set by requireAgent.
const ginKeyRole = "kefu.api_key_role"

// Limits of the agent API.
const (
	defaultQueueLimit = 100
	maxQueueLimit     = 500
	maxTeamLen        = 64
)

// handoffMetrics count tickets and how they end.
type handoffMetrics struct {
	opened   *prometheus.CounterVec // kefu_tickets_opened_total{reason,priority}
	outcomes *prometheus.CounterVec // kefu_handoff_outcomes_total{outcome}
}

func newHandoffMetrics(reg prometheus.Registerer, log *slog.Logger) *handoffMetrics {
	m := &handoffMetrics{
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_tickets_opened_total",
			Help: "Conversations handed to people (tickets opened), by reason and priority.",
		}, []string{"reason", "priority"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_handoff_outcomes_total",
			Help: "Tickets closed, by outcome: human (resolved by a person), bot (the assistant answered after all), abandoned.",
		}, []string{"outcome"}),
	}
	m.opened = register(reg, m.opened, log)
	m.outcomes = register(reg, m.outcomes, log)
	return m
}

// agentRoutes registers the agent API: the ticket queue, a ticket's
// packet, claim, reply, resolve and the handoff statistics. Every route
// needs an agent or admin API key, even when the rest of the API is open,
// and every access is audited.
func (s *Server) agentRoutes(r gin.IRouter) {
	g := r.Group("/v1/agent", s.requireAgent, s.audit)
	g.GET("/tickets", s.listTickets)
	g.GET("/tickets/:id", s.getTicket)
	g.POST("/tickets/:id/claim", s.claimTicket)
	g.POST("/tickets/:id/reply", s.replyTicket)
	g.POST("/tickets/:id/resolve", s.resolveTicket)
	g.GET("/stats", s.agentStats)
	s.copilotRoutes(g)
}

// requireAgent admits a request with an API key whose role allows agent
// work. Unlike requireRole it never admits an anonymous caller: with no
// keys configured the agent API is closed.
func (s *Server) requireAgent(c *gin.Context) {
	if !s.staffKey(c, auth.RoleAgent,
		"the agent API is closed: no API keys are configured; add a key with role agent or admin to auth.api_keys",
		"unauthorized: an agent or admin API key is required",
		"may not use the agent API; it needs role agent or admin") {
		return
	}
	if s.agents == nil || s.tickets == nil || s.auditLog == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "the agent desk is not configured on this server"))
		return
	}
	c.Next()
}

// staffKey admits a request whose API key has a role allowing need, and
// records the key's name and role for the handlers and the audit log. Staff
// routes never admit an anonymous caller: with no keys configured they are
// closed. The three texts are the closed, missing-key and wrong-role
// messages; it writes the error and returns false when it refuses.
func (s *Server) staffKey(c *gin.Context, need auth.Role, closed, missing, wrongRole string) bool {
	if s.keys.Len() == 0 {
		writeError(c, kefu.Errorf(kefu.EForbidden, "%s", closed))
		return false
	}
	if err := s.authBlocked(c); err != nil {
		writeError(c, err)
		return false
	}
	presented := presentedKey(c.Request)
	name, role, ok := s.keys.Lookup(presented)
	if presented == "" {
		sname, srole, found, err := s.sessionKey(c)
		if err != nil {
			writeError(c, err)
			return false
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
		writeError(c, s.authFailed(c, "", why, kefu.Errorf(kefu.EUnauthorized, "%s (Authorization: Bearer <key> or %s)", missing, HeaderAPIKey)))
		return false
	}
	c.Set(ginKeyName, name)
	c.Set(ginKeyRole, string(role))
	if !role.Allows(need) {
		writeError(c, s.authFailed(c, name, fmt.Sprintf("key of role %s on a route for %s", role, need),
			kefu.Errorf(kefu.EForbidden, "an API key with role %s %s", role, wrongRole)))
		return false
	}
	if err := s.admitKey(c, name); err != nil {
		writeError(c, err)
		return false
	}
	return true
}

// agentActions names what each agent route does, for the audit log.
var agentActions = map[string]string{
	"/v1/agent/tickets":                "ticket.list",
	"/v1/agent/tickets/:id":            "ticket.view",
	"/v1/agent/tickets/:id/claim":      "ticket.claim",
	"/v1/agent/tickets/:id/reply":      "ticket.reply",
	"/v1/agent/tickets/:id/resolve":    "ticket.resolve",
	"/v1/agent/stats":                  "stats.view",
	"/v1/agent/tickets/:id/suggestion": "ticket.suggest",
	"/v1/agent/tickets/:id/messages":   "ticket.messages",
	"/v1/agent/tickets/:id/note":       "ticket.note",
}

// audit records who does what to which ticket, and when, before the
// handler runs: an access that cannot be recorded is refused (503). After
// the handler it writes one "agent access" log line with the outcome. It
// never records a message's text.
func (s *Server) audit(c *gin.Context) {
	rec := store.AuditRecord{
		At:     time.Now(),
		Actor:  c.GetString(ginKeyName),
		Role:   c.GetString(ginKeyRole),
		Action: agentActions[c.FullPath()],
		Target: clip(c.Param("id")),
	}
	if rec.Action == "" {
		rec.Action = c.Request.Method + " " + c.FullPath()
	}
	if err := s.auditLog.AppendAudit(c.Request.Context(), rec); err != nil {
		writeError(c, kefu.WrapError(kefu.EUnavailable, "the audit log is unavailable, so agent access is refused", err))
		return
	}
	c.Next()
	s.log.LogAttrs(context.WithoutCancel(c.Request.Context()), slog.LevelInfo, "agent access",
		slog.String("actor", rec.Actor), slog.String("role", rec.Role), slog.String("action", rec.Action),
		slog.String("target", rec.Target), slog.Int("status", c.Writer.Status()), slog.Time("at", rec.At.UTC()))
}

// listTickets is the queue: GET /v1/agent/tickets?team=&status=&limit=.
// status is open, claimed, closed, active (open and claimed, the default)
// or all; the tickets come most urgent first, then oldest first.
func (s *Server) listTickets(c *gin.Context) {
	f := store.TicketFilter{Team: strings.TrimSpace(c.Query("team")), Limit: defaultQueueLimit}
	if len(f.Team) > maxTeamLen {
		writeError(c, kefu.Errorf(kefu.EInvalid, "team %q is longer than %d characters", clip(f.Team), maxTeamLen))
		return
	}
	switch st := strings.ToLower(strings.TrimSpace(c.Query("status"))); st {
	case "", "active":
		f.Statuses = []string{store.TicketOpen, store.TicketClaimed}
	case store.TicketOpen, store.TicketClaimed, store.TicketClosed:
		f.Statuses = []string{st}
	case "all":
		f.Statuses = []string{store.TicketOpen, store.TicketClaimed, store.TicketClosed}
	default:
		writeError(c, kefu.Errorf(kefu.EInvalid, "status %q is not one of open, claimed, closed, active, all", clip(st)))
		return
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxQueueLimit {
			writeError(c, kefu.Errorf(kefu.EInvalid, "limit %q is not a whole number from 1 to %d", clip(v), maxQueueLimit))
			return
		}
		f.Limit = n
	}
	ts, err := s.tickets.Tickets(c.Request.Context(), f)
	if err != nil {
		writeError(c, fmt.Errorf("list tickets: %w", err))
		return
	}
	out := TicketList{Tickets: make([]Ticket, len(ts))}
	for i, t := range ts {
		out.Tickets[i] = ticketView(t, nil)
	}
	c.JSON(http.StatusOK, out)
}

// getTicket returns a ticket with its handoff packet: GET
// /v1/agent/tickets/{id}. The packet is as the shopper wrote it, not
// redacted: the agent needs the details.
func (s *Server) getTicket(c *gin.Context) {
	t, err := s.tickets.Ticket(c.Request.Context(), c.Param("id"))
	writeTicketWithPacket(c, t, err)
}

// writeTicketWithPacket answers with the ticket t and its decoded handoff
// packet, or with the error of reading it (err) or of decoding it.
func writeTicketWithPacket(c *gin.Context, t store.Ticket, err error) {
	if err != nil {
		writeError(c, ticketErr(err))
		return
	}
	p, err := escalate.DecodePacket(t)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, ticketView(t, &p))
}

// claimTicket gives the ticket to the calling agent: POST
// /v1/agent/tickets/{id}/claim. From then on the assistant stays silent in
// the conversation. 409 when someone else has it or it is closed.
func (s *Server) claimTicket(c *gin.Context) {
	t, err := s.agents.Claim(c.Request.Context(), c.Param("id"), c.GetString(ginKeyName))
	if err != nil {
		writeError(c, ticketErr(err))
		return
	}
	c.JSON(http.StatusOK, ticketView(t, nil))
}

// replyTicket sends an agent's message to the shopper: POST
// /v1/agent/tickets/{id}/reply {"message"}. It is stored in the
// conversation as role "agent" (claiming an open ticket), pushed to the
// shopper's open message stream, and shown on their next poll.
func (s *Server) replyTicket(c *gin.Context) {
	var req ReplyRequest
	if err := s.decodeBody(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if err := s.checkText("message", req.Message); err != nil {
		writeError(c, err)
		return
	}
	t, m, err := s.agents.Reply(c.Request.Context(), c.Param("id"), c.GetString(ginKeyName), req.Message)
	if m.ID != "" {
		// Stored: the shopper sees it even if the ticket update failed.
		s.announce(c.Request.Context(), m.ConversationID, m.ID, func() { s.hub.publish(m) })
	}
	if err != nil {
		writeError(c, ticketErr(err))
		return
	}
	c.JSON(http.StatusOK, ReplyResponse{Ticket: ticketView(t, nil), Message: conversationMessage(m)})
}

// resolveTicket closes a ticket: POST /v1/agent/tickets/{id}/resolve
// {"outcome": "resolved"|"abandoned"}. The assistant answers the
// conversation again, with the agent's messages in its history.
func (s *Server) resolveTicket(c *gin.Context) {
	var req ResolveRequest
	if err := s.decodeBody(c, &req); err != nil {
		writeError(c, err)
		return
	}
	t, err := s.agents.Resolve(c.Request.Context(), c.Param("id"), c.GetString(ginKeyName), strings.TrimSpace(req.Outcome))
	if err != nil {
		writeError(c, ticketErr(err))
		return
	}
	s.handoffMetrics.outcomes.WithLabelValues(label(t.Outcome)).Inc()
	c.JSON(http.StatusOK, ticketView(t, nil))
}

// agentStats summarises handoffs: GET /v1/agent/stats.
func (s *Server) agentStats(c *gin.Context) {
	st, err := s.tickets.TicketStats(c.Request.Context())
	if err != nil {
		writeError(c, fmt.Errorf("ticket stats: %w", err))
		return
	}
	rate := func(n int) float64 {
		if st.Conversations == 0 {
			return 0
		}
		return float64(n) / float64(st.Conversations)
	}
	out := Stats{
		Conversations: st.Conversations, Tickets: st.Tickets, EscalationRate: rate(st.Tickets),
		ByReason: map[string]ReasonStats{}, Outcomes: map[string]int{store.OutcomeHuman: 0, store.OutcomeBot: 0, store.OutcomeAbandoned: 0},
		Open: st.ByStatus[store.TicketOpen], Claimed: st.ByStatus[store.TicketClaimed],
	}
	for r, n := range st.ByReason {
		out.ByReason[r] = ReasonStats{Tickets: n, Rate: rate(n)}
	}
	for o, n := range st.ByOutcome {
		out.Outcomes[o] = n
	}
	c.JSON(http.StatusOK, out)
}

// decodeBody reads a JSON request body into v, as strictly as chat does:
// one object, no unknown fields, within Config.MaxBodyBytes.
func (s *Server) decodeBody(c *gin.Context, v any) error {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return s.bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return s.bodyError(err)
		}
		return kefu.Errorf(kefu.EInvalid, "malformed JSON: the body must hold one JSON object and nothing after it")
	}
	return nil
}

// ticketErr keeps a ticket's not-found message short and free of the id
// the client sent.
func ticketErr(err error) error {
	if kefu.ErrorCode(err) == kefu.ENotFound {
		return kefu.WrapError(kefu.ENotFound, "ticket not found", err)
	}
	return err
}

func ticketView(t store.Ticket, p *escalate.Packet) Ticket {
	return Ticket{
		ID: t.ID, ConversationID: t.ConversationID, CustomerID: t.CustomerID, Status: t.Status, Reason: t.Reason,
		Priority: t.Priority, Team: t.Team, Intent: t.Intent, Locale: t.Locale, Assignee: t.Assignee, Outcome: t.Outcome,
		Summary: t.Summary, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, ClaimedAt: t.ClaimedAt, ClosedAt: t.ClosedAt, Packet: p,
	}
}
