package llm

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// faqChunk is an FAQ entry as ingest renders it.
func faqChunk(id, q, a string) kefu.Hit {
	return kefu.Hit{Chunk: kefu.Chunk{ID: id + "#0", DocID: id, Type: kefu.TypeFAQ, Title: q,
		Text: "Q: " + q + "\nA: " + a + "\nId: " + id}}
}

// TestExtractiveFAQAnswersWithTheAnswer asks every demo FAQ question word
// for word, with its entry ranked first and three other entries after it,
// and wants the answer's opening, never the question back.
func TestExtractiveFAQAnswersWithTheAnswer(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "examples", "demo-shop", "faq.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type entry struct{ ID, Locale, Question, Answer string }
	var entries []entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	if len(entries) < 20 {
		t.Fatalf("only %d FAQ entries", len(entries))
	}
	for i, e := range entries {
		t.Run(e.ID, func(t *testing.T) {
			ctx := []kefu.Hit{faqChunk(e.ID, e.Question, e.Answer)}
			ctx[0].Score = 0.7
			for k := 1; len(ctx) < 4; k++ {
				o := entries[(i+k)%len(entries)]
				if o.Locale != e.Locale {
					continue
				}
				h := faqChunk(o.ID, o.Question, o.Answer)
				h.Score = 0.6 - 0.1*float64(len(ctx))
				ctx = append(ctx, h)
			}
			got := answer(t, kefu.GenerateRequest{Question: e.Question, Query: e.Question, Locale: e.Locale, Context: ctx})
			opening := tokenize.Sentences(e.Answer)[0]
			if !strings.Contains(got, opening) || !strings.HasSuffix(got, "[1]") {
				t.Errorf("answer %q lacks the opening %q of its answer with [1]", got, opening)
			}
			if strings.Contains(got, e.Question) || strings.Contains(got, "Q: ") {
				t.Errorf("answer %q quotes the question", got)
			}
		})
	}
}

// lumiKettle is a demo-shop product record as ingest renders it.
const lumiKettle = `Sku: LM-KA-001
Name: Lumi Temperature Control Kettle 1.7 L
Name (zh): 鹿米 控温电水壶 1.7L
Category: Kitchen Appliances
Price: 199.00
Currency: CNY
Stock: 230
Warranty months: 24
Attributes:
  Capacity: 1.7 L
  Power: 1800 W
  Material: 304 stainless steel
  Dimensions: 22 x 16 x 25 cm
  Voltage: 220 V
Description: Boils 1 litre in about 4 minutes and keeps water at the right temperature for tea, coffee or baby formula. Switches off automatically if the kettle boils dry.
Description (zh): 约4分钟烧开1升水，可为泡茶、冲咖啡或冲奶粉保持合适的水温。防干烧自动断电。`

func TestExtractiveRecordFieldByAspect(t *testing.T) {
	kettle := kefu.Hit{Score: 0.6, Chunk: kefu.Chunk{ID: "p#LM-KA-001#0", Type: kefu.TypeProduct, Title: "Lumi Temperature Control Kettle 1.7 L", Text: lumiKettle}}
	policy := kefu.Hit{Score: 0.4, Chunk: kefu.Chunk{ID: "w#1", Type: kefu.TypePolicy, Title: "Warranty and Repairs", Heading: "Warranty and Repairs > Warranty periods",
		Text: "## Warranty periods\n\n- Kitchen appliances and cleaning appliances, such as kettles and rice cookers: 24 months\n- Smart door locks: 24 months"}}
	for _, tc := range []struct {
		question, locale, want, name string
	}{
		{"what's the warranty on the temperature control kettle", "en", "Warranty months: 24", "Lumi Temperature Control Kettle 1.7 L"},
		{"how much is the temperature control kettle", "en", "Price: 199.00", "Lumi Temperature Control Kettle 1.7 L"},
		{"what size is the temperature control kettle", "en", "Dimensions: 22 x 16 x 25 cm", "Lumi Temperature Control Kettle 1.7 L"},
		{"what material is the kettle made of", "en", "Material: 304 stainless steel", "Lumi Temperature Control Kettle 1.7 L"},
		{"控温电水壶保修多久", "zh", "Warranty months: 24", "鹿米 控温电水壶 1.7L"},
		{"控温电水壶尺寸多大", "zh", "Dimensions: 22 x 16 x 25 cm", "鹿米 控温电水壶 1.7L"},
	} {
		t.Run(tc.question, func(t *testing.T) {
			got := answer(t, kefu.GenerateRequest{Question: tc.question, Query: tc.question, Locale: tc.locale, Context: []kefu.Hit{kettle, policy}})
			if !strings.Contains(got, tc.want) || !strings.Contains(got, "[1]") {
				t.Errorf("answer %q lacks %q [1]", got, tc.want)
			}
			if n := strings.Count(got, tc.name); n != 1 {
				t.Errorf("answer %q names the product %d times, want once as %q", got, n, tc.name)
			}
			if strings.Contains(got, "Sku:") || strings.Contains(got, "Name:") {
				t.Errorf("answer %q quotes a naming line", got)
			}
		})
	}
}

