package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/rules"
)

// Expectations a case can have.
const (
	ExpectAnswer   = "answer"
	ExpectEscalate = "escalate"
	ExpectRefuse   = "refuse"
)

// Case is one golden-set line. Only ID and Question are required; Expect
// defaults to "answer".
type Case struct {
	ID             string         `json:"id"`
	Question       string         `json:"question"`
	Locale         string         `json:"locale,omitempty"`
	CustomerID     string         `json:"customer_id,omitempty"`
	History        []kefu.Message `json:"history,omitempty"`
	Evidence       []string       `json:"evidence,omitempty"`
	AnswerIncludes []string       `json:"answer_includes,omitempty"`
	Forbidden      []string       `json:"forbidden,omitempty"`
	Expect         string         `json:"expect,omitempty"`
	// ProductID is the product page the shopper asks from; it goes to the
	// pipeline as rag.Turn.ProductID.
	ProductID string `json:"product_id,omitempty"`
	// EvidenceDocs are the ids of the documents that together answer the
	// case. A value names a stored document whose id equals it or ends in
	// "#" followed by it, so a record id ("doc_42") names the document
	// that ingest calls "documents.jsonl#doc_42".
	EvidenceDocs []string `json:"evidence_docs,omitempty"`
	// ExpectEligible is the decision a signed-in shopper's question about an
	// after-sales action must get ({"action": "return", "eligible":
	// false}); it counts for eligibility_accuracy.
	ExpectEligible *ExpectEligible `json:"expect_eligible,omitempty"`
	// ExpectAction is the after-sales action a signed-in shopper's request
	// must leave ({"kind": "cancel", "state": "proposed"}: shown and
	// awaiting their yes; "failed": refused as not allowed); it counts
	// for action_accuracy.
	ExpectAction *ExpectAction `json:"expect_action,omitempty"`
	// Optional labels for the understanding and guardrail metrics.
	Intent string   `json:"intent,omitempty"` // the intent the message expresses
	Angry  *bool    `json:"angry,omitempty"`  // whether the shopper is angry
	Tags   []string `json:"tags,omitempty"`   // "attack", "benign"
}

// Tags with a metric of their own.
const (
	TagAttack = "attack"
	TagBenign = "benign"
)

func (c *Case) tagged(tag string) bool {
	for _, t := range c.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// LoadFile reads a golden set from a JSONL file.
func LoadFile(path string) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, kefu.WrapError(kefu.EInvalid, fmt.Sprintf("cannot open golden set %s", path), err)
	}
	defer f.Close()
	cases, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("golden set %s: %w", path, err)
	}
	return cases, nil
}

// Load reads a golden set, one JSON object per line; blank lines are
// skipped. Every bad line is reported (line number and reason) in one error,
// so a broken set is fixed in one pass.
func Load(r io.Reader) ([]Case, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	var cases []Case
	var problems []string
	ids := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var c Case
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		if err := c.validate(); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		if first, dup := ids[c.ID]; dup {
			problems = append(problems, fmt.Sprintf("line %d: id %q already used on line %d", line, c.ID, first))
			continue
		}
		ids[c.ID] = line
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, kefu.WrapError(kefu.EInvalid, "cannot read golden set", err)
	}
	if len(problems) > 0 {
		return nil, kefu.Errorf(kefu.EInvalid, "%d bad lines:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	if len(cases) == 0 {
		return nil, kefu.Errorf(kefu.EInvalid, "golden set has no cases")
	}
	return cases, nil
}

// ExpectEligible is a case's expected eligibility decision. OrderID, when
// set, must match the order decided.
type ExpectEligible struct {
	Action   string `json:"action"`
	Eligible bool   `json:"eligible"`
	OrderID  string `json:"order_id,omitempty"`
}

// ExpectAction is a case's expected after-sales action: its kind and the
// state the turn leaves it in. OrderID, when set, must match.
type ExpectAction struct {
	Kind    string `json:"kind"`
	State   string `json:"state"`
	OrderID string `json:"order_id,omitempty"`
}

func (c *Case) validate() error {
	switch {
	case strings.TrimSpace(c.ID) == "":
		return fmt.Errorf("missing id")
	case strings.TrimSpace(c.Question) == "":
		return fmt.Errorf("case %s: missing question", c.ID)
	}
	if c.Expect == "" {
		c.Expect = ExpectAnswer
	}
	switch c.Expect {
	case ExpectAnswer, ExpectEscalate, ExpectRefuse:
	default:
		return fmt.Errorf("case %s: expect %q is not one of answer, escalate, refuse", c.ID, c.Expect)
	}
	switch c.Locale {
	case "", "en", "zh", "auto":
	default:
		return fmt.Errorf("case %s: locale %q is not en or zh", c.ID, c.Locale)
	}
	if e := c.ExpectEligible; e != nil {
		if _, ok := rules.ParseAction(e.Action); !ok {
			return fmt.Errorf("case %s: expect_eligible action %q is not an action", c.ID, e.Action)
		}
		if c.CustomerID == "" {
			return fmt.Errorf("case %s: expect_eligible needs a customer_id (eligibility is decided for a signed-in shopper)", c.ID)
		}
	}
	if e := c.ExpectAction; e != nil {
		if !slices.Contains(rag.ActionKinds, e.Kind) {
			return fmt.Errorf("case %s: expect_action kind %q is not one of %s", c.ID, e.Kind, strings.Join(rag.ActionKinds, ", "))
		}
		if e.State != rag.ActionProposed && e.State != rag.ActionFailed {
			return fmt.Errorf("case %s: expect_action state %q is not proposed or failed (one turn proposes or refuses)", c.ID, e.State)
		}
		if c.CustomerID == "" {
			return fmt.Errorf("case %s: expect_action needs a customer_id (actions are taken for a signed-in shopper)", c.ID)
		}
	}
	for _, d := range c.EvidenceDocs {
		if strings.TrimSpace(d) == "" {
			return fmt.Errorf("case %s: evidence_docs holds an empty id", c.ID)
		}
	}
	for _, m := range c.History {
		if m.Role != kefu.RoleUser && m.Role != kefu.RoleAssistant && m.Role != kefu.RoleAgent {
			return fmt.Errorf("case %s: history role %q is not user, assistant or agent", c.ID, m.Role)
		}
	}
	return nil
}
