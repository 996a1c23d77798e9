package guard

import "strings"

// Urgent reports whether a shopper's message reports something a person
// must handle at once, and which: "safety" (a product caught fire, smoked,
// sparked, gave an electric shock, burned or injured someone) or "fraud"
// (a charge or order the shopper did not make, a hacked account, someone
// posing as the shop). It reads reports, not questions: "it caught fire"
// and "冒烟了" are urgent, "will it catch fire if left on?" and "有防干烧
// 吗" are not. Matching is on Fold(text), so full-width letters, odd
// spacing and case do not matter. The cues are the tables below, plain
// data a shop can read.
func Urgent(text string) (reason string, ok bool) {
	s := " " + strings.ReplaceAll(Fold(text), "’", "'") + " "
	for _, r := range urgentRules {
		if containsAnyOf(s, r.unless) {
			continue
		}
		if containsAnyOf(s, r.reports) || containsAnyOf(s, r.events) && !containsAnyOf(s, hypothetical) {
			return r.reason, true
		}
	}
	return "", false
}

// urgentRule is one reason for urgency and its cues, matched as
// substrings of the folded message with a space added at both ends (so
// " smoking " is the word only).
type urgentRule struct {
	reason string
	// reports say that it happened; they decide alone.
	reports []string
	// events name what happened; they decide unless the message only asks
	// whether it could (hypothetical).
	events []string
	// unless are phrases in which the cues mean something else (a smoke
	// alarm, shock-proof).
	unless []string
}

var urgentRules = []urgentRule{
	{
		reason: "safety",
		reports: []string{
			"caught fire", "caught on fire", "on fire", "burst into flame", "in flames", "flames came", "went up in flame",
			"started smoking", "was smoking", "is smoking", "it's smoking", "smoke came", "smoke is coming", "smoke coming", "smoke pouring", "smoked and",
			"sparked", "sparking", "sparks came", "sparks flew", "threw sparks", "exploded", "blew up", "popped and",
			"burning smell", "smell of burning", "smells like burning", "smelled like burning", "smells burnt", "melted", "melting",
			"electric shock", "got a shock", "gave me a shock", "shocked me", "got shocked", "electrocuted",
			"burned my", "burnt my", "burned me", "burnt me", "burned his", "burned her", "burnt his", "burnt her", "scalded",
			"injured", "hurt my hand", "hurt my finger", "hurt myself", "got hurt", "was hurt", "cut my finger", "cut my hand", "cut myself", "bleeding", "hospital",
			"battery is swollen", "swollen battery", "battery swelled", "battery is swelling", "battery swelling", "battery is bulging", "bulging battery",
			"起火了", "着火了", "冒烟了", "冒火了", "冒火花", "打火花", "爆炸了", "炸开了", "漏电了", "触电了", "电到我", "电了我", "被电到", "被电了",
			"烫伤", "烧伤", "受伤", "划伤", "流血", "进医院", "住院", "鼓包", "烧焦", "焦味", "糊味", "烧糊", "烧化", "熔化了", "融化了", "化掉了",
		},
		events: []string{
			"catch fire", "catches fire", "smoke", "smoking", "sparks", "spark", "shocks", "overheat", "explode",
			"起火", "着火", "冒烟", "火花", "爆炸", "漏电", "触电", "熔化", "电池膨胀",
		},
		unless: []string{
			"smoke alarm", "smoke detector", "fire alarm", "fire tv", "shockproof", "shock-proof", "shock proof", "shock absorb",
			"烟雾报警", "烟感", "防触电", "防漏电", "漏电保护", "防烫", "防爆",
		},
	},
	{
		reason: "fraud",
		reports: []string{
			"unauthorised charge", "unauthorized charge", "unauthorised payment", "unauthorized payment", "unauthorised purchase", "unauthorized purchase",
			"charge i didn't make", "charges i didn't make", "charge i did not make", "payment i didn't make", "order i didn't place", "order i did not place",
			"orders i didn't place", "didn't authorise", "didn't authorize", "did not authorise", "did not authorize", "never authorised", "never authorized",
			"don't recognise this charge", "don't recognize this charge", "don't recognise the charge", "don't recognize the charge",
			"account was hacked", "account has been hacked", "account got hacked", "account is hacked", "hacked my account", "hacked into my",
			"someone logged into my", "someone logged in to my", "someone used my account", "someone else used my", "someone is using my account",
			"someone took over my", "card was stolen", "card has been stolen", "stolen card", "identity theft", "phishing",
			"scam call", "scam text", "scam message", "scam email", "scam e-mail", "scam link", "got scammed", "been scammed", "scammed me",
			"pretending to be", "claiming to be from", "posing as", "fake customer service", "fake support", "asked for my verification code",
			"asked me for my verification code", "asked for my password", "asked me for my password", "asked for my card",
			"盗刷", "被盗", "盗号", "被人登录", "被别人登录", "异地登录", "不是我买的", "不是我下的单", "我没有下过", "我没下过", "我没买过",
			"莫名扣款", "莫名其妙扣", "陌生扣款", "不明扣款", "被骗", "诈骗", "假冒客服", "冒充客服", "冒充你们", "假客服", "钓鱼链接", "钓鱼网站", "钓鱼短信",
			"索要验证码", "要我的验证码", "验证码给了", "骗走",
		},
		events: []string{
			"hacked", "fraud", "fraudulent", "someone else ordered", "not me who ordered",
			"被黑", "冒用", "被冒充",
		},
		unless: []string{},
	},
}

// hypothetical marks a question about what could happen, not a report of
// what did.
var hypothetical = []string{
	" will it ", " would it ", " could it ", " can it ", " does it ", " might ", " is it safe", " is there a risk", " risk of ",
	" prevent", " protection", " protect against", " in case ", " what if ", " if it ever ", " how do i avoid", " avoid ", " safe to ",
	" what happens if", " do you have", " is it normal", " is there any", " does the ", " do the ", " do they ", " can the ", " will the ",
	" would the ", " could the ",
	"会不会", "是否会", "会不会有", "会吗", "防止", "避免", "以防", "万一", "安全吗", "有没有风险", "保护", "怎么防", "有没有防", "有防",
}

func containsAnyOf(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
