package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/telemetry"
)

// The OpenAI-compatible face of the chat pipeline: any OpenAI client or
// chat UI can talk to kefu through POST /v1/chat/completions. The turn runs
// exactly as a chat turn does (the shopper's message stored first,
// retrieval, guardrails, handoff, the answer stored after); only the shapes
// on the wire are OpenAI's.

const (
	// defaultModel is the model a completion names when the request names
	// none, and the one model GET /v1/models lists.
	defaultModel = "kefu"
	// maxModelLen bounds the model name echoed back.
	maxModelLen = 128
	// completionChannel is the channel of conversations started through
	// the OpenAI-compatible API.
	completionChannel = "openai"
	// sourcesPrefix starts the line that lists an answer's sources.
	sourcesPrefix = "\n\nSources: "
)

// completionRoutes registers the OpenAI-compatible routes.
func (s *Server) completionRoutes(r gin.IRouter) {
	r.POST("/v1/chat/completions", s.openAIAuth, s.capStreams(true), s.chatCompletions)
	r.GET("/v1/models", s.openAIAuth, s.listModels)
}

// openAIAuth is requireRole(widget) and identifyShopper in one, answering
// in OpenAI's error shape: with keys configured, the API key comes in
// "Authorization: Bearer <key>" (as OpenAI clients send it) or X-API-Key;
// the shopper's identity only ever comes from the shopper token header.
func (s *Server) openAIAuth(c *gin.Context) {
	if err := s.checkKey(c, auth.RoleWidget, "unauthorized: a valid API key is required (Authorization: Bearer <key>)"); err != nil {
		writeOpenAIError(c, err)
		return
	}
	if err := s.checkShopper(c); err != nil {
		writeOpenAIError(c, err)
		return
	}
	c.Next()
}

// listModels lists the one model: GET /v1/models.
func (s *Server) listModels(c *gin.Context) {
	c.JSON(http.StatusOK, ModelList{Object: "list", Data: []Model{{ID: defaultModel, Object: "model", OwnedBy: "kefu"}}})
}

// completionQuery is a validated chat completion request.
type completionQuery struct {
	model        string
	question     string
	history      []kefu.Message // from the request, oldest first
	stream       bool
	includeUsage bool
	promptTokens int
	productID    string // the product page asked from, "" for none
	// clientMessageID is the question's idempotency key, "" for none.
	clientMessageID string
}

// chatCompletions answers the last user message of an OpenAI chat
// completion request: POST /v1/chat/completions. Without
// X-Kefu-Conversation-Id each request starts a stored conversation whose
// history is the request's earlier messages; with it, the named
// conversation continues with its stored history.
func (s *Server) chatCompletions(c *gin.Context) {
	if s.answerer == nil || s.convs == nil {
		writeOpenAIError(c, kefu.Errorf(kefu.EUnavailable, "chat is not configured on this server"))
		return
	}
	q, err := s.decodeCompletion(c)
	if err != nil {
		writeOpenAIError(c, err)
		return
	}
	ctx := c.Request.Context()
	customer := customerFrom(ctx)
	convID := strings.TrimSpace(c.GetHeader(HeaderConversationID))
	stored, err := s.storeQuestion(ctx, convID, customer, completionChannel, q.question, q.clientMessageID)
	if err != nil {
		writeOpenAIError(c, err)
		return
	}
	conv, user := stored.conv, stored.user
	c.Header(HeaderConversationID, conv.ID)
	reply, found, release, err := s.claimTurn(ctx, stored)
	if err != nil {
		writeOpenAIError(c, err)
		return
	}
	if found {
		s.replayCompletion(c, q, conv, reply)
		return
	}
	defer release()
	if t, owned := s.ownedByPerson(c, conv.ID); owned {
		s.completionHuman(c, q, t, user.ID)
		return
	}
	// The client's history is untrusted: the pipeline checks every
	// message of it as it checks the question, and withholds from the
	// model each one that reads as an attack.
	history, earlier := q.history, storedHistory(q.history)
	if convID != "" {
		if history, earlier, err = s.history(ctx, conv.ID, user.ID); err != nil {
			writeOpenAIError(c, fmt.Errorf("load the conversation history: %w", err))
			return
		}
	}
	turn := rag.Turn{ConversationID: conv.ID, CustomerID: customer, Message: q.question, Channel: completionChannel, History: history, ProductID: q.productID, MessageID: user.ID}
	tr := s.newTriage(turn, earlier)
	if q.stream {
		s.completionStream(c, q, turn, user.ID, tr)
		return
	}
	s.completionJSON(c, q, turn, user.ID, tr)
}

