package guard

import (
	"bytes"
	"encoding/json"
	"log/slog"
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
		{"card 4111 1111 1111 1111 exp 12/28", "card [card] exp [expiry]"},
		{"卡号6222021234567890123", "卡号[card]"},                              // fails Luhn, but named a card number
		{"paid with 6222021234567890123", "paid with 6222021234567890123"}, // fails Luhn, no cue: kept
		{"身份证 11010519491231002X", "身份证 [id_number]"},
		{"编号 110105194912310021", "编号 110105194912310021"}, // bad check digit, no cue: kept
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

// mustRedact lists the formats shops see, en and zh: each input must come
// out as want.
var mustRedact = []struct{ in, want string }{
	// Phone numbers: US, UK, mainland mobiles and landlines.
	{"call me at +1 (555) 123-4567", "call me at [phone]"},
	{"my cell is 555-123-4567 thanks", "my cell is [phone] thanks"},
	{"phone (555) 123-4567", "phone [phone]"},
	{"or 415.555.0132", "or [phone]"},
	{"office +44 20 7946 0958", "office [phone]"},
	{"mobile 07700 900123", "mobile [phone]"},
	{"landline 020 7946 0958", "landline [phone]"},
	{"电话13812345678", "电话[phone]"},
	{"手机 138 1234 5678", "手机 [phone]"},
	{"手机+86 138-1234-5678", "手机[phone]"},
	{"+8613812345678", "[phone]"},
	{"两个号码13812345678 13912345678", "两个号码[phone] [phone]"},
	{"座机010-12345678", "座机[phone]"},
	{"座机 (0571) 8888 6666", "座机 [phone]"},
	{"座机 0571 88886666", "座机 [phone]"},
	// Identity numbers.
	{"SSN 123-45-6789", "SSN [ssn]"},
	{"my social security number is 123 45 6789", "my social security number is [ssn]"},
	{"ssn: 123456789", "ssn: [ssn]"},
	{"身份证11010519491231002X", "身份证[id_number]"},
	{"身份证号 11010519491231002x", "身份证号 [id_number]"},
	{"ID 110105 19491231 002X", "ID [id_number]"},
	{"身份证号码：110105-1949-1231-002X", "身份证号码:[id_number]"},
	{"老身份证 110105491231002", "老身份证 [id_number]"},
	{"old id 110105491231002 ok", "old id [id_number] ok"},
	{"身份证 110105194912310021", "身份证 [id_number]"},       // a typo in the check digit
	{"身份证号 1101 0519 4912 3100 21", "身份证号 [id_number]"}, // typo'd and spaced
	{"passport E12345678", "passport [passport]"},
	{"Passport number: 123456789", "Passport number: [passport]"},
	{"我的护照号码是E12345678", "我的护照号码是[passport]"},
	{"护照：G1234567", "护照:[passport]"},
	// Banking.
	{"IBAN GB82 WEST 1234 5698 7654 32", "IBAN [iban]"},
	{"iban: DE89370400440532013000.", "iban: [iban]."},
	{"FR1420041010050500013M02606", "[iban]"},
	{"card 4111-1111-1111-1111", "card [card]"},
	{"卡号 6222 0212 3456 7890 128", "卡号 [card]"},
	{"visa 4012888888881881", "visa [card]"},
	{"cvv 123", "cvv [cvv]"},
	{"CVC: 1234", "CVC: [cvv]"},
	{"the security code is 987", "the security code is [cvv]"},
	{"安全码 456", "安全码 [cvv]"},
	{"卡背后三位是321", "卡背后三位是[cvv]"},
	{"exp 12/28", "exp [expiry]"},
	{"expiry: 07/2029", "expiry: [expiry]"},
	{"Expires 3/27", "Expires [expiry]"},
	{"valid thru 11-26", "valid thru [expiry]"},
	{"有效期 08/27", "有效期 [expiry]"},
	{"有效期至2028年12月", "有效期至[expiry]"},
	// E-mail, plain and written around scrapers.
	{"li.wei+shop@example.com", "[email]"},
	{"write to li.wei at example dot com", "write to [email]"},
	{"li.wei(at)example(dot)com", "[email]"},
	{"li.wei [at] example [dot] co [dot] uk", "[email]"},
	{"li.wei at example.com", "[email]"},
	{"zhang @ qq.com", "[email]"},
	{"ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ", "[email]"},
}

// mustSurvive lists look-alikes that are not personal data: order ids,
// model numbers, prices, dates, quantities, tracking and service numbers.
var mustSurvive = []string{
	"order W260912-1001 is late",
	"订单号 W261118-1004",
	"model MR-421WUFPZE in white",
	"SKU LM-HP-001, 2 pcs",
	"price ¥599, was ¥1,299.00",
	"$1,299.99 or 3 x $433.33",
	"1299元包邮",
	"delivered 2026-11-20 at 10:30",
	"2026/11/20 – 2026/12/01",
	"2026年11月20日到货",
	"returns within 30 days, 12/28 is the last day",
	"qty 1000, batch 2024-2026",
	"tracking SF1420576381945",
	"JD tracking JDVA30518274693",
	"UPS 1Z999AA10123456784",
	"hotline 400-123-4567, 800-820-8820",
	"toll free 1-800-555-0199",
	"call 888-555-0123",
	"size EU 42, 10.5 US",
	"version 2.14.3 build 20261120",
	"room 301, floor 12",
	"postcode 310012",
	"look at example dot com for more",
	"arrive at noon dot com",
	"1234-56-7890",
	"sale ends 12/31 at 9pm",
	"I'll be there at 5",
	"000-12-3456",
	"rated 4.8 by 12,345 buyers",
	"pack of 12 (6 x 2)",
}

func TestRedactFormats(t *testing.T) {
	for _, tc := range mustRedact {
		got, found := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		if len(found) == 0 {
			t.Errorf("Redact(%q) reported nothing", tc.in)
		}
	}
}

func TestRedactKeepsLookAlikes(t *testing.T) {
	for _, in := range mustSurvive {
		clean := cleanForPII(in)
		if got, found := Redact(in); got != clean || len(found) != 0 {
			t.Errorf("Redact(%q) = %q, %v; want it kept", in, got, found)
		}
	}
}

func TestIBANAndSSNChecks(t *testing.T) {
	if !validIBAN("GB82 WEST 1234 5698 7654 32") || validIBAN("GB82 WEST 1234 5698 7654 33") || validIBAN("GB82") {
		t.Error("IBAN check wrong")
	}
	if !validSSN("123-45-6789") || validSSN("666-45-6789") || validSSN("923-45-6789") || validSSN("123-00-6789") {
		t.Error("SSN check wrong")
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("13812345678 a@b.co 4111 1111 1111 1111")
	f.Add("文三路123号")
	for _, tc := range mustRedact {
		f.Add(tc.in)
	}
	for _, in := range mustSurvive {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, found := Redact(s)
		clean := cleanForPII(s)
		last := 0
		var rest []string
		for _, fd := range found {
			if fd.Start < last || fd.End <= fd.Start || fd.End > len(clean) {
				t.Fatalf("bad finding %+v after %d in %q", fd, last, clean)
			}
			rest = append(rest, clean[last:fd.Start])
			last = fd.End
		}
		rest = append(rest, clean[last:])
		kept := strings.Join(rest, "\x00")
		// A detected number never reaches the output, unless the text
		// also holds it where nothing was detected.
		for _, fd := range found {
			if m := clean[fd.Start:fd.End]; strings.Contains(out, m) && !strings.Contains(kept, m) {
				t.Fatalf("detected %s %q is still in %q", fd.Kind, m, out)
			}
		}
		// Idempotent: the redacted text holds nothing more to redact.
		again, more := Redact(out)
		if again != out || len(more) != 0 {
			t.Fatalf("second pass changed %q to %q (%v)", out, again, more)
		}
	})
}

// BenchmarkRedact redacts a shopper's message with personal data and one
// without (the common case, and every log line).
func BenchmarkRedact(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"with_pii", "Hi, my order W260912-1001 has not arrived, call me on 138 1234 5678 or li.wei at example dot com; card 4111 1111 1111 1111 exp 12/28"},
		{"without", "Hi, my order W260912-1001 has not arrived yet, it was supposed to come on 2026-09-14. Can you check where it is?"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				Redact(bc.text)
			}
		})
	}
}

