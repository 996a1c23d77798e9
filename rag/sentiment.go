package rag

import (
	"strings"
	"unicode"
)

// Anger is scored, not matched: strong words count two, mild signs of
// exasperation one, and the way a message is written adds to them
// (shouting in capitals, "!!" and "？？", angry emoji, sarcasm). A message
// scoring angerThreshold or more is angry and goes to a human.
const angerThreshold = 2

var (
	strongAnger = []string{
		"furious", "pissed", "wtf", "the hell", "scam", "scammer", "disgusting", "unacceptable", "ridiculous", "outrageous",
		"never again", "thanks for nothing", "i'm done", "im done", "fed up", "sick of", "sick and tired", "a**", "f***", "fuck",
		"shit", "damn", "how dare", "what a joke", "a joke", "garbage", "rubbish", "crap", "useless", "pathetic", "worst",
		"terrible", "horrible", "awful", "incompetent", "liars", "lying", "cheated", "rip off", "ripoff", "rip-off", "angry",
		"livid", "fuming", "hate you", "hate this", "you people", "are you kidding", "kidding me", "absolute joke",
		"气死", "离谱", "坑爹", "垃圾", "骗子", "骗人", "凭什么", "什么破", "搞什么", "抢钱", "霸王条款", "烦死", "受够", "忍无可忍",
		"太过分", "恶心", "无语", "滚", "黑店", "坑人", "奸商", "太差劲", "差劲", "气人", "火大", "愤怒", "生气", "破玩意", "什么玩意",
		"欺负人", "耍我", "糊弄", "敷衍", "投诉", "曝光", "差评", "智障", "脑子",
	}
	mildAnger = []string{
		"third time", "3rd time", "second time", "again", "still", "how many times", "nobody", "no one", "seriously", "come on",
		"really?", "annoyed", "annoying", "frustrated", "frustrating", "disappointed", "not happy", "unhappy", "fix it", "sort it",
		"asap", "immediately", "illegal", "lawyer", "chargeback", "consumer association", "unbelievable", "do you even", "every single",
		"nothing", "weeks", "a month", "forever", "ignored", "ignoring", "copy-paste", "copy paste", "robot", "bot isn",
		"到底", "管不管", "没人理", "没人管", "第三次", "第二次", "三遍", "两遍", "又坏", "又是", "还没", "怎么回事", "太差", "不想退",
		"是不是", "急死", "快点", "赶紧", "马上", "立刻", "一个星期", "一个月", "半个月", "好几天", "几遍", "12315", "消协", "举报", "退钱",
		"有没有人", "人呢", "说好的", "不是说", "倒霉", "失望", "不满意", "烦",
	}
	sarcasm     = []string{"oh great", "thanks sooo", "thanks so much, very", "very helpful", "genius", "just wow", "wow. just", "what exactly are you", "good job", "真行", "真棒啊", "呵呵", "厉害了", "好一个"}
	angryEmoji  = []string{"😤", "😡", "🤬", "🙄", "👏", "💢", "😠", "🖕"}
	positiveCue = []string{"great", "love", "awesome", "thanks", "thank you", "perfect", "appreciate", "谢谢", "很好", "满意", "喜欢", "赞", "感谢"}
	negativeCue = []string{"disappoint", "not happy", "unhappy", "annoy", "frustrat", "bad", "broken", "late", "damaged", "rude", "失望", "不满意", "烦", "慢", "坏了", "差", "破损"}
)

// sentiment reads the folded message (norm) and the raw one (for capitals
// and punctuation).
func sentiment(norm, raw string) string {
	score := angerScore(norm, raw)
	switch {
	case score >= angerThreshold:
		return SentimentAngry
	case score > 0, hasAny(norm, negativeCue):
		return SentimentNegative
	case hasAny(norm, positiveCue):
		return SentimentPositive
	}
	return SentimentNeutral
}

func angerScore(norm, raw string) int {
	score := 2*countAny(norm, strongAnger) + countAny(norm, mildAnger) + countAny(norm, sarcasm)
	for _, e := range angryEmoji {
		if strings.Contains(raw, e) {
			score++
		}
	}
	switch n := repeatedMarks(raw); {
	case n >= 3:
		score += 2
	case n >= 2:
		score++
	}
	switch caps := shoutedWords(raw); {
	case caps >= 3 || shouting(raw):
		score += 2
	case caps >= 1:
		score++
	}
	return score
}

// repeatedMarks is the longest run of ! and ? (either width) in raw.
func repeatedMarks(raw string) int {
	best, run := 0, 0
	for _, r := range raw {
		switch r {
		case '!', '?', '！', '？':
			run++
			best = max(best, run)
		default:
			run = 0
		}
	}
	return best
}

// shoutedWords counts words of three or more letters written all in
// capitals, leaving out known abbreviations and words with digits (SKUs,
// IPX4).
func shoutedWords(raw string) int {
	n := 0
	for _, w := range strings.FieldsFunc(raw, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) < 3 || abbreviations[w] {
			continue
		}
		upper := true
		for _, r := range w {
			if !unicode.IsUpper(r) || r > unicode.MaxLatin1 {
				upper = false
				break
			}
		}
		if upper {
			n++
		}
	}
	return n
}

var abbreviations = map[string]bool{
	"USB": true, "VAT": true, "USA": true, "GPS": true, "LED": true, "NFC": true, "SMS": true, "APP": true, "DOA": true,
	"CNY": true, "RMB": true, "HDMI": true, "GAN": true, "SKU": true, "ETA": true, "FAQ": true, "EMS": true, "DHL": true,
	"UPS": true, "JCB": true, "SSD": true, "RAM": true, "CPU": true, "PDF": true, "IOS": true, "AAA": true, "DIY": true,
}

// shouting reports a message written mostly in capitals ("WHERE IS MY
// ORDER").
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
