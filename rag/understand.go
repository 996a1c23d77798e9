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
		"customer service rep", "live chat", "real people", "manager", "supervisor", "someone real", "colleague",
		"pass this on", "escalate this", "someone who can", "a person please", "staff member", "actual person",
		"转人工", "人工客服", "人工服务", "找人工", "要人工", "接人工", "转接", "真人", "人工", "客服专员", "找客服", "叫客服",
		"叫你们客服", "叫你们领导", "找你们领导", "主管", "经理", "活人",
	}
	legalCues = []string{
		" sue ", "sue you", "lawyer", "attorney", "court", "legal action", "lawsuit", "consumer association",
		"regulator", "chargeback", "charge back", "report you",
		"起诉", "律师", "法院", "12315", "消协", "消费者协会", "报警", "工商局", "市场监管", "告你们",
	}
	// outOfScopeCues name tasks and topics that are not the shop's business.
	// They decide only when no shop topic is present ("my doctor says I need
	// an air purifier, do you sell one?" is a product question), except the
	// strong ones: a request to do something else entirely.
	outOfScopeCues = []string{
		"weather", "forecast", "politic", "president", "election", "vote for", "government", " war ", "religion",
		"doctor", "medicine", "medical", "symptom", "headache", "diagnos", "pregnan", "prescription", "disease", "rash", "fever",
		"homework", "essay", "poem", "write code", "python", "javascript", "program for me", "math problem", "solve this equation",
		"stock tip", "stocks", "invest", "bitcoin", "crypto", "lottery", "bet on", "tesla stock",
		"amazon", "taobao", "tmall", "pinduoduo", "ebay", "aliexpress", "shein", "temu",
		"recipe", "girlfriend", "boyfriend", "horoscope", "movie", "football", "nba", "leaking tap", "plumber", "translate this poem",
		"天气", "下雨", "政治", "总统", "选举", "政府", "战争", "宗教", "医生", "吃药", "药", "症状", "头疼", "头痛", "看病", "怀孕", "感冒", "发烧",
		"作业", "作文", "写诗", "写代码", "编程", "数学题", "股票", "炒股", "投资", "比特币", "彩票", "双色球", "淘宝", "天猫", "拼多多", "亚马逊",
		"菜谱", "做饭", "女朋友", "男朋友", "星座", "电影", "电视剧", "足球", "修水管",
	}
	strongOutOfScope = []string{
		"weather", "forecast", "election", "vote for", "write me", "write a", "python script", "write code", "homework for me",
		"stock tip", "which stock", "tesla stock", "lottery", "my taobao", "taobao order", "my amazon", "amazon order", "what cream", "what medicine",
		"天气", "写代码", "写作文", "写诗", "股票", "彩票", "双色球", "淘宝的订单", "淘宝订单", "吃什么药", "什么药", "电视剧", "选举",
	}
	// complaintCues mark dissatisfaction said calmly.
	complaintCues = []string{
		"disappoint", "not happy", "unhappy", "rude", "heads up", "nobody replied", "no one replied", "slow", "not impressed",
		"poor", "bad experience", "bad service", "beaten up", "crushed box", "complain", "feedback", "could be better", "not great",
		"失望", "不满意", "态度", "简陋", "压扁", "体验", "闪退", "太慢", "有点慢", "不太好", "差", "吐槽", "反馈", "意见",
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
	chitChatCues = []string{
		"hi", "hello", "hey", "thanks", "thank you", "thx", "good morning", "good night", "good evening", "bye", "goodbye", "see you",
		"ok", "okay", "cool", "nice", "lol", "haha", "how are you", "helpful", "great job", "well done", "appreciate", "are you a bot", "are you human", "are you real", "are you a robot", "who are you",
		"你好", "您好", "谢谢", "在吗", "在不在", "早上好", "晚上好", "晚安", "哈喽", "好的", "嗯", "哈哈", "拜拜", "再见", "你是机器人", "你是谁", "你是真人",
	}
	// continuationCues carry on from the previous message without a new
	// request of their own.
	continuationCues = []string{"do it", "go on", "go ahead", "continue", "proceed", "now do", "as i said", "like i said", "i told you", "do as", "just do",
		"继续", "照做", "开始吧", "执行", "按我说的", "就这么做", "快说", "说吧"}
	// identityCues ask what the assistant is; they are chit-chat, not a
	// request for a person.
	identityCues = []string{
		"are you a bot", "are you human", "are you a human", "are you real", "are you a robot", "are you a real person",
		"are you ai", "are you an ai", "are you chatgpt", "is this a bot", "am i talking to a bot", "am i talking to a human",
		"你是真人", "你是机器人", "你是ai", "你是人工智能", "是真人吗", "是机器人吗", "你是人吗", "你是谁",
	}
	followUpCues = []string{
		"what about", "how about", "and if", "and for", "what if", "it", "that", "this one", "that one", "the same", "also", "them", "those",
		"那", "这个", "那个", "它", "呢", "还有", "如果", "那么", "这样",
	}
	topicCues = map[string][]string{
		IntentReturn: {"return", "retrun", "refund", "exchange", "money back", "send back", "send it back", "restocking", "swap", "wrong item", "wrong colour", "wrong color", "cancel",
			"退货", "退款", "换货", "退钱", "退回", "退换", "无理由", "能退", "退吗", "退不", "换个", "换成", "发错", "拆封", "取消"},
		IntentShipping: {"ship", "deliver", "courier", "express", "postage", "dispatch", "carrier", "freight", "parcel", "package", "pick up", "pickup", "collect in store", "address", "customs", "station", "two parcels",
			"运费", "配送", "发货", "送货", "包邮", "快递", "顺丰", "京东物流", "送达", "几天到", "发到", "寄到", "送到", "多久到", "自提", "包裹", "地址", "驿站", "寄", "关税", "快递员"},
		IntentPayment: {"pay", "paypal", "alipay", "wechat", "card", "invoice", "fapiao", "installment", "instalment", "coupon", "cash on delivery", "price protect", "price drop", "price went down", "bank transfer", "charged twice", "payment", "huabei", "vat",
			"发票", "专票", "支付", "付款", "花呗", "优惠券", "分期", "货到付款", "价保", "保价", "信用卡", "微信", "对公", "转账", "扣款", "扣了", "降价", "满减", "退差价"},
		IntentAccount: {"account", "password", "pasword", "login", "log in", "sign in", "privacy", "personal data", "delete my data", "my data", "member", "points", "unsubscribe", "marketing", "recommendation", "personalised", "personalized", "newsletter", "chat history", "data stored", "card number",
			"账户", "账号", "密码", "登录", "隐私", "个人信息", "注销", "会员", "积分", "退订", "短信", "营销", "推荐", "信息卖", "聊天记录", "数据"},
		IntentWarranty: {"warranty", "warrenty", "guarantee", "repair", "broken", "defect", "faulty", "stopped working", "doesn't work", "not working", "stopped charging", "won't charge", "no sound", "leak", "serial number", "fault",
			"保修", "维修", "坏了", "故障", "质保", "不能用", "修", "没声音", "漏水", "不充电", "充不进", "序列号", "失灵", "不工作"},
		IntentProduct: {"price", "how much", "cost", "in stock", "stock", "color", "colour", "battery", "size", "weight", "watt", "capacity", "compatible", "work with", "works with", "spec", "model", "difference", " vs ", "versus", "recommend", "do you sell", "do you have", "which one", "which is better", "waterproof", "fit", "support",
			"多少钱", "价格", "有货", "库存", "颜色", "电池", "续航", "尺寸", "重量", "功率", "容量", "兼容", "型号", "推荐", "区别", "参数", "哪款", "哪个好", "有没有", "你们有", "支持", "能接", "防水", "适合"},
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
	if !u.Injection && hasAny(norm, continuationCues) && len(tokenize.Terms(norm)) <= 8 {
		// "ok, now do it" after an attempt to override the assistant
		// continues the attempt.
		for i := len(history) - 1; i >= 0 && i >= len(history)-4; i-- {
			if reason, found := guard.Injection(history[i].Content); found {
				u.InjectionReason, u.Injection = "multi_turn_"+reason, true
				break
			}
		}
	}
	u.Legal = hasAny(norm, legalCues)
	// A phone number is not an order number, and an e-mail address is not
	// something to search the shop's documents for.
	clean := withoutPII(message)
	for _, m := range orderRefPattern.FindAllString(clean, -1) {
		u.OrderRefs = append(u.OrderRefs, strings.ToUpper(m))
	}
	u.Sentiment = sentiment(norm, message)
	u.Intent = intent(norm, u)
	u.MyOrders = u.Intent == IntentOrderStatus

	u.Query = strings.TrimSpace(clean)
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
	case hasAny(norm, identityCues):
		return IntentChitChat
	case hasAny(norm, humanCues) && !hasAny(norm, []string{"human error"}):
		return IntentHuman
	case u.Injection, hasAny(norm, strongOutOfScope):
		return IntentOutOfScope
	case u.Legal:
		return IntentComplaint
	}
	// The shop's topics come first: an angry message about a late parcel is
	// about shipping (and goes to a human for its anger), and "my doctor says
	// I need an air purifier" is a product question.
	if topic := topicIntent(norm, u); topic != IntentOther {
		return topic
	}
	switch {
	case hasAny(norm, outOfScopeCues):
		return IntentOutOfScope
	case u.Sentiment == SentimentAngry, hasAny(norm, complaintCues):
		return IntentComplaint
	case isChitChat(norm):
		return IntentChitChat
	}
	return IntentOther
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

func isChitChat(norm string) bool {
	terms := tokenize.Terms(norm)
	return len(terms) <= 6 && hasAny(norm, chitChatCues)
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

var piiPlaceholder = regexp.MustCompile(`\[(email|phone|card|id_number|address)\]`)

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
