package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/telemetry"
)

const (
	// historyLimit is how many earlier messages a turn sees.
	historyLimit = 20
	// saveTimeout bounds storing an answer, which happens even after the
	// client has gone.
	saveTimeout = 5 * time.Second
	// maxChannelLen is the longest channel name.
	maxChannelLen = 32
	// maxConversationIDLen is longer than any id a store makes; a longer
	// one is simply not found.
	maxConversationIDLen = 64
)

// chat answers one shopper message: POST /v1/chat. The user message is
// stored before the answerer is called and the answer after, cut answers
// included (marked partial).
func (s *Server) chat(c *gin.Context) {
	began := time.Now()
	if s.answerer == nil || s.convs == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "chat is not configured on this server"))
		return
	}
	req, err := s.decodeChat(c)
	if err != nil {
		writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	customer := customerFrom(ctx)
	q, err := s.storeQuestion(ctx, req.ConversationID, customer, req.Channel, req.Message, req.ClientMessageID)
	if err != nil {
		writeError(c, err)
		return
	}
	conv, user := q.conv, q.user
	reply, found, release, err := s.claimTurn(ctx, q)
	if err != nil {
		writeError(c, err)
		return
	}
	if found {
		s.replayChat(c, conv, reply, req.Locale)
		return
	}
	defer release()
	if t, owned := s.ownedByPerson(c, conv.ID); owned {
		s.chatHuman(c, req, t, user.ID)
		return
	}
	history, stored, err := s.history(ctx, conv.ID, user.ID)
	if err != nil {
		writeError(c, fmt.Errorf("load the conversation history: %w", err))
		return
	}
	turn := rag.Turn{
		ConversationID: conv.ID,
		CustomerID:     customer,
		Message:        req.Message,
		Locale:         req.Locale,
		Channel:        req.Channel,
		History:        history,
		ProductID:      req.ProductID,
		MessageID:      user.ID,
	}
	tr := s.newTriage(turn, stored)
	if wantsStream(c.Request) {
		s.chatStream(c, turn, user.ID, tr, began)
		return
	}
	s.chatJSON(c, turn, user.ID, tr, began)
}

// chatJSON gathers the whole answer and replies once. A turn that fails
// after the question was stored still gets a 200 with a degraded answer
// (see degrade) unless the client caused the failure or left.
func (s *Server) chatJSON(c *gin.Context, turn rag.Turn, userID string, tr *triage, began time.Time) {
	ctx := c.Request.Context()
	var a answer
	start := time.Now()
	err := s.pump(ctx, turn, 0, tr.filter(func(ev rag.Event) error { a.add(ev); return nil }), nil)
	s.turnEnded(ctx, &a, err, "json", time.Since(start))
	degraded := degrade(ctx, &a, turn, err)
	msgID := s.saveAnswer(c, turn.ConversationID, userID, &a, err)
	ticketID := s.syncTicket(c, turn.ConversationID, tr.finish())
	if err != nil && !degraded {
		writeError(c, err)
		return
	}
	if err != nil {
		_ = c.Error(err) // logged; the shopper gets the degraded answer
	}
	resp := a.response(turn, msgID)
	resp.TicketID = ticketID
	c.JSON(http.StatusOK, resp)
	s.metrics.observeOverhead(&a, "json", began)
}

// chatStream sends the answer as server-sent events while it is produced.
// Once the 200 is sent, a failure arrives as an "error" event, followed,
// when the shopper can still be answered, by the degraded answer's text (a
// delta) and its stored turn (done).
func (s *Server) chatStream(c *gin.Context, turn rag.Turn, userID string, tr *triage, began time.Time) {
	ctx := c.Request.Context()
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // no proxy buffering
	c.Status(http.StatusOK)
	c.Writer.Flush()

	sse := &sseWriter{w: c.Writer}
	var a answer
	metaSent := false
	sendMeta := func() error {
		metaSent = true
		return sse.event(EventMeta, a.streamMeta(turn))
	}
	start := time.Now()
	err := s.pump(ctx, turn, s.cfg.HeartbeatInterval, tr.filter(func(ev rag.Event) error {
		a.add(ev)
		if ev.Type == rag.EventMeta {
			return sendMeta()
		}
		// The client learns the conversation id first, whatever the
		// answerer sends first.
		if !metaSent {
			if err := sendMeta(); err != nil {
				return err
			}
		}
		switch ev.Type {
		case rag.EventDelta:
			return sse.event(EventDelta, StreamDelta{Text: ev.Delta})
		case rag.EventCitations:
			return sse.event(EventCitations, citations(ev.Citations))
		case rag.EventEscalation:
			if ev.Escalation != nil {
				return sse.event(EventEscalation, Escalation{Reason: ev.Escalation.Reason, Team: ev.Escalation.Team})
			}
		}
		// done is sent once the answer is stored, with its id.
		return nil
	}), sse.ping)
	s.turnEnded(ctx, &a, err, "sse", time.Since(start))
	streamed := a.deltas.String()
	degraded := sse.err == nil && degrade(ctx, &a, turn, err)
	msgID := s.saveAnswer(c, turn.ConversationID, userID, &a, err)
	ticketID := s.syncTicket(c, turn.ConversationID, tr.finish())

	if sse.err != nil { // the client is gone; nothing more can be sent
		_ = c.Error(fmt.Errorf("stream: %w", sse.err))
		return
	}
	if !metaSent {
		if sendMeta() != nil {
			return
		}
	}
	if err != nil {
		_ = c.Error(err)
		if ctx.Err() == nil {
			_ = sse.event(EventError, errorBody(err))
		}
		if !degraded {
			return
		}
		if tail, ok := strings.CutPrefix(a.text(), streamed); ok && tail != "" {
			_ = sse.event(EventDelta, StreamDelta{Text: tail})
		}
	}
	resp := a.response(turn, msgID)
	resp.TicketID = ticketID
	if sse.event(EventDone, resp) == nil {
		s.metrics.observeOverhead(&a, "sse", began)
	}
}

