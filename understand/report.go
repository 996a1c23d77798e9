package understand

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// ClassScore is one intent class's precision and recall.
type ClassScore struct {
	Class             string
	Support           int // examples labelled with the class
	Predicted         int // examples predicted as the class
	Precision, Recall float64
}

// Rate is a count of hits among cases.
type Rate struct{ Hits, Cases int }

// Value is Hits/Cases, 0 without cases.
func (r Rate) Value() float64 {
	if r.Cases == 0 {
		return 0
	}
	return float64(r.Hits) / float64(r.Cases)
}

func (r Rate) String() string { return fmt.Sprintf("%.3f (%d/%d)", r.Value(), r.Hits, r.Cases) }

func (r *Rate) add(hit bool) {
	r.Cases++
	if hit {
		r.Hits++
	}
}

// Report scores the model on labelled examples.
type Report struct {
	Intent        Rate
	IntentBySet   map[string]*Rate
	Classes       []ClassScore
	MyOrders      Rate
	MyOrdersPrec  Rate // predicted mine that are
	MyOrdersRec   Rate // mine that were predicted
	AngryPrec     Rate
	AngryRec      Rate
	AttackHead    Rate // attack examples the attack head flags
	AttackRules   Rate // attack examples guard.Injection flags
	AttackBlocked Rate // attack examples refused: rules, attack head or out of scope
	AttackFalse   Rate // non-attack examples the attack head flags
	// AttackBySet is AttackBlocked for each labelled set that has attacks.
	AttackBySet map[string]*Rate
	// BenignRefused counts benign-tagged golden cases refused (rules,
	// attack head or out of scope); BenignRulesRefused the same without
	// the model's attack head.
	BenignRefused      Rate
	BenignRulesRefused Rate
	// BenignBy counts the benign refusals by cause: guard's rules, the
	// attack head, the out-of-scope intent (a case may have several).
	BenignBy struct{ Rules, Head, OutOfScope int }
	// Errors lists the examples with a wrong verdict, one line each.
	Errors []string
}

// Evaluate scores m on examples.
func Evaluate(m *Model, examples []Example) Report {
	return evaluate(func(ex Example) Prediction { return m.Predict(ex.Text) }, examples)
}

// CrossValidate scores training with opt on examples alone: each of its
// folds is predicted by a model trained (thresholds and all) on the others.
func CrossValidate(examples []Example, opt TrainOptions) (Report, error) {
	models := make([]*Model, folds)
	for fold := range folds {
		var part []Example
		for _, ex := range examples {
			if foldOf(ex.ID) != fold {
				part = append(part, ex)
			}
		}
		w, err := Train(part, opt)
		if err != nil {
			return Report{}, err
		}
		if models[fold], err = Load(w); err != nil {
			return Report{}, err
		}
	}
	return evaluate(func(ex Example) Prediction { return models[foldOf(ex.ID)].Predict(ex.Text) }, examples), nil
}

