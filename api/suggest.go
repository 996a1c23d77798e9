package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// Limits of the agent copilot.
const (
	// suggestTries is how many of the shopper's latest messages are tried,
	// newest first, for one that the knowledge answers ("I want a person"
	// is not a question the knowledge answers; the question before it is).
	suggestTries = 3
	// suggestTimeout bounds the drafting of one suggestion.
	suggestTimeout = 20 * time.Second
	// maxConversationRead bounds the messages read for the console.
	maxConversationRead = 500
)

// Suggestion is the body of GET /v1/agent/tickets/{id}/suggestion: a reply
// drafted by the answering pipeline from the shop's knowledge, for the agent
// to edit before sending. Question is the shopper's message it answers,
// Answer the draft with its [n] markers and Citations its sources; Decision
// is the pipeline's (answer, clarify, escalate, refuse). Found is false when
// none of the shopper's latest messages is answered by the knowledge; the
// draft is then the pipeline's holding reply.
type Suggestion struct {
	TicketID  string     `json:"ticket_id"`
	Question  string     `json:"question"`
	Answer    string     `json:"answer"`
	Citations []Citation `json:"citations"`
	Decision  string     `json:"decision"`
	Intent    string     `json:"intent,omitempty"`
	Backend   string     `json:"backend,omitempty"`
	Found     bool       `json:"found"`
}

// copilotRoutes registers the agent copilot and the live conversation of a
// ticket, under the agent API's guard and audit.
func (s *Server) copilotRoutes(g gin.IRouter) {
	g.GET("/tickets/:id/suggestion", s.suggestReply)
	g.GET("/tickets/:id/messages", s.ticketMessages)
	g.POST("/tickets/:id/note", s.noteTicket)
}

// AgentNotes keeps agents' internal notes on tickets (package escalate's
// Desk); the agent desk serves POST /v1/agent/tickets/{id}/note when it
// has this method.
type AgentNotes interface {
	Note(ctx context.Context, id, agent, text string) (store.Ticket, error)
}

var _ AgentNotes = (*escalate.Desk)(nil)

// NoteRequest is the body of POST /v1/agent/tickets/{id}/note.
type NoteRequest struct {
	Note string `json:"note"`
}

// noteTicket adds an internal note: POST /v1/agent/tickets/{id}/note
// {"note"}. The shopper never sees it and the assistant never reads it; it
// answers the ticket with its packet, notes included.
func (s *Server) noteTicket(c *gin.Context) {
	notes, ok := s.agents.(AgentNotes)
	if !ok {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "internal notes are not kept by this server's desk"))
		return
	}
	var req NoteRequest
	if err := s.decodeBody(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if err := s.checkText("note", req.Note); err != nil {
		writeError(c, err)
		return
	}
	t, err := notes.Note(c.Request.Context(), c.Param("id"), c.GetString(ginKeyName), req.Note)
	writeTicketWithPacket(c, t, err)
}

// ticketMessages returns the ticket's conversation as it is now (the
// packet holds it as it was at the handoff): GET
// /v1/agent/tickets/{id}/messages, oldest first.
func (s *Server) ticketMessages(c *gin.Context) {
	t, msgs, err := s.ticketConversation(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	out := MessagesResponse{ConversationID: t.ConversationID, Messages: make([]ConversationMessage, 0, len(msgs))}
	for _, m := range msgs {
		if m.Role == kefu.RoleSystem {
			continue
		}
		out.Messages = append(out.Messages, conversationMessage(m))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) ticketConversation(ctx context.Context, id string) (store.Ticket, []store.Message, error) {
	t, err := s.tickets.Ticket(ctx, id)
	if err != nil {
		return store.Ticket{}, nil, ticketErr(err)
	}
	if s.convs == nil {
		return t, nil, kefu.Errorf(kefu.EUnavailable, "the conversation store is not configured on this server")
	}
	msgs, err := s.convs.Messages(ctx, t.ConversationID, maxConversationRead)
	if err != nil {
		return t, nil, fmt.Errorf("read the ticket's conversation: %w", err)
	}
	return t, msgs, nil
}

// suggestReply drafts a reply to the ticket's shopper: it runs the
// answering pipeline, as the shopper (their orders, their language), on
// their latest message, or the one before when the latest is not answered
// from the knowledge (a request for a person). Nothing is stored and the
// shopper sees nothing until the agent sends it.
func (s *Server) suggestReply(c *gin.Context) {
	if s.answerer == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "the answering pipeline is not configured on this server"))
		return
	}
	t, msgs, err := s.ticketConversation(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), suggestTimeout)
	defer cancel()
	out := Suggestion{TicketID: t.ID, Citations: []Citation{}}
	tried := 0
	for i := len(msgs) - 1; i >= 0 && tried < suggestTries; i-- {
		m := msgs[i]
		if m.Role != kefu.RoleUser || refusedTurn(msgs, i) {
			continue
		}
		tried++
		turn := rag.Turn{ConversationID: t.ConversationID, CustomerID: t.CustomerID, Message: m.Content,
			Locale: t.Locale, Channel: "agent_assist", History: historyMessages(msgs[:i])}
		res, err := rag.Collect(s.answerer.Stream(ctx, turn))
		if err != nil {
			writeError(c, fmt.Errorf("draft a suggested reply: %w", err))
			return
		}
		found := res.Meta.Decision == rag.DecideAnswer && len(res.Citations) > 0
		if tried == 1 || found {
			out.Question, out.Answer, out.Decision = m.Content, res.Answer, res.Meta.Decision
			out.Intent, out.Backend, out.Found = res.Meta.Intent, res.Meta.Backend, found
			out.Citations = citations(res.Citations)
			if out.Citations == nil {
				out.Citations = []Citation{}
			}
		}
		if found {
			break
		}
	}
	c.JSON(http.StatusOK, out)
}

// refusedTurn reports whether the shopper's message msgs[i] was refused as
// an attempt to manipulate the assistant: it is never drafted for.
func refusedTurn(msgs []store.Message, i int) bool {
	for _, m := range msgs[i+1:] {
		if m.Role == kefu.RoleUser {
			return false
		}
		if m.Refused || strings.HasPrefix(m.Reason, reasonInjection) {
			return m.ReplyTo == "" || m.ReplyTo == msgs[i].ID
		}
	}
	return false
}
