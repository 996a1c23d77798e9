package api

// The request and response bodies of the API, shared with anything that
// speaks to it (the CLI, the evaluation harness, tests).

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/rag"
)

// HeaderCustomerToken carries the shopper token signed by the shop's
// backend. Without it the shopper is anonymous.
const HeaderCustomerToken = "X-Kefu-Customer-Token"

// HeaderAPIKey carries an API key, as an alternative to
// "Authorization: Bearer <key>".
const HeaderAPIKey = "X-API-Key"

// HeaderProductID names the product page a chat completion is asked from
// (POST /v1/chat/completions), as ChatRequest.ProductID does for POST
// /v1/chat; the request's top-level "product_id" field may say the same.
const HeaderProductID = "X-Kefu-Product-Id"

// HeaderClient names the client sending a request; the chat widget sends
// ClientWidget, and a request so marked is refused (403) with any key but
// a widget key, since a key in the widget is readable by every visitor.
const HeaderClient = "X-Kefu-Client"

// ClientWidget is HeaderClient's value from the chat widget.
const ClientWidget = "widget"

// ChatRequest is the body of POST /v1/chat. An empty ConversationID starts
// a new conversation. Locale is "en", "zh", or "auto"/"" to detect; Channel
// defaults to "web". ProductID, when set, is the product page the shopper
// asks from: a product's document id or the product id set at ingest
// (kefu.MetaProductID), at most kefu.MaxProductIDLen bytes of letters,
// digits and - _ . : / # @ + = ~ (kefu.CheckProductID). It applies to this
// turn only. ClientMessageID (or the Idempotency-Key header) is the
// client's idempotency key for this message, 16 to 128 characters of A-Z
// a-z 0-9 . _ : - (a UUID fits): a retry with the same key by the same
// shopper gets the turn already stored (the same message id and answer,
// Replayed set) instead of a second one, even when the first attempt
// started the conversation and the client never learned its id.
type ChatRequest struct {
	ConversationID  string `json:"conversation_id,omitempty"`
	Message         string `json:"message"`
	Locale          string `json:"locale,omitempty"`
	Channel         string `json:"channel,omitempty"`
	ProductID       string `json:"product_id,omitempty"`
	ClientMessageID string `json:"client_message_id,omitempty"`
}

// HeaderIdempotencyKey carries a message's idempotency key, as
// ChatRequest.ClientMessageID does; when both are given they must agree.
const HeaderIdempotencyKey = "Idempotency-Key"

// ChatResponse is the reply to POST /v1/chat, and the data of the "done"
// server-sent event. MessageID is the id of the stored answer ("" in the
// rare case that storing it failed). Citations is never null. TicketID
// names the conversation's open ticket when it has one: the turn was
// handed to a person, or an earlier one was and nobody has closed it yet.
// While a person owns the conversation the assistant does not answer:
// Decision is "human" and Answer says that someone will reply.
type ChatResponse struct {
	ConversationID string      `json:"conversation_id"`
	MessageID      string      `json:"message_id"`
	Answer         string      `json:"answer"`
	Citations      []Citation  `json:"citations"`
	Intent         string      `json:"intent"`
	Escalated      bool        `json:"escalated"`
	Escalation     *Escalation `json:"escalation,omitempty"`
	Backend        string      `json:"backend"`
	Decision       string      `json:"decision"`
	Locale         string      `json:"locale"`
	TicketID       string      `json:"ticket_id,omitempty"`
	// Degraded says that the model failed and the answer came from the
	// fallback: the shop's documents quoted, the text produced before the
	// failure (Partial), or a notice offering a person.
	Degraded bool `json:"degraded,omitempty"`
	// Partial says that Answer was cut short by a failure: it holds what
	// was produced before it, and a note saying so.
	Partial bool `json:"partial,omitempty"`
	// Replayed says that this is the turn stored for an earlier attempt
	// with the same client_message_id.
	Replayed bool `json:"replayed,omitempty"`
	// Eligibility is the decision on the after-sales action a signed-in
	// shopper asked about ("can I return W260912-1001?"), computed from
	// the shop's rules; absent when none was asked.
	Eligibility *Eligibility `json:"eligibility,omitempty"`
	// Action is the after-sales action this turn proposed (state
	// "proposed": the shopper's next message must be an explicit yes),
	// took ("done"), could not take ("failed"), prepared for an agent
	// because no order system takes actions ("handed_over"), or dropped
	// because the shopper said no or moved on ("cancelled").
	Action *Action `json:"action,omitempty"`
}

