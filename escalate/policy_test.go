package escalate

import (
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

func answered(intent string) rag.Meta {
	return rag.Meta{Intent: intent, Locale: "en", Sentiment: rag.SentimentNeutral, Decision: rag.DecideAnswer}
}

func escalated(intent, sentiment, reason string) (rag.Meta, *rag.Escalation) {
	m := rag.Meta{Intent: intent, Locale: "en", Sentiment: sentiment, Decision: rag.DecideEscalate}
	if reason == ReasonNoKnowledge || reason == ReasonUngrounded {
		m.Reason = reason
	}
	return m, &rag.Escalation{Reason: reason}
}

// legal is m as the pipeline reports a message that reads as a legal threat.
func legal(m rag.Meta) rag.Meta { m.Legal = true; return m }

func assistant(decision, intent string) store.Message {
	return store.Message{Role: kefu.RoleAssistant, Decision: decision, Intent: intent, Escalated: decision == rag.DecideEscalate}
}

func user(text string) store.Message { return store.Message{Role: kefu.RoleUser, Content: text} }

func TestPolicyRules(t *testing.T) {
	p, err := NewPolicy(Config{})
	if err != nil {
		t.Fatal(err)
	}
	reqMeta, reqEsc := escalated(rag.IntentHuman, rag.SentimentNeutral, ReasonRequested)
	angryMeta, angryEsc := escalated(rag.IntentComplaint, rag.SentimentAngry, ReasonAnger)
	legalMeta, legalEsc := escalated(rag.IntentComplaint, rag.SentimentNegative, ReasonLegal)
	nkMeta, nkEsc := escalated(rag.IntentProduct, rag.SentimentNeutral, ReasonNoKnowledge)
	clarify := rag.Meta{Intent: rag.IntentOrderStatus, Locale: "en", Sentiment: rag.SentimentNeutral, Decision: rag.DecideClarify}
	zh := func(m rag.Meta) rag.Meta { m.Locale = "zh"; return m }
	refund := answered(rag.IntentReturn)

	tests := []struct {
		name     string
		turn     Turn
		reason   string // "" for no escalation
		priority string
	}{
		{"plain answer", Turn{Message: "How long do I have to return an item?", Meta: refund}, "", ""},
		{"requested", Turn{Message: "I want to talk to a human", Meta: reqMeta, Escalation: reqEsc}, ReasonRequested, store.PriorityNormal},
		{"requested, intent only", Turn{Message: "real person please", Meta: rag.Meta{Intent: rag.IntentHuman, Locale: "en"}}, ReasonRequested, store.PriorityNormal},
		{"anger", Turn{Message: "This is ridiculous, worst shop ever!!!", Meta: angryMeta, Escalation: angryEsc}, ReasonAnger, store.PriorityHigh},
		{"legal", Turn{Message: "I will sue you", Meta: legalMeta, Escalation: legalEsc}, ReasonLegal, store.PriorityUrgent},
		{"legal behind a request for a person", Turn{Message: "Get me a human or my lawyer will call", Meta: legal(reqMeta), Escalation: reqEsc}, ReasonLegal, store.PriorityUrgent},
		{"legal, no pipeline meta", Turn{Message: "Get me a human or my lawyer will call"}, ReasonLegal, store.PriorityUrgent},
		{"legal zh", Turn{Message: "我要去12315投诉你们", Meta: zh(legalMeta), Escalation: legalEsc}, ReasonLegal, store.PriorityUrgent},
		{"chargeback over legal", Turn{Message: "I'm going to file a chargeback with my bank", Meta: legalMeta, Escalation: legalEsc}, ReasonChargeback, store.PriorityUrgent},
		{"chargeback, dispute", Turn{Message: "I will dispute the charge with my credit card company", Meta: answered(rag.IntentPayment)}, ReasonChargeback, store.PriorityUrgent},
		{"chargeback zh", Turn{Message: "不退款我就找银行拒付", Meta: zh(refund)}, ReasonChargeback, store.PriorityUrgent},
		{"safety", Turn{Message: "The heater caught fire and burned my hand", Meta: answered(rag.IntentWarranty)}, ReasonSafety, store.PriorityUrgent},
		{"safety, injured", Turn{Message: "my son was injured by the blender blade", Meta: answered(rag.IntentProduct)}, ReasonSafety, store.PriorityUrgent},
		{"safety over anger", Turn{Message: "The charger EXPLODED, this is unacceptable!!!", Meta: angryMeta, Escalation: angryEsc}, ReasonSafety, store.PriorityUrgent},
		{"safety zh", Turn{Message: "充电器冒烟了，还烫伤了我的手", Meta: zh(answered(rag.IntentWarranty))}, ReasonSafety, store.PriorityUrgent},
		{"safety zh, shock", Turn{Message: "这个水壶漏电，我被电到了", Meta: zh(answered(rag.IntentWarranty))}, ReasonSafety, store.PriorityUrgent},
		{"fraud", Turn{Message: "There is an unauthorized charge, I did not place this order", Meta: answered(rag.IntentPayment)}, ReasonFraud, store.PriorityUrgent},
		{"fraud, British spelling", Turn{Message: "an unauthorised payment on my card", Meta: answered(rag.IntentPayment)}, ReasonFraud, store.PriorityUrgent},
		{"fraud zh", Turn{Message: "我的账号被盗了，有人盗刷我的信用卡", Meta: zh(answered(rag.IntentAccount))}, ReasonFraud, store.PriorityUrgent},
		{"fraud zh, counterfeit", Turn{Message: "你们卖的是假货", Meta: zh(answered(rag.IntentProduct))}, ReasonFraud, store.PriorityUrgent},
		{"no fire in firmware", Turn{Message: "How do I update the firmware?", Meta: answered(rag.IntentProduct)}, "", ""},
		{"no shock in shocking price", Turn{Message: "The price is shocking, any coupon?", Meta: answered(rag.IntentPayment)}, "", ""},
		{"refund above threshold", Turn{Message: "I want a refund of ¥2,500 for the vacuum", Meta: refund}, ReasonRefundAmount, store.PriorityNormal},
		{"refund above threshold zh", Turn{Message: "我要退款3000元", Meta: zh(refund)}, ReasonRefundAmount, store.PriorityNormal},
		{"refund in ten thousands", Turn{Message: "退1.5万块", Meta: zh(refund)}, ReasonRefundAmount, store.PriorityNormal},
		{"refund RMB without space", Turn{Message: "please give my money back, RMB2600", Meta: answered(rag.IntentOther)}, ReasonRefundAmount, store.PriorityNormal},
		{"refund at threshold", Turn{Message: "refund of ¥2000 please", Meta: refund}, "", ""},
		{"refund below threshold", Turn{Message: "refund of 1,999元 please", Meta: refund}, "", ""},
		{"refund in a currency without threshold", Turn{Message: "refund $5000 please", Meta: refund}, "", ""},
		{"price is not a refund", Turn{Message: "Is the TV ¥3000?", Meta: answered(rag.IntentProduct)}, "", ""},
		{"amount without currency", Turn{Message: "refund order 30000", Meta: refund}, "", ""},
		{"no knowledge", Turn{Message: "do you sell tractors", Meta: nkMeta, Escalation: nkEsc}, ReasonNoKnowledge, store.PriorityNormal},
		{"unknown pipeline reason", Turn{Message: "x", Meta: rag.Meta{Decision: rag.DecideEscalate, Locale: "en"}, Escalation: &rag.Escalation{Reason: "mystery"}}, ReasonOther, store.PriorityNormal},
		{"third clarify in a row", Turn{Message: "order", Meta: clarify, History: []store.Message{
			user("where is my order"), assistant(rag.DecideClarify, rag.IntentOrderStatus), user("my order"), assistant(rag.DecideClarify, rag.IntentOrderStatus),
		}}, ReasonRepeatedFailure, store.PriorityNormal},
		{"second clarify", Turn{Message: "order", Meta: clarify, History: []store.Message{
			user("hi"), assistant(rag.DecideAnswer, rag.IntentChitChat), user("my order"), assistant(rag.DecideClarify, rag.IntentOrderStatus),
		}}, "", ""},
		{"third did-not-know in a row", Turn{Message: "tractor tyres?", Meta: nkMeta, Escalation: nkEsc, History: []store.Message{
			user("tractors?"), assistant(rag.DecideEscalate, rag.IntentProduct), user("tractor parts?"), assistant(rag.DecideClarify, rag.IntentProduct),
		}}, ReasonRepeatedFailure, store.PriorityNormal},
		{"an earlier request for a person breaks the run", Turn{Message: "order", Meta: clarify, History: []store.Message{
			assistant(rag.DecideClarify, rag.IntentOrderStatus), assistant(rag.DecideEscalate, rag.IntentHuman), assistant(rag.DecideClarify, rag.IntentOrderStatus),
		}}, "", ""},
		{"an agent's message breaks the run", Turn{Message: "order", Meta: clarify, History: []store.Message{
			assistant(rag.DecideClarify, rag.IntentOrderStatus), assistant(rag.DecideClarify, rag.IntentOrderStatus), {Role: kefu.RoleAgent, Content: "hello"},
		}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := p.Assess(tt.turn)
			if tt.reason == "" {
				if ok {
					t.Fatalf("escalated: %+v", d)
				}
				return
			}
			if !ok || d.Reason != tt.reason || d.Priority != tt.priority {
				t.Fatalf("Assess = %+v, %v; want %s/%s", d, ok, tt.reason, tt.priority)
			}
			if d.Team != DefaultTeam {
				t.Errorf("team = %q, want the default", d.Team)
			}
		})
	}
}

func TestPolicyConfig(t *testing.T) {
	usd, err := ParseThresholds("CNY 5000, USD 300")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(Config{RefundThresholds: usd, MaxUnresolvedTurns: -1})
	if err != nil {
		t.Fatal(err)
	}
	refund := answered(rag.IntentReturn)
	for msg, want := range map[string]bool{
		"refund $500 please":      true,
		"refund 250 dollars":      false,
		"refund ¥3000":            false,
		"退款6000元":                 true,
		"refund €9000 (no euros)": false,
	} {
		if _, ok := p.Assess(Turn{Message: msg, Meta: refund}); ok != want {
			t.Errorf("%q escalated = %v, want %v", msg, ok, want)
		}
	}
	clarify := rag.Meta{Intent: rag.IntentOrderStatus, Locale: "en", Decision: rag.DecideClarify}
	var hist []store.Message
	for range 6 {
		hist = append(hist, user("order?"), assistant(rag.DecideClarify, rag.IntentOrderStatus))
	}
	if d, ok := p.Assess(Turn{Message: "order", Meta: clarify, History: hist}); ok {
		t.Errorf("with the rule off, repeated clarifying escalated: %+v", d)
	}
	p2, _ := NewPolicy(Config{MaxUnresolvedTurns: 1})
	if d, ok := p2.Assess(Turn{Message: "order", Meta: clarify}); !ok || d.Reason != ReasonRepeatedFailure {
		t.Errorf("max 1: one clarifying turn = %+v, %v", d, ok)
	}

	for _, bad := range []Config{
		{Teams: []Team{{Name: "Returns Team"}}},
		{Teams: []Team{{Name: "a"}, {Name: "a"}}},
		{Teams: []Team{{Name: "a", Intents: []string{"refunds"}}}},
		{Teams: []Team{{Name: "a", Reasons: []string{"sad"}}}},
		{DefaultTeam: "-x"},
		{RefundThresholds: []Money{{Currency: "CNY", Amount: -1}}},
	} {
		if _, err := NewPolicy(bad); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("NewPolicy(%+v) = %v, want invalid", bad, err)
		}
	}
}

