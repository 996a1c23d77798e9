package prompts

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

type replyData struct {
	Shop, Hours, OrderID, Reason string
	Count                        int
}

// TestRenderGolden renders every reply in every locale and compares it
// with testdata/<locale>.golden; run with -update after changing a template
// on purpose, and review the diff.
func TestRenderGolden(t *testing.T) {
	s := MustLoad()
	d := replyData{Shop: "Lumi Home & Tech", Hours: "9:00-21:00", OrderID: "W261118-1004", Count: 2}
	for _, loc := range Locales {
		var b strings.Builder
		for _, name := range []string{"sign_in", "no_orders", "order_not_found", "orders_intro", "unknown", "refuse", "refuse_injection", "greeting", "thanks", "identity", "feedback", "escalate_safety", "escalate_fraud", "escalate_legal", "unknown_brief"} {
			out, err := s.Render(loc, name, d)
			if err != nil {
				t.Fatalf("%s/%s: %v", loc, name, err)
			}
			if out == "" {
				t.Errorf("%s/%s renders empty", loc, name)
			}
			b.WriteString("== " + name + "\n" + out + "\n")
		}
		for _, reason := range []string{"requested", "anger", "legal", "safety", "fraud", "no_knowledge"} {
			d.Reason = reason
			out, err := s.Render(loc, "escalate", d)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("== escalate/" + reason + "\n" + out + "\n")
		}
		for _, lang := range []string{"en", "zh"} {
			out, err := s.Render(loc, "other_language", struct{ Language string }{lang})
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("== other_language/" + lang + "\n" + out + "\n")
		}
		one, _ := s.Render(loc, "orders_intro", replyData{Count: 1})
		b.WriteString("== orders_intro/1\n" + one + "\n")
		sys, err := s.Render(loc, "answer_system", d)
		if err != nil {
			t.Fatal(err)
		}
		type passage struct{ Title, Heading, Text string }
		user, err := s.Render(loc, "answer_user", struct {
			Question string
			Passages []passage
		}{"How long do I have to return an item?", []passage{
			{"Returns and Refunds", "Return window", "You can return most items within 30 days of delivery."},
			{"FAQ", "", "Q: Can I return a gift?\nA: Yes, with the gift receipt."},
		}})
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("== answer_system\n" + sys + "\n== answer_user\n" + user + "\n")
		rsys, err := s.Render(loc, "rewrite_system", nil)
		if err != nil {
			t.Fatal(err)
		}
		type msg struct{ Role, Content string }
		ruser, err := s.Render(loc, "rewrite_user", struct {
			History []msg
			Message string
		}{[]msg{{"user", "Can I return opened headphones?"}, {"assistant", "Opened items can be returned within 30 days."}}, "what about if it's broken?"})
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("== rewrite_system\n" + rsys + "\n== rewrite_user\n" + ruser + "\n")
		for _, name := range []string{"classify_system", "summarise_system"} {
			out, err := s.Render(loc, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("== " + name + "\n" + out + "\n")
		}
		cuser, err := s.Render(loc, "classify_user", struct{ Message string }{"AirBeat Pro 多少钱"})
		if err != nil {
			t.Fatal(err)
		}
		suser, err := s.Render(loc, "summarise_user", struct{ History []msg }{[]msg{{"user", "Where is W261118-1004?"}, {"assistant", "It shipped on 2026-11-18."}}})
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("== classify_user\n" + cuser + "\n== summarise_user\n" + suser + "\n")

		path := filepath.Join("testdata", loc+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./prompts -update to create it)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s replies differ from %s (run with -update if intended):\n%s", loc, path, b.String())
		}
	}
}

func TestEveryLocaleHasEveryTemplate(t *testing.T) {
	s := MustLoad()
	names := func(loc string) map[string]bool {
		m := map[string]bool{}
		for _, tmpl := range s.byLocale[loc].Templates() {
			if strings.HasSuffix(tmpl.Name(), ".tmpl") || tmpl.Name() == loc {
				continue
			}
			m[tmpl.Name()] = true
		}
		return m
	}
	en := names(DefaultLocale)
	for _, loc := range Locales {
		got := names(loc)
		for n := range en {
			if !got[n] {
				t.Errorf("locale %s lacks template %q", loc, n)
			}
		}
		if len(got) != len(en) {
			t.Errorf("locale %s has %d templates, %s has %d", loc, len(got), DefaultLocale, len(en))
		}
	}
}

func TestMissingDataIsAnError(t *testing.T) {
	if _, err := MustLoad().Render("en", "order_not_found", struct{}{}); err == nil {
		t.Fatal("rendering without OrderID succeeded")
	}
	if out, err := MustLoad().Render("fr", "thanks", replyData{}); err != nil || !strings.Contains(out, "welcome") {
		t.Fatalf("unknown locale should fall back to English: %q %v", out, err)
	}
}
