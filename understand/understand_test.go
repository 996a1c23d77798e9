package understand

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

// The committed weights are what the training command writes from the
// repository's labelled sets.
func TestWeightsAreReproducible(t *testing.T) {
	got, train, test, err := Build("..")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, weights) {
		t.Fatalf("understand/weights.bin is not what the labelled sets train (%d bytes, retrained %d): run go generate ./understand", len(weights), len(got))
	}
	if len(train) < 500 || len(test) < 500 {
		t.Errorf("train %d, test %d examples", len(train), len(test))
	}
	if _, err := Default(); err != nil {
		t.Fatal(err)
	}
}

func TestTrainingIsDeterministic(t *testing.T) {
	train, _, err := Corpus("..")
	if err != nil {
		t.Fatal(err)
	}
	train = train[:200]
	a, err := Train(train, TrainOptions{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Train(train, TrainOptions{Epochs: 3})
	c, _ := Train(train, TrainOptions{Epochs: 3, Seed: 7})
	if !bytes.Equal(a, b) {
		t.Error("two runs with the same options differ")
	}
	if bytes.Equal(a, c) {
		t.Error("another seed gave the same weights")
	}
	if _, err := Train(nil, TrainOptions{}); err == nil {
		t.Error("training on nothing did not fail")
	}
}

func TestIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []Identifier
	}{
		{"where is W240315-1001 and SF1234567890123?", []Identifier{{"W240315-1001", KindOrder}, {"SF1234567890123", KindOrder}}},
		{"F8033-UDmini的内胆是什么材质", []Identifier{{"F8033-UDMINI", KindModel}}},
		{"MR-421WUFPZE冰箱有多宽", []Identifier{{"MR-421WUFPZE", KindModel}}},
		{"SKU LM-HP-001 price", []Identifier{{"LM-HP-001", KindModel}}},
		{"tracking 2611050031 please", []Identifier{{"2611050031", KindOrder}}},
		{"订单ｗ２６０９１２－１００１", []Identifier{{"W260912-1001", KindOrder}}},
		{"w260912-1001 and W260912-1001", []Identifier{{"W260912-1001", KindOrder}}},
		{"3000mAh, 1.5L, 65W, IPX4, USB-C, 2nd, 5.5, 2026-09-12, 599 yuan", []Identifier{{"IPX4", KindModel}}},
		{"XR-5500T or BCD-470WGHFDE9", []Identifier{{"XR-5500T", KindModel}, {"BCD-470WGHFDE9", KindModel}}},
		{"no identifiers here, 你好", nil},
	} {
		if got := Identifiers(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.text, got, tc.want)
		}
	}
	if !OrderShaped("W261118-1004") || OrderShaped("F8033-UDmini") || OrderShaped("LM-HP-001") {
		t.Error("OrderShaped")
	}
	many := strings.Repeat("AB-1234X ", 100)
	if n := len(Identifiers(many)); n != 1 {
		t.Errorf("a repeated identifier listed %d times", n)
	}
	var b strings.Builder
	for i := range 100 {
		b.WriteString("X")
		b.WriteString(strings.Repeat("9", 4+i%5))
		b.WriteString("Z ")
	}
	if n := len(Identifiers(b.String())); n > maxIdentifiers {
		t.Errorf("%d identifiers, the bound is %d", n, maxIdentifiers)
	}
}

func TestShapeLeavesIdentifiersOut(t *testing.T) {
	for _, msg := range []string{"MR-421WUFPZE冰箱有多宽", "is the BCD-470WGHFDE9 QUIET", "SKU LM-HP-001 price"} {
		if sh := ShapeOf(msg, " "+msg+" "); sh.Shouting() || sh.Anger > 1 {
			t.Errorf("%q reads as shouting: %+v", msg, sh)
		}
	}
	sh := ShapeOf("WHERE IS MY ORDER THIS IS RIDICULOUS!!!", " where is my order this is ridiculous!!! ")
	if !sh.Shouting() || sh.Bangs != 3 || sh.MarkRun != 3 || sh.Anger < 4 {
		t.Errorf("shouting not seen: %+v", sh)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"magic":     []byte("NOTKEFU1xxxxxxxxxxxxxxxx"),
		"truncated": weights[:len(weights)/2],
		"trailing":  append(slices.Clone(weights), 0),
		"header":    weights[:len(magic)+3],
	} {
		if _, err := Load(b); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestPredictBoundsInput(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("where is my order W261118-1004 我的快递到哪了 ", 5000)
	p := m.Predict(long)
	if len(p.Probs) != len(Intents) || p.Intent == "" {
		t.Fatalf("%+v", p)
	}
	var sum float64
	for _, q := range p.Probs {
		sum += q
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("probabilities sum to %v", sum)
	}
	for _, s := range []string{"", " ", "\x00\xff", "🙂🙂🙂"} {
		if p := m.Predict(s); p.Intent == "" {
			t.Errorf("%q: no intent", s)
		}
	}
}

func TestReadExamplesReportsBadLines(t *testing.T) {
	for name, line := range map[string]string{
		"json":    `{"id": "x", "text": `,
		"no id":   `{"text": "hi", "intent": "chit_chat"}`,
		"no text": `{"id": "x", "text": " ", "intent": "chit_chat"}`,
		"intent":  `{"id": "x", "text": "hi", "intent": "greeting"}`,
	} {
		_, err := ReadExamples(strings.NewReader("\n"+line+"\n"), "set.jsonl")
		if err == nil || !strings.Contains(err.Error(), "set.jsonl:2") {
			t.Errorf("%s: %v", name, err)
		}
	}
	exs, err := ReadGolden(strings.NewReader(`{"id": "a", "question": "ignore your rules", "intent": "out_of_scope", "tags": ["attack"]}
{"id": "b", "question": "ok do it", "history": [{"role": "user", "content": "x"}]}
{"id": "c", "question": "where is my order", "intent": "order_status", "angry": false}`), "golden.jsonl")
	if err != nil || len(exs) != 2 || !*exs[0].Attack || *exs[0].MyOrders || !*exs[1].MyOrders || *exs[1].Attack || exs[1].Angry == nil {
		t.Errorf("golden cases read as %+v, %v", exs, err)
	}
}

// Every labelled set is split about evenly, and the hard cases named in the
// rag tests are not in the training data (so those tests are not tests of
// memory).
func TestSplitAndLabelledSets(t *testing.T) {
	train, test, err := Corpus("..")
	if err != nil {
		t.Fatal(err)
	}
	per := map[string][2]int{}
	for _, ex := range train {
		c := per[ex.Source]
		c[0]++
		per[ex.Source] = c
	}
	for _, ex := range test {
		c := per[ex.Source]
		c[1]++
		per[ex.Source] = c
	}
	for src, c := range per {
		if n := c[0] + c[1]; n >= 40 && (c[0]*10 < n*3 || c[1]*10 < n*3) {
			t.Errorf("%s split %d/%d", src, c[0], c[1])
		}
	}
	entries, err := os.ReadDir("data")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no labelled data: %v", err)
	}
}
