package qdranttest

import (
	"context"
	"math"
	"regexp"
	"sort"
	"strconv"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type pointsService struct {
	qc.UnimplementedPointsServer
	s *Server
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func pointKey(id *qc.PointId) string {
	if u, ok := id.GetPointIdOptions().(*qc.PointId_Uuid); ok {
		return u.Uuid
	}
	return "#" + strconv.FormatUint(id.GetNum(), 10)
}

func completed() *qc.UpdateResult {
	return &qc.UpdateResult{Status: qc.UpdateStatus_Completed}
}

// ---- writes ----

func (ps pointsService) Upsert(_ context.Context, req *qc.UpsertPoints) (*qc.PointsOperationResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, Write{Method: "Points/Upsert", Points: len(req.GetPoints()), Ops: []string{"upsert " + strconv.Itoa(len(req.GetPoints()))}})
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if err := s.upsert(c, req.GetPoints()); err != nil {
		return nil, err
	}
	return &qc.PointsOperationResponse{Result: completed()}, nil
}

func (ps pointsService) Delete(_ context.Context, req *qc.DeletePoints) (*qc.PointsOperationResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, Write{Method: "Points/Delete", Ops: []string{"delete"}})
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if err := s.delete(c, req.GetPoints()); err != nil {
		return nil, err
	}
	return &qc.PointsOperationResponse{Result: completed()}, nil
}

// UpdateBatch applies its operations in order, as Qdrant does.
func (ps pointsService) UpdateBatch(_ context.Context, req *qc.UpdateBatchPoints) (*qc.UpdateBatchResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	w := Write{Method: "Points/UpdateBatch"}
	for _, op := range req.GetOperations() {
		switch {
		case op.GetUpsert() != nil:
			w.Points += len(op.GetUpsert().GetPoints())
			w.Ops = append(w.Ops, "upsert "+strconv.Itoa(len(op.GetUpsert().GetPoints())))
		case op.GetDeletePoints() != nil:
			w.Ops = append(w.Ops, "delete")
		default:
			w.Ops = append(w.Ops, "other")
		}
	}
	s.writes = append(s.writes, w)
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	var out []*qc.UpdateResult
	for _, op := range req.GetOperations() {
		switch o := op.GetOperation().(type) {
		case *qc.PointsUpdateOperation_Upsert:
			err = s.upsert(c, o.Upsert.GetPoints())
		case *qc.PointsUpdateOperation_DeletePoints_:
			err = s.delete(c, o.DeletePoints.GetPoints())
		default:
			err = status.Errorf(codes.Unimplemented, "fake: update operation %T", o)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, completed())
	}
	return &qc.UpdateBatchResponse{Result: out}, nil
}

func (ps pointsService) CreateFieldIndex(_ context.Context, req *qc.CreateFieldIndexCollection) (*qc.PointsOperationResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if req.GetFieldName() == "" {
		return nil, status.Error(codes.InvalidArgument, "field name is empty")
	}
	c.indexes[req.GetFieldName()] = req.GetFieldType()
	return &qc.PointsOperationResponse{Result: completed()}, nil
}

// upsert checks and stores points; the caller holds s.mu.
func (s *Server) upsert(c *collection, pts []*qc.PointStruct) error {
	stored := make([]*point, 0, len(pts))
	for _, ps := range pts {
		p, err := s.checkPoint(c, ps)
		if err != nil {
			return err
		}
		stored = append(stored, p)
	}
	for _, p := range stored {
		c.points[p.key] = p
	}
	return nil
}

