package store

import (
	"crypto/rand"
	"encoding/json"
	"time"
)

// Conversation is one chat between a shopper and the shop. CustomerID is the
// authenticated shopper who owns it, "" for an anonymous one; a
// conversation is only ever continued by the same identity that started it.
type Conversation struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id,omitempty"`
	Channel    string    `json:"channel"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"` // time of the last message, or CreatedAt
}

// Message is one message of a conversation. Role is one of kefu.RoleUser,
// kefu.RoleAssistant, kefu.RoleAgent and kefu.RoleSystem. Intent, Decision,
// Reason, Escalated, Citations and PromptVersion describe an assistant
// answer (as the pipeline reported it) and are empty on other messages:
// Reason is the pipeline's reason code for a refused, handed-over or
// replaced answer ("no_knowledge", "out_of_scope", ...), PromptVersion the
// version of the prompt templates that produced it. Partial marks an
// answer cut short by a failure: Content holds what was produced before it
// (followed, since replies to failures are degraded rather than errors, by
// the note the shopper was shown).
type Message struct {
	ID             string          `json:"id"`
	ConversationID string          `json:"conversation_id"`
	Role           string          `json:"role"`
	Content        string          `json:"content"`
	CreatedAt      time.Time       `json:"created_at"`
	Intent         string          `json:"intent,omitempty"`
	Decision       string          `json:"decision,omitempty"`
	Reason         string          `json:"reason,omitempty"`
	Escalated      bool            `json:"escalated,omitempty"`
	Citations      json.RawMessage `json:"citations,omitempty"` // the citations as sent to the client, a JSON array
	Partial        bool            `json:"partial,omitempty"`
	PromptVersion  string          `json:"prompt_version,omitempty"`
	// ClientMessageID is the idempotency key a client sent with a
	// shopper's message: a retry with the same key finds this message
	// (see Bolt.AppendMessageOnce) instead of storing it again. Unique
	// per conversation owner; "" when none was sent.
	ClientMessageID string `json:"client_message_id,omitempty"`
	// ReplyTo is, on an answer, the id of the shopper's message it
	// answers.
	ReplyTo string `json:"reply_to,omitempty"`
	// Refused marks an answer that refused its turn as an attempt to
	// manipulate the assistant: neither it nor the message it answers is
	// ever replayed to a model.
	Refused bool `json:"refused,omitempty"`
	// Action is, on an answer, the after-sales action it proposed or
	// reported (its id, order, kind and state).
	Action *ActionRef `json:"action,omitempty"`
	// RequestID is the id of the HTTP request that stored the message
	// (X-Request-ID), to find the turn in the logs and traces.
	RequestID string `json:"request_id,omitempty"`
}

// ActionRef names an after-sales action and where it stands: State is
// ActionProposed (shown, awaiting the shopper's yes), ActionDone,
// ActionFailed, ActionHandedOver (prepared for an agent, no order API) or
// ActionCancelled (the shopper said no or moved on).
type ActionRef struct {
	ID      string `json:"id"`
	OrderID string `json:"order_id"`
	Kind    string `json:"kind"`
	State   string `json:"state"`
}

// Action states.
const (
	ActionProposed   = "proposed"
	ActionDone       = "done"
	ActionFailed     = "failed"
	ActionHandedOver = "handed_over"
	ActionCancelled  = "cancelled"
)

// ID prefixes.
const (
	conversationPrefix = "c_"
	messagePrefix      = "m_"
)

// newID returns prefix followed by 128 random bits in unpadded base32
// (26 characters of A-Z and 2-7), safe in URLs and file names.
func newID(prefix string) string { return prefix + rand.Text() }

// StaffSession is a console or dashboard sign-in as a shared store keeps
// it (api.SessionStore): the API key's name and role, the session's CSRF
// token, when it began and when it was last used.
type StaffSession struct {
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	CSRF     string    `json:"csrf"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
}
