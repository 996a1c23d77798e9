package rag

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/tokenize"
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
	Legal           bool     // a legal threat or a regulator named
	OrderRefs       []string // order or tracking numbers the message names
	MyOrders        bool     // the shopper asks about their own orders
	Query           string   // the standalone query for retrieval
	FollowUp        bool     // the message leans on the conversation before it
	normalized      string
}

// cue lists are matched as substrings of the normalised message (lower-case,
// NFKC, single spaces), with a space added at both ends so " sue " matches
// the word only. They are deliberately plain data: a shop can read them.
var (
	humanCues = []string{
		"human", "real person", "live agent", "an agent", "to agent", "representative", "operator", "talk to someone",
		"speak to someone", "speak with someone", "talk to a person", "speak to a person", "connect me", "transfer me",
		"customer service rep", "live chat", "real people", "manager", "supervisor", "someone real",
		"转人工", "人工客服", "人工服务", "找人工", "要人工", "接人工", "转接人工", "真人", "人工", "客服专员", "找客服", "叫客服",
	}
	angerCues = []string{
		"furious", "angry", "pissed", "ridiculous", "unacceptable", "worst", "terrible", "horrible", "disgusting",
		"scam", "rip off", "ripoff", "useless", "pathetic", "fed up", "sick of", "third time", "3rd time", "wtf",
		"damn", "shit", "fuck", "hate you", "never again", "complain", "complaint", "!!!", "how dare",
		"气死", "太差", "垃圾", "骗子", "投诉", "愤怒", "受够", "坑人", "恶心", "什么玩意", "太过分", "无语", "差评", "忍无可忍", "第三次", "搞什么", "生气", "太慢了",
	}
	legalCues = []string{
		" sue ", "sue you", "lawyer", "attorney", "court", "legal action", "lawsuit", "consumer association",
		"regulator", "chargeback", "charge back", "report you",
		"起诉", "律师", "法院", "12315", "消协", "消费者协会", "报警", "工商局", "市场监管", "告你们",
	}
	outOfScopeCues = []string{
		"weather", "forecast", "politic", "president", "election", "government", " war ", "religion",
		"doctor", "medicine", "medical", "symptom", "headache", "diagnos", "pregnan", "prescription", "disease",
		"homework", "essay", "poem", "write code", "python", "javascript", "program for me", "math problem", "solve this equation",
		"stock tip", "stocks", "invest", "bitcoin", "crypto", "lottery", "bet on",
		"amazon", "taobao", "tmall", "pinduoduo", "ebay", "aliexpress", "shein", "temu",
		"recipe", "girlfriend", "boyfriend", "horoscope", "movie", "football", "nba",
		"天气", "下雨", "政治", "总统", "选举", "政府", "战争", "宗教", "医生", "吃药", "药", "症状", "头疼", "头痛", "看病", "怀孕", "感冒",
		"作业", "作文", "写诗", "写代码", "编程", "数学题", "股票", "炒股", "投资", "比特币", "彩票", "淘宝", "天猫", "拼多多", "亚马逊",
		"菜谱", "做饭", "女朋友", "男朋友", "星座", "电影", "足球",
	}
	orderStatusCues = []string{
		"where is my", "where's my", "wheres my", "where my", "track", "tracking", "status of my", "my order", "my orders",
		"my package", "my parcel", "my delivery", "my refund", "my return", "refund for my", "go through", "went through", "shipped yet", "has my", "did my", "when will my", "when does my", "arrive",
		"我的订单", "我的快递", "我的包裹", "订单状态", "到哪", "物流", "单号", "发货了吗", "发了吗", "到了吗", "什么时候到", "啥时候到", "几时到", "我买的", "我的货", "那个订单", "这个订单", "的订单", "那单", "啥情况", "什么情况", "进度", "付款了没", "到账了没", "退款到了吗",
	}
	// policyCues mark a question about the rules rather than about one's own
	// orders: "can I cancel my order" asks for the cancellation policy.
	policyCues = []string{
		"how do i", "how can i", "how to", "can i", "policy", "is it possible", "what if", "do you",
		"怎么", "如何", "可以吗", "能不能", "可不可以", "政策", "规定",
	}
	chitChatCues = []string{"hi", "hello", "hey", "thanks", "thank you", "thx", "good morning", "你好", "您好", "谢谢", "在吗", "在不在", "早上好", "哈喽"}
	negativeCues = []string{"disappoint", "not happy", "unhappy", "annoy", "frustrat", "bad", "broken", "late", "失望", "不满意", "烦", "慢", "坏了", "差"}
	positiveCues = []string{"great", "love", "awesome", "thanks", "thank you", "perfect", "谢谢", "很好", "满意", "喜欢", "赞"}
	followUpCues = []string{
		"what about", "how about", "and if", "and for", "what if", "it", "that", "this one", "that one", "the same", "also", "them", "those",
		"那", "这个", "那个", "它", "呢", "还有", "如果", "那么", "这样",
	}
	topicCues = map[string][]string{
		IntentReturn:   {"return", "retrun", "refund", "exchange", "money back", "send back", "send it back", "退货", "退款", "换货", "退钱", "退回", "退换", "无理由"},
		IntentShipping: {"ship", "deliver", "courier", "express", "postage", "dispatch", "carrier", "freight", "运费", "配送", "发货", "送货", "包邮", "快递", "顺丰", "京东物流", "送达", "几天到"},
		IntentPayment:  {"pay", "alipay", "wechat", "card", "invoice", "installment", "instalment", "coupon", "cash on delivery", "price protect", "发票", "支付", "付款", "花呗", "优惠券", "分期", "货到付款", "价保", "信用卡", "微信"},
		IntentAccount:  {"account", "password", "login", "log in", "sign in", "privacy", "personal data", "delete my data", "my data", "member", "points", "账户", "账号", "密码", "登录", "隐私", "个人信息", "注销", "会员", "积分"},
		IntentWarranty: {"warranty", "guarantee", "repair", "broken", "defect", "faulty", "stopped working", "doesn't work", "not working", "保修", "维修", "坏了", "故障", "质保", "不能用", "修"},
		IntentProduct:  {"price", "how much", "cost", "in stock", "stock", "color", "colour", "battery", "size", "weight", "watt", "capacity", "compatible", "spec", "model", "difference between", "recommend", "多少钱", "价格", "有货", "库存", "颜色", "电池", "续航", "尺寸", "重量", "功率", "容量", "兼容", "型号", "推荐", "区别", "参数"},
	}
)