// saveAnswer stores the answer to the shopper's message userID, or the
// part produced before a failure (marked partial), and returns its id. It
// runs even when the client has gone. Nothing is stored for a failed turn
// that produced no text. A storage failure is recorded for the log and
// gives an empty id: the shopper still gets the answer. An answer that
// refused its turn as an attempt to manipulate the assistant is stored as
// Refused.
func (s *Server) saveAnswer(c *gin.Context, conversationID, userID string, a *answer, streamErr error) string {
	text := a.text()
	if streamErr != nil && text == "" {
		return ""
	}
	cites, err := json.Marshal(citations(a.citations))
	if err != nil {
		_ = c.Error(fmt.Errorf("store the answer: %w", err))
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), saveTimeout)
	defer cancel()
	ctx, span := telemetry.Start(ctx, "kefu.store.answer")
	m, err := s.convs.AppendMessage(ctx, store.Message{
		ConversationID: conversationID,
		Role:           kefu.RoleAssistant,
		Content:        text,
		Intent:         a.meta.Intent,
		Decision:       a.meta.Decision,
		Reason:         a.meta.Reason,
		Escalated:      a.escalation != nil,
		Citations:      cites,
		Partial:        a.partial || (streamErr != nil && !a.degraded),
		PromptVersion:  promptVersion(a.meta),
		ReplyTo:        userID,
		Refused:        a.meta.Decision == rag.DecideRefuse && strings.HasPrefix(a.meta.Reason, reasonInjection),
		Action:         storedAction(a.action),
		RequestID:      telemetry.RequestID(ctx),
	})
	telemetry.End(span, err)
	if err != nil {
		_ = c.Error(fmt.Errorf("store the answer: %w", err))
		return ""
	}
	return m.ID
}

// storeQuestion stores the shopper's message as the next of conversation
// id, or as the first of a new conversation (one write) when id is empty,
// and returns both. An id the shopper may not continue is not found, as
// conversation reports it. With a client message id key (and a store that
// keeps them) a message the shopper already stored with that key is found
// instead of stored again (see storeKeyed).
func (s *Server) storeQuestion(ctx context.Context, id, customer, channel, text, key string) (question, error) {
	ctx, span := telemetry.Start(ctx, "kefu.store.question")
	q, err := s.storeQuestionIn(ctx, id, customer, channel, text, key)
	telemetry.End(span, err)
	return q, err
}

func (s *Server) storeQuestionIn(ctx context.Context, id, customer, channel, text, key string) (question, error) {
	msg := store.Message{Role: kefu.RoleUser, Content: text, ClientMessageID: key, RequestID: telemetry.RequestID(ctx)}
	if once, ok := s.convs.(onceConversations); ok && key != "" {
		return s.storeKeyed(ctx, once, id, customer, channel, msg)
	}
	msg.ClientMessageID = ""
	if id == "" {
		conv, user, err := s.convs.StartConversation(ctx, customer, channel, msg)
		if err != nil {
			return question{}, fmt.Errorf("start a conversation with the shopper's message: %w", err)
		}
		return question{conv: conv, user: user}, nil
	}
	conv, err := s.conversation(ctx, id, customer)
	if err != nil {
		return question{}, err
	}
	msg.ConversationID = conv.ID
	user, err := s.convs.AppendMessage(ctx, msg)
	if err != nil {
		return question{}, fmt.Errorf("store the shopper's message: %w", err)
	}
	return question{conv: conv, user: user}, nil
}

