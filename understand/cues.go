package understand

import (
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu/tokenize"
)

// CueLists are phrases matched as substrings of the folded message (see
// ContainsCue). The model reads which lists a message hits as features;
// none of them decides on its own. They are plain data so that a shop can
// read them.
type CueLists struct {
	Human            []string // asking for a person
	Legal            []string // a legal threat or a regulator named
	OutOfScope       []string // tasks and topics that are not the shop's business
	StrongOutOfScope []string // requests to do something else entirely
	Complaint        []string // dissatisfaction said calmly
	OrderStatus      []string // the state of one's own order or parcel
	Policy           []string // a question about the rules
	ChitChat         []string // greetings, thanks, small talk
	Continuation     []string // carrying on from the previous message
	Identity         []string // what the assistant is
	FollowUp         []string // leaning on the conversation before
	StrongAnger      []string // words that count two towards anger
	MildAnger        []string // signs of exasperation, one each
	Sarcasm          []string
	AngryEmoji       []string
	// ShopWords are the things a shop sells and does, in general terms:
	// a message with none of them (and no topic word) is less likely the
	// shop's business.
	ShopWords []string
	// Attack concepts: words that manipulation attempts are made of. Each
	// is innocent alone ("ignore my last message"); together they are not.
	AttackVerb      []string // setting instructions aside
	AttackTarget    []string // what an attacker wants set aside or shown
	AttackAuthority []string // claiming to be someone who may command
	AttackOthers    []string // other people's data
	AttackForced    []string // dictating what the assistant says
	AttackRole      []string // making the assistant someone else
	AttackEncoding  []string // hiding an instruction
	// Who and what a message addresses: each is common in shop questions;
	// the model reads them in pairs (see cuePairs), where "you" with an
	// order to do or say something, or another person with their data,
	// is what an attempt is made of.
	SecondPerson []string // the assistant addressed
	Directive    []string // an order to produce, show or do something
	OtherPerson  []string // someone other than the shopper
	PersonalData []string // what a person's record holds
	Commitment   []string // a promise, approval or statement on the shop's behalf
	// Topic maps a shop intent to the words that name its topic.
	Topic map[string][]string
	// Actions maps an after-sales action (the names of package rules:
	// cancel, modify_address, modify_items, return, exchange, refund,
	// price_protection, warranty) to the words that ask for it. They are
	// not model features (the topic cues above carry these words into the
	// intent head); they tell which action an order question is about.
	Actions map[string][]string
}

