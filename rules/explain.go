package rules

import (
	"fmt"
	"strings"
	"time"
)

// actionWords are the bilingual phrases a reason is composed of, per action:
// the noun for the action's window ("returns"), the passive verb ("be
// returned") and the Chinese verb ("退货").
var actionWords = map[Action]struct {
	noun, verb, zh string
	singular       bool
}{
	Cancel:          {"cancellation", "be cancelled", "取消", true},
	ModifyItems:     {"changes to the items", "have its items changed", "修改商品", false},
	ModifyAddress:   {"address changes", "have its address changed", "修改地址", false},
	Return:          {"returns", "be returned", "退货", false},
	Exchange:        {"exchanges", "be exchanged", "换货", false},
	Refund:          {"refunds", "be refunded", "退款", false},
	PriceProtection: {"price protection", "get price protection", "申请价保", true},
	Warranty:        {"the warranty", "be repaired under warranty", "保修", true},
}

// dateWords names a date in a sentence: "was delivered on", "签收".
var dateWords = map[string]struct{ en, zh string }{
	DatePlaced:    {"placed", "下单"},
	DateDelivered: {"delivered", "签收"},
	"shipped":     {"shipped", "发货"},
}

func dateVerb(name string) (en, zh string) {
	if w, ok := dateWords[name]; ok {
		return w.en, w.zh
	}
	return strings.ReplaceAll(name, "_", " "), name
}

// FormatDate writes a day as a sentence does: "13 October 2026",
// "2026年10月13日".
func FormatDate(t time.Time, locale string) string {
	if pickLocale(locale) == "zh" {
		return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
	}
	return fmt.Sprintf("%d %s %d", t.Day(), t.Month(), t.Year())
}

// status returns how a status reads in locale.
func (b *Book) status(s, loc string) string {
	if names, ok := b.statuses[norm(s)]; ok {
		if n := names[loc]; n != "" {
			return n
		}
		if n := names["en"]; n != "" && loc == "en" {
			return n
		}
	}
	return strings.ReplaceAll(s, "_", " ")
}