// conversation returns the conversation id for the shopper to continue or
// read. A conversation of another identity (another customer, a
// customer's used anonymously, an anonymous one used by a signed-in
// shopper) is reported exactly like an unknown one, so its existence is
// not revealed.
func (s *Server) conversation(ctx context.Context, id, customer string) (store.Conversation, error) {
	const msg = "conversation not found"
	if len(id) > maxConversationIDLen {
		return store.Conversation{}, kefu.Errorf(kefu.ENotFound, msg)
	}
	conv, err := s.convs.Conversation(ctx, id)
	switch {
	case kefu.ErrorCode(err) == kefu.ENotFound:
		return conv, kefu.WrapError(kefu.ENotFound, msg, err)
	case err != nil:
		return conv, fmt.Errorf("load conversation: %w", err)
	case conv.CustomerID != customer:
		return store.Conversation{}, kefu.WrapError(kefu.ENotFound, msg,
			errors.New("the conversation belongs to another identity"))
	}
	return conv, nil
}

// history returns the last historyLimit messages before the current one,
// oldest first, as the pipeline sees them (a refused turn withheld, see
// historyMessages) and as stored. A retried message that is no longer the
// last sees only what came before it.
func (s *Server) history(ctx context.Context, conversationID, currentID string) ([]kefu.Message, []store.Message, error) {
	msgs, err := s.convs.Messages(ctx, conversationID, historyLimit+1)
	if err != nil {
		return nil, nil, err
	}
	if i := slices.IndexFunc(msgs, func(m store.Message) bool { return m.ID == currentID }); i >= 0 {
		msgs = msgs[:i]
	}
	stored := msgs
	if len(stored) > historyLimit {
		stored = stored[len(stored)-historyLimit:]
	}
	return historyMessages(stored), stored, nil
}

// decodeChat reads and validates the request body. Malformed JSON and bad
// fields are invalid (400), an oversized body or message too_large (413).
// checkText refuses a text field (named what) that is blank or longer
// than a message may be.
func (s *Server) checkText(what, text string) error {
	if strings.TrimSpace(text) == "" {
		return kefu.Errorf(kefu.EInvalid, "%s is empty", what)
	}
	if n := len(text); n > s.cfg.MaxMessageBytes {
		return kefu.Errorf(kefu.ETooLarge, "%s is %d bytes; the limit is %d", what, n, s.cfg.MaxMessageBytes)
	}
	return nil
}

func (s *Server) decodeChat(c *gin.Context) (ChatRequest, error) {
	var req ChatRequest
	// The body's read deadline is limitAddress's, lifted at its end.

	body := http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, s.bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return req, s.bodyError(err)
		}
		return req, kefu.Errorf(kefu.EInvalid, "malformed JSON: the body must hold one JSON object and nothing after it")
	}

	if err := s.checkText("message", req.Message); err != nil {
		return req, err
	}
	switch loc := strings.ToLower(strings.TrimSpace(req.Locale)); loc {
	case "", "auto":
		req.Locale = ""
	case "en", "zh":
		req.Locale = loc
	default:
		return req, kefu.Errorf(kefu.EInvalid, "locale %q is not supported; use \"en\", \"zh\" or \"auto\"", clip(req.Locale))
	}
	if req.Channel == "" {
		req.Channel = "web"
	}
	if !validChannel(req.Channel) {
		return req, kefu.Errorf(kefu.EInvalid, "channel %q is invalid: use 1 to %d characters of a-z 0-9 _ -", clip(req.Channel), maxChannelLen)
	}
	req.ConversationID = strings.TrimSpace(req.ConversationID)
	key, err := clientMessageID(req.ClientMessageID, c.GetHeader(HeaderIdempotencyKey))
	if err != nil {
		return req, err
	}
	req.ClientMessageID = key
	req.ProductID = strings.TrimSpace(req.ProductID)
	if err := kefu.CheckProductID(req.ProductID); err != nil {
		return req, err
	}
	return req, nil
}

// bodyError explains why a body could not be decoded.
func (s *Server) bodyError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return kefu.WrapError(kefu.ETooLarge, fmt.Sprintf("request body is larger than %d bytes", s.cfg.MaxBodyBytes), err)
	case errors.Is(err, io.EOF):
		return kefu.Errorf(kefu.EInvalid, `request body is empty; send a JSON object such as {"message": "..."}`)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return kefu.WrapError(kefu.EInvalid, "malformed JSON: the body ends in the middle of a value", err)
	case errors.As(err, &syntax):
		return kefu.WrapError(kefu.EInvalid, fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error()), err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return kefu.WrapError(kefu.EInvalid, "request body must be a JSON object", err)
		}
		return kefu.WrapError(kefu.EInvalid, fmt.Sprintf("field %q must be a %s, not a %s", typ.Field, typ.Type, typ.Value), err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return kefu.WrapError(kefu.EInvalid, fmt.Sprintf("unknown field %s", clip(strings.TrimPrefix(err.Error(), "json: unknown field "))), err)
	}
	return kefu.WrapError(kefu.EInvalid, "malformed JSON", err)
}