// A long record cut by field: a chunk holds one field under its name as
// heading, and later chunks of a field start without the field's label.
func TestExtractiveRecordChunkByField(t *testing.T) {
	title := "美的（Midea）60升电热水器F6030"
	faults := kefu.Hit{Score: 0.6, Chunk: kefu.Chunk{ID: "p#1#9", Type: kefu.TypeProduct, Title: title, Heading: "常见故障",
		Text: "常见故障:\n- 故障代码: E1, 故障名称: 加热异常, 故障解决方案: 检查电源连接。\n- 故障代码: E4, 故障名称: 温度传感器故障, 故障解决方案: 请联系售后更换传感器。\n- 故障代码: E5, 故障名称: 漏电, 故障解决方案: 立即断电并联系售后。"}}
	repair := kefu.Hit{Score: 0.5, Chunk: kefu.Chunk{ID: "p#1#8", Type: kefu.TypeProduct, Title: title, Heading: "维修说明",
		Text: "保修凭证：需提供原始购买发票或电子订单。维修服务：城市地区24小时内响应。"}}
	got := answer(t, kefu.GenerateRequest{Question: "热水器显示E4是什么故障", Query: "热水器显示E4是什么故障", Locale: "zh", Context: []kefu.Hit{faults, repair}})
	if !strings.Contains(got, "E4") || strings.Contains(got, "E1") || strings.Contains(got, "E5") || !strings.HasSuffix(got, "[1]") {
		t.Errorf("answer %q does not quote the E4 fault alone", got)
	}
	// The title is a passage's too (the fact gate reads it), so the
	// product is named by it, once.
	if strings.Count(got, title) != 1 {
		t.Errorf("answer %q does not name the product once by its title", got)
	}
	got = answer(t, kefu.GenerateRequest{Question: "维修多久响应", Query: "维修多久响应", Locale: "zh", Context: []kefu.Hit{repair}})
	if !strings.Contains(got, "24小时内响应") {
		t.Errorf("answer %q misses the continued field", got)
	}
}

func TestExtractivePolicyRuleNotHeading(t *testing.T) {
	ctx := []kefu.Hit{{Score: 0.6, Chunk: kefu.Chunk{ID: "r#2", Type: kefu.TypePolicy, Title: "Returns and Refunds", Heading: "Returns and Refunds > 7-day no-reason returns",
		Text: "## 7-day no-reason returns\n\nFor orders delivered in mainland China, eligible goods can be returned without giving a reason within 7 days of delivery.\n\nSome goods are not eligible for 7-day no-reason returns:\n\n- Hygiene items once the seal is broken\n- Products engraved at your request\n- Gift cards and activated digital codes"}}}
	got := answer(t, kefu.GenerateRequest{Question: "are gift cards eligible for 7-day no-reason returns", Locale: "en", Context: ctx})
	if !strings.Contains(got, "not eligible") || !strings.Contains(got, "Gift cards and activated digital codes") {
		t.Errorf("answer %q lacks the rule with its exceptions", got)
	}
	if strings.HasPrefix(got, "7-day no-reason returns") || strings.Contains(got, "##") {
		t.Errorf("answer %q quotes the heading", got)
	}
}