// completionJSON gathers the whole answer and replies with one
// chat.completion object; a turn that fails after the question was stored
// gets the degraded answer (see degrade), with kefu.degraded set.
func (s *Server) completionJSON(c *gin.Context, q completionQuery, turn rag.Turn, userID string, tr *triage) {
	ctx := c.Request.Context()
	var a answer
	start := time.Now()
	err := s.pump(ctx, turn, 0, tr.filter(func(ev rag.Event) error { a.add(ev); return nil }), nil)
	s.turnEnded(ctx, &a, err, "json", time.Since(start))
	degraded := degrade(ctx, &a, turn, err)
	msgID := s.saveAnswer(c, turn.ConversationID, userID, &a, err)
	ticketID := s.syncTicket(c, turn.ConversationID, tr.finish())
	if err != nil && !degraded {
		writeOpenAIError(c, err)
		return
	}
	if err != nil {
		_ = c.Error(err)
	}
	content := a.text() + sourcesLine(a.citations)
	c.JSON(http.StatusOK, ChatCompletion{
		ID: completionID(), Object: "chat.completion", Created: time.Now().Unix(), Model: q.model,
		Choices: []ChatCompletionChoice{{Message: ChatCompletionMessage{Role: kefu.RoleAssistant, Content: MessageContent(content)}, FinishReason: "stop"}},
		Usage:   usage(q.promptTokens, content),
		Kefu:    completionTurn(turn.ConversationID, msgID, ticketID, &a),
	})
}

// completionStream sends the answer as OpenAI chat.completion.chunk events
// while it is produced. Once the 200 is sent, a failure the shopper can
// still be answered after ends the stream as an answer does, the degraded
// text's rest as content and kefu.degraded set (an OpenAI client stops
// reading at an error event); any other failure arrives as a data event
// holding an OpenAI error, without the closing [DONE].
func (s *Server) completionStream(c *gin.Context, q completionQuery, turn rag.Turn, userID string, tr *triage) {
	ctx := c.Request.Context()
	startStream(c)
	cs := newChunkStream(c.Writer, q.model)
	_ = cs.content(ChunkContent{Role: kefu.RoleAssistant})

	var a answer
	start := time.Now()
	err := s.pump(ctx, turn, s.cfg.HeartbeatInterval, tr.filter(func(ev rag.Event) error {
		a.add(ev)
		if ev.Type == rag.EventDelta && ev.Delta != "" {
			return cs.content(ChunkContent{Content: ev.Delta})
		}
		return nil
	}), cs.sse.ping)
	s.turnEnded(ctx, &a, err, "sse", time.Since(start))
	degraded := cs.sse.err == nil && degrade(ctx, &a, turn, err)
	msgID := s.saveAnswer(c, turn.ConversationID, userID, &a, err)
	ticketID := s.syncTicket(c, turn.ConversationID, tr.finish())

	if cs.sse.err != nil { // the client is gone
		_ = c.Error(fmt.Errorf("stream: %w", cs.sse.err))
		return
	}
	if err != nil {
		_ = c.Error(err)
		if !degraded {
			if ctx.Err() == nil {
				_ = cs.sse.data(openAIError(err))
			}
			return
		}
	}
	// The final answer is what was stored; words that its deltas did not
	// carry still reach the client.
	streamed := a.deltas.String()
	if tail, ok := strings.CutPrefix(a.text(), streamed); !ok {
		_ = c.Error(errors.New("the answer's final text does not continue its streamed deltas"))
	} else if tail != "" {
		_ = cs.content(ChunkContent{Content: tail})
	}
	cs.finish(sourcesLine(a.citations), completionTurn(turn.ConversationID, msgID, ticketID, &a), q)
}

