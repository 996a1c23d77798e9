package rag

import (
	"regexp"
	"strings"
	"sync"
	"unicode"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/tokenize"
	"github.com/kefuhq/kefu/tokens"
	"github.com/kefuhq/kefu/understand"
)

// Intents the pipeline recognises.
const (
	IntentOrderStatus = "order_status"
	IntentReturn      = "return_refund"
	IntentShipping    = "shipping"
	IntentProduct     = "product_question"
	IntentPayment     = "payment"
	IntentAccount     = "account"
	IntentWarranty    = "warranty"
	IntentComplaint   = "complaint"
	IntentHuman       = "human_request"
	IntentChitChat    = "chit_chat"
	IntentOutOfScope  = "out_of_scope"
	IntentOther       = "other"
)

// Sentiments.
const (
	SentimentPositive = "positive"
	SentimentNeutral  = "neutral"
	SentimentNegative = "negative"
	SentimentAngry    = "angry"
)

// Understanding is what the pipeline makes of a shopper's message before it
// retrieves anything.
type Understanding struct {
	Locale    string
	Intent    string
	Sentiment string
	// Flags that decide the turn before retrieval.
	Injection bool // an attempt to override or extract the assistant's instructions
	// InjectionReason is the guard reason code when Injection is set.
	InjectionReason string
	Legal           bool // a legal threat or a regulator named
	// OrderRefs are the identifiers shaped like order or tracking numbers
	// (W260912-1001, SF1409283756120); whether the store holds them is for
	// the caller to check.
	OrderRefs []string
	// IDs are all the identifier-shaped tokens the message names,
	// upper-cased: order and tracking numbers, model numbers, SKUs.
	IDs      []string
	MyOrders bool   // the shopper asks about their own orders, not a rule
	Query    string // the standalone query for retrieval
	FollowUp bool   // the message leans on the conversation before it
	// Confidence is the model's probability for Intent (before a follow-up
	// took the previous message's intent).
	Confidence float64
	normalized string
}

// The phrase lists live in package understand, where the model reads them
// as features; here they serve the few rules that remain (legal threats,
// the assistant's identity, follow-ups, the topic of a retrieved passage).
var (
	legalCues        = understand.Cues.Legal
	orderStatusCues  = understand.Cues.OrderStatus
	policyCues       = understand.Cues.Policy
	continuationCues = understand.Cues.Continuation
	identityCues     = understand.Cues.Identity
	followUpCues     = understand.Cues.FollowUp
	topicCues        = understand.Cues.Topic
)

// ReasonModel is the injection reason when the model's attack head, not a
// guard rule, found the attempt.
const ReasonModel = "model"

// model is the message-understanding model embedded in the binary; its
// weights are checked by the understand package's tests, so a failure to
// decode them is a broken build, not an input error.
var model = sync.OnceValue(func() *understand.Model {
	m, err := understand.Default()
	if err != nil {
		panic(err)
	}
	return m
})

// Understand reads one message in the light of the conversation's history.
// The intent, whether the shopper asks about their own orders, anger and
// (with guard's rules) injection come from the understand package's model;
// identifiers are read by their shape.
func Understand(message, locale string, history []kefu.Message) Understanding {
	// Cues are matched on the folded text, so full-width letters, zero-width
	// characters or homoglyphs do not slip a request past them.
	norm := " " + guard.Fold(message) + " "
	u := Understanding{normalized: norm}
	u.Locale = locale
	if u.Locale == "" || u.Locale == "auto" {
		u.Locale = DetectLocale(message)
	}
	// A phone number is not an order number, and an e-mail address is not
	// something to search the shop's documents for.
	clean := withoutPII(message)
	pred := model().Predict(clean)
	u.InjectionReason, u.Injection = guard.Injection(message)
	if !u.Injection && pred.IsAttack() {
		u.InjectionReason, u.Injection = ReasonModel, true
	}
	if !u.Injection && hasAny(norm, continuationCues) && len(tokenize.Terms(norm)) <= 8 {
		// "ok, now do it" after an attempt to override the assistant
		// continues the attempt.
		for i := len(history) - 1; i >= 0 && i >= len(history)-4; i-- {
			if history[i].Role != kefu.RoleUser {
				continue
			}
			reason, found := WithheldReason(history[i])
			if !found {
				reason, found = attack(history[i].Content)
			}
			if found {
				u.InjectionReason, u.Injection = "multi_turn_"+reason, true
				break
			}
		}
	}
	u.Legal = hasAny(norm, legalCues)
	for _, id := range pred.Analysis.Shape.IDs {
		u.IDs = append(u.IDs, id.Text)
		if id.Kind == understand.KindOrder {
			u.OrderRefs = append(u.OrderRefs, id.Text)
		}
	}
	u.Sentiment = sentiment(norm, pred)
	u.Confidence = pred.IntentProb
	switch u.Intent = pred.Intent; {
	case u.Injection:
		u.Intent = IntentOutOfScope
	case u.Legal && u.Intent != IntentHuman:
		u.Intent = IntentComplaint
	}
	u.MyOrders = pred.IsMyOrders() && !u.Injection

	u.Query = strings.TrimSpace(clean)
	if prev := lastUserMessage(history); prev != "" && isFollowUp(norm) {
		u.FollowUp = true
		u.Query = prev + " " + u.Query
		if u.Intent == IntentOther || u.Intent == IntentChitChat && !hasAny(norm, identityCues) {
			prevU := Understand(prev, u.Locale, nil)
			u.Intent = prevU.Intent
			u.MyOrders = prevU.MyOrders && len(u.OrderRefs) == 0
			u.OrderRefs = append(u.OrderRefs, prevU.OrderRefs...)
			u.IDs = append(u.IDs, prevU.IDs...)
		}
	}
	return u
}

