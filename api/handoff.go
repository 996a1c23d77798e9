package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/telemetry"
)

// Handoff hands chat turns to people (package escalate's Desk).
type Handoff interface {
	// Assess decides whether a finished turn goes to a person, why, how
	// urgently and to which team.
	Assess(t escalate.Turn) (escalate.Decision, bool)
	// ActiveTicket returns the conversation's open or claimed ticket, or
	// a kefu.ENotFound error.
	ActiveTicket(ctx context.Context, conversationID string) (store.Ticket, error)
	// Sync opens, raises or refreshes the conversation's ticket after a
	// turn was stored, and reports the change made (escalate.Change*).
	Sync(ctx context.Context, conversationID string, d *escalate.Decision) (store.Ticket, string, error)
}

var _ Handoff = (*escalate.Desk)(nil)

// triage applies the escalation policy to a turn's events on their way to
// the client. The pipeline's own escalation gets the policy's reason and
// team; a turn the pipeline answered but the policy hands over (a safety
// issue, a large refund, the third "I don't know") gets a notice at the
// end of its answer and an escalation event after its citations.
type triage struct {
	handoff  Handoff
	turn     escalate.Turn
	assessed bool
	decision *escalate.Decision
	notice   string
}

func (s *Server) newTriage(turn rag.Turn, history []store.Message) *triage {
	if s.handoff == nil {
		return nil
	}
	return &triage{handoff: s.handoff, turn: escalate.Turn{Message: turn.Message, History: history}}
}

func (tr *triage) assess() *escalate.Decision {
	tr.assessed = true
	if d, ok := tr.handoff.Assess(tr.turn); ok {
		tr.decision = &d
	}
	return tr.decision
}

// filter puts the triage in front of onEvent; a nil triage lets every
// event through as it is.
func (tr *triage) filter(onEvent func(rag.Event) error) func(rag.Event) error {
	if tr == nil {
		return onEvent
	}
	return func(ev rag.Event) error {
		var before, after []rag.Event
		switch ev.Type {
		case rag.EventMeta:
			if ev.Meta != nil {
				tr.turn.Meta = *ev.Meta
			}
		case rag.EventEscalation:
			tr.turn.Escalation = ev.Escalation
			if d := tr.assess(); d != nil {
				ev.Escalation = &rag.Escalation{Reason: d.Reason, Team: d.Team}
			}
		case rag.EventCitations, rag.EventDone:
			// Every delta is out. A pipeline that escalates sends its own
			// escalation event next; otherwise the policy decides now.
			pipelineEscalates := tr.turn.Meta.Decision == rag.DecideEscalate
			if !tr.assessed && (!pipelineEscalates || ev.Type == rag.EventDone) {
				if d := tr.assess(); d != nil {
					if !pipelineEscalates {
						tr.notice = escalate.HandoffNotice(d.Locale)
						before = append(before, rag.Event{Type: rag.EventDelta, Delta: tr.notice})
					}
					esc := rag.Event{Type: rag.EventEscalation, Escalation: &rag.Escalation{Reason: d.Reason, Team: d.Team}}
					if ev.Type == rag.EventCitations {
						after = append(after, esc)
					} else {
						before = append(before, esc)
					}
				}
			}
			if ev.Type == rag.EventDone && ev.Done != nil && tr.notice != "" {
				ev.Done = &rag.Done{Answer: ev.Done.Answer + tr.notice, Backend: ev.Done.Backend}
			}
		}
		if before == nil && after == nil {
			return onEvent(ev) // nearly every event: a delta
		}
		for _, e := range append(append(before, ev), after...) {
			if err := onEvent(e); err != nil {
				return err
			}
		}
		return nil
	}
}

// finish settles a turn whose stream ended early: a turn understood well
// enough to have a decision is still assessed, so that a failing backend
// does not keep an angry or endangered shopper from a person.
func (tr *triage) finish() *escalate.Decision {
	if tr == nil {
		return nil
	}
	if !tr.assessed && tr.turn.Meta.Decision != "" {
		tr.assess()
	}
	return tr.decision
}

