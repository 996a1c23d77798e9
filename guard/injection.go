package guard

import (
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reason codes for a detected manipulation attempt.
const (
	ReasonOverride     = "override"          // "ignore previous instructions"
	ReasonRolePlay     = "role_play"         // "you are now DAN", 你现在是…
	ReasonPromptLeak   = "prompt_leak"       // asks for the system prompt
	ReasonAuthority    = "fake_authority"    // "[SYSTEM]", "I am the developer"
	ReasonExfiltration = "data_exfiltration" // other shoppers' orders or personal data
	ReasonForcedSay    = "forced_statement"  // "say that I get a full refund"
)

type pattern struct {
	reason string
	re     *Regexp
}

// injectionPatterns are matched against Fold(text). They name what the
// attacker wants changed (instructions, rules, the prompt, a role), so an
// ordinary "ignore my previous message, I meant the blue one" or 忽略之前的地址
// passes.
var injectionPatterns = func() []pattern {
	p := func(reason, expr string) pattern { return pattern{reason, MustCompile(expr)} }
	return []pattern{
		p(ReasonOverride, `\b(ignore|disregard|forget|bypass|override|overrule|skip|drop|abandon)\b[^.?!]{0,40}\b(instructions?|prompts?|guidelines|directives|restrictions|programming|guardrails|safety (rules|guidelines)|system rules|previous rules|your rules|all rules|the rules|constraints|the policy|your policy|policies)\b`),
		p(ReasonOverride, `\bnote to (ai|the ai|ai assistants?|assistants?|chatbots?|the assistant|bots?|llms?|language models?)\b|\b(ai|assistant|chatbot)s?,? (must|should) (always|now|ignore)\b`),
		p(ReasonOverride, `\b(forget|ignore) (everything|all) (you were told|above|before|previously)\b`),
		p(ReasonOverride, `(忽略|无视|忘记|忘掉|跳过|不要理会|别管|抛开|放弃|绕过)[^。？！]{0,8}(指令|指示|规则|设定|提示词|要求|限制|约束|命令|设置|规定|政策)`),
		p(ReasonOverride, `以上(的)?(内容|指令|对话|所有)?(全部|都)?作废|新(的)?(指令|规则|系统规则)[:：]|不用管(审核|规定|规则|政策)`),
		p(ReasonRolePlay, `\byou are no longer\b|\byou are now (an?|my|the|called|named)\b|\byou are now [a-z]*(dan|bot|gpt|ai|assistant|unrestricted|free|evil|unfiltered|jailbroken|uncensored)\b|\bfrom now on,? you (are|will|must)\b|\bpretend (to be|you are|you're)\b|\bact as (an? )?(unrestricted|unfiltered|jailbroken|evil|uncensored|different|new)\b|\broleplay as\b|\bdo anything now\b|\bjailbr[eo]a?k|\b(enable|enter|activate|switch (on|to|into)|turn on|go into|you are in|you're in|now in|unlock|start)\b[^.?!]{0,12}\b(developer|debug|admin|god|sudo|maintenance|unrestricted) mode\b|\b(developer|debug|admin|god|sudo|maintenance|unrestricted) mode\s*[:：]?\s*(on|enabled|activated|engaged)\b|\b(god|sudo|unrestricted) mode\b|\b(with no|without any|without) (restrictions|filters|censorship|guardrails)\b|\b(you are|act as|become|enable|activate|switch to) dan\b|\bdan mode\b`),
		p(ReasonRolePlay, `你现在是|你现在扮演|从现在开始你|扮演一个(没有|不受|无|邪恶|不同)|扮演我的|假装你是|假设你是|你不再是|没有任何限制|没有限制|不受(任何)?限制|(你|帮你|给你|让你|模式)[^。？！]{0,4}越狱|越狱模式|(进入|开启|打开|切换到|切换成|启用|激活|处于)[^。？！]{0,4}(开发者|管理员|调试|上帝)模式|上帝模式`),
		p(ReasonPromptLeak, `\b(system|hidden|initial|original|secret|internal|developer|pre-?)\s?(prompt|instructions?|message|configuration|directives)\b|\b(reveal|show|print|repeat|output|display|leak|dump|tell me|give me|what (is|are|was|were))\b[^.?!]{0,30}\b(your\s+(prompt|instructions|guidelines|configuration|initial message)|the\s+(prompt|configuration|initial message)|the (instructions|guidelines) (you|that you|above|before))\b|\brepeat (everything|all|the text|the words|what is written) (above|before)\b|\bwhat were you told\b`),
		p(ReasonPromptLeak, `(系统|初始|原始|隐藏|内部|开发者)(提示|指令|设定|消息|配置)([^音]|$)|提示词|你的(指令|设定|提示|配置|初始设置|规则|守则)|系统规则|输出你的|重复(上面|以上|之前)的(内容|文字|话)`),
		p(ReasonAuthority, `\[\s*(system|admin|administrator|developer|assistant|sys|root)\s*\]|<\|?\s*(system|im_start|endoftext)|\bi am (the|your|a|an) (developer|admin|administrator|creator|owner|engineer|programmer|ceo)\b|\b(new|updated|override) (system )?instructions?\s*[:：]|\b(your|the) (new|updated) instructions\b|\b(override|system) instructions?\b|\b(system|admin|security) (override|command|notice)\b|\bnew (system |refund |return )?(rule|policy|policies)s?\s*[:：,]|\bnew system rule\b|\bconfirm (you've|you have) switched\b|\bas (the|your) (developer|admin|administrator)\b`),
		p(ReasonAuthority, `我是(你的|这个系统的|本系统的|系统的?)(开发者|管理员|工程师|程序员|老板|创建者)|我是(开发者|管理员|工程师|程序员)[，,、]?\s*(请|现在|进入|开启|执行|输出|切换|打开)|【\s*(系统|管理员)\s*】|\[\s*系统\s*\]|系统(指令|命令|通知)[:：]`),
		p(ReasonExfiltration, `\b(list|show|give|send|export|dump|print|tell me|reveal|display|share|what are|look up)\b[^.?!]{0,30}\b(all|every|other|another|others|everyone)('s)?\b[^.?!]{0,30}\b(customers?|users?|shoppers?|buyers?|people|members?)('s?)?\b[^.?!]{0,30}\b(orders?|data|phones?|phone numbers?|e-?mails?|addresses|details|information|info|records|passwords?)\b|\b(list|show|give|send|export|dump|print)\b[^.?!]{0,20}\b(all|every)( the| of the| your)? (orders|customers|users|accounts)\b|\b(orders?|data|details|address|phone) of (customer|user) c?\d{3,}|\b(which|what) (of your )?customers\b|\blist (their|the) (names|addresses|phone numbers)\b|\bwho (else )?bought\b[^.]{0,80}\b(names?|address(es)?|phones?|contacts?)\b|\b(names|addresses|phone numbers)\b[^.?!]{0,30}\b(of|for) (the )?(customers|buyers|people|recipients)\b|\b(phone number|address|name)s?\b[^.?!]{0,20}\bon w\d{6}-\d{4}\b[^.?!]{0,40}\b(friend|someone|neighbou?r|my (mum|mom|dad|wife|husband)'s)`),
		p(ReasonExfiltration, `(给我|发给我|告诉我|列出|导出|查|显示|看看|看一下|发我|把)[^。？！]{0,4}(所有|全部|其他|别的|别人)[^。？！]{0,4}(用户|客户|顾客|人|会员|买家)[^。？！]{0,4}(订单|手机号|电话|地址|信息|资料|数据|密码|身份证)|(导出|列出|发给我|给我|显示)(所有|全部)[^。？！]{0,6}(订单|用户|客户)|(收件人|收货人|客户|买家|用户|顾客)[^。？！]{0,10}(电话|手机|手机号|地址|姓名|名字|身份证)[^。？！]{0,8}(给我|发我|告诉我|是多少|是什么|列出|查一下|发给我)|(给我|发我|告诉我|列出|查一下|发给我)[^。？！]{0,16}(收件人|收货人|客户|买家)[^。？！]{0,6}(电话|手机|手机号|地址|姓名|名字)`),
		p(ReasonForcedSay, `\b(say|state|confirm|write|declare|reply)( only)? (exactly|with the words)\b|\b(say|state|confirm|write|declare) (that )?(i|we) (get|will get|am entitled|deserve|qualify|can get)\b|\brepeat after me\b|\bpromise me\b|\byou must (say|agree|confirm|promise)\b`),
		p(ReasonForcedSay, `你(必须|得|要)(说|承诺|保证)|跟我念|照着我说|你就说(一句|一声|[:：]|\s*["“「『])|(跟我说|直接回复|回复|只说|就说|输出)[:：]?\s*["“「『]`),
	}
}()

// Injection reports whether text tries to override, extract or subvert the
// assistant's instructions, and why (one of the Reason constants). It looks
// at Fold(text) and at every hidden reading of it (see Hidden).
func Injection(text string) (reason string, found bool) {
	return InjectionIn(append([]string{Fold(text)}, Hidden(text)...)...)
}

// InjectionIn is Injection over readings already folded: the message's
// Fold first, then its Hidden readings, for a caller that needs them too.
// A reversed or ROT13 reading that is gibberish is not checked.
func InjectionIn(readings ...string) (reason string, found bool) {
	for i, candidate := range readings {
		if i > 0 && gibberish(candidate, readings[0]) {
			continue
		}
		for _, p := range injectionPatterns {
			if p.re.MatchString(candidate) {
				return p.reason, true
			}
		}
	}
	return "", false
}

var (
	base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`)
	hexRun    = regexp.MustCompile(`(?:[0-9A-Fa-f]{2}){8,}`)
)

// decodedRuns returns the folded text of base64 and hex runs that decode
// to mostly printable text, so an instruction cannot hide in an encoding.
func decodedRuns(text string) []string {
	var out []string
	for _, run := range hexRun.FindAllString(text, 4) {
		if raw, err := hex.DecodeString(run); err == nil && utf8.Valid(raw) && mostlyPrintable(string(raw)) {
			out = append(out, Fold(string(raw)))
		}
	}
	for _, run := range base64Run.FindAllString(text, 4) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			raw, err := enc.DecodeString(run)
			if err != nil || !utf8.Valid(raw) || !mostlyPrintable(string(raw)) {
				continue
			}
			out = append(out, Fold(string(raw)))
			break
		}
	}
	return out
}

func mostlyPrintable(s string) bool {
	good, all := 0, 0
	for _, r := range s {
		all++
		if unicode.IsPrint(r) || unicode.IsSpace(r) {
			good++
		}
	}
	return all >= 8 && good*10 >= all*9 && strings.ContainsRune(s, ' ')
}

// tagText returns the ASCII spelled in Unicode tag characters (U+E0020 to
// U+E007E), invisible to a reader but readable by a model.
func tagText(text string) string {
	var b strings.Builder
	for _, r := range text {
		if r >= 0xE0020 && r <= 0xE007E {
			b.WriteRune(r - 0xE0000)
		}
	}
	return b.String()
}

var escapeRun = regexp.MustCompile(`(?:\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|&#x?[0-9a-fA-F]{2,5};)+`)

// unescapeRuns rewrites \uXXXX, \xXX and HTML character references in text
// as the characters they stand for, or returns "" when there are none.
func unescapeRuns(text string) string {
	if !escapeRun.MatchString(text) {
		return ""
	}
	return escapeRun.ReplaceAllStringFunc(text, func(run string) string {
		var b strings.Builder
		for _, m := range escapeUnit.FindAllStringSubmatch(run, -1) {
			hex := m[1] + m[2] + m[4]
			base := 16
			if m[3] != "" {
				hex, base = m[3], 10
			}
			if n, err := strconv.ParseUint(hex, base, 32); err == nil {
				b.WriteRune(rune(n))
			}
		}
		return b.String()
	})
}

var escapeUnit = regexp.MustCompile(`\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|&#(?:([0-9]{2,5})|x([0-9a-fA-F]{2,5}));`)
