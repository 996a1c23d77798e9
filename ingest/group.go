package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// records turns one structured file's records into documents, merging the
// rows of a group first when Options.GroupBy is set. Loaders pass it every
// record and call flush once at the end, also after an error that ends the
// file early, so that the groups read so far are kept.
type records struct {
	sink
	in     *Ingester
	f      file
	groups map[string]*group
	order  []*group
}

// group is the rows of one Options.GroupBy value, in file order.
type group struct {
	key  string
	head record // the first row: its line, fields for detection, id and title
	rows []object
}

func (in *Ingester) newRecords(f file, s sink) *records {
	return &records{sink: s, in: in, f: f}
}

// add takes one record, or the value that stood where a record should be.
func (rs *records) add(rec record) error {
	if rec.kind != "" {
		rs.fail(rec.line, rec.index, fmt.Sprintf("record is %s, not an object", rec.kind))
		return nil
	}
	by := rs.in.opts.GroupBy
	if by == "" {
		return rs.emitRecord(rec)
	}
	key, _ := rec.fields.scalar(by)
	if key == "" {
		rs.fail(rec.line, rec.index, fmt.Sprintf("no %q field to group by", by))
		return nil
	}
	g := rs.groups[key]
	if g == nil {
		if rs.groups == nil {
			rs.groups = map[string]*group{}
		}
		g = &group{key: key, head: rec}
		rs.groups[key] = g
		rs.order = append(rs.order, g)
	}
	g.rows = append(g.rows, rec.fields)
	return nil
}

// flush emits the groups.
func (rs *records) flush(ctx context.Context) error {
	for i, g := range rs.order {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		rec := g.head
		rec.key = g.key
		rec.render = mergeRows(g.rows, rs.in.keepField)
		if err := rs.emitRecord(rec); err != nil {
			return err
		}
		rs.order[i] = nil
	}
	rs.order, rs.groups = nil, nil
	return nil
}

// emitRecord passes a record's document to the sink, or its failure.
func (rs *records) emitRecord(rec record) error {
	u, reason := rs.in.recordUnit(rs.f, rec)
	if reason == "" {
		reason = rs.in.setProduct(&u, rs.f, rec)
	}
	if reason != "" {
		rs.fail(rec.line, rec.index, reason)
		return nil
	}
	return rs.emit(u)
}

// mergeRows merges the rows of a group into one record: a field with the
// same value in every row appears once; the fields that vary make one list
// item per distinct row, under the name of the first of them. Each item
// reads "first value (Other field: value, ...)". Only fields that keep
// accepts take part.
func mergeRows(rows []object, keep func(string) bool) object {
	type column struct {
		key    string
		values []string // per row, "" when absent
	}
	var cols []*column
	byKey := map[string]*column{}
	for r, row := range rows {
		for _, f := range row {
			if !keep(f.key) {
				continue
			}
			c := byKey[f.key]
			if c == nil {
				c = &column{key: f.key, values: make([]string, len(rows))}
				byKey[f.key] = c
				cols = append(cols, c)
			}
			c.values[r] = inline(f.val)
		}
	}
	var out object
	var varying []*column
	for _, c := range cols {
		same := true
		for _, v := range c.values[1:] {
			if v != c.values[0] {
				same = false
				break
			}
		}
		if same {
			if c.values[0] != "" {
				out = append(out, field{key: c.key, val: c.values[0]})
			}
			continue
		}
		varying = append(varying, c)
	}
	if len(varying) == 0 {
		return out
	}
	var items array
	seen := map[string]bool{}
	for r := range rows {
		var first string
		var rest []string
		for _, c := range varying {
			v := c.values[r]
			switch {
			case v == "":
			case first == "":
				first = v
			default:
				rest = append(rest, humanize(c.key)+": "+v)
			}
		}
		item := first
		if len(rest) > 0 {
			item = strings.TrimSpace(item + " (" + strings.Join(rest, ", ") + ")")
		}
		if item == "" || seen[item] {
			continue
		}
		seen[item] = true
		items = append(items, elem{val: item})
	}
	return append(out, field{key: varying[0].key, val: slices.Clip(items)})
}
