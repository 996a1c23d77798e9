package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kefuhq/kefu"
)

// MaxFileBytes bounds a rules file.
const MaxFileBytes = 1 << 20

// Limits on what one rules file may hold, so that a malformed file cannot
// make a book expensive to hold or to check.
const (
	maxVersions   = 64
	maxRules      = 64
	maxListItems  = 256
	maxWindowDays = 36600
)

// Action is an after-sales action a shopper may ask for.
type Action string

// The actions a rule may govern. Warranty is informational: its rule gives
// the period a fault is covered, and a refused return mentions it.
const (
	Cancel          Action = "cancel"
	ModifyItems     Action = "modify_items"
	ModifyAddress   Action = "modify_address"
	Return          Action = "return"
	Exchange        Action = "exchange"
	Refund          Action = "refund"
	PriceProtection Action = "price_protection"
	Warranty        Action = "warranty"
)

// Actions lists every action in a stable order.
var Actions = []Action{Cancel, ModifyItems, ModifyAddress, Return, Exchange, Refund, PriceProtection, Warranty}

// ParseAction returns the action named s ("return", "modify_address"; "modify"
// means modify_items), ok false for anything else.
func ParseAction(s string) (Action, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.NewReplacer("-", "_", " ", "_").Replace(s)
	if s == "modify" {
		return ModifyItems, true
	}
	for _, a := range Actions {
		if string(a) == s {
			return a, true
		}
	}
	return "", false
}

// Item is one line of an order.
type Item struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	Category string `json:"category,omitempty"`
}

// Facts are what a decision reads of an order. The zero time means a date is
// unknown. Dates holds every named date the record carries ("placed",
// "delivered", …, the names of the mapping), Placed and Delivered included.
type Facts struct {
	OrderID    string               `json:"order_id"`
	CustomerID string               `json:"customer_id,omitempty"`
	Status     string               `json:"status"`
	Placed     time.Time            `json:"placed,omitzero"`
	Delivered  time.Time            `json:"delivered,omitzero"`
	Dates      map[string]time.Time `json:"dates,omitempty"`
	Items      []Item               `json:"items,omitempty"`
	Payment    string               `json:"payment,omitempty"`
	// Done lists actions already taken on the order, when the record says.
	Done []Action `json:"done,omitempty"`
}

// Date returns the named date ("placed", "delivered", …), zero when unknown.
func (f Facts) Date(name string) time.Time {
	switch name {
	case DatePlaced:
		if !f.Placed.IsZero() {
			return f.Placed
		}
	case DateDelivered:
		if !f.Delivered.IsZero() {
			return f.Delivered
		}
	}
	return f.Dates[name]
}

// Names of the dates every mapping knows.
const (
	DatePlaced    = "placed"
	DateDelivered = "delivered"
)

// Condition is something the shopper must meet that kefu states but cannot
// verify ("the hygiene seal is unbroken").
type Condition struct {
	ID   string            `json:"id"`
	Text map[string]string `json:"text"` // locale -> sentence
}

// Decision is whether an action is allowed on an order, and why.
type Decision struct {
	OrderID  string `json:"order_id"`
	Action   Action `json:"action"`
	Eligible bool   `json:"eligible"`
	// Code names why, for programs: "allowed", "status", "window_closed",
	// "missing_date", "category", "limit", "no_rule".
	Code string `json:"code"`
	// Reason explains the decision, per locale ("en", "zh").
	Reason map[string]string `json:"reason"`
	// Rule is the rule that decided, "id@version"; empty when the shop has
	// no rule for the action.
	Rule string `json:"rule,omitempty"`
	// Deadline is the last day of the action's window (a calendar day in the
	// shop's time zone, at midnight), zero when the rule has no window.
	Deadline time.Time `json:"deadline,omitzero"`
	// Conditions are what the shopper must still meet; kefu states them.
	Conditions []Condition `json:"conditions,omitempty"`
	// RefundTo says where money goes back, per locale, when the rule says.
	RefundTo map[string]string `json:"refund_to,omitempty"`
	// Note is a further sentence per locale (a refused return mentions the
	// warranty still running).
	Note map[string]string `json:"note,omitempty"`
}

