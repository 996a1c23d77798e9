package escalate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Money is an amount in a currency, by ISO 4217 code ("CNY", "USD").
type Money struct {
	Currency string
	Amount   float64
}

func (m Money) String() string { return m.Currency + " " + strconv.FormatFloat(m.Amount, 'f', -1, 64) }

func (m Money) valid() error {
	if m.Currency == "" || m.Amount <= 0 {
		return fmt.Errorf("%v is not a positive amount with a currency", m)
	}
	return nil
}

// currencyWords maps the ways a message names a currency to its code. The
// yen sign is read as yuan: kefu serves Chinese shops first.
var currencyWords = map[string]string{
	"¥": "CNY", "rmb": "CNY", "cny": "CNY", "元": "CNY", "块": "CNY", "块钱": "CNY", "人民币": "CNY", "yuan": "CNY",
	"$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "美元": "USD", "美金": "USD",
	"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "欧元": "EUR",
	"£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "英镑": "GBP",
	"hk$": "HKD", "hkd": "HKD", "港币": "HKD", "港元": "HKD",
}

const number = `(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*(k\b|千|万|w\b)?`

var (
	// ¥2,500  RMB 2500  $1.2k  HK$800
	amountBefore = regexp.MustCompile(`(hk\$|us\$|\$|¥|€|£|\b(?:rmb|cny|usd|eur|gbp|hkd))\s*` + number)
	// 2500元  1.5万元  300 dollars  2000 rmb
	amountAfter = regexp.MustCompile(number + `\s*(块钱|元|块|人民币|美元|美金|欧元|英镑|港币|港元|(?:rmb|cny|yuan|usd|dollars?|eur|euros?|gbp|pounds?|hkd)\b)`)
)

// amounts finds every amount with a currency in a text.
func amounts(text string) []Money {
	text = strings.ToLower(norm.NFKC.String(text))
	var out []Money
	for _, m := range amountBefore.FindAllStringSubmatch(text, -1) {
		if v, ok := numberValue(m[2], m[3], m[4]); ok {
			out = append(out, Money{Currency: currencyWords[m[1]], Amount: v})
		}
	}
	for _, m := range amountAfter.FindAllStringSubmatch(text, -1) {
		if v, ok := numberValue(m[1], m[2], m[3]); ok {
			out = append(out, Money{Currency: currencyWords[m[4]], Amount: v})
		}
	}
	return out
}

func numberValue(whole, frac, mult string) (float64, bool) {
	s := strings.ReplaceAll(whole, ",", "")
	if frac != "" {
		s += "." + frac
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	switch mult {
	case "k", "千":
		v *= 1000
	case "万", "w":
		v *= 10000
	}
	return v, true
}

// ParseThresholds reads refund thresholds, one per currency, separated by
// commas or semicolons: "CNY 2000, USD 300", "¥2,000", "2000元". A bare
// number is in CNY.
func ParseThresholds(s string) ([]Money, error) {
	var out []Money
	seen := map[string]bool{}
	for _, part := range splitList(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var m Money
		if v, err := strconv.ParseFloat(part, 64); err == nil {
			m = Money{Currency: "CNY", Amount: v}
		} else {
			found := amounts(part)
			if len(found) != 1 {
				return nil, fmt.Errorf("refund threshold %q is not an amount with a currency (CNY 2000, USD 300)", part)
			}
			m = found[0]
		}
		if m.Amount <= 0 {
			return nil, fmt.Errorf("refund threshold %q is not above zero", part)
		}
		if seen[m.Currency] {
			return nil, fmt.Errorf("refund threshold for %s is given twice", m.Currency)
		}
		seen[m.Currency] = true
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("refund threshold %q holds no amount", s)
	}
	return out, nil
}

// splitList splits at commas and semicolons, except a comma inside a
// number ("2,000").
func splitList(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ';' && s[i] != ',' {
			continue
		}
		if s[i] == ',' && i > 0 && i+1 < len(s) && isDigit(s[i-1]) && isDigit(s[i+1]) {
			continue
		}
		out = append(out, s[start:i])
		start = i + 1
	}
	return append(out, s[start:])
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