// syncTicket brings the conversation's ticket up to date after a turn, and
// returns the id of its active ticket ("" for none). It runs even when the
// client has gone; a failure is recorded for the log and never fails the
// turn: the shopper's answer neither waits for nor depends on the ticket.
func (s *Server) syncTicket(c *gin.Context, conversationID string, d *escalate.Decision) string {
	if s.handoff == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), saveTimeout)
	defer cancel()
	var res *ticketReservation
	if d != nil {
		var existing string
		var stop bool
		if res, existing, stop = s.reserveTicket(ctx, c, conversationID); stop {
			return existing
		}
	}
	t, change, err := s.handoff.Sync(ctx, conversationID, d)
	if res != nil {
		opened := ""
		if err == nil && change == escalate.ChangeOpened {
			opened = t.ID
		}
		s.limits.tickets.settle(res.owner, res.question, res.at, conversationID, opened)
	}
	if err != nil {
		_ = c.Error(fmt.Errorf("hand the conversation over: %w", err))
		return ""
	}
	switch change {
	case escalate.ChangeOpened:
		s.handoffMetrics.opened.WithLabelValues(label(t.Reason), label(t.Priority)).Inc()
	case escalate.ChangeBotResolved:
		s.handoffMetrics.outcomes.WithLabelValues(store.OutcomeBot).Inc()
	}
	if t.Active() {
		return t.ID
	}
	return ""
}

// ticketReservation is a place taken in the ticket cap for a ticket about
// to be opened.
type ticketReservation struct {
	owner, question string
	at              time.Time
}

// reserveTicket applies the ticket cap to a turn that would open a ticket.
// A conversation that already has an open ticket is not capped (its ticket
// is raised). A question its shopper already has an open ticket for, from
// another conversation, joins that ticket: stop is true and existing names
// it. A shopper over TicketsPerHour gets no new ticket (stop, and no id);
// the turn's answer stands. Otherwise the place is reserved for the caller
// to settle.
func (s *Server) reserveTicket(ctx context.Context, c *gin.Context, conversationID string) (res *ticketReservation, existing string, stop bool) {
	if _, err := s.handoff.ActiveTicket(ctx, conversationID); err == nil {
		return nil, "", false
	}
	owner := "address:" + clientAddress(c)
	if id := customerFrom(c.Request.Context()); id != "" {
		owner = "customer:" + id
	}
	question := ""
	if msgs, err := s.convs.Messages(ctx, conversationID, 4); err == nil {
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].Role == kefu.RoleUser {
				question = sameQuestion(msgs[i].Content)
				break
			}
		}
	}
	now := time.Now()
	dups, ok := s.limits.tickets.admit(owner, question, now)
	for i := len(dups) - 1; i >= 0; i-- { // newest first
		t, err := s.handoff.ActiveTicket(ctx, dups[i].conversationID)
		if err == nil && t.ID == dups[i].ticketID {
			if ok {
				s.limits.tickets.settle(owner, question, now, conversationID, "")
			}
			s.limits.refused.WithLabelValues("tickets_duplicate").Inc()
			return nil, t.ID, true
		}
	}
	if !ok {
		s.limits.refused.WithLabelValues("tickets").Inc()
		_ = c.Error(kefu.Errorf(codeRateLimited, "no ticket opened: this shopper opened %d tickets in the last hour", s.cfg.Limits.TicketsPerHour))
		return nil, "", true
	}
	return &ticketReservation{owner: owner, question: question, at: now}, "", false
}

