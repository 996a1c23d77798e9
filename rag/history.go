package rag

import (
	"crypto/sha256"
	"strings"

	"github.com/kefuhq/kefu"
)

// History is untrusted input: a stored turn may be an attempt the guard
// refused, and a client of the OpenAI-compatible API writes the whole
// history itself, assistant messages included. Every earlier message is
// therefore checked as the newest one is (guard rules and the attack model);
// one that fails is withheld: it stays in the turn's history as a
// placeholder, so that "ok, now do it" after it is still seen as continuing
// the attempt, but neither it nor the assistant's reply to it ever reaches a
// model, nor the retrieval query of a follow-up.

// withheldPrefix starts the content of a withheld message's placeholder.
const withheldPrefix = "\x00withheld:"

// Withheld is the placeholder that stands in a turn's history for a
// message the guard refused, with the guard's reason (an injection reason
// code). A caller that knows a stored message was refused (store.Message
// Refused) passes this instead of its text; the pipeline does the same for
// every earlier message that fails its check.
func Withheld(role, reason string) kefu.Message {
	return kefu.Message{Role: role, Content: withheldPrefix + reason}
}

// WithheldReason reports whether m is a withheld message's placeholder, and
// the reason it was withheld.
func WithheldReason(m kefu.Message) (string, bool) {
	return strings.CutPrefix(m.Content, withheldPrefix)
}

// screenHistory returns history with every message that reads as an attack
// replaced by its placeholder, and the assistant's reply that follows a
// withheld shopper message too (it answered the attack). Verdicts are kept
// per message text (verdictCache), as the same history comes back every
// turn. The input is not changed.
func (p *Pipeline) screenHistory(history []kefu.Message) []kefu.Message {
	var out []kefu.Message
	afterWithheld := false
	for i, m := range history {
		reason, bad := WithheldReason(m)
		if !bad {
			reason, bad = p.verdict(m.Content)
		}
		if !bad && afterWithheld && m.Role != kefu.RoleUser {
			reason, bad = "reply", true
		}
		if m.Role == kefu.RoleUser {
			afterWithheld = bad
		}
		if !bad {
			if out != nil {
				out = append(out, m)
			}
			continue
		}
		if out == nil {
			out = append(make([]kefu.Message, 0, len(history)), history[:i]...)
		}
		out = append(out, Withheld(m.Role, reason))
	}
	if out == nil {
		return history
	}
	return out
}

// verdict is the guard's reading of one earlier message: the injection
// reason, and whether it is an attack.
func (p *Pipeline) verdict(text string) (string, bool) {
	if strings.TrimSpace(text) == "" {
		return "", false
	}
	key := sha256.Sum256([]byte(text)) // an attack must not collide with a cached harmless text
	if v, ok := p.verdicts.Load(key); ok {
		r := v.(string)
		return r, r != ""
	}
	reason, bad := attack(text)
	p.storeVerdict(key, reason)
	return reason, bad
}

// remember keeps the verdict the understanding gave the newest message,
// which the next turn will find in its history. A verdict that rests on the
// history (a continued attempt) is not the message's own and is not kept.
func (p *Pipeline) remember(text string, u Understanding) {
	if strings.HasPrefix(u.InjectionReason, "multi_turn_") || strings.TrimSpace(text) == "" {
		return
	}
	p.storeVerdict(sha256.Sum256([]byte(text)), u.InjectionReason)
}

func (p *Pipeline) storeVerdict(key [sha256.Size]byte, reason string) {
	if p.verdictCount.Add(1) > maxVerdictCache {
		p.verdicts.Clear()
		p.verdictCount.Store(0)
	}
	p.verdicts.Store(key, reason)
}

// maxVerdictCache bounds the per-message verdict cache; past it the cache
// starts over.
const maxVerdictCache = 50_000

// modelHistory is history as a model may see it: withheld messages left
// out, the rest redacted.
func modelHistory(history []kefu.Message) []kefu.Message {
	out := make([]kefu.Message, 0, len(history))
	for _, m := range history {
		if _, withheld := WithheldReason(m); withheld {
			continue
		}
		out = append(out, kefu.Message{Role: m.Role, Content: redact(m.Content)})
	}
	return out
}