// Text returns the reason in locale with its conditions, refund destination
// and note, falling back to English.
func (d Decision) Text(locale string) string {
	loc := pickLocale(locale)
	parts := []string{local(d.Reason, loc)}
	if d.Eligible {
		for _, c := range d.Conditions {
			if s := local(c.Text, loc); s != "" {
				parts = append(parts, s)
			}
		}
		if s := local(d.RefundTo, loc); s != "" {
			parts = append(parts, s)
		}
	}
	if s := local(d.Note, loc); s != "" {
		parts = append(parts, s)
	}
	sep := " "
	if loc == "zh" {
		sep = ""
	}
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// Book is a shop's parsed rules file. It is immutable and safe for
// concurrent use.
type Book struct {
	name     string
	loc      *time.Location
	mapping  Mapping
	statuses map[string]map[string]string // normalised status -> locale -> display name
	conds    map[string]Condition
	versions []version // sorted by from, ascending
}

// Name returns the file (or name) the book was parsed from.
func (b *Book) Name() string { return b.name }

// Mapping returns how the book reads facts from order records.
func (b *Book) Mapping() Mapping { return b.mapping }

// Location returns the shop's time zone, in which dates and "today" are days.
func (b *Book) Location() *time.Location { return b.loc }

// Versions returns the versions' names and the days they come into force, in
// date order.
func (b *Book) Versions() []string {
	out := make([]string, len(b.versions))
	for i, v := range b.versions {
		out[i] = v.name + "@" + v.from.Format(time.DateOnly)
	}
	return out
}

type version struct {
	name  string
	from  time.Time
	rules map[Action]*rule
}

type rule struct {
	id         string
	action     Action
	statuses   map[string]bool // normalised; "*" allows any status
	statusList []string
	windowDays int
	windowMon  int
	from       string // named date
	catWindows map[string]window
	exclude    map[string]bool // normalised categories
	conditions []string
	catConds   map[string][]string // normalised category -> condition ids
	once       bool
	refundTo   []refundRule
	note       Action // the action whose decision a refusal mentions
}

type window struct{ days, months int }

type refundRule struct {
	payment []string // normalised payment methods, a trailing "*" a prefix; empty: any
	to      map[string]string
}

// File is the YAML shape of a rules file.
type file struct {
	Shop       string                       `yaml:"shop"`
	Timezone   string                       `yaml:"timezone"`
	Facts      *mappingFile                 `yaml:"facts"`
	Statuses   map[string]map[string]string `yaml:"statuses"`
	Conditions map[string]map[string]string `yaml:"conditions"`
	Versions   []versionFile                `yaml:"versions"`
}

type versionFile struct {
	Version       string     `yaml:"version"`
	EffectiveFrom string     `yaml:"effective_from"`
	Rules         []ruleFile `yaml:"rules"`
}

type ruleFile struct {
	ID                 string                `yaml:"id"`
	Action             string                `yaml:"action"`
	Statuses           []string              `yaml:"statuses"`
	Window             *windowFile           `yaml:"window"`
	CategoryWindows    map[string]windowFile `yaml:"category_windows"`
	ExcludeCategories  []string              `yaml:"exclude_categories"`
	Conditions         []string              `yaml:"conditions"`
	CategoryConditions map[string][]string   `yaml:"category_conditions"`
	Limit              string                `yaml:"limit"`
	RefundTo           []refundFile          `yaml:"refund_to"`
	Note               string                `yaml:"note"`
}

type windowFile struct {
	Days   int    `yaml:"days"`
	Months int    `yaml:"months"`
	From   string `yaml:"from"`
}

type refundFile struct {
	Payment []string          `yaml:"payment"`
	To      map[string]string `yaml:"to"`
}

// Load reads and parses the rules file at path. Errors name the file.
func Load(path string) (*Book, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, kefu.WrapError(kefu.EInvalid, fmt.Sprintf("rules file %s cannot be read", path), err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, kefu.WrapError(kefu.EInvalid, fmt.Sprintf("rules file %s cannot be read", path), err)
	}
	return Parse(path, data)
}

// Parse parses a rules file's bytes; name (the file's path) is used in
// errors. Decoding is strict: an unknown field, a wrong type, an unknown
// action, status-less rule, a bad date or a window out of range is an error
// of code kefu.EInvalid naming the file, the line and the field. The file
// may hold at most MaxFileBytes.
//
// The shape, with every field but versions optional:
//
//	shop: Lumi Home & Tech
//	timezone: Asia/Shanghai          # the days of dates and of "today" (default UTC)
//	facts: {status: [status], placed: [placed_at], ...}   # see Mapping
//	statuses: {delivered: {en: delivered, zh: 已签收}}     # how statuses read
//	conditions: {complete: {en: "...", zh: "..."}}        # stated, not verified
//	versions:
//	  - version: "2026-01"
//	    effective_from: 2026-01-01
//	    rules:
//	      - id: return-30d
//	        action: return
//	        statuses: [delivered]
//	        window: {days: 30, from: delivered}
//	        exclude_categories: [gift_card]
//	        conditions: [complete]
//	        category_conditions: {hygiene: [hygiene_seal]}
//	        limit: once
//	        refund_to: [{payment: [京东E卡], to: {en: "...", zh: "..."}}, {to: {en: "...", zh: "..."}}]
//	        note: warranty
func Parse(name string, data []byte) (*Book, error) {
	if len(data) > MaxFileBytes {
		return nil, kefu.Errorf(kefu.EInvalid, "rules file %s is larger than %d bytes", name, MaxFileBytes)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, kefu.Errorf(kefu.EInvalid, "rules file %s: %s", name, yamlMessage(err))
	}
	if len(root.Content) == 0 {
		return nil, kefu.Errorf(kefu.EInvalid, "rules file %s is empty", name)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, kefu.Errorf(kefu.EInvalid, "rules file %s: %s", name, yamlMessage(err))
	}
	p := parser{name: name, root: &root}
	return p.book(f)
}

// yamlMessage turns yaml.v3's errors ("yaml: line 4: field foo not found in
// type rules.ruleFile") into a sentence naming the line and the field.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, m := range te.Errors {
			m = strings.TrimPrefix(m, "yaml: ")
			if i := strings.Index(m, " not found in type "); i >= 0 {
				m = m[:i] + " is not a known field"
			}
			if i := strings.Index(m, " into rules."); i >= 0 {
				m = m[:i]
			}
			msgs = append(msgs, m)
		}
		if len(msgs) > 3 {
			msgs = append(msgs[:3], fmt.Sprintf("and %d more", len(te.Errors)-3))
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

type parser struct {
	name string
	root *yaml.Node
}

// errAt returns an error naming the file, the line of the node at path
// (keys and list indexes from the root) and the field.
func (p parser) errAt(path []any, format string, args ...any) error {
	line := 0
	n := p.root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, step := range path {
		if n == nil {
			break
		}
		line = n.Line
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						line = n.Content[i].Line
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
			}
		}
		n = next
		if n != nil {
			line = n.Line
		}
	}
	field := fieldPath(path)
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		return kefu.Errorf(kefu.EInvalid, "rules file %s: line %d: %s: %s", p.name, line, field, msg)
	}
	return kefu.Errorf(kefu.EInvalid, "rules file %s: %s: %s", p.name, field, msg)
}