func validChannel(ch string) bool {
	if ch == "" || len(ch) > maxChannelLen {
		return false
	}
	for i := 0; i < len(ch); i++ {
		switch b := ch[i]; {
		case 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// wantsStream reports whether the client asked for server-sent events.
func wantsStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if t, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && t == "text/event-stream" {
			return true
		}
	}
	return false
}

// answer gathers a turn's events.
type answer struct {
	meta       rag.Meta
	deltas     strings.Builder
	final      *string
	citations  []rag.Citation
	escalation *rag.Escalation
	spent      rag.Timing // the pipeline's waits on retrieval and models
	top        []float64  // the best retrieved scores, for the turn's log line
	action     *rag.ActionRef
	degraded   bool // a fallback answered, or a failure was made into a reply (degrade)
	partial    bool // the text was cut short by a failure
}

func (a *answer) add(ev rag.Event) {
	switch ev.Type {
	case rag.EventMeta:
		if ev.Meta != nil {
			a.meta = *ev.Meta
			a.top = a.top[:0]
			for _, h := range ev.Meta.Retrieved[:min(len(ev.Meta.Retrieved), maxLoggedScores)] {
				a.top = append(a.top, h.Score)
			}
			a.meta.Retrieved = nil // never leaves the server
		}
	case rag.EventDelta:
		a.deltas.WriteString(ev.Delta)
	case rag.EventCitations:
		a.citations = ev.Citations
	case rag.EventEscalation:
		a.escalation = ev.Escalation
	case rag.EventDone:
		if ev.Done != nil {
			a.final = &ev.Done.Answer
			a.spent = ev.Done.Spent
			a.action = ev.Done.Action
			if ev.Done.Backend != "" {
				a.meta.Backend = ev.Done.Backend // a fallback took over
			}
			a.degraded = a.degraded || ev.Done.Degraded
		}
	}
}

// text is the whole answer when the stream finished, and the part
// streamed so far otherwise.
func (a *answer) text() string {
	if a.final != nil {
		return *a.final
	}
	return a.deltas.String()
}

func (a *answer) locale(turn rag.Turn) string {
	if a.meta.Locale != "" {
		return a.meta.Locale
	}
	return turn.Locale
}

func (a *answer) streamMeta(turn rag.Turn) StreamMeta {
	return StreamMeta{
		ConversationID: turn.ConversationID,
		Intent:         a.meta.Intent,
		Locale:         a.locale(turn),
		Sentiment:      a.meta.Sentiment,
		Decision:       a.meta.Decision,
		Backend:        a.meta.Backend,
		Eligibility:    eligibility(a.meta.Eligibility),
	}
}

// eligibility converts the pipeline's decision to the API's.
func eligibility(e *rag.Eligibility) *Eligibility {
	if e == nil {
		return nil
	}
	return &Eligibility{OrderID: e.OrderID, Action: e.Action, Eligible: e.Eligible, Reason: e.Reason, Rule: e.Rule}
}

func (a *answer) response(turn rag.Turn, messageID string) ChatResponse {
	r := ChatResponse{
		ConversationID: turn.ConversationID,
		MessageID:      messageID,
		Answer:         a.text(),
		Citations:      citations(a.citations),
		Intent:         a.meta.Intent,
		Escalated:      a.escalation != nil,
		Backend:        a.meta.Backend,
		Decision:       a.meta.Decision,
		Locale:         a.locale(turn),
		Degraded:       a.degraded,
		Partial:        a.partial,
		Eligibility:    eligibility(a.meta.Eligibility),
	}
	if a.escalation != nil {
		r.Escalation = &Escalation{Reason: a.escalation.Reason, Team: a.escalation.Team}
	}
	if a.action != nil {
		r.Action = &Action{ID: a.action.ID, OrderID: a.action.OrderID, Kind: a.action.Kind, State: a.action.State}
	}
	return r
}

// storedAction is the turn's action as the answer keeps it.
func storedAction(a *rag.ActionRef) *store.ActionRef {
	if a == nil {
		return nil
	}
	return &store.ActionRef{ID: a.ID, OrderID: a.OrderID, Kind: a.Kind, State: a.State}
}

// citations converts the pipeline's citations to the API's, never nil.
func citations(in []rag.Citation) []Citation {
	out := make([]Citation, len(in))
	for i, c := range in {
		score := c.Score
		if math.IsNaN(score) || math.IsInf(score, 0) {
			score = 0 // JSON has no NaN
		}
		out[i] = Citation{N: c.N, DocID: c.DocID, Title: c.Title, Source: c.Source, Snippet: c.Snippet, Score: score}
	}
	return out
}
