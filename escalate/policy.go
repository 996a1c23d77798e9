package escalate

import (
	"slices"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// Config is the escalation policy and routing. The zero value of each
// field means its default.
type Config struct {
	// RefundThresholds: a refund request that names an amount above the
	// threshold of its currency goes to a person; amounts in a currency
	// without a threshold are ignored. Default CNY 2000.
	RefundThresholds []Money
	// MaxUnresolvedTurns: this many assistant turns in a row that asked
	// the shopper to clarify or did not know go to a person. Default 3;
	// negative turns the rule off.
	MaxUnresolvedTurns int
	// Teams route tickets; see Team.
	Teams []Team
	// DefaultTeam takes the tickets no team in Teams takes; default
	// "support".
	DefaultTeam string
}

// Defaults.
const DefaultMaxUnresolvedTurns = 3

// DefaultRefundThreshold is the refund threshold when none is configured.
var DefaultRefundThreshold = Money{Currency: "CNY", Amount: 2000}

func (c Config) withDefaults() Config {
	if len(c.RefundThresholds) == 0 {
		c.RefundThresholds = []Money{DefaultRefundThreshold}
	}
	if c.MaxUnresolvedTurns == 0 {
		c.MaxUnresolvedTurns = DefaultMaxUnresolvedTurns
	}
	if c.DefaultTeam == "" {
		c.DefaultTeam = DefaultTeam
	}
	return c
}

// Validate reports the first problem of a configuration, naming the
// setting, as a kefu.EInvalid error.
func (c Config) Validate() error {
	c = c.withDefaults()
	for _, m := range c.RefundThresholds {
		if err := m.valid(); err != nil {
			return kefu.Errorf(kefu.EInvalid, "escalation.refund_threshold: %v", err)
		}
	}
	if err := validTeams(c.Teams, c.DefaultTeam); err != nil {
		return kefu.Errorf(kefu.EInvalid, "escalation.teams: %v", err)
	}
	return nil
}

// Policy decides which turns go to a person. It is immutable and safe for
// concurrent use.
type Policy struct {
	cfg Config
}

// NewPolicy returns the policy of cfg, or cfg's first problem.
func NewPolicy(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg.withDefaults()}, nil
}

// Turn is a finished chat turn as the policy sees it.
type Turn struct {
	Message string // what the shopper wrote
	// Meta is what the pipeline understood and decided; a zero Meta (no
	// locale) means no pipeline saw the message, and Assess reads it.
	Meta rag.Meta
	// Escalation is the pipeline's own escalation, nil when it had none.
	Escalation *rag.Escalation
	// History holds the conversation's earlier messages, oldest first
	// (the current shopper message excluded).
	History []store.Message
}

// Decision is a turn handed to a person: why, how urgently, to whom. Intent
// is the conversation's topic (the last specific intent, so that "a
// person, please" after a refund question still routes to returns).
type Decision struct {
	Reason   string `json:"reason"`
	Priority string `json:"priority"`
	Team     string `json:"team"`
	Intent   string `json:"intent"`
	Locale   string `json:"locale"`
}

// Assess applies the rules to a turn and reports whether it goes to a
// person. Every rule that applies is weighed and the reason that comes
// first in Reasons wins. A turn the pipeline escalated always goes.
func (p *Policy) Assess(t Turn) (Decision, bool) {
	var reasons []string
	if r := sensitive(t.Message); r != "" {
		reasons = append(reasons, r)
	}
	if t.Escalation != nil {
		reasons = append(reasons, reasonCode(t.Escalation.Reason))
	}
	locale := t.Meta.Locale
	if locale == "" {
		locale = rag.DetectLocale(t.Message)
	}
	// The pipeline's escalation names a legal threat only when no stronger
	// rule of its own applied first; its Meta says so whatever it decided.
	// A turn with no Meta from a pipeline (no locale) is understood here.
	legal := t.Meta.Legal
	if t.Meta.Locale == "" {
		legal = rag.Understand(t.Message, locale, nil).Legal
	}
	if legal {
		reasons = append(reasons, ReasonLegal)
	}
	if t.Meta.Sentiment == rag.SentimentAngry {
		reasons = append(reasons, ReasonAnger)
	}
	if t.Meta.Intent == rag.IntentHuman {
		reasons = append(reasons, ReasonRequested)
	}
	if p.bigRefund(t) {
		reasons = append(reasons, ReasonRefundAmount)
	}
	if max := p.cfg.MaxUnresolvedTurns; max > 0 && unresolvedTurns(t) >= max {
		reasons = append(reasons, ReasonRepeatedFailure)
	}
	if len(reasons) == 0 {
		return Decision{}, false
	}
	reason := slices.MinFunc(reasons, func(a, b string) int { return slices.Index(Reasons, a) - slices.Index(Reasons, b) })
	intent := topicIntent(t.Meta.Intent, t.History)
	return Decision{
		Reason:   reason,
		Priority: PriorityOf(reason),
		Team:     route(p.cfg.Teams, p.cfg.DefaultTeam, reason, intent, locale),
		Intent:   intent,
		Locale:   locale,
	}, true
}

