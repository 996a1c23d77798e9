package qdranttest

import (
	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// matches evaluates a filter on a point as Qdrant does; a nil filter
// matches everything.
func matches(f *qc.Filter, p *point) (bool, error) {
	if f == nil {
		return true, nil
	}
	for _, c := range f.GetMust() {
		ok, err := condition(c, p)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, c := range f.GetMustNot() {
		ok, err := condition(c, p)
		if err != nil || ok {
			return false, err
		}
	}
	if len(f.GetShould()) > 0 {
		any := false
		for _, c := range f.GetShould() {
			ok, err := condition(c, p)
			if err != nil {
				return false, err
			}
			if ok {
				any = true
				break
			}
		}
		if !any {
			return false, nil
		}
	}
	if ms := f.GetMinShould(); ms != nil {
		n := uint64(0)
		for _, c := range ms.GetConditions() {
			ok, err := condition(c, p)
			if err != nil {
				return false, err
			}
			if ok {
				n++
			}
		}
		if n < ms.GetMinCount() {
			return false, nil
		}
	}
	return true, nil
}

func condition(c *qc.Condition, p *point) (bool, error) {
	switch x := c.GetConditionOneOf().(type) {
	case *qc.Condition_Filter:
		return matches(x.Filter, p)
	case *qc.Condition_IsEmpty:
		v, ok := p.payload[x.IsEmpty.GetKey()]
		return !ok || len(values(v)) == 0, nil
	case *qc.Condition_IsNull:
		v, ok := p.payload[x.IsNull.GetKey()]
		_, null := v.GetKind().(*qc.Value_NullValue)
		return ok && null, nil
	case *qc.Condition_HasId:
		for _, id := range x.HasId.GetHasId() {
			if pointKey(id) == p.key {
				return true, nil
			}
		}
		return false, nil
	case *qc.Condition_Field:
		return field(x.Field, p)
	}
	return false, status.Errorf(codes.Unimplemented, "fake: condition %T", c.GetConditionOneOf())
}

// values returns a payload value as the list of values a match compares:
// a list's elements, nothing for null, else the value itself.
func values(v *qc.Value) []*qc.Value {
	switch x := v.GetKind().(type) {
	case *qc.Value_ListValue:
		return x.ListValue.GetValues()
	case *qc.Value_NullValue, nil:
		return nil
	}
	return []*qc.Value{v}
}

func field(fc *qc.FieldCondition, p *point) (bool, error) {
	if r := fc.GetRange(); r != nil {
		return inRange(r, values(p.payload[fc.GetKey()])), nil
	}
	if fc.GetMatch() == nil {
		return false, status.Errorf(codes.Unimplemented, "fake: field condition on %s other than match", fc.GetKey())
	}
	vals := values(p.payload[fc.GetKey()])
	anyOf := func(pred func(*qc.Value) bool) bool {
		for _, v := range vals {
			if pred(v) {
				return true
			}
		}
		return false
	}
	switch m := fc.GetMatch().GetMatchValue().(type) {
	case *qc.Match_Keyword:
		return anyOf(func(v *qc.Value) bool { return isString(v, m.Keyword) }), nil
	case *qc.Match_Keywords:
		return anyOf(func(v *qc.Value) bool {
			for _, k := range m.Keywords.GetStrings() {
				if isString(v, k) {
					return true
				}
			}
			return false
		}), nil
	case *qc.Match_ExceptKeywords:
		return !anyOf(func(v *qc.Value) bool {
			for _, k := range m.ExceptKeywords.GetStrings() {
				if isString(v, k) {
					return true
				}
			}
			return false
		}), nil
	case *qc.Match_Integer:
		return anyOf(func(v *qc.Value) bool {
			i, ok := v.GetKind().(*qc.Value_IntegerValue)
			return ok && i.IntegerValue == m.Integer
		}), nil
	case *qc.Match_Boolean:
		return anyOf(func(v *qc.Value) bool {
			b, ok := v.GetKind().(*qc.Value_BoolValue)
			return ok && b.BoolValue == m.Boolean
		}), nil
	}
	return false, status.Errorf(codes.Unimplemented, "fake: match %T", fc.GetMatch().GetMatchValue())
}

func isString(v *qc.Value, s string) bool {
	x, ok := v.GetKind().(*qc.Value_StringValue)
	return ok && x.StringValue == s
}

// inRange reports whether any numeric value lies within r, as Qdrant's
// range condition does.
func inRange(r *qc.Range, vals []*qc.Value) bool {
	for _, v := range vals {
		var x float64
		switch n := v.GetKind().(type) {
		case *qc.Value_IntegerValue:
			x = float64(n.IntegerValue)
		case *qc.Value_DoubleValue:
			x = n.DoubleValue
		default:
			continue
		}
		if (r.Lt == nil || x < r.GetLt()) && (r.Lte == nil || x <= r.GetLte()) &&
			(r.Gt == nil || x > r.GetGt()) && (r.Gte == nil || x >= r.GetGte()) {
			return true
		}
	}
	return false
}
