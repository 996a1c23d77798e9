package rag

import (
	"iter"
	"strings"

	"github.com/kefuhq/kefu"
)

// Turn is one shopper message to answer. CustomerID is the authenticated
// shopper ("" when anonymous); it comes from a verified token, never from
// the message body. History holds the earlier messages of the conversation,
// oldest first.
type Turn struct {
	ConversationID string
	CustomerID     string
	Message        string
	Locale         string // "en", "zh", or "" to detect
	Channel        string
	History        []kefu.Message
	// ProductID is the product page the shopper asks from ("" when none):
	// that product's documents are searched first and the answer names it.
	// It matches a document's id or the product id set at ingest
	// (kefu.MetaProductID).
	ProductID string
	// MessageID is the stored id of the shopper's message ("" when not
	// stored): a turn retried for the same message settles a pending
	// action the same way, never twice.
	MessageID string
	// asked is History before screening.
	asked []kefu.Message
}

// Decisions the pipeline takes for a turn.
const (
	DecideAnswer   = "answer"   // answered from retrieved knowledge
	DecideClarify  = "clarify"  // asked the shopper for something (sign in, an order id)
	DecideEscalate = "escalate" // handed (or offered) to a human
	DecideRefuse   = "refuse"   // politely declined: out of scope or manipulation
)

// Event types, in the order a turn emits them: one meta, deltas, one
// citations, at most one escalation, then done. EventError names the SSE
// event that the API writes when the stream ends with an error.
const (
	EventMeta       = "meta"
	EventDelta      = "delta"
	EventCitations  = "citations"
	EventEscalation = "escalation"
	EventDone       = "done"
	EventError      = "error"
)

// Event is one item of a turn's stream. Exactly the field that matches Type
// is set.
type Event struct {
	Type       string
	Meta       *Meta
	Delta      string
	Citations  []Citation
	Escalation *Escalation
	Done       *Done
}

// Meta is what the pipeline understood and decided, sent before the answer.
type Meta struct {
	Intent    string `json:"intent"`
	Locale    string `json:"locale"`
	Sentiment string `json:"sentiment"` // "positive", "neutral", "negative", "angry"
	Decision  string `json:"decision"`
	Query     string `json:"query"`   // the standalone query used for retrieval
	Backend   string `json:"backend"` // the generator that writes the answer
	// Reason is a reason code when the turn was refused, handed over or its
	// answer replaced: "injection:override", "out_of_scope", "no_knowledge",
	// "ungrounded".
	Reason string `json:"reason,omitempty"`
	// PromptVersion is the prompts.Version of the templates that rendered
	// the prompt or the fixed reply.
	PromptVersion string `json:"prompt_version,omitempty"`
	// At is the day whose policy versions retrieval read: today, or the day
	// of the order the shopper asked about.
	At string `json:"at,omitempty"`
	// Legal is set when the message reads as a legal threat, whatever was
	// decided (the pipeline may have had a stronger reason to hand over).
	Legal bool `json:"-"`
	// Eligibility is the decision on the action the shopper asked about,
	// computed from the shop's rules (nil when none was asked).
	Eligibility *Eligibility `json:"eligibility,omitempty"`
	// Ungrounded lists the facts of a replaced answer that no source held.
	Ungrounded []string `json:"-"`
	// Retrieved is every hit retrieval returned, best first (for evaluation
	// and debugging; the API does not send it to shoppers).
	Retrieved []kefu.Hit `json:"-"`
	// dropped is the pending action this turn's message cancelled by
	// moving on.
	dropped *ActionRef
}

// Citation is a source an answer quotes; N is the [n] marker in the answer.
type Citation struct {
	N       int     `json:"n"`
	DocID   string  `json:"doc_id"`
	Title   string  `json:"title"`
	Source  string  `json:"source"`
	Snippet string  `json:"snippet"`
	Score   float64 `json:"score"`
}

// Escalation tells that the turn is handed, or offered, to a human agent.
type Escalation struct {
	Reason string `json:"reason"` // a reason code: "requested", "anger", "legal", "no_knowledge", ...
	Team   string `json:"team,omitempty"`
}

// Done closes a successful turn with the whole answer text and the backend
// that wrote it: Meta's, unless a fallback took over after Meta was sent.
type Done struct {
	Answer  string `json:"answer"`
	Backend string `json:"backend,omitempty"`
	// Degraded says that the generator handed the answer to its fallback
	// (the model failed or was resting): Backend names the fallback.
	Degraded bool `json:"degraded,omitempty"`
	// Spent is how long the turn waited on retrieval and the models.
	Spent Timing `json:"-"`
	// Action is the after-sales action the turn proposed, took, handed
	// over or cancelled; nil when none.
	Action *ActionRef `json:"action,omitempty"`
}

// Result is a whole turn gathered from its events.
type Result struct {
	Meta       Meta
	Answer     string
	Citations  []Citation
	Escalation *Escalation
	Action     *ActionRef
}

// Collect drains a turn's event stream into a Result. It returns the
// stream's error, with the part of the result gathered before it.
func Collect(events iter.Seq2[Event, error]) (Result, error) {
	var r Result
	var b strings.Builder
	for ev, err := range events {
		if err != nil {
			r.Answer = b.String()
			return r, err
		}
		switch ev.Type {
		case EventMeta:
			r.Meta = *ev.Meta
		case EventDelta:
			b.WriteString(ev.Delta)
		case EventCitations:
			r.Citations = ev.Citations
		case EventEscalation:
			r.Escalation = ev.Escalation
		case EventDone:
			r.Answer = ev.Done.Answer
			r.Action = ev.Done.Action
			if ev.Done.Backend != "" {
				r.Meta.Backend = ev.Done.Backend
			}
			return r, nil
		}
	}
	r.Answer = b.String()
	return r, nil
}