// Eligibility is whether an action (cancel, modify_address, modify_items,
// return, exchange, refund, price_protection, warranty) is allowed on the
// order, the reason in the reply's language, and the rule that decided
// ("id@version").
type Eligibility struct {
	OrderID  string `json:"order_id"`
	Action   string `json:"action"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
	Rule     string `json:"rule"`
}

// Action names an after-sales action on one of the shopper's orders and
// where it stands. ID is "" for an action refused as ineligible (state
// "failed"), which was never proposed.
type Action struct {
	ID      string `json:"id"`
	OrderID string `json:"order_id"`
	Kind    string `json:"kind"`  // cancel, change_address, return, exchange, price_protection
	State   string `json:"state"` // proposed, done, failed, handed_over, cancelled
}

// DecisionHuman is the decision of a chat turn in a conversation that a
// human agent owns: the message is kept for the agent and the assistant
// stays silent.
const DecisionHuman = escalate.DecisionHuman

// Citation is a source the answer quotes; N is its [n] marker in the answer.
type Citation struct {
	N       int     `json:"n"`
	DocID   string  `json:"doc_id"`
	Title   string  `json:"title"`
	Source  string  `json:"source"`
	Snippet string  `json:"snippet"`
	Score   float64 `json:"score"`
}

// Escalation says that the turn was handed, or offered, to a human agent,
// why (a reason code) and to which team. It is the data of the
// "escalation" event.
type Escalation struct {
	Reason string `json:"reason"`
	Team   string `json:"team,omitempty"`
}

// StreamMeta is the data of the "meta" event, the first event of a chat
// stream: what the assistant understood and decided. It never carries the
// retrieved passages.
type StreamMeta struct {
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id,omitempty"`
	Intent         string `json:"intent"`
	Locale         string `json:"locale"`
	Sentiment      string `json:"sentiment"`
	Decision       string `json:"decision"`
	Backend        string `json:"backend"`
	// Eligibility is as in ChatResponse.
	Eligibility *Eligibility `json:"eligibility,omitempty"`
}

// StreamDelta is the data of a "delta" event: the next piece of the answer.
type StreamDelta struct {
	Text string `json:"text"`
}

// Server-sent event names of a chat stream, in the order they come: one
// meta, deltas, one citations, at most one escalation, then done, or error
// when the turn fails. After an error, when the shopper can still be
// answered, a delta with the fallback text and a done with the stored,
// degraded turn follow. Comment lines (": ping") keep the
// connection alive while the answer is being prepared.
const (
	EventMeta       = "meta"
	EventDelta      = "delta"
	EventCitations  = "citations"
	EventEscalation = "escalation"
	EventDone       = "done"
	EventError      = "error"
)

// EventMessage names the server-sent event of GET
// /v1/conversations/{id}/messages with Accept: text/event-stream: one
// message of the conversation, a ConversationMessage.
const EventMessage = "message"

// ErrorResponse is the body of every error reply.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is an error as a client sees it; it is also the data of the
// "error" event. Code is a kefu error code ("invalid", "not_found", ...).
// Gate is set with code "gate_failed" only (an upload that broke the
// configured gate and was rolled back): the thresholds broken, the golden
// cases that failed with their reasons, and the documents rolled back.
type ErrorBody struct {
	Code    string             `json:"code"`
	Message string             `json:"message"`
	Gate    *ingest.GateReport `json:"gate,omitempty"`
}