// ownedByPerson returns the conversation's ticket when a person has
// claimed it. A failing ticket store is recorded and lets the assistant
// answer.
func (s *Server) ownedByPerson(c *gin.Context, conversationID string) (store.Ticket, bool) {
	if s.handoff == nil {
		return store.Ticket{}, false
	}
	t, err := s.handoff.ActiveTicket(c.Request.Context(), conversationID)
	if err != nil {
		if kefu.ErrorCode(err) != kefu.ENotFound {
			_ = c.Error(fmt.Errorf("look up the conversation's ticket: %w", err))
		}
		return store.Ticket{}, false
	}
	return t, t.Status == store.TicketClaimed
}

// chatHuman answers a shopper's message in a conversation a person owns:
// the message (already stored) joins the ticket, the assistant is not
// called, and the reply says that the person will answer. The reply is
// stored too, so that the conversation shows what the shopper saw.
func (s *Server) chatHuman(c *gin.Context, req ChatRequest, t store.Ticket, userID string) {
	locale := req.Locale
	if locale == "" {
		locale = rag.DetectLocale(req.Message)
	}
	text := escalate.HumanNotice(locale)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), saveTimeout)
	defer cancel()
	var msgID string
	m, err := s.convs.AppendMessage(ctx, store.Message{
		ConversationID: t.ConversationID, Role: kefu.RoleAssistant, Content: text, Intent: t.Intent, Decision: DecisionHuman,
		ReplyTo: userID, RequestID: telemetry.RequestID(ctx),
	})
	if err != nil {
		_ = c.Error(fmt.Errorf("store the reply: %w", err))
	} else {
		msgID = m.ID
	}
	ticketID := s.syncTicket(c, t.ConversationID, nil)
	if ticketID == "" {
		ticketID = t.ID
	}
	s.metrics.turns.WithLabelValues(DecisionHuman, label(t.Intent)).Inc()
	resp := ChatResponse{
		ConversationID: t.ConversationID, MessageID: msgID, Answer: text, Citations: []Citation{}, Intent: t.Intent,
		Escalated: true, Escalation: &Escalation{Reason: t.Reason, Team: t.Team}, Backend: DecisionHuman,
		Decision: DecisionHuman, Locale: locale, TicketID: ticketID,
	}
	if !wantsStream(c.Request) {
		c.JSON(http.StatusOK, resp)
		return
	}
	startStream(c)
	sse := &sseWriter{w: c.Writer}
	_ = sse.event(EventMeta, StreamMeta{ConversationID: resp.ConversationID, Intent: resp.Intent, Locale: locale,
		Decision: DecisionHuman, Backend: DecisionHuman})
	_ = sse.event(EventDelta, StreamDelta{Text: text})
	_ = sse.event(EventCitations, resp.Citations)
	_ = sse.event(EventEscalation, resp.Escalation)
	_ = sse.event(EventDone, resp)
}

func startStream(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	c.Writer.Flush()
}

// hub passes the messages agents write to the streams shoppers hold open
// on their conversations, within this process; with a MessageBus, the
// Server relays other replicas' messages to it too.
type hub struct {
	mu     sync.Mutex
	subs   map[string]map[chan store.Message]struct{}
	closed bool
	done   chan struct{}
}

// subBuffer is how many messages may wait for a subscriber; one that falls
// further behind is cut off and catches up by polling.
const subBuffer = 16

func newHub() *hub {
	return &hub{subs: map[string]map[chan store.Message]struct{}{}, done: make(chan struct{})}
}

// subscribe returns the messages published to a conversation from now on,
// and a function that ends the subscription. The channel is closed when
// the subscriber falls behind or the hub closes.
func (h *hub) subscribe(conversationID string) (<-chan store.Message, func()) {
	ch := make(chan store.Message, subBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	if h.subs[conversationID] == nil {
		h.subs[conversationID] = map[chan store.Message]struct{}{}
	}
	h.subs[conversationID][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[conversationID][ch]; ok {
			delete(h.subs[conversationID], ch)
			if len(h.subs[conversationID]) == 0 {
				delete(h.subs, conversationID)
			}
			close(ch)
		}
	}
}

// publish hands m to every subscriber of its conversation without waiting.
func (h *hub) publish(m store.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[m.ConversationID] {
		select {
		case ch <- m:
		default:
			delete(h.subs[m.ConversationID], ch)
			close(ch)
		}
	}
}

// watched reports whether a stream is open on conversationID.
func (h *hub) watched(conversationID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[conversationID]) > 0
}