// Cues are the phrase lists the features and the rag package's rules use.
var Cues = CueLists{
	Human: []string{
		"human", "real person", "live agent", "an agent", "to agent", "representative", "operator", "talk to someone",
		"speak to someone", "speak with someone", "talk to a person", "speak to a person", "connect me", "transfer me",
		"customer service rep", "live chat", "real people", "manager", "supervisor", "someone real", "colleague",
		"pass this on", "escalate this", "someone who can", "a person please", "staff member", "actual person",
		"转人工", "人工客服", "人工服务", "找人工", "要人工", "接人工", "转接", "真人", "人工", "客服专员", "找客服", "叫客服",
		"叫你们客服", "叫你们领导", "找你们领导", "主管", "经理", "活人",
	},
	Legal: []string{
		" sue ", "sue you", "lawyer", "attorney", "court", "legal action", "lawsuit", "consumer association",
		"regulator", "chargeback", "charge back", "report you",
		"起诉", "律师", "法院", "12315", "消协", "消费者协会", "报警", "工商局", "市场监管", "告你们",
	},
	OutOfScope: []string{
		"weather", "forecast", "politic", "president", "election", "vote for", "government", " war ", "religion",
		"doctor", "medicine", "medical", "symptom", "headache", "diagnos", "pregnan", "prescription", "disease", "rash", "fever",
		"homework", "essay", "poem", "write code", "python", "javascript", "program for me", "math problem", "solve this equation",
		"stock tip", "stocks", "invest", "bitcoin", "crypto", "lottery", "bet on", "tesla stock",
		"amazon", "taobao", "tmall", "pinduoduo", "ebay", "aliexpress", "shein", "temu",
		"recipe", "girlfriend", "boyfriend", "horoscope", "movie", "football", "nba", "leaking tap", "plumber", "translate this poem",
		"天气", "下雨", "政治", "总统", "选举", "政府", "战争", "宗教", "医生", "吃药", "药", "症状", "头疼", "头痛", "看病", "怀孕", "感冒", "发烧",
		"作业", "作文", "写诗", "写代码", "编程", "数学题", "股票", "炒股", "投资", "比特币", "彩票", "双色球", "淘宝", "天猫", "拼多多", "亚马逊",
		"菜谱", "做饭", "女朋友", "男朋友", "星座", "电影", "电视剧", "足球", "修水管",
	},
	StrongOutOfScope: []string{
		"weather", "forecast", "election", "vote for", "write me", "write a", "python script", "write code", "homework for me",
		"stock tip", "which stock", "tesla stock", "lottery", "my taobao", "taobao order", "my amazon", "amazon order", "what cream", "what medicine",
		"天气", "写代码", "写作文", "写诗", "股票", "彩票", "双色球", "淘宝的订单", "淘宝订单", "吃什么药", "什么药", "电视剧", "选举",
	},
	Complaint: []string{
		"disappoint", "not happy", "unhappy", "rude", "heads up", "nobody replied", "no one replied", "slow", "not impressed",
		"poor", "bad experience", "bad service", "beaten up", "crushed box", "complain", "feedback", "could be better", "not great",
		"失望", "不满意", "态度", "简陋", "压扁", "体验", "闪退", "太慢", "有点慢", "不太好", "差", "吐槽", "反馈", "意见",
	},
	OrderStatus: []string{
		"where is my", "where's my", "wheres my", "where my", "track", "tracking", "status of my", "my order", "my orders",
		"my package", "my parcel", "my delivery", "my refund", "my return", "refund for my", "go through", "went through", "shipped yet", "has my", "did my", "when will my", "when does my", "arrive",
		"我的订单", "我的快递", "我的包裹", "订单状态", "到哪", "物流", "单号", "发货了吗", "发了吗", "到了吗", "什么时候到", "啥时候到", "几时到", "我买的", "我的货", "那个订单", "这个订单", "的订单", "那单", "啥情况", "什么情况", "进度", "付款了没", "到账了没", "退款到了吗",
	},
	Policy: []string{
		"how do i", "how can i", "how to", "can i", "policy", "is it possible", "what if", "do you",
		"怎么", "如何", "可以吗", "能不能", "可不可以", "政策", "规定",
	},
	ChitChat: []string{
		"hi", "hello", "hey", "thanks", "thank you", "thx", "good morning", "good night", "good evening", "bye", "goodbye", "see you",
		"ok", "okay", "cool", "nice", "lol", "haha", "how are you", "helpful", "great job", "well done", "appreciate", "are you a bot", "are you human", "are you real", "are you a robot", "who are you",
		"你好", "您好", "谢谢", "在吗", "在不在", "早上好", "晚上好", "晚安", "哈喽", "好的", "嗯", "哈哈", "拜拜", "再见", "你是机器人", "你是谁", "你是真人",
	},
	Continuation: []string{"do it", "go on", "go ahead", "continue", "proceed", "now do", "as i said", "like i said", "i told you", "do as", "just do",
		"继续", "照做", "开始吧", "执行", "按我说的", "就这么做", "快说", "说吧"},
	Identity: []string{
		"are you a bot", "are you human", "are you a human", "are you real", "are you a robot", "are you a real person",
		"are you ai", "are you an ai", "are you chatgpt", "is this a bot", "am i talking to a bot", "am i talking to a human",
		"你是真人", "你是机器人", "你是ai", "你是人工智能", "是真人吗", "是机器人吗", "你是人吗", "你是谁",
	},
	FollowUp: []string{
		"what about", "how about", "and if", "and for", "what if", "it", "that", "this one", "that one", "the same", "also", "them", "those",
		"那", "这个", "那个", "它", "呢", "还有", "如果", "那么", "这样",
	},
	StrongAnger: []string{
		"furious", "pissed", "wtf", "the hell", "scam", "scammer", "disgusting", "unacceptable", "ridiculous", "outrageous",
		"never again", "thanks for nothing", "i'm done", "im done", "fed up", "sick of", "sick and tired", "a**", "f***", "fuck",
		"shit", "damn", "how dare", "what a joke", "a joke", "garbage", "rubbish", "crap", "useless", "pathetic", "worst",
		"terrible", "horrible", "awful", "incompetent", "liars", "lying", "cheated", "rip off", "ripoff", "rip-off", "angry",
		"livid", "fuming", "hate you", "hate this", "you people", "are you kidding", "kidding me", "absolute joke",
		"气死", "离谱", "坑爹", "垃圾", "骗子", "骗人", "凭什么", "什么破", "搞什么", "抢钱", "霸王条款", "烦死", "受够", "忍无可忍",
		"太过分", "恶心", "无语", "滚", "黑店", "坑人", "奸商", "太差劲", "差劲", "气人", "火大", "愤怒", "生气", "破玩意", "什么玩意",
		"欺负人", "耍我", "糊弄", "敷衍", "投诉", "曝光", "差评", "智障", "脑子",
	},
	MildAnger: []string{
		"third time", "3rd time", "second time", "again", "still", "how many times", "nobody", "no one", "seriously", "come on",
		"really?", "annoyed", "annoying", "frustrated", "frustrating", "disappointed", "not happy", "unhappy", "fix it", "sort it",
		"asap", "immediately", "illegal", "lawyer", "chargeback", "consumer association", "unbelievable", "do you even", "every single",
		"nothing", "weeks", "a month", "forever", "ignored", "ignoring", "copy-paste", "copy paste", "robot", "bot isn",
		"到底", "管不管", "没人理", "没人管", "第三次", "第二次", "三遍", "两遍", "又坏", "又是", "还没", "怎么回事", "太差", "不想退",
		"是不是", "急死", "快点", "赶紧", "马上", "立刻", "一个星期", "一个月", "半个月", "好几天", "几遍", "12315", "消协", "举报", "退钱",
		"有没有人", "人呢", "说好的", "不是说", "倒霉", "失望", "不满意", "烦",
	},
	Sarcasm:    []string{"oh great", "thanks sooo", "thanks so much, very", "very helpful", "genius", "just wow", "wow. just", "what exactly are you", "good job", "真行", "真棒啊", "呵呵", "厉害了", "好一个"},
	AngryEmoji: []string{"😤", "😡", "🤬", "🙄", "👏", "💢", "😠", "🖕"},
	ShopWords: []string{"order", "product", "item", "buy", "bought", "purchase", "sell", "shop", "store", "stock", "price", "parcel", "package",
		"delivery", "deliver", "ship", "courier", "refund", "return", "exchange", "warranty", "invoice", "coupon", "discount", "cart", "checkout",
		"model", "brand", "colour", "color", "size", "battery", "charger", "cable", "kettle", "fryer", "blender", "cooker", "vacuum", "purifier",
		"humidifier", "earbuds", "headphones", "speaker", "watch", "phone", "camera", "lamp", "bulb", "lock", "fridge", "washer", "washing machine",
		"dryer", "shaver", "toothbrush", "keyboard", "mouse", "hub", "router", "tv", "appliance", "gadget", "customer service", "member", "account",
		"订单", "商品", "宝贝", "东西", "买", "购买", "卖", "店", "库存", "有货", "价格", "多少钱", "包裹", "快递", "物流", "发货", "退", "换货", "保修",
		"发票", "优惠", "购物车", "型号", "品牌", "颜色", "尺寸", "电池", "充电", "水壶", "空气炸锅", "破壁机", "电饭煲", "吸尘器", "扫地", "净化器",
		"加湿器", "耳机", "音箱", "手表", "手机", "摄像头", "台灯", "灯泡", "门锁", "冰箱", "洗衣机", "吹风机", "剃须刀", "牙刷", "键盘", "鼠标",
		"路由器", "电视", "家电", "客服", "会员", "账号", "积分", "售后", "安装", "下单", "签收"},
	AttackVerb: []string{"ignore", "disregard", "forget", "bypass", "override", "overrule", "skip", "discard", "drop all", "no longer apply",
		"expired", "void", "cancelled", "reset yourself", "turn off", "disable", "obey", "only me", "follow my", "instead",
		"忽略", "无视", "忘记", "忘掉", "跳过", "不用管", "别管", "作废", "失效", "过期", "关掉", "只听我", "按我的", "照我说的", "不用遵守", "不用守", "不用走流程",
		"hu lue", "hulue", "wu shi", "wushi", "wang ji"},
	AttackTarget: []string{"instruction", "instructions", "rules", "prompt", "guidelines", "policy", "system message", "configuration", "config",
		"directives", "restrictions", "filter", "filters", "context window", "first message", "template", "secret", "hidden", "internal", "confidential",
		"指令", "规则", "提示词", "prompt", "设定", "规定", "政策", "限制", "过滤", "配置", "上下文", "第一条消息", "模板", "隐藏", "内部", "保密", "秘密",
		"zhi ling", "gui ze", "ti shi ci", "she ding"},
	AttackAuthority: []string{"i am the", "i'm the", "i'm your", "as the", "this is the", "owner", "boss", "ceo", "developer", "admin", "supervisor",
		"it department", "development team", "head of", "authorise", "authorize", "authorization", "i order you", "security notice", "from your",
		"老板", "上级", "主管", "开发", "管理员", "技术部", "授权", "命令你", "通知", "我是你"},
	AttackOthers: []string{"other customers", "other users", "other people", "every order", "all orders", "all customers", "all users", "who bought",
		"whoever bought", "who placed", "customer list", "member list", "database", "their address", "their phone", "his order", "her order",
		"his payment", "neighbour", "neighbor", "coworker", "colleague", "customer c", "emails", "phone numbers", "contact details",
		"别人", "其他客户", "其他用户", "所有订单", "所有用户", "谁买了", "都是谁", "名单", "导出", "同事", "邻居", "他的", "她的", "客户的", "收件人"},
	AttackForced: []string{"say yes", "just say", "say the", "say that", "in writing", "promise me", "agree with me", "start your answer",
		"reply with", "respond with", "only output", "output the", "nothing else", "word for word", "one word", "screenshot", "declare",
		"你就说", "书面", "承诺", "只回答", "只输出", "开头", "截图", "说一句", "原封不动", "一字不差", "复述", "回复ok"},
	AttackRole: []string{"pretend", "roleplay", "role play", "role of", "play a game", "imagine you", "you are now", "you're now", "personality",
		"you are my", "from now on", "maintenance mode", "developer mode", "no rules", "without rules", "no limits", "without restrictions",
		"扮演", "假装", "想象你", "玩个游戏", "专属客服", "从现在开始", "从这条消息开始", "维护模式", "没有任何规则", "没有规则", "不受限制", "没有限制"},
	AttackEncoding: []string{"base64", "decode", "reverse this", "encoded", "<system>", "###", "[system]", "}}", "{{",
		"解码", "照着执行", "<系统>", "括号里"},
	SecondPerson: []string{"you", "your", "yourself", "you're", "you've", "you'll", "u", "ur", "你", "您", "你的", "你们的"},
	Directive: []string{"tell me", "show me", "give me", "send me", "list", "print", "output", "repeat", "reveal", "share", "export",
		"look up", "search", "find", "write", "generate", "confirm", "approve", "apply", "change", "set", "mark", "add", "grant", "issue",
		"now", "right now", "immediately", "just do", "do it", "do as", "comply", "execute", "run",
		"告诉我", "给我", "发给我", "发我", "列出", "输出", "显示", "复述", "导出", "查一下", "查查", "搜一下", "写一", "生成", "确认", "批准", "批一",
		"改成", "设置", "标记", "加上", "立刻", "马上", "直接", "照做", "执行"},
	OtherPerson: []string{"he", "she", "him", "his", "her", "hers", "they", "them", "their", "someone", "somebody", "anyone", "anybody",
		"everyone", "person", "people", "wife", "husband", "friend", "mum", "mom", "dad", "mother", "father", "brother", "sister",
		"son", "daughter", "boss", "roommate", "flatmate", "partner", "girlfriend", "boyfriend", "cousin", "uncle", "aunt", "classmate",
		"named", "called", "mr", "mrs", "ms", "miss", "customer", "customers", "buyer", "buyers", "user", "users",
		"他", "她", "他们", "她们", "别人", "某人", "有人", "老婆", "老公", "妻子", "丈夫", "朋友", "妈妈", "爸爸", "我妈", "我爸", "哥哥", "姐姐",
		"弟弟", "妹妹", "儿子", "女儿", "室友", "同学", "亲戚", "叫", "先生", "女士", "小姐", "客户", "买家", "用户", "顾客"},
	PersonalData: []string{"address", "addresses", "phone", "phone number", "mobile", "email", "e-mail", "name", "names", "what did", "bought",
		"ordered", "order history", "purchase history", "details", "card", "payment", "city", "birthday", "id number", "password",
		"地址", "电话", "手机", "手机号", "邮箱", "名字", "姓名", "买了什么", "买过", "买了", "下单", "订单记录", "购买记录", "信息", "资料",
		"身份证", "银行卡", "生日", "哪个城市", "住哪", "密码"},
	Commitment: []string{"promise", "guarantee", "in writing", "written", "official", "officially", "on record", "certify", "certificate",
		"statement", "letter", "approved", "approve", "agree", "agreed", "confirm", "confirmation", "authorise", "authorize", "yes or",
		"for free", "free", "compensation", "compensate", "forever", "lifetime", "signed", "sign off",
		"承诺", "保证", "答应", "书面", "正式", "证明", "声明", "同意", "批准", "确认", "授权", "免费", "赔偿", "赔", "永久", "终身", "落款", "盖章"},
	Topic: map[string][]string{
		"return_refund": {"return", "retrun", "refund", "exchange", "money back", "send back", "send it back", "restocking", "swap", "wrong item", "wrong colour", "wrong color", "cancel",
			"退货", "退款", "换货", "退钱", "退回", "退换", "无理由", "能退", "退吗", "退不", "换个", "换成", "发错", "拆封", "取消"},
		"shipping": {"ship", "deliver", "courier", "express", "postage", "dispatch", "carrier", "freight", "parcel", "package", "pick up", "pickup", "collect in store", "address", "customs", "station", "two parcels",
			"运费", "配送", "发货", "送货", "包邮", "快递", "顺丰", "京东物流", "送达", "几天到", "发到", "寄到", "送到", "多久到", "自提", "包裹", "地址", "驿站", "寄", "关税", "快递员"},
		"payment": {"pay", "paypal", "alipay", "wechat", "card", "invoice", "fapiao", "installment", "instalment", "coupon", "cash on delivery", "price protect", "price drop", "price went down", "bank transfer", "charged twice", "payment", "huabei", "vat",
			"发票", "专票", "支付", "付款", "花呗", "优惠券", "分期", "货到付款", "价保", "保价", "信用卡", "微信", "对公", "转账", "扣款", "扣了", "降价", "满减", "退差价"},
		"account": {"account", "password", "pasword", "login", "log in", "sign in", "privacy", "personal data", "delete my data", "my data", "member", "points", "unsubscribe", "marketing", "recommendation", "personalised", "personalized", "newsletter", "chat history", "data stored", "card number",
			"账户", "账号", "密码", "登录", "隐私", "个人信息", "注销", "会员", "积分", "退订", "短信", "营销", "推荐", "信息卖", "聊天记录", "数据"},
		"warranty": {"warranty", "warrenty", "guarantee", "repair", "broken", "defect", "faulty", "stopped working", "doesn't work", "not working", "stopped charging", "won't charge", "no sound", "leak", "serial number", "fault",
			"保修", "维修", "坏了", "故障", "质保", "不能用", "修", "没声音", "漏水", "不充电", "充不进", "序列号", "失灵", "不工作"},
		"product_question": {"price", "how much", "cost", "in stock", "stock", "color", "colour", "battery", "size", "weight", "watt", "capacity", "compatible", "work with", "works with", "spec", "model", "difference", " vs ", "versus", "recommend", "do you sell", "do you have", "which one", "which is better", "waterproof", "fit", "support",
			"多少钱", "价格", "有货", "库存", "颜色", "电池", "续航", "尺寸", "重量", "功率", "容量", "兼容", "型号", "推荐", "区别", "参数", "哪款", "哪个好", "有没有", "你们有", "支持", "能接", "防水", "适合"},
	},
	Actions: map[string][]string{
		"cancel": {"cancel", "cancellation", "call off", "don't want it anymore", "no longer need", "ordered by mistake",
			"取消", "撤销订单", "撤单", "不想要了", "不要了", "拍错了", "下错单"},
		"modify_address": {"change the address", "change my address", "change address", "change the delivery address", "change the shipping address",
			"update the address", "update my address", "wrong address", "different address", "new address", "address change", "redirect",
			"改地址", "修改地址", "更改地址", "换地址", "换个地址", "改收货地址", "修改收货地址", "地址写错", "地址填错", "改手机号", "修改手机号"},
		"modify_items": {"modify my order", "modify the order", "modify order", "change the items", "change an item", "change the item", "change items",
			"修改订单", "改订单", "修改商品", "改商品"},
		"return": {"return", "retrun", "send back", "send it back", "sent back", "take it back",
			"退货", "退回", "退掉", "寄回", "能退", "退吗", "退了", "可以退", "无理由"},
		"exchange": {"exchange", "swap", "replace it with", "different size", "different colour", "different color",
			"换货", "换一个", "换个", "换成", "调换", "换颜色", "换尺码"},
		"refund": {"refund", "money back", "get my money", "reimburse",
			"退款", "退钱", "返还", "把钱退"},
		"price_protection": {"price protection", "price protect", "price drop", "price dropped", "price went down", "cheaper now", "difference back", "price difference",
			"价保", "保价", "降价", "差价", "退差价"},
		"warranty": {"warranty", "warrenty", "guarantee", "repair", "under cover",
			"保修", "质保", "维修", "修理", "保修期"},
	},
}

