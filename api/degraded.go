package api

import (
	"context"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
)

// Faults leave the shopper with an answer and their place. When the
// answerer fails (a model, the knowledge store or the embedder) after the
// shopper's message was stored, the reply is still a 200 with the
// conversation id and a stored answer: the text produced before the
// failure, marked partial and followed by a note, or, when nothing was
// produced, a notice offering a person. Both are marked degraded. Only a
// failure the client caused (a bad request) or a client that left is not
// answered so.

// reasonDegraded is the stored reason of an answer that a failure replaced
// by the notice.
const reasonDegraded = "degraded"

var (
	// cutShortNotes follow the part of an answer produced before a
	// failure, by locale.
	cutShortNotes = map[string]string{
		"en": "(The answer was cut short. Ask again, or write \"human\" to reach a person.)",
		"zh": "（回答中断了。请再问一次，或回复“转人工”联系人工客服。）",
	}
	// unavailableNotes answer a turn that failed before any text, by
	// locale.
	unavailableNotes = map[string]string{
		"en": "Sorry, I can't answer right now. Please try again in a moment, or write \"human\" to reach a person.",
		"zh": "抱歉，智能助手暂时无法回答。请稍后再试，或回复“转人工”联系人工客服。",
	}
)

// degrade makes a turn that failed with err into a degraded answer, and
// reports whether it did: not for a turn that did not fail, nor when ctx
// (the client's) is done, nor for an error of the client's own (a 4xx).
func degrade(ctx context.Context, a *answer, turn rag.Turn, err error) bool {
	if err == nil || ctx.Err() != nil || errorStatus(kefu.ErrorCode(err)) < 500 {
		return false
	}
	locale := a.locale(turn)
	if locale == "" {
		locale = rag.DetectLocale(turn.Message)
	}
	text := a.text()
	if text != "" {
		text += "\n\n" + localizedNote(cutShortNotes, locale)
		a.partial = true
	} else {
		text = localizedNote(unavailableNotes, locale)
		a.citations = nil
		if a.meta.Decision == "" {
			a.meta.Decision = rag.DecideEscalate // a person is offered
		}
		a.meta.Reason = reasonDegraded
	}
	if a.meta.Locale == "" {
		a.meta.Locale = locale
	}
	a.final = &text
	a.degraded = true
	return true
}

func localizedNote(notes map[string]string, locale string) string {
	if n, ok := notes[locale]; ok {
		return n
	}
	return notes["en"]
}
