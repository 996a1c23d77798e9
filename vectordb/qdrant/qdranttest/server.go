// Package qdranttest is an in-process fake of the Qdrant server for tests.
// It speaks Qdrant's real gRPC API (the go-client's generated service
// interfaces) on 127.0.0.1, answers as Qdrant would for the part of the API
// kefu uses (collections, payload indexes, upsert, delete by id or filter,
// update batches, scroll, count, get, and the Query API with nested
// prefetches, dense cosine and sparse dot-product scoring with the IDF
// modifier, and RRF fusion), and checks every request against kefu's
// contract with its store:
//
//   - the collection is created with a named dense vector "dense" (cosine)
//     and a named sparse vector "lexical" with the IDF modifier, and records
//     the embedder in its metadata;
//   - every filter names only fields that have a payload index;
//   - every query, at every prefetch level, and every scroll that can return
//     chunks carries the customer rule (a condition on customer_id among the
//     filter's must clauses) and restricts to chunk points;
//   - chunk points carry both vectors, of the right dimension, and the
//     payload fields a hit needs; a public chunk has no customer_id key;
//   - the API key, when the server has one, comes with every request.
//
// A broken rule fails the request with codes.InvalidArgument (or
// Unauthenticated) and is recorded; Start registers a cleanup that fails the
// test if any rule was broken. Every request is counted, and every write
// records how many points it carried, so tests can count round trips.
package qdranttest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Version is what the fake reports in health checks.
const Version = "1.17.1"

// Server is a running fake Qdrant.
type Server struct {
	// Addr is host:port of the gRPC listener.
	Addr string

	apiKey string
	grpc   *grpc.Server

	mu          sync.Mutex
	collections map[string]*collection
	calls       map[string]int
	writes      []Write
	queries     []*qc.QueryPoints
	violations  []string
	fail        map[string][]codes.Code
}

// Write is one write request: its method ("Points/UpdateBatch",
// "Points/Upsert", "Points/Delete"), the number of points it upserted, and
// its operations in order ("upsert 256", "delete").
type Write struct {
	Method string
	Points int
	Ops    []string
}

// Option configures Start.
type Option func(*Server)

// WithAPIKey makes the server refuse requests without this api-key header.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// Start starts a fake on a random port of 127.0.0.1 and stops it when the
// test ends, failing the test if any request broke a rule.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("qdranttest: listen: %v", err)
	}
	s := &Server{
		Addr:        lis.Addr().String(),
		collections: map[string]*collection{},
		calls:       map[string]int{},
		fail:        map[string][]codes.Code{},
	}
	for _, o := range opts {
		o(s)
	}
	s.grpc = grpc.NewServer(grpc.UnaryInterceptor(s.intercept), grpc.MaxRecvMsgSize(64<<20))
	qc.RegisterQdrantServer(s.grpc, qdrantService{s: s})
	qc.RegisterCollectionsServer(s.grpc, collectionsService{s: s})
	qc.RegisterPointsServer(s.grpc, pointsService{s: s})
	go s.grpc.Serve(lis)
	t.Cleanup(func() {
		s.grpc.Stop()
		for _, v := range s.Violations() {
			t.Errorf("fake Qdrant: rule broken: %s", v)
		}
	})
	return s
}

// intercept counts every call, injects the failures FailNext asked for and
// checks the API key.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := strings.TrimPrefix(info.FullMethod, "/qdrant.")
	s.mu.Lock()
	s.calls[method]++
	var inject codes.Code
	if q := s.fail[method]; len(q) > 0 {
		inject, s.fail[method] = q[0], q[1:]
	}
	s.mu.Unlock()
	if inject != codes.OK {
		return nil, status.Errorf(inject, "injected failure of %s", method)
	}
	if s.apiKey != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("api-key"); len(got) != 1 || got[0] != s.apiKey {
			s.mu.Lock()
			s.broke("%s without the right api-key header", method)
			s.mu.Unlock()
			return nil, status.Error(codes.Unauthenticated, "missing or wrong api key")
		}
	}
	return handler(ctx, req)
}

// FailNext makes the next calls of method ("Points/QueryBatch", ...) fail
// with the given codes, one code per call, before they are handled.
func (s *Server) FailNext(method string, codes ...codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method] = append(s.fail[method], codes...)
}

// Calls returns how many times method was called (failed calls included).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Writes returns every write request so far, in order.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

// Queries returns every query received, batch members one by one.
func (s *Server) Queries() []*qc.QueryPoints {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// Reset forgets the recorded calls, writes and queries (not the data).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.writes = nil
	s.queries = nil
}

// TakeViolations returns the rules broken so far and forgets them, for
// tests that break a rule on purpose.
func (s *Server) TakeViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.violations
	s.violations = nil
	return v
}

// Violations returns the rules broken so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Collection describes a collection as created, for schema assertions.
type Collection struct {
	Create  *qc.CreateCollection
	Indexes map[string]qc.FieldType
	Points  int
}

// Collection returns the named collection, or false.
func (s *Server) Collection(name string) (Collection, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.collections[name]
	if !ok {
		return Collection{}, false
	}
	return Collection{Create: c.create, Indexes: maps(c.indexes), Points: len(c.points)}, true
}

func maps[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// broke records a broken rule and returns the error that fails the
// request. The caller holds s.mu.
func (s *Server) broke(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	s.violations = append(s.violations, msg)
	return status.Error(codes.InvalidArgument, "kefu contract: "+msg)
}
