package escalate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// Packet is what a human agent gets with a ticket: the conversation, what
// it is about and what the assistant already tried. It is rebuilt from the
// conversation at every change of the ticket.
type Packet struct {
	// Summary is extractive: the intent, the shopper's first message and
	// their last one.
	Summary  string   `json:"summary"`
	Reason   string   `json:"reason"`
	Reasons  []string `json:"reasons"` // every reason that fired on this ticket, first first
	Priority string   `json:"priority"`
	Team     string   `json:"team"`
	Intent   string   `json:"intent"`
	Locale   string   `json:"locale"`
	// OrderIDs and TrackingNumbers are every one mentioned in the
	// conversation, by anyone, in order of first mention.
	OrderIDs        []string `json:"order_ids"`
	TrackingNumbers []string `json:"tracking_numbers"`
	// Sentiment is the sentiment of each shopper message, oldest first.
	Sentiment []Mood `json:"sentiment"`
	// Tried is every assistant answer: its decision and what it said.
	Tried []Attempt `json:"tried"`
	// Sources are the documents the answers cited, once each.
	Sources []Source `json:"sources"`
	// Actions is every after-sales action the conversation proposed,
	// took, handed over or cancelled, oldest first, with the answer that
	// reported it: an agent sees what was done and what waits for them.
	Actions    []store.ActionRef `json:"actions"`
	Transcript []Line            `json:"transcript"`
	// Notes are the agents' internal notes, oldest first: never shown to
	// the shopper nor given to the assistant.
	Notes []Note `json:"notes,omitempty"`
	// Redacted is set on copies whose personal data is replaced by
	// placeholders ([phone], [email]): the copies that leave the process.
	Redacted bool `json:"redacted,omitempty"`
}

// Line is one message of the transcript.
type Line struct {
	MessageID string    `json:"message_id"`
	Role      string    `json:"role"` // user, assistant or agent
	Content   string    `json:"content"`
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id,omitempty"` // the request that stored it
}

// Mood is the sentiment of one shopper message.
type Mood struct {
	MessageID string    `json:"message_id"`
	Sentiment string    `json:"sentiment"` // positive, neutral, negative, angry
	At        time.Time `json:"at"`
}

// Note is an agent's internal note on a ticket.
type Note struct {
	Agent string    `json:"agent"`
	Text  string    `json:"text"`
	At    time.Time `json:"at"`
}

// Attempt is one assistant answer.
type Attempt struct {
	MessageID string `json:"message_id"`
	Decision  string `json:"decision"`
	Intent    string `json:"intent,omitempty"`
	Escalated bool   `json:"escalated,omitempty"`
	Partial   bool   `json:"partial,omitempty"`
	Answer    string `json:"answer"` // shortened
	// RequestID is the request that produced the answer: its log lines
	// and trace carry the same id.
	RequestID string `json:"request_id,omitempty"`
}

// Source is a document an answer cited.
type Source struct {
	DocID  string `json:"doc_id"`
	Title  string `json:"title"`
	Source string `json:"source"`
}

// Limits of a packet.
const (
	maxTranscript   = 200 // the last messages kept in the transcript
	maxSummaryRunes = 160 // per quoted message in the summary
	maxAnswerRunes  = 300 // per answer in Tried
)

var (
	orderIDPattern  = regexp.MustCompile(`(?i)\bW\d{6}-\d{4}\b`)
	trackingPattern = regexp.MustCompile(`(?i)\b[a-z]{2,4}\d{10,15}\b`)
)