// checkPoint validates one point as Qdrant would (vector names and sizes)
// and against kefu's contract (UUID ids, kinds, chunk payloads).
func (s *Server) checkPoint(c *collection, ps *qc.PointStruct) (*point, error) {
	key := pointKey(ps.GetId())
	if !uuidRE.MatchString(key) {
		return nil, s.broke("point id %v is not a UUID", ps.GetId())
	}
	p := &point{key: key, id: ps.GetId(), payload: ps.GetPayload(), dense: map[string][]float32{}, sparse: map[string]sparseVec{}}
	if _, ok := ps.GetVectors().GetVectorsOptions().(*qc.Vectors_Vector); ok {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: the collection has named vectors only")
	}
	for name, v := range ps.GetVectors().GetVectors().GetVectors() {
		switch x := v.GetVector().(type) {
		case *qc.Vector_Dense:
			params, ok := c.dense[name]
			if !ok {
				return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Not existing vector name error: %s", name)
			}
			if uint64(len(x.Dense.GetData())) != params.GetSize() {
				return nil, s.broke("point %s: vector %q has %d dims, the collection %d", key, name, len(x.Dense.GetData()), params.GetSize())
			}
			p.dense[name] = unit(x.Dense.GetData())
		case *qc.Vector_Sparse:
			if _, ok := c.sparse[name]; !ok {
				return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Not existing vector name error: %s", name)
			}
			sv, err := s.checkSparse(x.Sparse.GetIndices(), x.Sparse.GetValues(), "point "+key)
			if err != nil {
				return nil, err
			}
			p.sparse[name] = sv
		default:
			return nil, s.broke("point %s: vector %q of unsupported form %T (use the oneof, not the deprecated fields)", key, name, x)
		}
	}
	kind := p.payload["kind"].GetStringValue()
	switch kind {
	case "chunk":
		if _, ok := p.dense["dense"]; !ok {
			return nil, s.broke("chunk point %s has no dense vector", key)
		}
		for _, f := range []string{"id", "doc_id", "type", "gen", "title", "source", "text"} {
			if _, ok := p.payload[f].GetKind().(*qc.Value_StringValue); !ok {
				return nil, s.broke("chunk point %s: payload field %q missing or not a string", key, f)
			}
		}
		for _, f := range []string{"ordinal", "tokens"} {
			if _, ok := p.payload[f].GetKind().(*qc.Value_IntegerValue); !ok {
				return nil, s.broke("chunk point %s: payload field %q missing or not an integer", key, f)
			}
		}
		if v, ok := p.payload["customer_id"]; ok && v.GetStringValue() == "" {
			return nil, s.broke("chunk point %s: a public chunk must have no customer_id key (is_empty would not match an empty string)", key)
		}
	case "doc":
		for _, f := range []string{"doc_id", "gen", "hash"} {
			if _, ok := p.payload[f].GetKind().(*qc.Value_StringValue); !ok {
				return nil, s.broke("document point %s: payload field %q missing", key, f)
			}
		}
	default:
		return nil, s.broke("point %s: payload kind %q is neither chunk nor doc", key, kind)
	}
	return p, nil
}

func (s *Server) checkSparse(idx []uint32, val []float32, where string) (sparseVec, error) {
	if len(idx) != len(val) {
		return sparseVec{}, status.Errorf(codes.InvalidArgument, "%s: sparse vector has %d indices and %d values", where, len(idx), len(val))
	}
	seen := map[uint32]bool{}
	for _, i := range idx {
		if seen[i] {
			return sparseVec{}, status.Errorf(codes.InvalidArgument, "%s: sparse vector repeats index %d", where, i)
		}
		seen[i] = true
	}
	return sparseVec{idx: idx, val: val}, nil
}