// HealthResponse is the body of GET /healthz.
type HealthResponse struct {
	Status  string `json:"status"` // "ok"
	Version string `json:"version,omitempty"`
}

// ReadyResponse is the body of GET /readyz: Status is "ready" or
// "unavailable", and Checks maps each check's name to "ok" or what failed.
// KnowledgeVersion, when the server has one, names what the knowledge
// store holds: it changes with every ingest that changed something, and
// two servers whose stores hold the same documents report the same one.
type ReadyResponse struct {
	Status           string            `json:"status"`
	Checks           map[string]string `json:"checks"`
	KnowledgeVersion string            `json:"knowledge_version,omitempty"`
}

// ConversationMessage is one message of a conversation as its shopper
// sees it: Role is "user", "assistant" or "agent" (a person of the shop's
// team). Intent, Decision, Citations, Partial (an answer cut short by a
// failure), PromptVersion (of the prompt templates behind an answer) and
// Feedback (the shopper's rating) describe an assistant answer; GET
// /v1/conversations/{id} fills them all, the messages route Decision and
// Citations only.
type ConversationMessage struct {
	ID            string     `json:"id"`
	Role          string     `json:"role"`
	Content       string     `json:"content"`
	CreatedAt     time.Time  `json:"created_at"`
	Intent        string     `json:"intent,omitempty"`
	Decision      string     `json:"decision,omitempty"`
	Citations     []Citation `json:"citations,omitempty"`
	Partial       bool       `json:"partial,omitempty"`
	PromptVersion string     `json:"prompt_version,omitempty"`
	Feedback      *Feedback  `json:"feedback,omitempty"`
}

// MessagesResponse is the body of GET /v1/conversations/{id}/messages: the
// messages after the one named by ?after= (all of them without it), oldest
// first; never null.
type MessagesResponse struct {
	ConversationID string                `json:"conversation_id"`
	Messages       []ConversationMessage `json:"messages"`
}

// Ticket is a conversation handed to people, as the agent API shows it.
// Status is "open" (in its team's queue), "claimed" (Assignee, an API key's
// name, owns the conversation) or "closed" (Outcome "human", "bot" or
// "abandoned"). Priority is "urgent", "high" or "normal"; Reason is a code
// of the taxonomy documented in package escalate. Packet is sent by GET
// /v1/agent/tickets/{id} only.
type Ticket struct {
	ID             string           `json:"id"`
	ConversationID string           `json:"conversation_id"`
	CustomerID     string           `json:"customer_id,omitempty"`
	Status         string           `json:"status"`
	Reason         string           `json:"reason"`
	Priority       string           `json:"priority"`
	Team           string           `json:"team"`
	Intent         string           `json:"intent,omitempty"`
	Locale         string           `json:"locale,omitempty"`
	Assignee       string           `json:"assignee,omitempty"`
	Outcome        string           `json:"outcome,omitempty"`
	Summary        string           `json:"summary,omitempty"`
	CreatedAt      time.Time        `json:"created_at"`
	UpdatedAt      time.Time        `json:"updated_at"`
	ClaimedAt      *time.Time       `json:"claimed_at,omitempty"`
	ClosedAt       *time.Time       `json:"closed_at,omitempty"`
	Packet         *escalate.Packet `json:"packet,omitempty"`
}

// TicketList is the body of GET /v1/agent/tickets: the queue, most urgent
// first, then oldest first; never null.
type TicketList struct {
	Tickets []Ticket `json:"tickets"`
}

// ReplyRequest is the body of POST /v1/agent/tickets/{id}/reply.
type ReplyRequest struct {
	Message string `json:"message"`
}

// ReplyResponse is the reply to POST /v1/agent/tickets/{id}/reply: the
// ticket (claimed by the replying agent) and the message as stored in the
// conversation.
type ReplyResponse struct {
	Ticket  Ticket              `json:"ticket"`
	Message ConversationMessage `json:"message"`
}