func TestRouting(t *testing.T) {
	teams, err := ParseTeams("legal:::legal,chargeback,fraud; returns-zh:return_refund:zh; support-en::en")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(Config{Teams: teams, DefaultTeam: "general"})
	if err != nil {
		t.Fatal(err)
	}
	reqMeta, reqEsc := escalated(rag.IntentHuman, rag.SentimentNeutral, ReasonRequested)
	zhReq := reqMeta
	zhReq.Locale = "zh"
	refundZH := rag.Meta{Intent: rag.IntentReturn, Locale: "zh", Decision: rag.DecideAnswer}
	tests := []struct {
		name   string
		turn   Turn
		team   string
		intent string
	}{
		{"zh refund", Turn{Message: "我要退款5000元", Meta: refundZH}, "returns-zh", rag.IntentReturn},
		{"zh person after a refund question routes by the topic", Turn{Message: "转人工", Meta: zhReq, Escalation: reqEsc, History: []store.Message{
			user("退货要多久"), assistant(rag.DecideAnswer, rag.IntentReturn),
		}}, "returns-zh", rag.IntentReturn},
		{"zh person, no topic", Turn{Message: "转人工", Meta: zhReq, Escalation: reqEsc}, "general", rag.IntentHuman},
		{"chargeback in any language", Turn{Message: "我要找银行拒付", Meta: refundZH}, "legal", rag.IntentReturn},
		{"en person", Turn{Message: "agent please", Meta: reqMeta, Escalation: reqEsc}, "support-en", rag.IntentHuman},
		{"en refund", Turn{Message: "refund ¥9000", Meta: answered(rag.IntentReturn)}, "support-en", rag.IntentReturn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := p.Assess(tt.turn)
			if !ok || d.Team != tt.team || d.Intent != tt.intent {
				t.Fatalf("Assess = %+v, %v; want team %s, intent %s", d, ok, tt.team, tt.intent)
			}
		})
	}
	if got := p.Route(ReasonRequested, rag.IntentReturn, "ja"); got != "general" {
		t.Errorf("Route for an unknown locale = %q, want the default team", got)
	}
}

func TestParseTeams(t *testing.T) {
	teams, err := ParseTeams("returns-zh:return_refund,shipping:zh;vip")
	if err != nil {
		t.Fatal(err)
	}
	if len(teams) != 2 || teams[0].Name != "returns-zh" || len(teams[0].Intents) != 2 || teams[0].Locales[0] != "zh" ||
		teams[1].Name != "vip" || teams[1].Intents != nil {
		t.Errorf("ParseTeams = %+v", teams)
	}
	for _, bad := range []string{"a:b:c:d:e", "x:refunds", "Bad Name", "a;a", "a:::anger,sad"} {
		if _, err := ParseTeams(bad); err == nil {
			t.Errorf("ParseTeams(%q) succeeded", bad)
		}
	}
}