// completionHuman answers in a conversation a person owns, as chatHuman
// does: the assistant stays silent and the reply says a person will
// answer.
func (s *Server) completionHuman(c *gin.Context, q completionQuery, t store.Ticket, userID string) {
	text := escalate.HumanNotice(rag.DetectLocale(q.question))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), saveTimeout)
	defer cancel()
	var a answer
	a.meta = rag.Meta{Intent: t.Intent, Decision: DecisionHuman, Backend: DecisionHuman}
	a.final = &text
	a.escalation = &rag.Escalation{Reason: t.Reason, Team: t.Team}
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
	turn := completionTurn(t.ConversationID, msgID, ticketID, &a)
	if !q.stream {
		c.JSON(http.StatusOK, ChatCompletion{
			ID: completionID(), Object: "chat.completion", Created: time.Now().Unix(), Model: q.model,
			Choices: []ChatCompletionChoice{{Message: ChatCompletionMessage{Role: kefu.RoleAssistant, Content: MessageContent(text)}, FinishReason: "stop"}},
			Usage:   usage(q.promptTokens, text), Kefu: turn,
		})
		return
	}
	startStream(c)
	cs := newChunkStream(c.Writer, q.model)
	_ = cs.content(ChunkContent{Role: kefu.RoleAssistant})
	_ = cs.content(ChunkContent{Content: text})
	cs.finish("", turn, q)
}

// chunkStream writes one completion's chunks as server-sent events.
type chunkStream struct {
	sse     *sseWriter
	id      string
	model   string
	created int64
	text    strings.Builder // the content sent, for the usage
}

func newChunkStream(w gin.ResponseWriter, model string) *chunkStream {
	return &chunkStream{sse: &sseWriter{w: w}, id: completionID(), model: model, created: time.Now().Unix()}
}

func (cs *chunkStream) chunk(d ChunkContent, finish *string) ChatCompletionChunk {
	return ChatCompletionChunk{ID: cs.id, Object: "chat.completion.chunk", Created: cs.created, Model: cs.model,
		Choices: []ChatCompletionDelta{{Delta: d, FinishReason: finish}}}
}

func (cs *chunkStream) content(d ChunkContent) error {
	cs.text.WriteString(d.Content)
	return cs.sse.data(cs.chunk(d, nil))
}

// finish sends the sources line, the closing chunk with kefu's account of
// the turn, the usage when asked for, and [DONE].
func (cs *chunkStream) finish(sources string, turn *CompletionTurn, q completionQuery) {
	if sources != "" {
		_ = cs.content(ChunkContent{Content: sources})
	}
	stop := "stop"
	last := cs.chunk(ChunkContent{}, &stop)
	last.Kefu = turn
	_ = cs.sse.data(last)
	if q.includeUsage {
		u := usage(q.promptTokens, cs.text.String())
		_ = cs.sse.data(ChatCompletionChunk{ID: cs.id, Object: "chat.completion.chunk", Created: cs.created, Model: cs.model,
			Choices: []ChatCompletionDelta{}, Usage: &u})
	}
	if cs.sse.err == nil {
		_ = cs.sse.write([]byte("data: [DONE]\n\n"))
	}
}

// data writes v as an unnamed server-sent event ("data: {...}"), the form
// OpenAI's streams take.
func (s *sseWriter) data(v any) error {
	if s.err != nil {
		return s.err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode a stream chunk: %w", err)
	}
	s.buf.Reset()
	s.buf.WriteString("data: ")
	s.buf.Write(raw)
	s.buf.WriteString("\n\n")
	return s.write(s.buf.Bytes())
}