// ResolveRequest is the body of POST /v1/agent/tickets/{id}/resolve:
// Outcome is "resolved" or "abandoned".
type ResolveRequest struct {
	Outcome string `json:"outcome"`
}

// Stats is the body of GET /v1/agent/stats: how often conversations go to
// people and how handoffs end, over everything the store holds.
// EscalationRate is tickets per conversation; ByReason gives each reason's
// tickets and rate. Outcomes counts closed tickets by outcome ("human",
// "bot", "abandoned"); Open and Claimed count the tickets still active.
type Stats struct {
	Conversations  int                    `json:"conversations"`
	Tickets        int                    `json:"tickets"`
	EscalationRate float64                `json:"escalation_rate"`
	ByReason       map[string]ReasonStats `json:"by_reason"`
	Outcomes       map[string]int         `json:"outcomes"`
	Open           int                    `json:"open"`
	Claimed        int                    `json:"claimed"`
}

// ReasonStats counts the tickets of one reason.
type ReasonStats struct {
	Tickets int     `json:"tickets"`
	Rate    float64 `json:"rate"` // per conversation
}

// UploadResponse is the reply to POST /v1/admin/documents: the ingest
// summary (files, documents and chunks written, unchanged, failed with
// reasons, skipped with reasons, and the gate's verdict when the server
// gates uploads), with status 200 when nothing failed and 207 when some
// files or records did.
type UploadResponse = ingest.Summary

// DeleteDocumentResponse is the reply to DELETE /v1/admin/documents/{id}.
type DeleteDocumentResponse struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// ConversationResponse is the body of GET /v1/conversations/{id}: the
// conversation and every message its shopper sees, oldest first; Messages
// is never null.
type ConversationResponse struct {
	ID        string                `json:"id"`
	Channel   string                `json:"channel"`
	CreatedAt time.Time             `json:"created_at"`
	UpdatedAt time.Time             `json:"updated_at"`
	Messages  []ConversationMessage `json:"messages"`
}

// FeedbackRequest is the body of POST /v1/conversations/{id}/feedback:
// MessageID names an assistant answer of the conversation, Rating is "up"
// or "down", Comment is optional (at most 1,000 characters). A second
// rating of the same answer replaces the first.
type FeedbackRequest struct {
	MessageID string `json:"message_id"`
	Rating    string `json:"rating"`
	Comment   string `json:"comment,omitempty"`
}

// Feedback is a shopper's rating of an answer: the reply to POST
// /v1/conversations/{id}/feedback, and part of the answer in GET
// /v1/conversations/{id}. CreatedAt is when the latest rating was given.
type Feedback struct {
	MessageID string    `json:"message_id"`
	Rating    string    `json:"rating"`
	Comment   string    `json:"comment,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Analytics is the body of GET /v1/admin/analytics: the shoppers' ratings
// and the knowledge gaps they and the assistant reveal. KnowledgeGaps are
// the latest answers that found nothing relevant in the shop's knowledge
// (reason no_knowledge), newest first; never null.
type Analytics struct {
	Feedback      FeedbackSummary `json:"feedback"`
	KnowledgeGaps []Exchange      `json:"knowledge_gaps"`
}

// FeedbackSummary counts the ratings given (a replaced rating counts once,
// as its latest value). RecentDown holds the latest "down" ratings with the
// exchanges they rate, newest first; never null.
type FeedbackSummary struct {
	Up         int        `json:"up"`
	Down       int        `json:"down"`
	RecentDown []Exchange `json:"recent_down"`
}

// Exchange is a shopper's question and the assistant's answer, as
// analytics show them: personal data in Question, Answer and Comment is
// replaced by placeholders ("[phone]"). MessageID names the answer; Reason
// is its reason code; Rating, Comment and RatedAt are its feedback, if any.
type Exchange struct {
	ConversationID string     `json:"conversation_id"`
	MessageID      string     `json:"message_id"`
	Question       string     `json:"question"`
	Answer         string     `json:"answer"`
	Intent         string     `json:"intent,omitempty"`
	Decision       string     `json:"decision,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	PromptVersion  string     `json:"prompt_version,omitempty"`
	AnsweredAt     time.Time  `json:"answered_at"`
	Rating         string     `json:"rating,omitempty"`
	Comment        string     `json:"comment,omitempty"`
	RatedAt        *time.Time `json:"rated_at,omitempty"`
}