// ContainsCue reports whether norm, a folded message with a space at both
// ends, holds cue: an ASCII cue at word boundaries ("hi" does not match
// "shipping", a stem such as "refund" may go on as "refunded"), any other
// cue anywhere.
func ContainsCue(norm, cue string) bool {
	if cue == "" {
		return false
	}
	return compile(cue).in(norm)
}

// CountCues is how many of cues norm contains.
func CountCues(norm string, cues []string) int {
	n := 0
	for _, c := range cues {
		if ContainsCue(norm, c) {
			n++
		}
	}
	return n
}

// HasCue reports whether norm contains one of cues.
func HasCue(norm string, cues []string) bool {
	for _, c := range cues {
		if ContainsCue(norm, c) {
			return true
		}
	}
	return false
}

// cue is a phrase with how it is matched.
type cue struct {
	s      string
	word   bool // ASCII: match at word boundaries
	prefix bool // a stem: letters may follow
}

func compile(s string) cue {
	first, _ := utf8.DecodeRuneInString(s)
	return cue{s: s, word: !tokenize.IsCJK(first) && isASCIIWordish(s), prefix: prefixCues[s]}
}

func (c cue) in(norm string) bool {
	if !c.word {
		return strings.Contains(norm, c.s)
	}
	for i := 0; ; {
		j := strings.Index(norm[i:], c.s)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(c.s)
		if !wordByte(norm, start-1) && (!wordByte(norm, end) || c.prefix) {
			return true
		}
		i = start + 1
	}
}

