package understand

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kefuhq/kefu"
)

// Example is one labelled message. A nil label is unknown and trains
// nothing on its head.
type Example struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Locale string `json:"locale"`
	Intent string `json:"intent"`
	// MyOrders: the message asks about the shopper's own order, parcel or
	// refund, not about a rule.
	MyOrders *bool `json:"my_orders"`
	Attack   *bool `json:"attack"`
	Angry    *bool `json:"angry"`
	// Source is the file the example came from (not stored in it).
	Source string `json:"-"`
}

// Heldout reports whether the example with this id belongs to the measure
// half of its set: the low bit of the FNV-1a hash of the id. Nothing is
// trained or tuned on the measure half.
func Heldout(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()&1 == 1
}

// maxExampleLine bounds one line of a labelled set.
const maxExampleLine = 64 * 1024

// ReadExamples reads labelled messages, one JSON object per line (blank
// lines skipped). Every example needs an id, a text and an intent of
// Intents; ids are unique.
func ReadExamples(r io.Reader, source string) ([]Example, error) {
	var out []Example
	err := eachLine(r, source, func(line int, raw []byte) error {
		var ex Example
		if err := json.Unmarshal(raw, &ex); err != nil {
			return fmt.Errorf("%s:%d: %w", source, line, err)
		}
		ex.Source = source
		if err := checkExample(ex); err != nil {
			return fmt.Errorf("%s:%d: %w", source, line, err)
		}
		out = append(out, ex)
		return nil
	})
	return out, err
}

// golden is the part of an eval golden case the model learns from.
type golden struct {
	ID       string            `json:"id"`
	Question string            `json:"question"`
	Locale   string            `json:"locale"`
	History  []json.RawMessage `json:"history"`
	Intent   string            `json:"intent"`
	Angry    *bool             `json:"angry"`
	Tags     []string          `json:"tags"`
}

// ReadGolden reads an eval golden set (examples/demo-shop/golden-*.jsonl)
// as examples: the intent and anger labels as they are, attack from the
// "attack" tag, and my_orders as intent == order_status (the sets label
// a shopper's questions about their own orders so). Cases with a history
// are left out: their label belongs to the conversation, not the message.
func ReadGolden(r io.Reader, source string) ([]Example, error) {
	var out []Example
	err := eachLine(r, source, func(line int, raw []byte) error {
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("%s:%d: %w", source, line, err)
		}
		if len(g.History) > 0 {
			return nil
		}
		attack := slices.Contains(g.Tags, "attack")
		mine := g.Intent == "order_status" && !attack
		ex := Example{ID: g.ID, Text: g.Question, Locale: g.Locale, Intent: g.Intent, Angry: g.Angry,
			Attack: &attack, MyOrders: &mine, Source: source}
		if ex.Intent == "" {
			ex.Intent = "other"
		}
		if err := checkExample(ex); err != nil {
			return fmt.Errorf("%s:%d: %w", source, line, err)
		}
		out = append(out, ex)
		return nil
	})
	return out, err
}

func checkExample(ex Example) error {
	switch {
	case ex.ID == "":
		return kefu.Errorf(kefu.EInvalid, "example without an id")
	case strings.TrimSpace(ex.Text) == "":
		return kefu.Errorf(kefu.EInvalid, "example %s has no text", ex.ID)
	case !slices.Contains(Intents, ex.Intent):
		return kefu.Errorf(kefu.EInvalid, "example %s: unknown intent %q", ex.ID, ex.Intent)
	}
	return nil
}

func eachLine(r io.Reader, source string, f func(line int, raw []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxExampleLine)
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		if err := f(line, raw); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", source, err)
	}
	return nil
}

// GoldenSets are the demo shop's labelled sets the model learns from (the
// train half) and is measured on (the other), relative to the module root.
var GoldenSets = []string{
	"examples/demo-shop/golden-intents.jsonl",
	"examples/demo-shop/golden-attacks.jsonl",
	"examples/demo-shop/golden-benign.jsonl",
}

// DataDir holds the package's own labelled messages, relative to the
// module root.
const DataDir = "understand/data"

// Corpus reads every labelled set under the module root and splits it by
// Heldout: train and test. Ids are unique across all sets.
func Corpus(root string) (train, test []Example, err error) {
	files, err := filepath.Glob(filepath.Join(root, DataDir, "*.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(files)
	var all []Example
	read := func(path string, reader func(io.Reader, string) ([]Example, error)) error {
		f, err := os.Open(path)
		if err != nil {
			return kefu.WrapError(kefu.EInvalid, "cannot open labelled set "+path, err)
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, path)
		exs, err := reader(f, filepath.ToSlash(rel))
		all = append(all, exs...)
		return err
	}
	for _, path := range files {
		if err := read(path, ReadExamples); err != nil {
			return nil, nil, err
		}
	}
	for _, g := range GoldenSets {
		if err := read(filepath.Join(root, g), ReadGolden); err != nil {
			return nil, nil, err
		}
	}
	seen := map[string]string{}
	for _, ex := range all {
		if prev, dup := seen[ex.ID]; dup {
			return nil, nil, kefu.Errorf(kefu.EInvalid, "example id %s is in both %s and %s", ex.ID, prev, ex.Source)
		}
		seen[ex.ID] = ex.Source
		if Heldout(ex.ID) {
			test = append(test, ex)
		} else {
			train = append(train, ex)
		}
	}
	return train, test, nil
}