func unit(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if n == 0 {
		return out
	}
	n = math.Sqrt(n)
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

// delete removes the selected points; the caller holds s.mu.
func (s *Server) delete(c *collection, sel *qc.PointsSelector) error {
	switch x := sel.GetPointsSelectorOneOf().(type) {
	case *qc.PointsSelector_Points:
		for _, id := range x.Points.GetIds() {
			delete(c.points, pointKey(id))
		}
	case *qc.PointsSelector_Filter:
		if err := s.checkIndexed(c, x.Filter, "delete"); err != nil {
			return err
		}
		for key, p := range c.points {
			ok, err := matches(x.Filter, p)
			if err != nil {
				return err
			}
			if ok {
				delete(c.points, key)
			}
		}
	default:
		return status.Error(codes.InvalidArgument, "delete without a selector")
	}
	return nil
}

// ---- reads ----

func (ps pointsService) Get(_ context.Context, req *qc.GetPoints) (*qc.GetResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	var out []*qc.RetrievedPoint
	for _, id := range req.GetIds() {
		if p, ok := c.points[pointKey(id)]; ok {
			out = append(out, retrieved(p, req.GetWithPayload(), req.GetWithVectors()))
		}
	}
	return &qc.GetResponse{Result: out}, nil
}

func (ps pointsService) Count(_ context.Context, req *qc.CountPoints) (*qc.CountResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if err := s.checkIndexed(c, req.GetFilter(), "count"); err != nil {
		return nil, err
	}
	var n uint64
	for _, p := range c.points {
		ok, err := matches(req.GetFilter(), p)
		if err != nil {
			return nil, err
		}
		if ok {
			n++
		}
	}
	return &qc.CountResponse{Result: &qc.CountResult{Count: n}}, nil
}

// Scroll pages through the points the filter matches in id order. A scroll
// that can return chunks must carry the customer rule, unless it reads one
// named document (an operator's read of that document, never a search).
func (ps pointsService) Scroll(_ context.Context, req *qc.ScrollPoints) (*qc.ScrollResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if err := s.checkIndexed(c, req.GetFilter(), "scroll"); err != nil {
		return nil, err
	}
	if !restrictsTo(req.GetFilter(), "doc") && !namesOneDocument(req.GetFilter()) {
		if err := s.checkChunkFilter(req.GetFilter(), "scroll"); err != nil {
			return nil, err
		}
	}
	if req.OrderBy != nil {
		return nil, status.Error(codes.Unimplemented, "fake: scroll order_by")
	}
	var keys []string
	for key, p := range c.points {
		ok, err := matches(req.GetFilter(), p)
		if err != nil {
			return nil, err
		}
		if ok && (req.Offset == nil || key >= pointKey(req.GetOffset())) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	limit := 10
	if req.Limit != nil {
		limit = int(req.GetLimit())
	}
	resp := &qc.ScrollResponse{}
	if len(keys) > limit {
		resp.NextPageOffset = c.points[keys[limit]].id
		keys = keys[:limit]
	}
	for _, key := range keys {
		resp.Result = append(resp.Result, retrieved(c.points[key], req.GetWithPayload(), req.GetWithVectors()))
	}
	return resp, nil
}

func (ps pointsService) Query(_ context.Context, req *qc.QueryPoints) (*qc.QueryResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.query(req.GetCollectionName(), req)
	if err != nil {
		return nil, err
	}
	return &qc.QueryResponse{Result: res}, nil
}

func (ps pointsService) QueryBatch(_ context.Context, req *qc.QueryBatchPoints) (*qc.QueryBatchResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &qc.QueryBatchResponse{}
	for _, q := range req.GetQueryPoints() {
		res, err := s.query(req.GetCollectionName(), q)
		if err != nil {
			return nil, err
		}
		out.Result = append(out.Result, &qc.BatchResult{Result: res})
	}
	return out, nil
}

func retrieved(p *point, wp *qc.WithPayloadSelector, wv *qc.WithVectorsSelector) *qc.RetrievedPoint {
	return &qc.RetrievedPoint{Id: p.id, Payload: selectPayload(p, wp), Vectors: selectVectors(p, wv)}
}

func selectPayload(p *point, sel *qc.WithPayloadSelector) map[string]*qc.Value {
	switch x := sel.GetSelectorOptions().(type) {
	case *qc.WithPayloadSelector_Enable:
		if x.Enable {
			return p.payload
		}
	case *qc.WithPayloadSelector_Include:
		out := map[string]*qc.Value{}
		for _, f := range x.Include.GetFields() {
			if v, ok := p.payload[f]; ok {
				out[f] = v
			}
		}
		return out
	case *qc.WithPayloadSelector_Exclude:
		out := map[string]*qc.Value{}
		for k, v := range p.payload {
			out[k] = v
		}
		for _, f := range x.Exclude.GetFields() {
			delete(out, f)
		}
		return out
	}
	return nil
}

func selectVectors(p *point, sel *qc.WithVectorsSelector) *qc.VectorsOutput {
	var names []string
	switch x := sel.GetSelectorOptions().(type) {
	case *qc.WithVectorsSelector_Enable:
		if !x.Enable {
			return nil
		}
		for n := range p.dense {
			names = append(names, n)
		}
		for n := range p.sparse {
			names = append(names, n)
		}
	case *qc.WithVectorsSelector_Include:
		names = x.Include.GetNames()
	default:
		return nil
	}
	out := map[string]*qc.VectorOutput{}
	for _, n := range names {
		if d, ok := p.dense[n]; ok {
			out[n] = &qc.VectorOutput{Vector: &qc.VectorOutput_Dense{Dense: &qc.DenseVector{Data: d}}}
		}
		if sv, ok := p.sparse[n]; ok {
			out[n] = &qc.VectorOutput{Vector: &qc.VectorOutput_Sparse{Sparse: &qc.SparseVector{Indices: sv.idx, Values: sv.val}}}
		}
	}
	return &qc.VectorsOutput{VectorsOptions: &qc.VectorsOutput_Vectors{Vectors: &qc.NamedVectorsOutput{Vectors: out}}}
}
