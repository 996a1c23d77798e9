package escalate

import (
	"regexp"
	"strings"

	"github.com/kefuhq/kefu/guard"
)

// Cues of the sensitive topics that the pipeline does not flag itself,
// matched on the folded message (guard.Fold: NFKC, lower case, homoglyphs
// and leet-speak undone). An ASCII cue matches whole words, and a trailing
// "*" lets it match any ending ("injur*": injured, injury); a Chinese cue
// matches anywhere. They are plain data so that a shop can read them. A
// cue in a denial ("nobody was hurt") still matches: a person then reads
// a ticket that needed none, which is the cheaper mistake.
var sensitiveCues = []struct {
	reason string
	cues   []string
}{
	{ReasonSafety, []string{
		"injur*", "hurt me", "hurt my*", "hurt myself", "got hurt", "was hurt", "burned me", "burnt me", "burned my", "burnt my",
		"burn my", "burns on", "caught fire", "on fire", "set fire", "started a fire", "fire hazard", "smoke came", "smoke coming",
		"smoke pouring", "started smoking", "exploded", "explosion", "blew up", "electric shock", "electrocut*", "shocked me",
		"gave me a shock", "hospital", "emergency room", "bleeding", "allergic reaction", "choking", "choked", "safety hazard",
		"受伤", "伤到", "弄伤", "烫伤", "烧伤", "划伤", "割伤", "着火", "起火", "失火", "自燃", "冒烟", "爆炸", "漏电", "触电", "电到我",
		"电击", "医院", "住院", "流血", "过敏反应", "窒息", "安全隐患",
	}},
	{ReasonFraud, []string{
		"fraud*", "scammed", "stolen card", "card was stolen", "card stolen", "stole my", "unauthori?ed",
		"didn't make this purchase", "did not make this purchase", "didn't place this order", "did not place this order",
		"didn't order this", "did not order this", "someone used my", "account was hacked", "account hacked", "hacked",
		"identity theft", "phishing", "counterfeit*", "fake product", "not genuine",
		"诈骗", "被骗", "欺诈", "盗刷", "被盗", "盗号", "被盗用", "冒用", "钓鱼", "假冒", "假货", "不是我下的单", "不是我买的",
		"没下过这个单", "未经授权", "未经我同意",
	}},
	{ReasonChargeback, []string{
		"chargeback*", "charge back", "charge-back", "dispute the charge", "dispute this charge", "dispute the payment",
		"dispute this payment", "dispute with my bank", "dispute it with my bank", "file a dispute", "open a dispute",
		"opened a dispute", "reverse the charge", "reverse the payment", "call my bank", "contact my bank", "credit card company",
		"paypal dispute",
		"拒付", "银行争议", "信用卡争议", "撤销交易", "找银行", "联系银行", "发起争议", "申请争议", "发卡行",
	}},
}

// sensitivePatterns are sensitiveCues compiled, in the same order.
var sensitivePatterns = compileCues()

func compileCues() []*guard.Regexp {
	out := make([]*guard.Regexp, len(sensitiveCues))
	for i, group := range sensitiveCues {
		out[i] = guard.MustCompile(cuePattern(group.cues))
	}
	return out
}

// cuePattern turns cues into one regular expression.
func cuePattern(cues []string) string {
	alts := make([]string, 0, len(cues))
	for _, c := range cues {
		if !isASCII(c) {
			alts = append(alts, regexp.QuoteMeta(c))
			continue
		}
		prefix := strings.HasSuffix(c, "*")
		c = strings.TrimSuffix(c, "*")
		// "?" stands for one letter of either spelling (unauthori?ed).
		p := `\b` + strings.ReplaceAll(regexp.QuoteMeta(c), `\?`, `[a-z]`)
		if prefix {
			p += `[a-z]*`
		}
		alts = append(alts, p+`\b`)
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// sensitive returns the reason of the first sensitive topic the message
// touches, or "".
func sensitive(message string) string {
	folded := guard.Fold(message)
	for i, re := range sensitivePatterns {
		if re.MatchString(folded) {
			return sensitiveCues[i].reason
		}
	}
	return ""
}

// refundPattern marks a message about getting money back.
var refundPattern = guard.MustCompile(cuePattern([]string{
	"refund*", "money back", "reimburs*", "compensat*", "pay me back", "return*",
	"退款", "退钱", "退货", "赔偿", "赔付", "补偿", "返还", "退回", "退我",
}))