// buildPacket makes the packet of a ticket from the conversation's
// messages, oldest first.
func buildPacket(t store.Ticket, reasons []string, msgs []store.Message) Packet {
	p := Packet{
		Reason: t.Reason, Reasons: reasons, Priority: t.Priority, Team: t.Team, Intent: t.Intent, Locale: t.Locale,
		OrderIDs: []string{}, TrackingNumbers: []string{}, Sentiment: []Mood{}, Tried: []Attempt{}, Sources: []Source{},
		Actions: []store.ActionRef{}, Transcript: []Line{},
	}
	var first, last string
	for _, m := range msgs {
		if m.Role == kefu.RoleSystem {
			continue
		}
		p.OrderIDs = appendNew(p.OrderIDs, orderIDPattern.FindAllString(m.Content, -1)...)
		p.TrackingNumbers = appendNew(p.TrackingNumbers, trackingPattern.FindAllString(m.Content, -1)...)
		switch m.Role {
		case kefu.RoleUser:
			if first == "" {
				first = m.Content
			}
			last = m.Content
			p.Sentiment = append(p.Sentiment, Mood{MessageID: m.ID, Sentiment: rag.Understand(m.Content, t.Locale, nil).Sentiment, At: m.CreatedAt})
		case kefu.RoleAssistant:
			if m.Decision == DecisionHuman {
				continue // a notice that a person is on it, not an attempt
			}
			p.Tried = append(p.Tried, Attempt{MessageID: m.ID, Decision: m.Decision, Intent: m.Intent, Escalated: m.Escalated,
				Partial: m.Partial, Answer: shorten(m.Content, maxAnswerRunes), RequestID: m.RequestID})
			p.Sources = appendSources(p.Sources, m.Citations)
			if m.Action != nil {
				p.Actions = append(p.Actions, *m.Action)
			}
		}
	}
	for _, m := range msgs[max(0, len(msgs)-maxTranscript):] {
		if m.Role != kefu.RoleSystem {
			p.Transcript = append(p.Transcript, Line{MessageID: m.ID, Role: m.Role, Content: m.Content, At: m.CreatedAt, RequestID: m.RequestID})
		}
	}
	p.Summary = summary(t.Intent, first, last)
	return p
}

func summary(intent, first, last string) string {
	s := fmt.Sprintf("Intent %s. First message: %q.", intent, shorten(oneLine(first), maxSummaryRunes))
	if last != first {
		s += fmt.Sprintf(" Last message: %q.", shorten(oneLine(last), maxSummaryRunes))
	}
	return s
}

// Redact returns a copy of the packet with personal data in every text
// replaced by placeholders (guard.Redact), for anything that leaves the
// process. Order and tracking numbers are kept.
func (p Packet) Redact() Packet {
	out := p
	out.Redacted = true
	out.Summary = redact(p.Summary)
	out.Transcript = make([]Line, len(p.Transcript))
	for i, l := range p.Transcript {
		l.Content = redact(l.Content)
		out.Transcript[i] = l
	}
	out.Tried = make([]Attempt, len(p.Tried))
	for i, a := range p.Tried {
		a.Answer = redact(a.Answer)
		out.Tried[i] = a
	}
	if p.Notes != nil {
		out.Notes = make([]Note, len(p.Notes))
		for i, n := range p.Notes {
			n.Text = redact(n.Text)
			out.Notes[i] = n
		}
	}
	return out
}

func redact(s string) string {
	r, _ := guard.Redact(s)
	return r
}

// DecodePacket reads a ticket's packet; a ticket without one gives the
// zero Packet.
func DecodePacket(t store.Ticket) (Packet, error) {
	var p Packet
	if len(t.Packet) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(t.Packet, &p); err != nil {
		return p, fmt.Errorf("ticket %s: corrupt packet: %w", t.ID, err)
	}
	return p, nil
}

func appendNew(list []string, vs ...string) []string {
	for _, v := range vs {
		v = strings.ToUpper(v)
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// appendSources adds the documents of a stored answer's citations (the
// API's citation JSON), once each.
func appendSources(list []Source, raw json.RawMessage) []Source {
	if len(raw) == 0 {
		return list
	}
	var cites []Source
	if json.Unmarshal(raw, &cites) != nil {
		return list
	}
	for _, c := range cites {
		if c.DocID != "" && !slices.ContainsFunc(list, func(s Source) bool { return s.DocID == c.DocID }) {
			list = append(list, c)
		}
	}
	return list
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// shorten cuts s to at most n runes, marking the cut with "…", never
// inside a piece of personal data, so that the packet's redacted copy
// finds every number whole (guard.Shorten).
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return guard.Shorten(s, n)
}