// orderRefPattern finds order and tracking numbers: letters followed by
// at least four digits, optionally a dash and more digits (W240315-1001,
// SF1234567890123), or a bare run of eight or more digits.
var orderRefPattern = regexp.MustCompile(`(?i)\b[a-z]{1,3}\d{4,}(?:-\d{2,})?\b|\b\d{8,}\b`)

// Understand reads one message in the light of the conversation's history.
func Understand(message, locale string, history []kefu.Message) Understanding {
	// Cues are matched on the folded text, so full-width letters, zero-width
	// characters or homoglyphs do not slip a request past them.
	norm := " " + guard.Fold(message) + " "
	u := Understanding{normalized: norm}
	u.Locale = locale
	if u.Locale == "" || u.Locale == "auto" {
		u.Locale = DetectLocale(message)
	}
	u.InjectionReason, u.Injection = guard.Injection(message)
	u.Legal = hasAny(norm, legalCues)
	for _, m := range orderRefPattern.FindAllString(message, -1) {
		u.OrderRefs = append(u.OrderRefs, strings.ToUpper(m))
	}
	u.Sentiment = sentiment(norm, shouting(message))
	u.Intent = intent(norm, u)
	u.MyOrders = u.Intent == IntentOrderStatus

	u.Query = strings.TrimSpace(message)
	if prev := lastUserMessage(history); prev != "" && isFollowUp(norm) {
		u.FollowUp = true
		u.Query = prev + " " + u.Query
		if u.Intent == IntentOther || u.Intent == IntentChitChat {
			prevU := Understand(prev, u.Locale, nil)
			u.Intent = prevU.Intent
			u.MyOrders = prevU.MyOrders && len(u.OrderRefs) == 0
			u.OrderRefs = append(u.OrderRefs, prevU.OrderRefs...)
		}
	}
	return u
}