func fieldPath(path []any) string {
	var b strings.Builder
	for _, s := range path {
		switch s := s.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

func (p parser) book(f file) (*Book, error) {
	b := &Book{name: p.name, loc: time.UTC, statuses: map[string]map[string]string{}, conds: map[string]Condition{}}
	if f.Timezone != "" {
		loc, err := time.LoadLocation(f.Timezone)
		if err != nil {
			return nil, p.errAt([]any{"timezone"}, "%q is not a known time zone", f.Timezone)
		}
		b.loc = loc
	}
	m, err := p.mapping(f.Facts)
	if err != nil {
		return nil, err
	}
	b.mapping = m
	if len(f.Statuses) > maxListItems {
		return nil, p.errAt([]any{"statuses"}, "more than %d statuses", maxListItems)
	}
	for s, names := range f.Statuses {
		if err := checkLocales(names); err != nil {
			return nil, p.errAt([]any{"statuses", s}, "%v", err)
		}
		b.statuses[norm(s)] = names
	}
	if len(f.Conditions) > maxListItems {
		return nil, p.errAt([]any{"conditions"}, "more than %d conditions", maxListItems)
	}
	for id, text := range f.Conditions {
		if err := checkLocales(text); err != nil {
			return nil, p.errAt([]any{"conditions", id}, "%v", err)
		}
		if text["en"] == "" || text["zh"] == "" {
			return nil, p.errAt([]any{"conditions", id}, "needs both an en and a zh sentence")
		}
		b.conds[id] = Condition{ID: id, Text: text}
	}
	if len(f.Versions) == 0 {
		return nil, p.errAt([]any{"versions"}, "at least one version is needed")
	}
	if len(f.Versions) > maxVersions {
		return nil, p.errAt([]any{"versions"}, "more than %d versions", maxVersions)
	}
	seen := map[string]bool{}
	for i, vf := range f.Versions {
		at := []any{"versions", i}
		if strings.TrimSpace(vf.Version) == "" {
			return nil, p.errAt(append(at, "version"), "a version needs a name")
		}
		if seen[vf.Version] {
			return nil, p.errAt(append(at, "version"), "version %q appears twice", vf.Version)
		}
		seen[vf.Version] = true
		from, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(vf.EffectiveFrom), b.loc)
		if err != nil {
			return nil, p.errAt(append(at, "effective_from"), "%q is not a date (YYYY-MM-DD)", vf.EffectiveFrom)
		}
		for _, w := range b.versions {
			if w.from.Equal(from) {
				return nil, p.errAt(append(at, "effective_from"), "version %q comes into force on the same day as %q", vf.Version, w.name)
			}
		}
		v := version{name: vf.Version, from: from, rules: map[Action]*rule{}}
		if len(vf.Rules) > maxRules {
			return nil, p.errAt(append(at, "rules"), "more than %d rules", maxRules)
		}
		for j, rf := range vf.Rules {
			r, err := p.rule(b, append(at, "rules", j), rf)
			if err != nil {
				return nil, err
			}
			if v.rules[r.action] != nil {
				return nil, p.errAt(append(at, "rules", j, "action"), "a second rule for %s in version %q", r.action, vf.Version)
			}
			v.rules[r.action] = r
		}
		b.versions = append(b.versions, v)
	}
	sort.Slice(b.versions, func(i, j int) bool { return b.versions[i].from.Before(b.versions[j].from) })
	return b, nil
}

func (p parser) rule(b *Book, at []any, rf ruleFile) (*rule, error) {
	a, ok := ParseAction(rf.Action)
	if !ok {
		return nil, p.errAt(append(at, "action"), "%q is not an action (one of %s)", rf.Action, actionList())
	}
	r := &rule{id: strings.TrimSpace(rf.ID), action: a, statuses: map[string]bool{}, exclude: map[string]bool{},
		catConds: map[string][]string{}, catWindows: map[string]window{}}
	if r.id == "" {
		r.id = string(a)
	}
	if len(rf.Statuses) == 0 {
		return nil, p.errAt(append(at, "statuses"), "a rule needs the order statuses it allows (for %s)", a)
	}
	if len(rf.Statuses) > maxListItems || len(rf.ExcludeCategories) > maxListItems || len(rf.Conditions) > maxListItems ||
		len(rf.CategoryConditions) > maxListItems || len(rf.RefundTo) > maxListItems || len(rf.CategoryWindows) > maxListItems {
		return nil, p.errAt(at, "a list holds more than %d entries", maxListItems)
	}
	for _, s := range rf.Statuses {
		if norm(s) == "" {
			return nil, p.errAt(append(at, "statuses"), "an empty status")
		}
		r.statuses[norm(s)] = true
		r.statusList = append(r.statusList, strings.TrimSpace(s))
	}
	if w := rf.Window; w != nil {
		if err := p.window(append(at, "window"), *w); err != nil {
			return nil, err
		}
		r.windowDays, r.windowMon = w.Days, w.Months
		r.from = strings.TrimSpace(w.From)
		if r.from == "" {
			r.from = DateDelivered
		}
	}
	for cat, w := range rf.CategoryWindows {
		if err := p.window(append(at, "category_windows", cat), w); err != nil {
			return nil, err
		}
		if w.From != "" && rf.Window != nil && strings.TrimSpace(w.From) != r.from {
			return nil, p.errAt(append(at, "category_windows", cat, "from"), "counts from %q but the rule's window from %q", w.From, r.from)
		}
		if r.from == "" {
			r.from = strings.TrimSpace(w.From)
			if r.from == "" {
				r.from = DateDelivered
			}
		}
		r.catWindows[norm(cat)] = window{days: w.Days, months: w.Months}
	}
	if r.from != "" && !b.mapping.knowsDate(r.from) {
		return nil, p.errAt(append(at, "window", "from"), "%q is not a date the facts mapping reads (one of %s)", r.from, strings.Join(b.mapping.dateNames(), ", "))
	}
	for _, c := range rf.ExcludeCategories {
		r.exclude[norm(c)] = true
	}
	for _, c := range rf.Conditions {
		if _, ok := b.conds[c]; !ok {
			return nil, p.errAt(append(at, "conditions"), "condition %q is not defined under conditions", c)
		}
		r.conditions = append(r.conditions, c)
	}
	for cat, cs := range rf.CategoryConditions {
		for _, c := range cs {
			if _, ok := b.conds[c]; !ok {
				return nil, p.errAt(append(at, "category_conditions", cat), "condition %q is not defined under conditions", c)
			}
		}
		r.catConds[norm(cat)] = cs
	}
	switch strings.TrimSpace(rf.Limit) {
	case "":
	case "once", "once_per_order":
		r.once = true
	default:
		return nil, p.errAt(append(at, "limit"), "%q is not a limit (once)", rf.Limit)
	}
	for k, rt := range rf.RefundTo {
		if err := checkLocales(rt.To); err != nil || rt.To["en"] == "" || rt.To["zh"] == "" {
			return nil, p.errAt(append(at, "refund_to", k, "to"), "needs both an en and a zh sentence")
		}
		rr := refundRule{to: rt.To}
		for _, pm := range rt.Payment {
			if norm(pm) == "" {
				return nil, p.errAt(append(at, "refund_to", k, "payment"), "an empty payment method")
			}
			rr.payment = append(rr.payment, norm(pm))
		}
		r.refundTo = append(r.refundTo, rr)
	}
	if rf.Note != "" {
		n, ok := ParseAction(rf.Note)
		if !ok || n == a {
			return nil, p.errAt(append(at, "note"), "%q is not another action", rf.Note)
		}
		r.note = n
	}
	return r, nil
}

func (p parser) window(at []any, w windowFile) error {
	if w.Days < 0 || w.Months < 0 || w.Days > maxWindowDays || w.Months > maxWindowDays/30 {
		return p.errAt(at, "days must lie in 0..%d and months in 0..%d", maxWindowDays, maxWindowDays/30)
	}
	if (w.Days == 0) == (w.Months == 0) && !(w.Days == 0 && w.Months == 0) {
		return p.errAt(at, "give days or months, not both")
	}
	return nil
}

func checkLocales(m map[string]string) error {
	for loc := range m {
		if loc != "en" && loc != "zh" {
			return fmt.Errorf("locale %q is not en or zh", loc)
		}
	}
	return nil
}

func actionList() string {
	s := make([]string, len(Actions))
	for i, a := range Actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// norm folds a status, category or payment method for comparison.
func norm(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(s, "_", " ")), " "))
}

func pickLocale(l string) string {
	if strings.HasPrefix(strings.ToLower(l), "zh") {
		return "zh"
	}
	return "en"
}

func local(m map[string]string, loc string) string {
	if s := m[loc]; s != "" {
		return s
	}
	return m["en"]
}
