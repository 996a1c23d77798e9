package rag

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/prompts"
)

// helperTimeout bounds each helper-model task; past it the heuristic
// result stands.
const helperTimeout = 3 * time.Second

// refine lets the helper model improve what the rules made of a message:
// a follow-up becomes a standalone query, and a message no cue classified
// gets the model's intent label.
func (p *Pipeline) refine(ctx context.Context, t Turn, u *Understanding) {
	if u.FollowUp {
		hist := modelHistory(t.History)
		if len(hist) > 6 {
			hist = hist[len(hist)-6:]
		}
		q := p.ask(ctx, u.Locale, "rewrite", struct {
			History []kefu.Message
			Message string
		}{hist, redact(t.Message)})
		if q != "" && !strings.Contains(q, "\n") {
			u.Query = q
		}
	}
	if u.Intent == IntentOther {
		label := strings.ToLower(strings.Trim(p.ask(ctx, u.Locale, "classify", struct{ Message string }{redact(t.Message)}), " .。"))
		if slices.Contains(modelIntents, label) {
			u.Intent = label
			u.MyOrders = label == IntentOrderStatus
		}
	}
}

// modelIntents are the labels the classify prompt offers.
var modelIntents = []string{IntentOrderStatus, IntentReturn, IntentShipping, IntentProduct, IntentPayment, IntentAccount,
	IntentWarranty, IntentComplaint, IntentHuman, IntentChitChat, IntentOutOfScope}

// summarise asks the helper model to sum up the older part of a
// conversation, or returns "" without a model or an answer.
func (p *Pipeline) summarise(ctx context.Context, locale string, older []kefu.Message) string {
	if p.opts.model == nil {
		return ""
	}
	return strings.Join(strings.Fields(p.ask(ctx, locale, "summarise", struct{ History []kefu.Message }{older})), " ")
}

// ask runs one helper task: it renders task_system and task_user with data,
// gives the model helperTimeout, and returns its trimmed answer, or "" on
// any failure or an answer too long to be what was asked. What data holds
// must already be redacted.
func (p *Pipeline) ask(ctx context.Context, locale, task string, data any) string {
	defer timingOf(ctx).addModel(time.Now())
	sys, err := p.prompts.Render(locale, task+"_system", nil)
	if err != nil {
		return ""
	}
	user, err := p.prompts.Render(locale, task+"_user", data)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	var b strings.Builder
	for piece, err := range p.opts.model.Generate(ctx, kefu.GenerateRequest{
		Locale: locale, System: sys, Messages: []kefu.Message{{Role: kefu.RoleUser, Content: user}}, PromptVersion: prompts.Version,
	}) {
		if err != nil {
			return ""
		}
		if b.WriteString(piece); b.Len() > 800 {
			return ""
		}
	}
	return strings.Trim(strings.TrimSpace(b.String()), "\"'“”「」")
}
