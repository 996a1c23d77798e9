package rules

import (
	"strings"
	"time"
)

// Reason codes of a Decision.
const (
	CodeAllowed      = "allowed"
	CodeStatus       = "status"
	CodeWindowClosed = "window_closed"
	CodeMissingDate  = "missing_date"
	CodeCategory     = "category"
	CodeLimit        = "limit"
	CodeNoRule       = "no_rule"
)

// Check decides whether action a is allowed on the order f at the time now,
// by the rule of the version in force on the day the order was placed (see
// the package documentation). It is a pure function of its arguments and
// the book. The checks run in this order, the first that fails deciding:
// the order's status, the limit, excluded categories, then the window.
// An eligible decision carries the conditions the shopper must meet and
// where a refund goes; a refused one may carry a note from the rule's note
// action (a refused return mentions a warranty still running).
func (b *Book) Check(f Facts, a Action, now time.Time) Decision {
	return b.check(f, a, now, true)
}

func (b *Book) check(f Facts, a Action, now time.Time, withNote bool) Decision {
	d := Decision{OrderID: f.OrderID, Action: a}
	v := b.versionFor(f, now)
	r := v.rules[a]
	if r == nil {
		d.Code = CodeNoRule
		d.Reason = b.phrase(f, a, nil, d, time.Time{})
		return d
	}
	d.Rule = r.id + "@" + v.name
	today := day(now, b.loc)
	switch {
	case !r.allows(f.Status):
		d.Code = CodeStatus
	case r.once && done(f, a):
		d.Code = CodeLimit
	case r.excluded(f) != "":
		d.Code = CodeCategory
	default:
		d.Code = CodeAllowed
		if r.windowDays > 0 || r.windowMon > 0 || len(r.catWindows) > 0 {
			from := f.Date(r.from)
			if from.IsZero() {
				d.Code = CodeMissingDate
				break
			}
			d.Deadline = r.deadline(f, from)
			if today.After(d.Deadline) {
				d.Code = CodeWindowClosed
			}
		}
	}
	d.Eligible = d.Code == CodeAllowed
	d.Reason = b.phrase(f, a, r, d, today)
	if d.Eligible {
		d.Conditions = b.conditions(r, f)
		d.RefundTo = r.refund(f)
	} else if withNote && r.note != "" {
		if n := b.check(f, r.note, now, false); n.Eligible {
			d.Note = b.notePhrase(r.note, n)
		}
	}
	return d
}

// versionFor returns the version in force on the order's placed day, or at
// now when the placed day is unknown; an order older than every version
// gets the first.
func (b *Book) versionFor(f Facts, now time.Time) version {
	at := f.Placed
	if at.IsZero() {
		at = day(now, b.loc)
	}
	v := b.versions[0]
	for _, w := range b.versions {
		if !w.from.After(at) {
			v = w
		}
	}
	return v
}

// excluded returns the first excluded category among the order's items.
func (r *rule) excluded(f Facts) string {
	for _, it := range f.Items {
		if it.Category != "" && r.exclude[norm(it.Category)] {
			return it.Category
		}
	}
	return ""
}

// deadline is the last day of the window: the longest window any of the
// order's items has (its category's window, else the rule's), counted from
// from.
func (r *rule) deadline(f Facts, from time.Time) time.Time {
	w := r.longest(f, from)
	return from.AddDate(0, w.months, w.days)
}

// longest returns the longest window among the order's items.
func (r *rule) longest(f Facts, from time.Time) window {
	def := window{days: r.windowDays, months: r.windowMon}
	if len(f.Items) == 0 {
		return def
	}
	var best window
	var bestEnd time.Time
	for i, it := range f.Items {
		w := def
		if cw, ok := r.catWindows[norm(it.Category)]; ok && it.Category != "" {
			w = cw
		}
		if end := from.AddDate(0, w.months, w.days); i == 0 || end.After(bestEnd) {
			best, bestEnd = w, end
		}
	}
	return best
}

func (b *Book) conditions(r *rule, f Facts) []Condition {
	var out []Condition
	seen := map[string]bool{}
	add := func(id string) {
		if c, ok := b.conds[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, c)
		}
	}
	for _, id := range r.conditions {
		add(id)
	}
	for _, it := range f.Items {
		for _, id := range r.catConds[norm(it.Category)] {
			add(id)
		}
	}
	return out
}

func (r *rule) refund(f Facts) map[string]string {
	pay := norm(f.Payment)
	for _, rr := range r.refundTo {
		if len(rr.payment) == 0 {
			return rr.to
		}
		for _, pm := range rr.payment {
			if pre, ok := strings.CutSuffix(pm, "*"); (ok && strings.HasPrefix(pay, pre)) || pm == pay {
				return rr.to
			}
		}
	}
	return nil
}

// allows reports whether the rule allows an order in status s.
func (r *rule) allows(s string) bool {
	return r.statuses["*"] || r.statuses[norm(s)]
}

func done(f Facts, a Action) bool {
	for _, x := range f.Done {
		if x == a {
			return true
		}
	}
	return false
}