// cutAll ends every subscription, as if each had fallen behind: their
// streams end and their clients catch up by polling.
func (h *hub) cutAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, subs := range h.subs {
		for ch := range subs {
			close(ch)
		}
		delete(h.subs, id)
	}
}

// close ends every subscription, so that open streams end on shutdown.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.done)
	for id, subs := range h.subs {
		for ch := range subs {
			close(ch)
		}
		delete(h.subs, id)
	}
}

// conversationMessages lists a conversation's messages for its shopper:
// GET /v1/conversations/{id}/messages?after=MESSAGE_ID, with the same
// ownership rule as chat. With Accept: text/event-stream it sends them as
// "message" events and then each agent reply as it is written, until the
// client leaves.
func (s *Server) conversationMessages(c *gin.Context) {
	if s.convs == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "conversations are not configured on this server"))
		return
	}
	conv, err := s.ownConversation(c)
	if err != nil {
		writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	stream := wantsStream(c.Request)
	var live <-chan store.Message
	if stream {
		// Subscribe before reading, so that nothing written in between is
		// missed; a message both read and published is sent once.
		var cancel func()
		live, cancel = s.hub.subscribe(conv.ID)
		defer cancel()
	}
	all, err := s.convs.Messages(ctx, conv.ID, 0)
	if err != nil {
		writeError(c, fmt.Errorf("read messages: %w", err))
		return
	}
	after := strings.TrimSpace(c.Query("after"))
	backlog, err := messagesAfter(all, after)
	if err != nil {
		writeError(c, err)
		return
	}
	if !stream {
		c.JSON(http.StatusOK, MessagesResponse{ConversationID: conv.ID, Messages: backlog})
		return
	}

	startStream(c)
	sse := &sseWriter{w: c.Writer}
	sent := map[string]bool{}
	for _, m := range backlog {
		sent[m.ID] = true
		if sse.event(EventMessage, m) != nil {
			return
		}
	}
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.hub.done:
			return
		case <-tick.C:
			if sse.ping() != nil {
				return
			}
		case m, ok := <-live:
			if !ok {
				return // fell behind, or shutting down: the client polls with ?after=
			}
			if sent[m.ID] || !visible(m) {
				continue
			}
			sent[m.ID] = true
			if sse.event(EventMessage, conversationMessage(m)) != nil {
				return
			}
		}
	}
}

// messagesAfter returns the messages a shopper may see after the one with
// id after (all of them for ""), as the API shows them. An id that is not
// in the conversation is invalid.
func messagesAfter(all []store.Message, after string) ([]ConversationMessage, error) {
	start := 0
	if after != "" {
		start = -1
		for i, m := range all {
			if m.ID == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, kefu.Errorf(kefu.EInvalid, "after: message %q is not in this conversation", clip(after))
		}
	}
	out := []ConversationMessage{}
	for _, m := range all[start:] {
		if visible(m) {
			out = append(out, conversationMessage(m))
		}
	}
	return out, nil
}

// visible reports whether a shopper sees a message (system notes are the
// shop's own).
func visible(m store.Message) bool {
	return m.Role == kefu.RoleUser || m.Role == kefu.RoleAssistant || m.Role == kefu.RoleAgent
}

func conversationMessage(m store.Message) ConversationMessage {
	out := ConversationMessage{ID: m.ID, Role: m.Role, Content: m.Content, CreatedAt: m.CreatedAt, Decision: m.Decision}
	if len(m.Citations) > 0 {
		_ = json.Unmarshal(m.Citations, &out.Citations) // stored by chat as []Citation
	}
	return out
}