// attack reports whether a message tries to subvert the assistant, by
// guard's rules or the model, and why.
func attack(message string) (string, bool) {
	if reason, found := guard.Injection(message); found {
		return reason, true
	}
	if model().Predict(withoutPII(message)).IsAttack() {
		return ReasonModel, true
	}
	return "", false
}

// topicIntent is the shop topic a message is about, or IntentOther.
func topicIntent(norm string, u Understanding) string {
	policy := hasAny(norm, policyCues)
	best, bestN := IntentOther, 0
	for _, it := range []string{IntentReturn, IntentWarranty, IntentShipping, IntentPayment, IntentAccount, IntentProduct} {
		if n := countAny(norm, topicCues[it]); n > bestN {
			best, bestN = it, n
		}
	}
	// "Can I still return W261118-1004?" asks the policy about an order;
	// "where is W261118-1004" asks for the order.
	if len(u.OrderRefs) > 0 && !(policy && best != IntentOther) {
		return IntentOrderStatus
	}
	if hasAny(norm, orderStatusCues) && !policy {
		return IntentOrderStatus
	}
	return best
}

func isFollowUp(norm string) bool {
	if len(tokenize.Terms(norm)) <= 3 {
		return true
	}
	for _, c := range followUpCues {
		if understand.ContainsCue(norm, c) {
			return true
		}
	}
	return false
}

// lastUserMessage is the shopper's last earlier message that was not
// withheld.
func lastUserMessage(history []kefu.Message) string {
	for i := len(history) - 1; i >= 0; i-- {
		if _, withheld := WithheldReason(history[i]); withheld {
			continue
		}
		if history[i].Role == kefu.RoleUser {
			return history[i].Content
		}
	}
	return ""
}

func hasAny(norm string, cues []string) bool { return understand.HasCue(norm, cues) }

func countAny(norm string, cues []string) int { return understand.CountCues(norm, cues) }

var piiPlaceholder = regexp.MustCompile(`\[(email|phone|card|id_number|address|ssn|iban|passport|cvv|expiry)\]`)

// withoutPII is message with its personal data taken out.
func withoutPII(message string) string {
	red, found := guard.Redact(message)
	if len(found) == 0 {
		return message
	}
	return strings.Join(strings.Fields(piiPlaceholder.ReplaceAllString(red, " ")), " ")
}

// DetectLocale returns "zh" when Chinese characters make up a fair share of
// the letters, else "en".
func DetectLocale(s string) string {
	var cjk, latin int
	for _, r := range s {
		switch {
		case tokenize.IsCJK(r):
			cjk++
		case unicode.IsLetter(r):
			latin++
		}
	}
	// One Chinese character carries about as much as a short English word.
	if cjk > 0 && cjk*4 >= latin {
		return "zh"
	}
	return "en"
}

// Warm loads what a first turn would otherwise load on its way: the
// message model and the tokenizer that counts prompt budgets. A server
// calls it before it accepts connections, so the first shopper does not
// wait for them. It returns the tokenizer's error (a broken build).
func Warm() error {
	Understand("How long do I have to return it?", "", nil)
	Understand("退货要多久？", "", nil)
	_, err := tokens.Count("warm")
	return err
}
