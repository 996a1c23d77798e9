package qdranttest

import (
	"sort"
	"strconv"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rrfK is Qdrant's default k for reciprocal rank fusion.
const rrfK = 2

type scored struct {
	p     *point
	score float64
}

// stage is one level of a query: the top-level QueryPoints or a prefetch.
type stage struct {
	prefetch []*qc.PrefetchQuery
	query    *qc.Query
	using    string
	filter   *qc.Filter
	limit    uint64
	offset   uint64
}

// query checks and runs one top-level query; the caller holds s.mu.
func (s *Server) query(name string, q *qc.QueryPoints) ([]*qc.ScoredPoint, error) {
	s.queries = append(s.queries, q)
	c, err := s.get(name)
	if err != nil {
		return nil, err
	}
	if q.GetCollectionName() != "" && q.GetCollectionName() != name {
		return nil, status.Error(codes.InvalidArgument, "query names another collection than its batch")
	}
	st := stage{prefetch: q.GetPrefetch(), query: q.Query, using: q.GetUsing(), filter: q.GetFilter(), limit: q.GetLimit(), offset: q.GetOffset()}
	if q.Limit == nil {
		st.limit = 10
	}
	res, err := s.eval(c, st, "query")
	if err != nil {
		return nil, err
	}
	out := make([]*qc.ScoredPoint, len(res))
	for i, r := range res {
		out[i] = &qc.ScoredPoint{
			Id:      r.p.id,
			Score:   float32(r.score),
			Payload: selectPayload(r.p, q.GetWithPayload()),
			Vectors: selectVectors(r.p, q.GetWithVectors()),
		}
	}
	return out, nil
}

// eval checks a stage (the customer rule, indexed fields, vector names and
// sizes) and runs it: prefetches first, then the stage's query over their
// results (or over the whole collection when there are none).
func (s *Server) eval(c *collection, st stage, where string) ([]scored, error) {
	if err := s.checkChunkFilter(st.filter, where); err != nil {
		return nil, err
	}
	if err := s.checkIndexed(c, st.filter, where); err != nil {
		return nil, err
	}
	var sources [][]scored
	for i, p := range st.prefetch {
		sub := stage{prefetch: p.GetPrefetch(), query: p.Query, using: p.GetUsing(), filter: p.GetFilter(), limit: p.GetLimit()}
		if p.Limit == nil {
			sub.limit = 10
		}
		r, err := s.eval(c, sub, where+".prefetch["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		sources = append(sources, r)
	}
	var pool []*point
	if len(st.prefetch) > 0 {
		seen := map[string]bool{}
		for _, src := range sources {
			for _, r := range src {
				if !seen[r.p.key] {
					seen[r.p.key] = true
					pool = append(pool, r.p)
				}
			}
		}
	} else {
		for _, p := range c.points {
			pool = append(pool, p)
		}
	}
	allowed := func(p *point) (bool, error) { return matches(st.filter, p) }

	var res []scored
	switch x := st.query.GetVariant().(type) {
	case nil:
		for _, p := range pool {
			ok, err := allowed(p)
			if err != nil {
				return nil, err
			}
			if ok {
				res = append(res, scored{p: p})
			}
		}
		sort.Slice(res, func(i, j int) bool { return res[i].p.key < res[j].p.key })
		return page(res, st), nil
	case *qc.Query_Fusion:
		if x.Fusion != qc.Fusion_RRF || len(sources) == 0 {
			return nil, status.Error(codes.Unimplemented, "fake: only RRF fusion over prefetches")
		}
		fused := map[string]*scored{}
		var order []string
		for _, src := range sources {
			for rank, r := range src {
				ok, err := allowed(r.p)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				f, seen := fused[r.p.key]
				if !seen {
					f = &scored{p: r.p}
					fused[r.p.key] = f
					order = append(order, r.p.key)
				}
				f.score += 1 / float64(rrfK+rank+1)
			}
		}
		for _, k := range order {
			res = append(res, *fused[k])
		}
	case *qc.Query_Nearest:
		switch v := x.Nearest.GetVariant().(type) {
		case *qc.VectorInput_Dense:
			params, ok := c.dense[st.using]
			if !ok {
				return nil, s.broke("%s: dense query on %q, which is not a dense vector of the collection", where, st.using)
			}
			if uint64(len(v.Dense.GetData())) != params.GetSize() {
				return nil, s.broke("%s: query vector has %d dims, the collection %d", where, len(v.Dense.GetData()), params.GetSize())
			}
			q := unit(v.Dense.GetData())
			for _, p := range pool {
				d, has := p.dense[st.using]
				if !has {
					continue
				}
				ok, err := allowed(p)
				if err != nil {
					return nil, err
				}
				if ok {
					res = append(res, scored{p: p, score: dot(q, d)})
				}
			}
		case *qc.VectorInput_Sparse:
			params, ok := c.sparse[st.using]
			if !ok {
				return nil, s.broke("%s: sparse query on %q, which is not a sparse vector of the collection", where, st.using)
			}
			sq, err := s.checkSparse(v.Sparse.GetIndices(), v.Sparse.GetValues(), where)
			if err != nil {
				return nil, err
			}
			weights := map[uint32]float64{}
			for i, idx := range sq.idx {
				w := float64(sq.val[i])
				if params.GetModifier() == qc.Modifier_Idf {
					w *= c.idf(st.using, idx)
				}
				weights[idx] = w
			}
			for _, p := range pool {
				sv, has := p.sparse[st.using]
				if !has {
					continue
				}
				var score float64
				overlap := false
				for i, idx := range sv.idx {
					if w, ok := weights[idx]; ok {
						score += w * float64(sv.val[i])
						overlap = true
					}
				}
				if !overlap {
					continue
				}
				ok, err := allowed(p)
				if err != nil {
					return nil, err
				}
				if ok {
					res = append(res, scored{p: p, score: score})
				}
			}
		default:
			return nil, status.Errorf(codes.Unimplemented, "fake: nearest %T", v)
		}
	default:
		return nil, status.Errorf(codes.Unimplemented, "fake: query %T", x)
	}
	sort.Slice(res, func(i, j int) bool {
		if res[i].score != res[j].score {
			return res[i].score > res[j].score
		}
		return res[i].p.key < res[j].p.key
	})
	return page(res, st), nil
}

func page(res []scored, st stage) []scored {
	if st.offset >= uint64(len(res)) {
		return nil
	}
	res = res[st.offset:]
	if uint64(len(res)) > st.limit {
		res = res[:st.limit]
	}
	return res
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// ---- checks ----

// checkChunkFilter is the customer rule: a query or scroll over chunks must
// restrict to chunk points and carry, among its must clauses, a condition on
// customer_id: is_empty (anonymous), a match (the shopper's own), or a
// nested filter whose should clauses are all such conditions (public or the
// shopper's own).
func (s *Server) checkChunkFilter(f *qc.Filter, where string) error {
	if f == nil {
		return s.broke("%s: no filter, so no customer rule", where)
	}
	if !restrictsTo(f, "chunk") {
		return s.broke("%s: filter does not restrict to chunk points (kind = chunk)", where)
	}
	for _, c := range f.GetMust() {
		if customerCondition(c) {
			return nil
		}
	}
	return s.broke("%s: filter has no customer_id condition among its must clauses: %v", where, f)
}

func customerCondition(c *qc.Condition) bool {
	switch x := c.GetConditionOneOf().(type) {
	case *qc.Condition_IsEmpty:
		return x.IsEmpty.GetKey() == "customer_id"
	case *qc.Condition_Field:
		return x.Field.GetKey() == "customer_id" && x.Field.GetMatch() != nil
	case *qc.Condition_Filter:
		f := x.Filter
		if len(f.GetShould()) == 0 || len(f.GetMust()) > 0 || len(f.GetMustNot()) > 0 {
			return false
		}
		for _, sc := range f.GetShould() {
			if !customerCondition(sc) {
				return false
			}
		}
		return true
	}
	return false
}

// restrictsTo reports whether f's must clauses include kind = kind.
func restrictsTo(f *qc.Filter, kind string) bool {
	for _, c := range f.GetMust() {
		if fc := c.GetField(); fc != nil && fc.GetKey() == "kind" && fc.GetMatch().GetKeyword() == kind {
			return true
		}
	}
	return false
}

// namesOneDocument reports whether f's must clauses restrict it to the
// chunks of one document: kind = chunk and doc_id equal to one keyword.
func namesOneDocument(f *qc.Filter) bool {
	if !restrictsTo(f, "chunk") {
		return false
	}
	for _, c := range f.GetMust() {
		if fc := c.GetField(); fc != nil && fc.GetKey() == "doc_id" && fc.GetMatch().GetKeyword() != "" {
			return true
		}
	}
	return false
}

// checkIndexed requires a payload index on every field a filter names.
func (s *Server) checkIndexed(c *collection, f *qc.Filter, where string) error {
	var walk func(f *qc.Filter) error
	check := func(cond *qc.Condition) error {
		var key string
		switch x := cond.GetConditionOneOf().(type) {
		case *qc.Condition_Field:
			key = x.Field.GetKey()
		case *qc.Condition_IsEmpty:
			key = x.IsEmpty.GetKey()
		case *qc.Condition_IsNull:
			key = x.IsNull.GetKey()
		case *qc.Condition_Filter:
			return walk(x.Filter)
		}
		if key != "" {
			if _, ok := c.indexes[key]; !ok {
				return s.broke("%s: filter on %q, which has no payload index", where, key)
			}
		}
		return nil
	}
	walk = func(f *qc.Filter) error {
		for _, list := range [][]*qc.Condition{f.GetMust(), f.GetShould(), f.GetMustNot(), f.GetMinShould().GetConditions()} {
			for _, cond := range list {
				if err := check(cond); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if f == nil {
		return nil
	}
	return walk(f)
}