// decodeCompletion reads and validates a chat completion request. Fields
// kefu does not use are accepted, since OpenAI clients send them.
func (s *Server) decodeCompletion(c *gin.Context) (completionQuery, error) {
	var q completionQuery
	var req ChatCompletionRequest
	// The body's read deadline is limitAddress's, lifted at its end.

	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err := dec.Decode(&req); err != nil {
		var ke *kefu.Error
		switch {
		case errors.As(err, &ke): // from MessageContent
			return q, err
		case errors.Is(err, io.EOF):
			return q, kefu.Errorf(kefu.EInvalid, `request body is empty; send {"messages": [{"role": "user", "content": "..."}]}`)
		}
		return q, s.bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return q, s.bodyError(err)
		}
		return q, kefu.Errorf(kefu.EInvalid, "malformed JSON: the body must hold one JSON object and nothing after it")
	}

	if req.N != nil && *req.N != 1 {
		return q, kefu.Errorf(kefu.EInvalid, "n is %d: kefu gives exactly one answer, so n must be 1", *req.N)
	}
	q.model = strings.TrimSpace(req.Model)
	if q.model == "" {
		q.model = defaultModel
	}
	if len(q.model) > maxModelLen || !utf8.ValidString(q.model) {
		return q, kefu.Errorf(kefu.EInvalid, "model %q is not a model name of at most %d bytes", clip(q.model), maxModelLen)
	}
	product, err := completionProduct(req.ProductID, c.GetHeader(HeaderProductID))
	if err != nil {
		return q, err
	}
	q.productID = product
	if q.clientMessageID, err = clientMessageID(req.ClientMessageID, c.GetHeader(HeaderIdempotencyKey)); err != nil {
		return q, err
	}
	q.stream = req.Stream
	q.includeUsage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	n := len(req.Messages)
	if n == 0 {
		return q, kefu.Errorf(kefu.EInvalid, "messages is empty: send the shopper's question as a message with role user")
	}
	last := req.Messages[n-1]
	if last.Role != kefu.RoleUser {
		return q, kefu.Errorf(kefu.EInvalid, "the last message has role %q; it must be the shopper's, with role user", clip(last.Role))
	}
	q.question = string(last.Content)
	if err := s.checkText("the last user message", q.question); err != nil {
		return q, err
	}
	for i, m := range req.Messages {
		q.promptTokens += roughTokens(string(m.Content))
		if i == n-1 {
			break
		}
		text := string(m.Content)
		switch m.Role {
		case kefu.RoleUser:
		case kefu.RoleAssistant:
			text = stripSources(text) // a reply of ours, sent back as history
		case "system", "developer", "tool", "function":
			continue // kefu's own instructions govern its answers
		default:
			return q, kefu.Errorf(kefu.EInvalid, "messages[%d] has role %q, not one of system, developer, user, assistant, tool", i, clip(m.Role))
		}
		if strings.TrimSpace(text) != "" {
			q.history = append(q.history, kefu.Message{Role: m.Role, Content: text})
		}
	}
	if len(q.history) > historyLimit {
		q.history = q.history[len(q.history)-historyLimit:]
	}
	return q, nil
}

// completionProduct is the product page of a chat completion, from the
// request's product_id field or the X-Kefu-Product-Id header, which must
// agree when both are given.
func completionProduct(field, header string) (string, error) {
	field, header = strings.TrimSpace(field), strings.TrimSpace(header)
	id := field
	if id == "" {
		id = header
	}
	if err := kefu.CheckProductID(id); err != nil {
		return "", err
	}
	if field != "" && header != "" && field != header {
		if err := kefu.CheckProductID(header); err != nil {
			return "", err
		}
		return "", kefu.Errorf(kefu.EInvalid, "product_id %q and the %s header %q name different products; send one", field, HeaderProductID, header)
	}
	return id, nil
}

// storedHistory gives a request's history the shape of stored messages,
// for the escalation policy.
func storedHistory(history []kefu.Message) []store.Message {
	out := make([]store.Message, len(history))
	for i, m := range history {
		out[i] = store.Message{Role: m.Role, Content: m.Content}
	}
	return out
}

// sourcesLine lists the citations as "\n\nSources: [1] Title; [2] Title",
// or "" when there are none.
func sourcesLine(cites []rag.Citation) string {
	if len(cites) == 0 {
		return ""
	}
	parts := make([]string, len(cites))
	for i, c := range cites {
		n := c.N
		if n == 0 {
			n = i + 1
		}
		title := strings.Join(strings.Fields(c.Title), " ")
		if title == "" {
			title = c.Source
		}
		if title == "" {
			title = c.DocID
		}
		parts[i] = "[" + strconv.Itoa(n) + "] " + title
	}
	return sourcesPrefix + strings.Join(parts, "; ")
}

