package qdranttest

import (
	"context"
	"math"
	"sort"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// collection is one collection's schema and points.
type collection struct {
	create  *qc.CreateCollection
	dense   map[string]*qc.VectorParams
	sparse  map[string]*qc.SparseVectorParams
	indexes map[string]qc.FieldType
	points  map[string]*point
}

type point struct {
	key     string
	id      *qc.PointId
	payload map[string]*qc.Value
	dense   map[string][]float32 // unit length: the collections are cosine
	sparse  map[string]sparseVec
}

type sparseVec struct {
	idx []uint32
	val []float32
}

type qdrantService struct {
	qc.UnimplementedQdrantServer
	s *Server
}

func (q qdrantService) HealthCheck(context.Context, *qc.HealthCheckRequest) (*qc.HealthCheckReply, error) {
	return &qc.HealthCheckReply{Title: "qdrant - vector search engine (kefu test fake)", Version: Version}, nil
}

type collectionsService struct {
	qc.UnimplementedCollectionsServer
	s *Server
}

// get returns the named collection; the caller holds s.mu.
func (s *Server) get(name string) (*collection, error) {
	c, ok := s.collections[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
	}
	return c, nil
}

func (cs collectionsService) CollectionExists(_ context.Context, req *qc.CollectionExistsRequest) (*qc.CollectionExistsResponse, error) {
	s := cs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.collections[req.GetCollectionName()]
	return &qc.CollectionExistsResponse{Result: &qc.CollectionExists{Exists: ok}}, nil
}

func (cs collectionsService) List(context.Context, *qc.ListCollectionsRequest) (*qc.ListCollectionsResponse, error) {
	s := cs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*qc.CollectionDescription
	for name := range s.collections {
		out = append(out, &qc.CollectionDescription{Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return &qc.ListCollectionsResponse{Collections: out}, nil
}

func (cs collectionsService) Delete(_ context.Context, req *qc.DeleteCollection) (*qc.CollectionOperationResponse, error) {
	s := cs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.collections[req.GetCollectionName()]
	delete(s.collections, req.GetCollectionName())
	return &qc.CollectionOperationResponse{Result: ok}, nil
}

// Create checks kefu's schema: a named cosine dense vector "dense", a named
// sparse vector "lexical" with the IDF modifier, the embedder in the
// metadata.
func (cs collectionsService) Create(_ context.Context, req *qc.CreateCollection) (*qc.CollectionOperationResponse, error) {
	s := cs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.GetCollectionName()
	if _, ok := s.collections[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", name)
	}
	dense := req.GetVectorsConfig().GetParamsMap().GetMap()
	if d := dense["dense"]; d == nil || d.GetSize() == 0 || d.GetDistance() != qc.Distance_Cosine {
		return nil, s.broke("collection %s: want a named dense vector \"dense\" with cosine distance and a size, got %v", name, req.GetVectorsConfig())
	}
	sparse := req.GetSparseVectorsConfig().GetMap()
	if sp := sparse["lexical"]; sp == nil || sp.GetModifier() != qc.Modifier_Idf {
		return nil, s.broke("collection %s: want a named sparse vector \"lexical\" with the IDF modifier, got %v", name, req.GetSparseVectorsConfig())
	}
	meta := req.GetMetadata()
	if meta["kefu_embedder"].GetStringValue() == "" || meta["kefu_dims"].GetIntegerValue() != int64(dense["dense"].GetSize()) {
		return nil, s.broke("collection %s: the metadata must record the embedder and its dimension, got %v", name, meta)
	}
	s.collections[name] = &collection{
		create:  req,
		dense:   dense,
		sparse:  sparse,
		indexes: map[string]qc.FieldType{},
		points:  map[string]*point{},
	}
	return &qc.CollectionOperationResponse{Result: true}, nil
}

func (cs collectionsService) Get(_ context.Context, req *qc.GetCollectionInfoRequest) (*qc.GetCollectionInfoResponse, error) {
	s := cs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	schema := map[string]*qc.PayloadSchemaInfo{}
	for field, typ := range c.indexes {
		schema[field] = &qc.PayloadSchemaInfo{DataType: schemaType(typ), Points: qc.PtrOf(uint64(len(c.points)))}
	}
	return &qc.GetCollectionInfoResponse{Result: &qc.CollectionInfo{
		Status:        qc.CollectionStatus_Green,
		SegmentsCount: 1,
		Config: &qc.CollectionConfig{
			Params: &qc.CollectionParams{
				ShardNumber:         1,
				VectorsConfig:       c.create.GetVectorsConfig(),
				SparseVectorsConfig: c.create.GetSparseVectorsConfig(),
			},
			Metadata: c.create.GetMetadata(),
		},
		PayloadSchema: schema,
		PointsCount:   qc.PtrOf(uint64(len(c.points))),
	}}, nil
}

func schemaType(t qc.FieldType) qc.PayloadSchemaType {
	switch t {
	case qc.FieldType_FieldTypeInteger:
		return qc.PayloadSchemaType_Integer
	case qc.FieldType_FieldTypeFloat:
		return qc.PayloadSchemaType_Float
	case qc.FieldType_FieldTypeBool:
		return qc.PayloadSchemaType_Bool
	case qc.FieldType_FieldTypeDatetime:
		return qc.PayloadSchemaType_Datetime
	case qc.FieldType_FieldTypeUuid:
		return qc.PayloadSchemaType_Uuid
	case qc.FieldType_FieldTypeText:
		return qc.PayloadSchemaType_Text
	}
	return qc.PayloadSchemaType_Keyword
}

// idf is Qdrant's inverse document frequency of a sparse index over the
// points that have the named sparse vector: ln(1 + (N - n + 0.5)/(n + 0.5)).
func (c *collection) idf(name string, index uint32) float64 {
	var n, df float64
	for _, p := range c.points {
		v, ok := p.sparse[name]
		if !ok {
			continue
		}
		n++
		for _, i := range v.idx {
			if i == index {
				df++
				break
			}
		}
	}
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}
