package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// Idempotent turns. A client may name a shopper message with a key
// (client_message_id, or the Idempotency-Key header). The key is unique per
// shopper (the signed-in customer, or the anonymous shopper): a retry with
// it finds the message stored the first time, in the conversation it was
// stored in, and gets that turn's stored answer; when there is none yet
// (the first attempt is still running here, or it crashed after storing the
// message), the retry waits for the attempt under way or answers the stored
// message itself, without storing it twice.

const (
	// minClientMessageIDLen is the shortest key accepted: for an anonymous
	// shopper's first message the key is all that names the turn, so it
	// must not be guessable.
	minClientMessageIDLen = 16
	// replyScan is how many of a conversation's last messages are searched
	// for the answer to a retried message.
	replyScan = 200
)

// onceConversations is a conversation store that stores a keyed message
// once (store.Bolt is one). With a store that is not, keys are ignored.
type onceConversations interface {
	AppendMessageOnce(ctx context.Context, m store.Message) (store.Message, bool, error)
	StartConversationOnce(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, bool, error)
}

var _ onceConversations = (*store.Bolt)(nil)

// clientMessageID is the request's idempotency key, from the body's field
// or the Idempotency-Key header, which must agree when both are given; ""
// when there is none.
func clientMessageID(field, header string) (string, error) {
	field, header = strings.TrimSpace(field), strings.TrimSpace(header)
	if field != "" && header != "" && field != header {
		return "", kefu.Errorf(kefu.EInvalid, "client_message_id %q and the %s header %q differ; send one", clip(field), HeaderIdempotencyKey, clip(header))
	}
	id := field
	if id == "" {
		id = header
	}
	if id == "" {
		return "", nil
	}
	ok := len(id) >= minClientMessageIDLen && len(id) <= store.MaxClientMessageIDLen
	for i := 0; ok && i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_', b == '.', b == ':':
		default:
			ok = false
		}
	}
	if !ok {
		return "", kefu.Errorf(kefu.EInvalid, "client_message_id %q is invalid: use %d to %d characters of A-Z a-z 0-9 . _ : - (a UUID fits)",
			clip(id), minClientMessageIDLen, store.MaxClientMessageIDLen)
	}
	return id, nil
}

// question is a shopper's message as stored for this request.
type question struct {
	conv store.Conversation
	user store.Message
	// retried says that an earlier attempt with the same key stored it.
	retried bool
}

// storeKeyed stores a keyed shopper message once, as storeQuestion does
// for one without a key. A key already used for another text, or in
// another conversation than the one named, is a conflict.
func (s *Server) storeKeyed(ctx context.Context, once onceConversations, id, customer, channel string, msg store.Message) (question, error) {
	var q question
	var err error
	if id == "" {
		q.conv, q.user, q.retried, err = once.StartConversationOnce(ctx, customer, channel, msg)
		if err != nil {
			return q, fmt.Errorf("start a conversation with the shopper's message: %w", err)
		}
		if q.retried {
			// The key is the owner's, so the conversation is theirs; the
			// check costs one read and holds whatever the store does.
			if q.conv, err = s.conversation(ctx, q.user.ConversationID, customer); err != nil {
				return q, err
			}
		}
	} else {
		if q.conv, err = s.conversation(ctx, id, customer); err != nil {
			return q, err
		}
		msg.ConversationID = q.conv.ID
		if q.user, q.retried, err = once.AppendMessageOnce(ctx, msg); err != nil {
			return q, fmt.Errorf("store the shopper's message: %w", err)
		}
		if q.retried && q.user.ConversationID != q.conv.ID {
			return q, kefu.Errorf(kefu.EConflict, "client_message_id %q was already used in another conversation", msg.ClientMessageID)
		}
	}
	if q.retried && q.user.Content != msg.Content {
		return q, kefu.Errorf(kefu.EConflict, "client_message_id %q was already used for a different message", msg.ClientMessageID)
	}
	return q, nil
}

// claimTurn makes this request the one that answers a keyed message, or
// finds its answer. It returns the answer stored for it when there is one,
// waiting for an attempt under way in this process first; otherwise it
// claims the message and returns release, which the caller runs once the
// answer is stored (or it gave up). Without a key there is nothing to
// claim.
func (s *Server) claimTurn(ctx context.Context, q question) (reply store.Message, found bool, release func(), err error) {
	if q.user.ClientMessageID == "" {
		return store.Message{}, false, func() {}, nil
	}
	for {
		if q.retried {
			if reply, found, err = s.storedReply(ctx, q.conv.ID, q.user.ID); err != nil || found {
				return reply, found, nil, err
			}
		}
		mine := make(chan struct{})
		other, running := s.inflight.LoadOrStore(q.user.ID, mine)
		if running {
			select {
			case <-other.(chan struct{}):
				q.retried = true // look again: the other attempt may have stored it
				continue
			case <-ctx.Done():
				return store.Message{}, false, nil, ctx.Err()
			}
		}
		release = func() {
			s.inflight.Delete(q.user.ID)
			close(mine)
		}
		if q.retried {
			// An attempt may have stored the answer and let go between
			// the look and the claim.
			if reply, found, err = s.storedReply(ctx, q.conv.ID, q.user.ID); err != nil || found {
				release()
				return reply, found, nil, err
			}
		}
		return store.Message{}, false, release, nil
	}
}

