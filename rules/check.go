package rules

import (
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
	case !r.statuses[norm(f.Status)]:
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
// order's items has (a category window, else the rule's), counted from
// from.
func (r *rule) deadline(f Facts, from time.Time) time.Time {
	var best time.Time
	consider := func(w window) {
		t := from.AddDate(0, w.months, w.days)
		if t.After(best) {
			best = t
		}
	}
	matched := false
	for _, it := range f.Items {
		if w, ok := r.catWindows[norm(it.Category)]; ok && it.Category != "" {
			consider(w)
			matched = true
		}
	}
	if !matched || len(f.Items) == 0 {
		if r.windowDays > 0 || r.windowMon > 0 {
			consider(window{days: r.windowDays, months: r.windowMon})
		} else if len(r.catWindows) > 0 {
			// No item has a category window and the rule has no default
			// window: the window is closed from the start.
			best = from.AddDate(0, 0, -1)
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
	for _, rr := range r.refundTo {
		if len(rr.payment) == 0 || rr.payment[norm(f.Payment)] {
			return rr.to
		}
	}
	return nil
}

func done(f Facts, a Action) bool {
	for _, x := range f.Done {
		if x == a {
			return true
		}
	}
	return false
}
