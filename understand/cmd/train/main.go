// Command train fits kefu's message-understanding model to the labelled
// sets in the repository, writes the weights file, and prints a report on
// the held-out half of every set (and, when the public benchmark data sits
// beside the repository, on CLINC150's out-of-scope queries and on BIPIA's
// planted instructions, which are never trained on).
//
//	go run ./understand/cmd/train              (from the module root)
//	go generate ./understand                   (the same, via doc.go)
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/understand"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	root := fs.String("root", ".", "the module root (where go.mod is)")
	out := fs.String("out", "", "the weights file to write (default ROOT/understand/weights.bin)")
	shared := fs.String("data", "", "public benchmark data (default ROOT/../shared/data; skipped when absent)")
	heldout := fs.String("heldout", "", "also write the held-out half of each golden set into this folder, for kefu eval")
	verbose := fs.Bool("v", false, "with -cv, list the examples with a wrong verdict")
	cv := fs.Bool("cv", false, "only cross-validate the default options on the train half (for choosing them) and print that")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*root, "understand", "weights.bin")
	}
	if *shared == "" {
		*shared = filepath.Join(*root, "..", "shared", "data")
	}
	if *cv {
		train, _, err := understand.Corpus(*root)
		if err != nil {
			return err
		}
		r, err := understand.CrossValidate(train, understand.TrainOptions{})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "== train half, %d-fold cross-validation (%d examples)\n", 4, len(train))
		r.Write(stdout)
		if *verbose {
			for _, e := range r.Errors {
				fmt.Fprintln(stdout, "  ", e)
			}
		}
		return nil
	}
	start := time.Now()
	weights, train, test, err := understand.Build(*root)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if err := os.WriteFile(*out, weights, 0o644); err != nil {
		return err
	}
	m, err := understand.Load(weights)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained on %d examples in %s; wrote %s (%d bytes)\n", len(train), took.Round(time.Millisecond), *out, len(weights))
	fmt.Fprintf(stdout, "thresholds (cross-validated on the train half): %+v\n", m.Thresholds)
	fmt.Fprintf(stdout, "\n== held-out half (%d examples, never trained on)\n", len(test))
	understand.Evaluate(m, test).Write(stdout)
	if *heldout != "" {
		if err := writeHeldout(*root, *heldout, stdout); err != nil {
			return err
		}
	}
	clinc(m, filepath.Join(*shared, "clinc150", "data_full.json"), stdout)
	bipia(m, filepath.Join(*shared, "bipia", "text_attack_test.json"), stdout)
	return nil
}

// writeHeldout copies the held-out cases of each golden set, lines as they
// are, to dir/NAME.heldout.jsonl.
func writeHeldout(root, dir string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, g := range understand.GoldenSets {
		raw, err := os.ReadFile(filepath.Join(root, g))
		if err != nil {
			return err
		}
		var b bytes.Buffer
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			var c struct {
				ID string `json:"id"`
			}
			if len(line) == 0 || json.Unmarshal(line, &c) != nil || !understand.Heldout(c.ID) {
				continue
			}
			b.Write(line)
			b.WriteByte('\n')
			n++
		}
		name := strings.TrimSuffix(filepath.Base(g), ".jsonl") + ".heldout.jsonl"
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%d cases)\n", filepath.Join(dir, name), n)
	}
	return nil
}

// notShop are CLINC150 domains and intents that are outside a shop's
// business; intents a shop does answer (greetings, "are you a bot", order
// status, anything about payment cards and bills) are left out.
var notShop = map[string][]string{
	"travel":             nil,
	"kitchen_and_dining": nil,
	"utility":            nil,
	"work":               nil,
	"auto_and_commute":   nil,
	"home": {"what_song", "play_music", "todo_list_update", "reminder", "reminder_update", "calendar_update",
		"update_playlist", "shopping_list", "calendar", "next_song", "todo_list", "shopping_list_update", "smart_home"},
	"small_talk": {"meaning_of_life", "do_you_have_pets", "what_are_your_hobbies", "fun_fact", "tell_joke"},
}

func clinc(m *understand.Model, path string, w io.Writer) {
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "\n== CLINC150: skipped (%s not found)\n", path)
		return
	}
	var data map[string][][2]string
	if err := json.Unmarshal(raw, &data); err != nil {
		fmt.Fprintf(w, "\n== CLINC150: skipped (%v)\n", err)
		return
	}
	domRaw, err := os.ReadFile(filepath.Join(filepath.Dir(path), "domains.json"))
	var domains map[string][]string
	if err == nil {
		err = json.Unmarshal(domRaw, &domains)
	}
	if err != nil {
		fmt.Fprintf(w, "\n== CLINC150: skipped (domains.json: %v)\n", err)
		return
	}
	intentDomain := map[string]string{}
	for d, intents := range domains {
		for _, i := range intents {
			if keep, ok := notShop[d]; ok && (keep == nil || slices.Contains(keep, i)) {
				intentDomain[i] = d
			}
		}
	}
	refused := func(text string) bool {
		_, rules := guard.Injection(text)
		return rules || m.Predict(text).Refused()
	}
	var oos understand.Rate
	for _, q := range data["oos_test"] {
		addRate(&oos, refused(q[0]))
	}
	byDomain := map[string]*understand.Rate{}
	var all understand.Rate
	for _, q := range data["test"] {
		d, ok := intentDomain[q[1]]
		if !ok {
			continue
		}
		if byDomain[d] == nil {
			byDomain[d] = &understand.Rate{}
		}
		hit := refused(q[0])
		addRate(byDomain[d], hit)
		addRate(&all, hit)
	}
	fmt.Fprintf(w, "\n== CLINC150 (public, never trained on): refused as out of scope\n")
	fmt.Fprintf(w, "oos_test                   %s\n", oos)
	fmt.Fprintf(w, "not-shop intents (test)    %s\n", all)
	names := make([]string, 0, len(byDomain))
	for d := range byDomain {
		names = append(names, d)
	}
	slices.Sort(names)
	for _, d := range names {
		fmt.Fprintf(w, "  %-24s %s\n", d, byDomain[d])
	}
}

func bipia(m *understand.Model, path string, w io.Writer) {
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "\n== BIPIA: skipped (%s not found)\n", path)
		return
	}
	var data map[string][]string
	if err := json.Unmarshal(raw, &data); err != nil {
		fmt.Fprintf(w, "\n== BIPIA: skipped (%v)\n", err)
		return
	}
	var head, blocked understand.Rate
	for _, list := range data {
		for _, text := range list {
			p := m.Predict(text)
			_, rules := guard.Injection(text)
			addRate(&head, p.IsAttack())
			addRate(&blocked, rules || p.Refused())
		}
	}
	fmt.Fprintf(w, "\n== BIPIA text attacks, test split (public, never trained on), sent as the shopper's message\n")
	fmt.Fprintf(w, "attack head                %s\n", head)
	fmt.Fprintf(w, "refused (rules, attack head or out of scope) %s\n", blocked)
}

func addRate(r *understand.Rate, hit bool) {
	r.Cases++
	if hit {
		r.Hits++
	}
}