// HeaderConversationID names the stored conversation of a POST
// /v1/chat/completions turn. Sent with the request, it continues that
// conversation (same ownership rules as chat) and the stored messages are
// the history; the reply always carries it.
const HeaderConversationID = "X-Kefu-Conversation-Id"

// ChatCompletionRequest is the body of POST /v1/chat/completions, OpenAI's
// chat completion request. kefu reads Model (echoed back; default
// "kefu"), Messages (the last must be the shopper's, role "user"; earlier
// "user" and "assistant" messages are the history; "system", "developer"
// and "tool" messages are ignored: kefu's own instructions govern the
// answer), Stream, StreamOptions and N (1 or absent). Other fields
// (sampling, tools) are accepted and ignored. User is never taken as the
// shopper's identity: that comes from the X-Kefu-Customer-Token header.
// ProductID, kefu's own field (an OpenAI client sends it as an extra body
// field), is the product page asked from, as in ChatRequest; the
// X-Kefu-Product-Id header may carry it instead, and when both are given
// they must agree.
type ChatCompletionRequest struct {
	Model         string                       `json:"model,omitempty"`
	Messages      []ChatCompletionMessage      `json:"messages"`
	Stream        bool                         `json:"stream,omitempty"`
	StreamOptions *ChatCompletionStreamOptions `json:"stream_options,omitempty"`
	N             *int                         `json:"n,omitempty"`
	User          string                       `json:"user,omitempty"`
	ProductID     string                       `json:"product_id,omitempty"`
	// ClientMessageID is the idempotency key of the last user message, as
	// ChatRequest.ClientMessageID (or the Idempotency-Key header).
	ClientMessageID string `json:"client_message_id,omitempty"`
}

// ChatCompletionStreamOptions asks for a last chunk with the usage.
type ChatCompletionStreamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// ChatCompletionMessage is one message of a chat completion request or
// reply.
type ChatCompletionMessage struct {
	Role    string         `json:"role"`
	Content MessageContent `json:"content"`
}

// MessageContent is a message's text. In a request it is a JSON string,
// null, or an array of content parts of which only text parts
// ({"type": "text", "text": "..."}) are accepted, joined by newlines;
// anything else (an image) is invalid. In a reply it is a string.
type MessageContent string

// UnmarshalJSON reads a string, null or an array of text parts.
func (c *MessageContent) UnmarshalJSON(b []byte) error {
	const shape = "a message's content must be a string or an array of text parts"
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return kefu.WrapError(kefu.EInvalid, shape, err)
		}
		*c = MessageContent(s)
		return nil
	case b[0] != '[':
		return kefu.Errorf(kefu.EInvalid, shape)
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return kefu.WrapError(kefu.EInvalid, shape, err)
	}
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return kefu.Errorf(kefu.EInvalid, "a message content part of type %q is not supported: kefu reads text only", clip(p.Type))
		}
		texts = append(texts, *p.Text)
	}
	*c = MessageContent(strings.Join(texts, "\n"))
	return nil
}

// ChatCompletion is the reply to a POST /v1/chat/completions without
// streaming: one choice whose content is the answer, followed by a line
// "Sources: [1] Title; [2] Title" when it cites any. Usage is counted
// roughly (about four bytes, or one Chinese character, a token). Kefu is
// kefu's own account of the turn, which OpenAI clients ignore.
type ChatCompletion struct {
	ID      string                 `json:"id"`
	Object  string                 `json:"object"` // "chat.completion"
	Created int64                  `json:"created"`
	Model   string                 `json:"model"`
	Choices []ChatCompletionChoice `json:"choices"`
	Usage   ChatCompletionUsage    `json:"usage"`
	Kefu    *CompletionTurn        `json:"kefu,omitempty"`
}