// Route names the team for a reason, intent and locale.
func (p *Policy) Route(reason, intent, locale string) string {
	return route(p.cfg.Teams, p.cfg.DefaultTeam, reason, intent, locale)
}

// bigRefund reports a message about getting money back that names an
// amount above its currency's threshold.
func (p *Policy) bigRefund(t Turn) bool {
	if t.Meta.Intent != rag.IntentReturn && !refundPattern.MatchString(guard.Fold(t.Message)) {
		return false
	}
	for _, m := range amounts(t.Message) {
		for _, th := range p.cfg.RefundThresholds {
			if m.Currency == th.Currency && m.Amount > th.Amount {
				return true
			}
		}
	}
	return false
}

// unresolvedTurns counts the assistant turns in a row, ending with this
// one, that asked the shopper to clarify or did not know. A stored answer
// records the decision and intent, not the reason: an escalation whose
// intent is not a request for a person or a complaint was a "did not
// know".
func unresolvedTurns(t Turn) int {
	if t.Meta.Decision != rag.DecideClarify && t.Meta.Reason != ReasonNoKnowledge && t.Meta.Reason != ReasonUngrounded {
		return 0
	}
	n := 1
	for i := len(t.History) - 1; i >= 0; i-- {
		m := t.History[i]
		switch m.Role {
		case kefu.RoleUser:
			continue
		case kefu.RoleAssistant:
			if m.Decision == rag.DecideClarify ||
				m.Decision == rag.DecideEscalate && m.Intent != rag.IntentHuman && m.Intent != rag.IntentComplaint {
				n++
				continue
			}
		}
		return n
	}
	return n
}

// topicIntent is the intent a ticket is routed by: the turn's own, unless
// it says nothing of the topic (a request for a person, a complaint, small
// talk), then the last specific intent of the conversation.
func topicIntent(current string, history []store.Message) string {
	if specific(current) {
		return current
	}
	for i := len(history) - 1; i >= 0; i-- {
		if m := history[i]; m.Role == kefu.RoleAssistant && specific(m.Intent) {
			return m.Intent
		}
	}
	if current == "" {
		return rag.IntentOther
	}
	return current
}

func specific(intent string) bool {
	switch intent {
	case "", rag.IntentHuman, rag.IntentComplaint, rag.IntentChitChat, rag.IntentOther, rag.IntentOutOfScope:
		return false
	}
	return true
}

// Notices the shopper reads, by locale.
var (
	handoffNotice = map[string]string{
		"en": "\n\nI have also passed this to a member of our team, who will reply here.",
		"zh": "\n\n我已将您的问题转给人工客服，客服会在这里回复您。",
	}
	humanNotice = map[string]string{
		"en": "A member of our team is looking after this conversation and will reply here shortly.",
		"zh": "人工客服正在处理您的会话，会尽快在这里回复您。",
	}
)

// HandoffNotice is appended to an answer when the policy hands over a turn
// that the pipeline answered itself.
func HandoffNotice(locale string) string { return localized(handoffNotice, locale) }

// HumanNotice is the reply to a shopper while a human agent owns the
// conversation.
func HumanNotice(locale string) string { return localized(humanNotice, locale) }

func localized(m map[string]string, locale string) string {
	if s, ok := m[locale]; ok {
		return s
	}
	return m["en"]
}
