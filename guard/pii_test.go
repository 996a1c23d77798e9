package guard

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mail me at li.wei+shop@example.com please", "mail me at [email] please"},
		{"我的手机号是13812345678，快递放门口", "我的手机号是[phone],快递放门口"},
		{"call +86 138 1234 5678", "call [phone]"},
		{"my number: +44 20 7946 0958", "my number: [phone]"},
		{"座机 0571-88886666", "座机 [phone]"},
		{"card 4111 1111 1111 1111 exp 12/28", "card [card] exp 12/28"},
		{"卡号6222021234567890123", "卡号6222021234567890123"}, // fails Luhn: kept
		{"身份证 11010519491231002X", "身份证 [id_number]"},
		{"身份证 110105194912310021", "身份证 110105194912310021"}, // bad check digit
		{"地址：浙江省杭州市西湖区文三路123号5栋2单元301室，谢谢", "地址:[address],谢谢"},
		{"ship to 221B Baker Street, London", "ship to [address], London"},
		{"full-width １３８１２３４５６７８", "full-width [phone]"},
		{"hidden 138\u200b1234\u200b5678", "hidden [phone]"},
		// Not personal data:
		{"order W261118-1004 tracking SF1420576381945", "order W261118-1004 tracking SF1420576381945"},
		{"JD tracking JDVA30518274693, sku LM-HP-001, price ¥599", "JD tracking JDVA30518274693, sku LM-HP-001, price ¥599"},
		{"hotline 400-123-4567, 30 days, 2026-11-20", "hotline 400-123-4567, 30 days, 2026-11-20"},
	} {
		got, _ := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestLuhnAndID(t *testing.T) {
	if !validCard("4111111111111111") || validCard("4111111111111112") || validCard("123456789012") {
		t.Error("Luhn check wrong")
	}
	if !validResidentID("11010519491231002X") || validResidentID("11010519491331002X") {
		t.Error("resident id check wrong")
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("13812345678 a@b.co 4111 1111 1111 1111")
	f.Add("文三路123号")
	f.Fuzz(func(t *testing.T, s string) {
		out, found := Redact(s)
		for _, fd := range found {
			if fd.Start < 0 || fd.End < fd.Start {
				t.Fatalf("bad finding %+v", fd)
			}
		}
		if len(found) > 0 && !strings.Contains(out, "[") {
			t.Fatalf("findings but nothing replaced: %q", out)
		}
	})
}
