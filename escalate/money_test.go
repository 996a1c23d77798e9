package escalate

import (
	"fmt"
	"testing"
)

func TestAmounts(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"refund ¥2,500 please", "[CNY 2500]"},
		{"退款３０００元", "[CNY 3000]"}, // full-width digits
		{"￥1999.5", "[CNY 1999.5]"},
		{"1.5万元", "[CNY 15000]"},
		{"2k rmb", "[CNY 2000]"},
		{"RMB2600 or cny 10", "[CNY 2600 CNY 10]"},
		{"300 dollars and US$20 and $4.99", "[USD 20 USD 4.99 USD 300]"},
		{"€30 or 40 euros", "[EUR 30 EUR 40]"},
		{"HK$800", "[HKD 800]"},
		{"order W261118-1004, 2 items, 5 kg", "[]"},
		{"3000块钱", "[CNY 3000]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(amounts(tt.text)); got != tt.want {
			t.Errorf("amounts(%q) = %s, want %s", tt.text, got, tt.want)
		}
	}
}

func TestParseThresholds(t *testing.T) {
	for in, want := range map[string]string{
		"2000":              "[CNY 2000]",
		"¥2,000":            "[CNY 2000]",
		"CNY 2000, USD 300": "[CNY 2000 USD 300]",
		"2000元; $300":       "[CNY 2000 USD 300]",
	} {
		got, err := ParseThresholds(in)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("ParseThresholds(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "CNY 2000, ¥10", "0", "-5", "2000 apples"} {
		if got, err := ParseThresholds(bad); err == nil {
			t.Errorf("ParseThresholds(%q) = %v, want an error", bad, got)
		}
	}
}