func intent(norm string, u Understanding) string {
	switch {
	case hasAny(norm, humanCues) && !hasAny(norm, []string{"human error"}):
		return IntentHuman
	case u.Legal, u.Sentiment == SentimentAngry:
		return IntentComplaint
	case u.Injection, hasAny(norm, outOfScopeCues):
		return IntentOutOfScope
	}
	policy := hasAny(norm, policyCues)
	if len(u.OrderRefs) > 0 || (hasAny(norm, orderStatusCues) && !policy) {
		return IntentOrderStatus
	}
	best, bestN := IntentOther, 0
	for _, it := range []string{IntentReturn, IntentWarranty, IntentShipping, IntentPayment, IntentAccount, IntentProduct} {
		if n := countAny(norm, topicCues[it]); n > bestN {
			best, bestN = it, n
		}
	}
	if best == IntentOther && isChitChat(norm) {
		return IntentChitChat
	}
	return best
}

func sentiment(norm string, shout bool) string {
	anger := countAny(norm, angerCues)
	switch {
	case anger >= 2, anger >= 1 && (strings.Contains(norm, "!") || shout):
		return SentimentAngry
	case anger == 1 && (strings.Contains(norm, "投诉") || strings.Contains(norm, "complain")):
		return SentimentAngry
	case anger == 1, hasAny(norm, negativeCues):
		return SentimentNegative
	case hasAny(norm, positiveCues):
		return SentimentPositive
	}
	return SentimentNeutral
}

// shouting reports a message written mostly in capitals ("WHERE IS MY
// ORDER"), which turns a single angry word into anger.
func shouting(raw string) bool {
	var upper, letters int
	for _, r := range raw {
		if unicode.IsLetter(r) && r < unicode.MaxLatin1 {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	return letters >= 8 && upper*10 >= letters*7
}

func isChitChat(norm string) bool {
	terms := tokenize.Terms(norm)
	return len(terms) <= 4 && hasAny(norm, chitChatCues)
}

func isFollowUp(norm string) bool {
	if len(tokenize.Terms(norm)) <= 3 {
		return true
	}
	for _, c := range followUpCues {
		if containsCue(norm, c) {
			return true
		}
	}
	return false
}

func lastUserMessage(history []kefu.Message) string {
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role == kefu.RoleUser {
			return history[i].Content
		}
	}
	return ""
}

func hasAny(norm string, cues []string) bool {
	for _, c := range cues {
		if containsCue(norm, c) {
			return true
		}
	}
	return false
}

func countAny(norm string, cues []string) int {
	n := 0
	for _, c := range cues {
		if containsCue(norm, c) {
			n++
		}
	}
	return n
}

// containsCue matches an ASCII cue at word boundaries ("hi" does not match
// "shipping") and a CJK cue anywhere.
func containsCue(norm, cue string) bool {
	if cue == "" {
		return false
	}
	first, _ := utf8First(cue)
	if tokenize.IsCJK(first) || !isASCIIWordish(cue) {
		return strings.Contains(norm, cue)
	}
	for i := 0; ; {
		j := strings.Index(norm[i:], cue)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(cue)
		if !wordByte(norm, start-1) && (!wordByte(norm, end) || isPrefixCue(cue)) {
			return true
		}
		i = start + 1
	}
}

// Cues that end in a word stem ("politic", "diagnos") may be followed by letters.
func isPrefixCue(cue string) bool {
	switch cue {
	case "politic", "diagnos", "pregnan", "disappoint", "annoy", "frustrat", "track", "deliver", "ship", "return", "refund", "complain", "invest":
		return true
	}
	return false
}

func wordByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
}

func isASCIIWordish(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return false
		}
	}
	return s[0] != ' ' && s[len(s)-1] != ' ' && s[0] != '!'
}

func utf8First(s string) (rune, int) {
	for _, r := range s {
		return r, 0
	}
	return 0, 0
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