func TestExtractivePrefersTheShoppersLanguage(t *testing.T) {
	zh := kefu.Hit{Score: 0.7, Chunk: kefu.Chunk{ID: "s.zh#1", Type: kefu.TypePolicy, Locale: "zh", Title: "配送政策", Heading: "配送政策 > 运费",
		Text: "## 运费\n\n中国大陆订单满99元（使用优惠券后）免运费。偏远地区满299元免运费。"}}
	en := kefu.Hit{Score: 0.6, Chunk: kefu.Chunk{ID: "s.en#1", Type: kefu.TypePolicy, Locale: "en", Title: "Shipping", Heading: "Shipping > Shipping costs",
		Text: "## Shipping costs\n\nMainland China: free standard shipping on orders of ¥99 or more, after coupons. Remote areas: free shipping from ¥299."}}
	q := "free shipping minimum? 免运费 运费"
	got := answer(t, kefu.GenerateRequest{Question: "free shipping minimum?", Query: q, Locale: "en", Context: []kefu.Hit{zh, en}})
	if !strings.Contains(got, "free standard shipping on orders of ¥99") || strings.Contains(got, "免运费") || !strings.Contains(got, "[2]") {
		t.Errorf("English shopper got %q", got)
	}
	got = answer(t, kefu.GenerateRequest{Question: "包邮门槛多少", Query: "包邮门槛多少 免运费 运费 free shipping", Locale: "zh", Context: []kefu.Hit{en, zh}})
	if !strings.Contains(got, "满99元") || !strings.Contains(got, "[2]") {
		t.Errorf("Chinese shopper got %q", got)
	}
	// Only the other language: said so, then quoted.
	got = answer(t, kefu.GenerateRequest{Question: "free shipping minimum?", Query: q, Locale: "en", Context: []kefu.Hit{zh}})
	if !strings.HasPrefix(got, "We only have this in Chinese:") || !strings.Contains(got, "免运费") || !strings.HasSuffix(got, "[1]") {
		t.Errorf("English shopper with a Chinese passage only got %q", got)
	}
	got = answer(t, kefu.GenerateRequest{Question: "运费多少", Query: "运费多少 shipping cost", Locale: "zh", Context: []kefu.Hit{en}})
	if !strings.HasPrefix(got, "这部分内容只有英文版本：") || !strings.Contains(got, "¥99") {
		t.Errorf("Chinese shopper with an English passage only got %q", got)
	}
}

func TestExtractiveNeverEmpty(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  kefu.GenerateRequest
		want string
	}{
		{"no passages", kefu.GenerateRequest{Question: "do you sell gift cards", Locale: "en"}, "I'm sorry"},
		{"no passages, Chinese", kefu.GenerateRequest{Question: "有礼品卡吗", Locale: "zh"}, "抱歉"},
		{"a heading only", kefu.GenerateRequest{Question: "returns", Locale: "en", Context: []kefu.Hit{hit(kefu.TypePolicy, "Returns", "## Returns")}}, "I'm sorry"},
		{"no shared term", kefu.GenerateRequest{Question: "xyzzy plugh", Locale: "en", Context: []kefu.Hit{
			hit(kefu.TypePolicy, "Returns", "## Return window\n\nYou can return most items within 30 days of delivery. Gift cards cannot be returned.")}}, "within 30 days of delivery. [1]"},
		{"a record with no shared term", kefu.GenerateRequest{Question: "xyzzy", Locale: "en", Context: []kefu.Hit{
			hit(kefu.TypeProduct, "Lumi Temperature Control Kettle 1.7 L", lumiKettle)}}, "[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := answer(t, tc.req)
			if strings.TrimSpace(got) == "" || !strings.Contains(got, tc.want) {
				t.Errorf("answer %q, want it to hold %q", got, tc.want)
			}
		})
	}
}

// A field in English for a Chinese reader brings the record's Chinese
// sentence that says the same.
func TestExtractiveFieldBringsTheShoppersLanguage(t *testing.T) {
	text := "Sku: LM-CA-001\nName: Northpeak K87 Mechanical Keyboard\nName (zh): 北峰 K87 机械键盘\nPrice: 449.00\nWarranty months: 24\n" +
		"Description: Tri-mode mechanical keyboard. Northpeak gives a 24-month manufacturer warranty.\nDescription (zh): 三模机械键盘，可在三台设备之间切换。北峰提供24个月厂家保修。"
	ctx := []kefu.Hit{{Score: 0.8, Chunk: kefu.Chunk{ID: "p#LM-CA-001#0", Type: kefu.TypeProduct, Title: "Northpeak K87 Mechanical Keyboard", Text: text}}}
	got := answer(t, kefu.GenerateRequest{Question: "北峰K87键盘保修多久", Query: "北峰K87键盘保修多久 warranty 保修", Locale: "zh", Context: ctx})
	if !strings.Contains(got, "Warranty months: 24") || !strings.Contains(got, "24个月厂家保修") || strings.Contains(got, "manufacturer warranty") {
		t.Errorf("answer %q", got)
	}
	if strings.Count(got, "北峰 K87 机械键盘") != 1 {
		t.Errorf("answer %q does not name the keyboard once", got)
	}
}