// ChatCompletionChoice is the one choice of a ChatCompletion.
type ChatCompletionChoice struct {
	Index        int                   `json:"index"`
	Message      ChatCompletionMessage `json:"message"`
	FinishReason string                `json:"finish_reason"` // "stop"
}

// ChatCompletionUsage counts tokens, roughly.
type ChatCompletionUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// ChatCompletionChunk is one server-sent event of a streamed POST
// /v1/chat/completions ("data: {...}"): the first chunk's delta has the
// role, the next ones the answer's text as it is written, then the
// "Sources" line, then an empty delta with finish_reason "stop" and Kefu
// set; with stream_options.include_usage one more chunk carries Usage and
// no choices. "data: [DONE]" ends the stream. A failure after the stream
// began arrives as a "data: {"error": {...}}" event instead, and no
// [DONE].
type ChatCompletionChunk struct {
	ID      string                `json:"id"`
	Object  string                `json:"object"` // "chat.completion.chunk"
	Created int64                 `json:"created"`
	Model   string                `json:"model"`
	Choices []ChatCompletionDelta `json:"choices"`
	Usage   *ChatCompletionUsage  `json:"usage,omitempty"`
	Kefu    *CompletionTurn       `json:"kefu,omitempty"`
}

// ChatCompletionDelta is the one choice of a chunk. FinishReason is null
// until the last content chunk.
type ChatCompletionDelta struct {
	Index        int          `json:"index"`
	Delta        ChunkContent `json:"delta"`
	FinishReason *string      `json:"finish_reason"`
}

// ChunkContent is the piece of the answer a chunk carries.
type ChunkContent struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

// CompletionTurn is what kefu understood and did in a chat completion
// turn, as in a ChatResponse: the stored conversation and answer, the
// citations, the decision and any handoff.
type CompletionTurn struct {
	ConversationID string      `json:"conversation_id"`
	MessageID      string      `json:"message_id,omitempty"`
	Citations      []Citation  `json:"citations"`
	Intent         string      `json:"intent"`
	Decision       string      `json:"decision"`
	Escalated      bool        `json:"escalated"`
	Escalation     *Escalation `json:"escalation,omitempty"`
	TicketID       string      `json:"ticket_id,omitempty"`
	Degraded       bool        `json:"degraded,omitempty"` // as ChatResponse.Degraded
	Partial        bool        `json:"partial,omitempty"`  // as ChatResponse.Partial
	Replayed       bool        `json:"replayed,omitempty"` // as ChatResponse.Replayed
	Action         *Action     `json:"action,omitempty"`   // as ChatResponse.Action
}

// OpenAIErrorResponse is the body of every error reply of the
// OpenAI-compatible routes (/v1/chat/completions, /v1/models), and the
// data of a failed stream's last event. Code is a kefu error code; Type is
// OpenAI's: invalid_request_error, authentication_error,
// permission_error, not_found_error or server_error.
type OpenAIErrorResponse struct {
	Error OpenAIError `json:"error"`
}

// OpenAIError is an error in OpenAI's shape; Param is always null.
type OpenAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// ModelList is the body of GET /v1/models: the one model, "kefu", so that
// chat UIs that list models before chatting find it.
type ModelList struct {
	Object string  `json:"object"` // "list"
	Data   []Model `json:"data"`
}

// Model is a model as OpenAI's API lists it.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// The kefu command line's endpoints on a running server (CLIHandler): the
// bodies that kefu ask, ingest and eval send and read when the server holds
// the data dir.

// CLIStatus is the reply to GET /v1/cli/status.
type CLIStatus struct {
	Version          string `json:"version"`
	PID              int    `json:"pid"`
	Documents        int    `json:"documents"`
	KnowledgeVersion string `json:"knowledge_version"`
}