func evaluate(predict func(Example) Prediction, examples []Example) Report {
	r := Report{IntentBySet: map[string]*Rate{}, AttackBySet: map[string]*Rate{}}
	support := map[string]int{}
	predicted := map[string]int{}
	correct := map[string]int{}
	for _, ex := range examples {
		p := predict(ex)
		rules := p.Analysis.InjectionReason != ""
		ok := p.Intent == ex.Intent
		var wrong []string
		if !ok {
			wrong = append(wrong, "intent "+p.Intent)
		}
		if ex.MyOrders != nil && p.IsMyOrders() != *ex.MyOrders {
			wrong = append(wrong, fmt.Sprintf("my_orders %.2f", p.MyOrders))
		}
		if ex.Angry != nil && p.IsAngry() != *ex.Angry {
			wrong = append(wrong, fmt.Sprintf("angry %.2f", p.Angry))
		}
		if ex.Attack != nil && p.IsAttack() != *ex.Attack {
			wrong = append(wrong, fmt.Sprintf("attack %.2f", p.Attack))
		}
		if len(wrong) > 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("%s [%s] %q: %s", ex.ID, ex.Intent, ex.Text, strings.Join(wrong, ", ")))
		}
		r.Intent.add(ok)
		set := r.IntentBySet[ex.Source]
		if set == nil {
			set = &Rate{}
			r.IntentBySet[ex.Source] = set
		}
		set.add(ok)
		support[ex.Intent]++
		predicted[p.Intent]++
		if ok {
			correct[ex.Intent]++
		}
		if ex.MyOrders != nil {
			r.MyOrders.add(p.IsMyOrders() == *ex.MyOrders)
			if p.IsMyOrders() {
				r.MyOrdersPrec.add(*ex.MyOrders)
			}
			if *ex.MyOrders {
				r.MyOrdersRec.add(p.IsMyOrders())
			}
		}
		if ex.Angry != nil {
			if p.IsAngry() {
				r.AngryPrec.add(*ex.Angry)
			}
			if *ex.Angry {
				r.AngryRec.add(p.IsAngry())
			}
		}
		if ex.Attack != nil {
			if *ex.Attack {
				r.AttackHead.add(p.IsAttack())
				r.AttackRules.add(rules)
				r.AttackBlocked.add(rules || p.Refused())
				set := r.AttackBySet[ex.Source]
				if set == nil {
					set = &Rate{}
					r.AttackBySet[ex.Source] = set
				}
				set.add(rules || p.Refused())
			} else {
				r.AttackFalse.add(p.IsAttack())
			}
		}
		if strings.HasSuffix(ex.Source, "golden-benign.jsonl") {
			r.BenignRefused.add(rules || p.Refused())
			r.BenignRulesRefused.add(rules || p.Intent == "out_of_scope" && !p.IsAttack())
			if rules {
				r.BenignBy.Rules++
			}
			if p.IsAttack() {
				r.BenignBy.Head++
			}
			if p.Intent == "out_of_scope" && !p.IsAttack() {
				r.BenignBy.OutOfScope++
			}
		}
	}
	for _, c := range Intents {
		s := ClassScore{Class: c, Support: support[c], Predicted: predicted[c]}
		if s.Predicted > 0 {
			s.Precision = float64(correct[c]) / float64(s.Predicted)
		}
		if s.Support > 0 {
			s.Recall = float64(correct[c]) / float64(s.Support)
		}
		r.Classes = append(r.Classes, s)
	}
	return r
}

// Write prints the report as plain text.
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "intent accuracy            %s\n", r.Intent)
	sets := make([]string, 0, len(r.IntentBySet))
	for s := range r.IntentBySet {
		sets = append(sets, s)
	}
	slices.Sort(sets)
	for _, s := range sets {
		fmt.Fprintf(w, "  %-40s %s\n", s, r.IntentBySet[s])
	}
	fmt.Fprintf(w, "  %-18s %7s %9s %9s %7s\n", "class", "support", "predicted", "precision", "recall")
	for _, c := range r.Classes {
		fmt.Fprintf(w, "  %-18s %7d %9d %9.3f %7.3f\n", c.Class, c.Support, c.Predicted, c.Precision, c.Recall)
	}
	fmt.Fprintf(w, "my_orders accuracy         %s\n", r.MyOrders)
	fmt.Fprintf(w, "my_orders precision        %s\n", r.MyOrdersPrec)
	fmt.Fprintf(w, "my_orders recall           %s\n", r.MyOrdersRec)
	fmt.Fprintf(w, "angry precision            %s\n", r.AngryPrec)
	fmt.Fprintf(w, "angry recall               %s\n", r.AngryRec)
	fmt.Fprintf(w, "attack head recall         %s\n", r.AttackHead)
	fmt.Fprintf(w, "attack rules (guard) recall %s\n", r.AttackRules)
	fmt.Fprintf(w, "attack block rate          %s   (guard rules, attack head or out of scope)\n", r.AttackBlocked)
	sets = sets[:0]
	for s := range r.AttackBySet {
		sets = append(sets, s)
	}
	slices.Sort(sets)
	for _, s := range sets {
		fmt.Fprintf(w, "  %-40s %s\n", s, r.AttackBySet[s])
	}
	fmt.Fprintf(w, "attack head false alarms   %s   (non-attack examples)\n", r.AttackFalse)
	fmt.Fprintf(w, "benign false refusals      %s   (golden-benign: guard rules, attack head or out of scope)\n", r.BenignRefused)
	fmt.Fprintf(w, "  without the attack head  %s\n", r.BenignRulesRefused)
	fmt.Fprintf(w, "  by guard rules %d, attack head %d, out-of-scope intent %d\n", r.BenignBy.Rules, r.BenignBy.Head, r.BenignBy.OutOfScope)
}