// cueList is a phrase list prepared for counting many phrases in one
// message: phrases are tried only when the message holds their first two
// bytes.
type cueList []cue

func compileList(phrases []string) cueList {
	out := make(cueList, 0, len(phrases))
	for _, p := range phrases {
		if p != "" {
			out = append(out, compile(p))
		}
	}
	return out
}

// pairSet records which byte pairs a message holds.
type pairSet [1 << 16 / 64]uint64

func (ps *pairSet) fill(s string) {
	for i := 0; i+1 < len(s); i++ {
		k := uint16(s[i])<<8 | uint16(s[i+1])
		ps[k>>6] |= 1 << (k & 63)
	}
}

func (ps *pairSet) has(s string) bool {
	if len(s) < 2 {
		return true
	}
	k := uint16(s[0])<<8 | uint16(s[1])
	return ps[k>>6]&(1<<(k&63)) != 0
}

func (l cueList) count(norm string, ps *pairSet) int {
	n := 0
	for _, c := range l {
		if ps.has(c.s) && c.in(norm) {
			n++
		}
	}
	return n
}

// prefixCues end in a word stem ("politic", "diagnos") and may be followed
// by letters.
var prefixCues = map[string]bool{
	"politic": true, "diagnos": true, "pregnan": true, "disappoint": true, "annoy": true, "frustrat": true, "track": true,
	"deliver": true, "ship": true, "return": true, "refund": true, "complain": true, "invest": true,
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
		if s[i] >= 0x80 {
			return false
		}
	}
	return s[0] != ' ' && s[len(s)-1] != ' ' && s[0] != '!'
}