// CLITurnRequest is the body of POST /v1/cli/turn: one turn through the
// server's answering pipeline, as kefu ask and kefu eval run it in their own
// process (nothing is stored, no ticket opened).
type CLITurnRequest struct {
	ConversationID string         `json:"conversation_id,omitempty"`
	CustomerID     string         `json:"customer_id,omitempty"`
	Message        string         `json:"message"`
	Locale         string         `json:"locale,omitempty"`
	Channel        string         `json:"channel,omitempty"`
	ProductID      string         `json:"product_id,omitempty"`
	History        []kefu.Message `json:"history,omitempty"`
}

// CLITurnResult is the reply to POST /v1/cli/turn: the whole turn, with
// what retrieval returned. Error is set when the turn's stream failed; the
// other fields then hold what came before the failure.
type CLITurnResult struct {
	Meta       rag.Meta        `json:"meta"`
	Retrieved  []CLIHit        `json:"retrieved"`
	Answer     string          `json:"answer"`
	Citations  []rag.Citation  `json:"citations"`
	Escalation *rag.Escalation `json:"escalation,omitempty"`
	Action     *rag.ActionRef  `json:"action,omitempty"`
	Error      *CLIError       `json:"error,omitempty"`
}

// CLIHit is one retrieved chunk with its scores.
type CLIHit struct {
	Chunk   kefu.Chunk `json:"chunk"`
	Score   float64    `json:"score"`
	Lexical float64    `json:"lexical"`
	Dense   float64    `json:"dense"`
}

// CLIIngestRequest is the "request" part of POST /v1/cli/ingest, the first
// of its multipart body; the files follow, one part each, named by their
// slash-separated path in the upload. Paths are the roots to ingest in
// that tree, as kefu ingest's arguments (their sources). Options carries
// the record options and Prune and ProductField; Gate, when set, is
// checked on the golden set of the "golden" part, as kefu ingest --gate
// does.
type CLIIngestRequest struct {
	Paths   []string         `json:"paths"`
	Options CLIIngestOptions `json:"options"`
	Gate    *eval.Gate       `json:"gate,omitempty"`
}

// CLIIngestOptions are the options of kefu ingest that travel to the
// server (ingest.Options' fields of the same names).
type CLIIngestOptions struct {
	Type          string   `json:"type,omitempty"`
	IDField       string   `json:"id_field,omitempty"`
	TitleField    string   `json:"title_field,omitempty"`
	CustomerField string   `json:"customer_field,omitempty"`
	Records       []string `json:"records,omitempty"`
	Levels        []string `json:"levels,omitempty"`
	GroupBy       string   `json:"group_by,omitempty"`
	Fields        []string `json:"fields,omitempty"`
	ProductField  string   `json:"product_field,omitempty"`
	Prune         bool     `json:"prune,omitempty"`
}

// CLIIngestLine is one line of the reply to POST /v1/cli/ingest, a stream
// of JSON lines: Progress lines while the run goes on, then one line with
// the Summary, and Error when the run failed (GateFailed when the gate
// failed the change, RollbackFailed when putting it back failed too).
type CLIIngestLine struct {
	Progress       *ingest.Progress `json:"progress,omitempty"`
	Summary        *ingest.Summary  `json:"summary,omitempty"`
	Error          *CLIError        `json:"error,omitempty"`
	GateFailed     bool             `json:"gate_failed,omitempty"`
	RollbackFailed bool             `json:"rollback_failed,omitempty"`
}

// CLIError is an error as the command line shows it, cause included (the
// credential's holder is the operator at the terminal): for a kefu error
// its Code, Message and Cause (the wrapped error's text, if any); for any
// other error Code "internal" and its Text. Every error reply of the CLI
// endpoints is {"error": CLIError}.
type CLIError struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	Cause   string `json:"cause,omitempty"`
	Text    string `json:"text,omitempty"`
}

// CLIErrorResponse is the body of every error reply of the CLI endpoints.
type CLIErrorResponse struct {
	Error CLIError `json:"error"`
}
