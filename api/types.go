package api

// The request and response bodies of the API, shared with anything that
// speaks to it (the CLI, the evaluation harness, tests).

// HeaderCustomerToken carries the shopper token signed by the shop's
// backend. Without it the shopper is anonymous.
const HeaderCustomerToken = "X-Kefu-Customer-Token"

// HeaderAPIKey carries an API key, as an alternative to
// "Authorization: Bearer <key>".
const HeaderAPIKey = "X-API-Key"

// ChatRequest is the body of POST /v1/chat. An empty ConversationID starts
// a new conversation. Locale is "en", "zh", or "auto"/"" to detect; Channel
// defaults to "web".
type ChatRequest struct {
	ConversationID string `json:"conversation_id,omitempty"`
	Message        string `json:"message"`
	Locale         string `json:"locale,omitempty"`
	Channel        string `json:"channel,omitempty"`
}

// ChatResponse is the reply to POST /v1/chat, and the data of the "done"
// server-sent event. MessageID is the id of the stored answer ("" in the
// rare case that storing it failed). Citations is never null.
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
}

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
}

// StreamDelta is the data of a "delta" event: the next piece of the answer.
type StreamDelta struct {
	Text string `json:"text"`
}

// Server-sent event names of a chat stream, in the order they come: one
// meta, deltas, one citations, at most one escalation, then done, or error
// in place of done when the turn fails. Comment lines (": ping") keep the
// connection alive while the answer is being prepared.
const (
	EventMeta       = "meta"
	EventDelta      = "delta"
	EventCitations  = "citations"
	EventEscalation = "escalation"
	EventDone       = "done"
	EventError      = "error"
)

// ErrorResponse is the body of every error reply.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is an error as a client sees it; it is also the data of the
// "error" event. Code is a kefu error code ("invalid", "not_found", ...).
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// HealthResponse is the body of GET /healthz.
type HealthResponse struct {
	Status  string `json:"status"` // "ok"
	Version string `json:"version,omitempty"`
}

// ReadyResponse is the body of GET /readyz: Status is "ready" or
// "unavailable", and Checks maps each check's name to "ok" or what failed.
type ReadyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}