func (b *Book) statusList(r *rule, loc string) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range r.statusList {
		n := b.status(s, loc)
		if s == "*" {
			n = map[string]string{"en": "in any status", "zh": "任何"}[loc]
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if loc == "zh" {
		return strings.Join(out, "、")
	}
	switch len(out) {
	case 0:
		return ""
	case 1:
		return out[0]
	}
	return strings.Join(out[:len(out)-1], ", ") + " or " + out[len(out)-1]
}

// span describes the window that gave deadline: "30 days", "24个月".
func (r *rule) span(f Facts, from time.Time, loc string) string {
	w := r.longest(f, from)
	switch {
	case loc == "zh" && w.months > 0:
		return fmt.Sprintf("%d个月", w.months)
	case loc == "zh":
		return fmt.Sprintf("%d天", w.days)
	case w.months == 1:
		return "1 month"
	case w.months > 0:
		return fmt.Sprintf("%d months", w.months)
	case w.days == 1:
		return "1 day"
	}
	return fmt.Sprintf("%d days", w.days)
}

// phrase composes a decision's reason in English and Chinese from the facts,
// the rule and the decision.
func (b *Book) phrase(f Facts, a Action, r *rule, d Decision, today time.Time) map[string]string {
	w := actionWords[a]
	id := orUnknown(f.OrderID)
	switch d.Code {
	case CodeNoRule:
		return map[string]string{
			"en": fmt.Sprintf("The shop's rules say nothing about %s, so whether order %s can %s is for a person to decide.", w.noun, id, w.verb),
			"zh": fmt.Sprintf("店铺规则中没有关于%s的规定，订单%s能否%s需要人工客服确认。", w.zh, id, w.zh),
		}
	case CodeStatus:
		return map[string]string{
			"en": fmt.Sprintf("Order %s is %s; an order can %s only when it is %s, so it cannot %s now.", id, b.status(f.Status, "en"), w.verb, b.statusList(r, "en"), w.verb),
			"zh": fmt.Sprintf("订单%s当前状态为%s；只有%s状态的订单可以%s，因此目前不能%s。", id, b.status(f.Status, "zh"), b.statusList(r, "zh"), w.zh, w.zh),
		}
	case CodeLimit:
		return map[string]string{
			"en": fmt.Sprintf("Order %s has already had %s once; an order can %s only once.", id, actionOnce(a), w.verb),
			"zh": fmt.Sprintf("订单%s已经%s过一次；每个订单只能%s一次。", id, w.zh, w.zh),
		}
	case CodeCategory:
		cat := r.excluded(f)
		nameEN, nameZH := cat, cat
		for _, it := range f.Items {
			if norm(it.Category) == norm(cat) && it.Name != "" {
				nameEN, nameZH = it.Name+" ("+cat+")", it.Name+"（"+cat+"）"
				break
			}
		}
		return map[string]string{
			"en": fmt.Sprintf("Order %s holds %s, and %s are not accepted for that category, so it cannot %s.", id, nameEN, w.noun, w.verb),
			"zh": fmt.Sprintf("订单%s中的%s属于不支持%s的类别，因此不能%s。", id, nameZH, w.zh, w.zh),
		}
	case CodeMissingDate:
		en, zh := dateVerb(r.from)
		return map[string]string{
			"en": fmt.Sprintf("The shop's records do not say when order %s was %s, so whether it can still %s cannot be worked out; a person can check.", id, en, w.verb),
			"zh": fmt.Sprintf("订单记录中没有订单%s的%s日期，无法判断是否还能%s，可以请人工客服核实。", id, zh, w.zh),
		}
	}
	// Allowed, or the window has closed.
	if d.Deadline.IsZero() {
		return map[string]string{
			"en": fmt.Sprintf("Order %s is %s, and an order that is %s can %s.", id, b.status(f.Status, "en"), b.statusList(r, "en"), w.verb),
			"zh": fmt.Sprintf("订单%s当前状态为%s，%s状态的订单可以%s。", id, b.status(f.Status, "zh"), b.statusList(r, "zh"), w.zh),
		}
	}
	from := f.Date(r.from)
	en, zh := dateVerb(r.from)
	spanEN, spanZH := r.span(f, from, "en"), r.span(f, from, "zh")
	noun, are, close := w.noun, "are", "close"
	if w.singular {
		are, close = "is", "closes"
	}
	if a == Warranty {
		if d.Code == CodeAllowed {
			return map[string]string{
				"en": fmt.Sprintf("Order %s was %s on %s; the warranty runs %s from %s, until %s.", id, en, FormatDate(from, "en"), spanEN, nounOf(en), FormatDate(d.Deadline, "en")),
				"zh": fmt.Sprintf("订单%s于%s%s；保修期为%s后%s，至%s。", id, FormatDate(from, "zh"), zh, zh, spanZH, FormatDate(d.Deadline, "zh")),
			}
		}
		return map[string]string{
			"en": fmt.Sprintf("Order %s was %s on %s; the warranty ran %s from %s and ended on %s.", id, en, FormatDate(from, "en"), spanEN, nounOf(en), FormatDate(d.Deadline, "en")),
			"zh": fmt.Sprintf("订单%s于%s%s；保修期为%s后%s，已于%s结束。", id, FormatDate(from, "zh"), zh, zh, spanZH, FormatDate(d.Deadline, "zh")),
		}
	}
	if d.Code == CodeAllowed {
		return map[string]string{
			"en": fmt.Sprintf("Order %s was %s on %s; %s %s open for %s after %s, until %s, so it can %s.", id, en, FormatDate(from, "en"), noun, are, spanEN, nounOf(en), FormatDate(d.Deadline, "en"), w.verb),
			"zh": fmt.Sprintf("订单%s于%s%s；%s后%s内可以%s，截止%s，因此可以%s。", id, FormatDate(from, "zh"), zh, zh, spanZH, w.zh, FormatDate(d.Deadline, "zh"), w.zh),
		}
	}
	return map[string]string{
		"en": fmt.Sprintf("Order %s was %s on %s; %s %s %s after %s, on %s, so it can no longer %s.", id, en, FormatDate(from, "en"), noun, close, spanEN, nounOf(en), FormatDate(d.Deadline, "en"), w.verb),
		"zh": fmt.Sprintf("订单%s于%s%s；%s期限为%s后%s，已于%s截止，因此已不能%s。", id, FormatDate(from, "zh"), zh, w.zh, zh, spanZH, FormatDate(d.Deadline, "zh"), w.zh),
	}
}

// notePhrase is the sentence a refusal adds about the note action still
// open: "It is still under warranty until 13 September 2028."
func (b *Book) notePhrase(a Action, n Decision) map[string]string {
	if a == Warranty {
		return map[string]string{
			"en": fmt.Sprintf("It is still under warranty until %s.", FormatDate(n.Deadline, "en")),
			"zh": fmt.Sprintf("该订单仍在保修期内，保修至%s。", FormatDate(n.Deadline, "zh")),
		}
	}
	w := actionWords[a]
	if n.Deadline.IsZero() {
		return map[string]string{
			"en": fmt.Sprintf("It can still %s.", w.verb),
			"zh": fmt.Sprintf("该订单仍可以%s。", w.zh),
		}
	}
	return map[string]string{
		"en": fmt.Sprintf("It can still %s until %s.", w.verb, FormatDate(n.Deadline, "en")),
		"zh": fmt.Sprintf("该订单在%s前仍可以%s。", FormatDate(n.Deadline, "zh"), w.zh),
	}
}

func actionOnce(a Action) string {
	switch a {
	case Cancel:
		return "a cancellation"
	case ModifyItems:
		return "its items changed"
	case ModifyAddress:
		return "its address changed"
	case Return:
		return "a return"
	case Exchange:
		return "an exchange"
	case Refund:
		return "a refund"
	case PriceProtection:
		return "price protection"
	}
	return "a warranty repair"
}

// nounOf turns a date's verb into its noun: delivered -> delivery.
func nounOf(verb string) string {
	switch verb {
	case "delivered":
		return "delivery"
	case "placed":
		return "the order was placed"
	case "shipped":
		return "shipping"
	}
	return verb
}