func TestShortenNeverSplitsPII(t *testing.T) {
	text := "please charge card 4111 1111 1111 1111 for the order"
	for n := 0; n < len(text)+2; n++ {
		short := Shorten(text, n)
		if len([]rune(strings.TrimSuffix(short, "…"))) > n {
			t.Fatalf("Shorten(%d) = %q is longer", n, short)
		}
		red, _ := Redact(short)
		if strings.Contains(red, "4111") || strings.Contains(red, "111 1") {
			t.Fatalf("Shorten(%d) = %q leaks part of the card: %q", n, short, red)
		}
	}
	if got := Shorten("短文本", 10); got != "短文本" {
		t.Errorf("a short text changed: %q", got)
	}
}

// TestLogsRedactEveryFormat logs each format through the redacting handler
// as a message and as an attribute: the line holds the redacted text.
func TestLogsRedactEveryFormat(t *testing.T) {
	for _, tc := range mustRedact {
		var buf bytes.Buffer
		log := slog.New(NewRedactingHandler(slog.NewJSONHandler(&buf, nil)))
		log.Info(tc.in, slog.String("text", tc.in))
		var line struct{ Msg, Text string }
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Msg != tc.want || line.Text != tc.want {
			t.Errorf("logged %q as %q / %q, want %q", tc.in, line.Msg, line.Text, tc.want)
		}
	}
}
