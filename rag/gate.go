package rag

import (
	"strings"
	"unicode"

	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/rules"
)

// factGate lets a generated answer stream to the shopper while making sure
// that no unchecked fact leaves: text flows through at once until the
// current sentence holds something checkable (a digit, a currency sign, a
// percent sign, a promise such as "full refund"); from there the rest of the
// sentence is held until it ends, checked against the sources
// (guard.Ungrounded, guard.Promises) and then released. A sentence that
// fails stops the answer.
type factGate struct {
	sources  []string
	sentence strings.Builder // the current sentence, released part and held part
	held     strings.Builder // the part of it not yet released
	risky    bool
	// decision, and decisions the check_eligibility tool made, are what
	// the answer must not contradict; with one, every sentence is held
	// until it is checked.
	decision  *rules.Decision
	decisions []rules.Decision
}

func newFactGate(sources []string) *factGate { return &factGate{sources: sources} }

// feed takes the next piece of the answer and returns the text that may be
// sent now, and the unsupported facts if a sentence failed its check (the
// gate is then done: its held text is dropped).
func (g *factGate) feed(piece string) (string, []string) {
	var out strings.Builder
	// Promise cues are substrings, so when the sentence so far with the
	// whole piece holds none, neither does any sentence within it (the
	// rest of one held now included): one look per piece instead of one
	// per character.
	mayPromise := hasPromise(g.sentence.String() + piece)
	for _, r := range piece {
		g.sentence.WriteRune(r)
		if !g.risky && (g.decision != nil || len(g.decisions) > 0 || unicode.IsDigit(r) || strings.ContainsRune("¥$€£%％", r) || mayPromise && hasPromise(g.sentence.String())) {
			g.risky = true
		}
		if g.risky {
			g.held.WriteRune(r)
		} else {
			out.WriteRune(r)
		}
		if sentenceEnd(r, g.sentence.String()) {
			if bad := g.check(); bad != nil {
				return out.String(), bad
			}
			out.WriteString(g.held.String())
			g.reset()
		}
	}
	return out.String(), nil
}

// close checks and releases what is left at the end of the answer.
func (g *factGate) close() (string, []string) {
	if bad := g.check(); bad != nil {
		return "", bad
	}
	out := g.held.String()
	g.reset()
	return out, nil
}

func (g *factGate) check() []string {
	if !g.risky {
		return nil
	}
	s := g.sentence.String()
	bad := append(guard.Ungrounded(s, g.sources), guard.Promises(s, g.sources)...)
	for _, d := range g.allDecisions() {
		if contradicts(s, d) {
			bad = append(bad, "eligibility:"+d.OrderID+":"+string(d.Action))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return bad
}

func (g *factGate) allDecisions() []rules.Decision {
	if g.decision == nil {
		return g.decisions
	}
	return append([]rules.Decision{*g.decision}, g.decisions...)
}

func (g *factGate) reset() {
	g.sentence.Reset()
	g.held.Reset()
	g.risky = false
}

// hasPromise reports whether text already holds a commitment cue, so the
// rest of its sentence is held for the check.
func hasPromise(text string) bool { return len(guard.Promises(text, nil)) > 0 }

// sentenceEnd reports whether r ends a sentence: Chinese end marks, ! ? or
// a new line, or a full stop that does not sit inside a number ("1.5 L").
func sentenceEnd(r rune, sentence string) bool {
	switch r {
	case '。', '！', '？', '；', '!', '?', '\n':
		return true
	case '.':
		prev := []rune(sentence)
		return len(prev) < 2 || !unicode.IsDigit(prev[len(prev)-2])
	}
	return false
}