// storedReply is the answer stored for the shopper's message userID, among
// the conversation's last replyScan messages.
func (s *Server) storedReply(ctx context.Context, conversationID, userID string) (store.Message, bool, error) {
	msgs, err := s.convs.Messages(ctx, conversationID, replyScan)
	if err != nil {
		return store.Message{}, false, fmt.Errorf("look up the answer to a retried message: %w", err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := msgs[i]; m.ReplyTo == userID && m.Role != kefu.RoleUser {
			return m, true, nil
		}
	}
	return store.Message{}, false, nil
}

// replayResponse is the stored answer m of a retried message, as the
// reply to the first attempt had it.
func replayResponse(conv store.Conversation, m store.Message, locale string) ChatResponse {
	r := ChatResponse{
		ConversationID: conv.ID, MessageID: m.ID, Answer: m.Content, Citations: []Citation{},
		Intent: m.Intent, Escalated: m.Escalated, Decision: m.Decision, Locale: locale,
		Partial: m.Partial, Degraded: m.Partial || m.Reason == reasonDegraded, Replayed: true,
	}
	if len(m.Citations) > 0 {
		_ = json.Unmarshal(m.Citations, &r.Citations) // stored by saveAnswer from the same type
		if r.Citations == nil {
			r.Citations = []Citation{}
		}
	}
	if m.Escalated {
		r.Escalation = &Escalation{Reason: m.Reason}
	}
	if m.Decision == DecisionHuman {
		r.Backend = DecisionHuman
	}
	if m.Action != nil {
		r.Action = &Action{ID: m.Action.ID, OrderID: m.Action.OrderID, Kind: m.Action.Kind, State: m.Action.State}
	}
	return r
}

// replayChat answers a retried POST /v1/chat with the stored turn, as JSON
// or as the events of a stream.
func (s *Server) replayChat(c *gin.Context, conv store.Conversation, m store.Message, locale string) {
	resp := replayResponse(conv, m, locale)
	if !wantsStream(c.Request) {
		c.JSON(http.StatusOK, resp)
		return
	}
	startStream(c)
	sse := &sseWriter{w: c.Writer}
	_ = sse.event(EventMeta, StreamMeta{ConversationID: conv.ID, MessageID: m.ID, Intent: resp.Intent, Locale: locale, Decision: resp.Decision, Backend: resp.Backend})
	_ = sse.event(EventDelta, StreamDelta{Text: resp.Answer})
	_ = sse.event(EventCitations, resp.Citations)
	if resp.Escalation != nil {
		_ = sse.event(EventEscalation, resp.Escalation)
	}
	_ = sse.event(EventDone, resp)
}

// historyMessages is the stored history as the pipeline is given it: a
// turn that was refused as an attempt to manipulate the assistant is
// passed as a withheld placeholder (rag.Withheld), its refusal left out, so
// neither is ever replayed to a model.
func historyMessages(stored []store.Message) []kefu.Message {
	refused := map[string]string{} // user message id -> reason
	for i, m := range stored {
		if !m.Refused && !strings.HasPrefix(m.Reason, reasonInjection) {
			continue
		}
		reason := strings.TrimPrefix(m.Reason, reasonInjection)
		if m.ReplyTo != "" {
			refused[m.ReplyTo] = reason
		} else if i > 0 && stored[i-1].Role == kefu.RoleUser { // stored before answers named their message
			refused[stored[i-1].ID] = reason
		}
	}
	out := make([]kefu.Message, 0, len(stored))
	for _, m := range stored {
		switch reason, ok := refused[m.ID]; {
		case m.Refused || (m.Role != kefu.RoleUser && strings.HasPrefix(m.Reason, reasonInjection)):
			continue
		case ok:
			out = append(out, rag.Withheld(m.Role, reason))
		default:
			out = append(out, kefu.Message{Role: m.Role, Content: m.Content})
		}
	}
	return out
}

// reasonInjection starts the reason code of a turn refused as an attempt
// to manipulate the assistant.
const reasonInjection = "injection:"