// stripSources removes the sources line that kefu appended to one of its
// answers.
func stripSources(text string) string {
	if i := strings.LastIndex(text, sourcesPrefix+"["); i >= 0 && !strings.Contains(text[i+len(sourcesPrefix):], "\n") {
		return text[:i]
	}
	return text
}

// roughTokens estimates the tokens of text: a CJK character is about one
// token, and other text about four bytes a token.
func roughTokens(text string) int {
	cjk, other := 0, 0
	for _, r := range text {
		if r >= 0x2E80 {
			cjk++
		} else {
			other += utf8.RuneLen(r)
		}
	}
	return cjk + (other+3)/4
}

func usage(promptTokens int, content string) ChatCompletionUsage {
	n := roughTokens(content)
	return ChatCompletionUsage{PromptTokens: promptTokens, CompletionTokens: n, TotalTokens: promptTokens + n}
}

func completionID() string { return "chatcmpl-" + rand.Text() }

func completionTurn(conversationID, messageID, ticketID string, a *answer) *CompletionTurn {
	t := &CompletionTurn{
		ConversationID: conversationID, MessageID: messageID, Citations: citations(a.citations), Intent: a.meta.Intent,
		Decision: a.meta.Decision, Escalated: a.escalation != nil, TicketID: ticketID,
	}
	if a.escalation != nil {
		t.Escalation = &Escalation{Reason: a.escalation.Reason, Team: a.escalation.Team}
	}
	t.Degraded, t.Partial = a.degraded, a.partial
	t.Action = a.response(rag.Turn{}, "").Action
	return t
}

// replayCompletion answers a retried chat completion with the turn stored
// for the first attempt.
func (s *Server) replayCompletion(c *gin.Context, q completionQuery, conv store.Conversation, m store.Message) {
	r := replayResponse(conv, m, "")
	cites := make([]rag.Citation, len(r.Citations))
	for i, ct := range r.Citations {
		cites[i] = rag.Citation{N: ct.N, DocID: ct.DocID, Title: ct.Title, Source: ct.Source}
	}
	turn := &CompletionTurn{ConversationID: conv.ID, MessageID: m.ID, Citations: r.Citations, Intent: r.Intent, Decision: r.Decision,
		Escalated: r.Escalated, Escalation: r.Escalation, Degraded: r.Degraded, Partial: r.Partial, Replayed: true, Action: r.Action}
	content := r.Answer + sourcesLine(cites)
	if !q.stream {
		c.JSON(http.StatusOK, ChatCompletion{
			ID: completionID(), Object: "chat.completion", Created: time.Now().Unix(), Model: q.model,
			Choices: []ChatCompletionChoice{{Message: ChatCompletionMessage{Role: kefu.RoleAssistant, Content: MessageContent(content)}, FinishReason: "stop"}},
			Usage:   usage(q.promptTokens, content), Kefu: turn,
		})
		return
	}
	startStream(c)
	cs := newChunkStream(c.Writer, q.model)
	_ = cs.content(ChunkContent{Role: kefu.RoleAssistant})
	_ = cs.content(ChunkContent{Content: r.Answer})
	cs.finish(sourcesLine(cites), turn, q)
}

// openAIError is what an OpenAI client may see of err, in OpenAI's shape.
func openAIError(err error) OpenAIErrorResponse {
	body := errorBody(err)
	typ := "server_error"
	switch status := errorStatus(body.Code); {
	case status == http.StatusUnauthorized:
		typ = "authentication_error"
	case status == http.StatusForbidden:
		typ = "permission_error"
	case status == http.StatusNotFound:
		typ = "not_found_error"
	case status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case status >= 400 && status < 500:
		typ = "invalid_request_error"
	}
	return OpenAIErrorResponse{Error: OpenAIError{Message: body.Message, Type: typ, Code: body.Code}}
}

// writeOpenAIError is writeError in OpenAI's error shape.
func writeOpenAIError(c *gin.Context, err error) {
	_ = c.Error(err)
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		c.AbortWithStatus(statusClientClosed)
		return
	}
	if c.Writer.Written() {
		c.Abort()
		return
	}
	body := openAIError(err)
	c.AbortWithStatusJSON(errorStatus(body.Error.Code), body)
}
