package qdrant

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kefuhq/kefu"
)

// Defaults used when the Config fields are zero.
const (
	DefaultAddr       = "localhost:6334"
	DefaultCollection = "kefu_chunks"
	// DefaultBatchSize is the number of chunk points one write request
	// carries; it is also the smallest accepted.
	DefaultBatchSize = 256
	DefaultRetries   = 4
	DefaultBackoff   = 100 * time.Millisecond
)

// Names of the collection's vectors and payload fields.
const (
	vecDense   = "dense"
	vecLexical = "lexical"

	fieldKind     = "kind"
	fieldGen      = "gen"
	fieldDocID    = "doc_id"
	fieldType     = "type"
	fieldCustomer = "customer_id"
	fieldLocale   = "locale"
	// fieldProduct is the chunk's kefu.MetaProductID, copied out of its
	// meta so that kefu.Filter.ProductID matches it with a keyword index.
	fieldProduct = "product_id"
	// The days a chunk is in force from and to, as integers yyyymmdd, for
	// range filters (kefu.Filter.At).
	fieldFromDay = "effective_from_day"
	fieldToDay   = "effective_to_day"
	fieldTerms   = "lexical_terms" // a chunk's length in terms, for BM25

	kindChunk = "chunk"
	kindDoc   = "doc"

	metaEmbedder = "kefu_embedder"
	metaDims     = "kefu_dims"
	metaSchema   = "kefu_schema"
	schemaV1     = 1
)

// indexedFields are the payload fields that filters name; each has a
// keyword index so that filtering stays cheap as the collection grows.
var indexedFields = []string{fieldKind, fieldDocID, fieldGen, fieldType, fieldCustomer, fieldLocale, fieldProduct, fieldFromDay, fieldToDay}

// indexType is the payload index type of an indexed field.
func indexType(field string) qc.FieldType {
	if field == fieldFromDay || field == fieldToDay {
		return qc.FieldType_FieldTypeInteger
	}
	return qc.FieldType_FieldTypeKeyword
}

// Config says where the store lives. The zero value of a field means its
// default. It is plain data: Open copies what it needs.
type Config struct {
	// Addr is the gRPC address, host:port (DefaultAddr; a missing port
	// means 6334).
	Addr string
	// APIKey is sent with every request when set. It is a secret: it is
	// never logged or put into an error.
	APIKey string
	// Collection is the collection's name (DefaultCollection).
	Collection string
	// UseTLS dials with TLS (system roots, TLS 1.3).
	UseTLS bool
	// BatchSize is the most chunk points one write request carries
	// (DefaultBatchSize; smaller values are raised to it).
	BatchSize int
	// Retries is how many times a request that failed with
	// codes.Unavailable is retried (DefaultRetries; negative: never), with
	// exponential backoff from Backoff (DefaultBackoff), jittered, and
	// always cut short by the context.
	Retries int
	Backoff time.Duration
}

// EmbedderInfo names the embedder whose vectors the store holds.
type EmbedderInfo struct {
	Name string
	Dims int
}

// Store is the Qdrant chunk store. It is safe for concurrent use; any number
// of processes may share one collection.
type Store struct {
	client     *qc.Client
	collection string
	emb        EmbedderInfo
	batch      int
	retries    int
	backoff    time.Duration

	// stats caches what the lexical score needs of the whole collection
	// (see Search).
	mu      sync.Mutex
	stats   corpusStats
	statsAt time.Time
}

// Open connects to Qdrant and makes sure the collection exists with kefu's
// schema, creating it on first use. It fails with an EConflict error if the
// collection was built for another embedder (its vectors would mean nothing
// to the configured one) or not by kefu, and with an EUnavailable error if
// Qdrant cannot be reached (after the configured retries).
func Open(ctx context.Context, cfg Config, emb EmbedderInfo) (*Store, error) {
	if emb.Name == "" || emb.Dims <= 0 {
		return nil, kefu.Errorf(kefu.EInvalid, "qdrant: embedder name and dimension are required")
	}
	host, port, err := splitAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	client, err := qc.NewClient(&qc.Config{
		Host:                   host,
		Port:                   port,
		APIKey:                 cfg.APIKey,
		UseTLS:                 cfg.UseTLS,
		SkipCompatibilityCheck: true, // the check logs from library code; Ping reports reachability instead
		PoolSize:               1,    // one HTTP/2 connection multiplexes concurrent requests
	})
	if err != nil {
		return nil, fmt.Errorf("qdrant: connect %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	s := &Store{
		client:     client,
		collection: orDefault(cfg.Collection, DefaultCollection),
		emb:        emb,
		batch:      max(cfg.BatchSize, DefaultBatchSize),
		retries:    cfg.Retries,
		backoff:    cfg.Backoff,
	}
	if s.retries == 0 {
		s.retries = DefaultRetries
	}
	if s.backoff <= 0 {
		s.backoff = DefaultBackoff
	}
	if err := s.ensureCollection(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func splitAddr(addr string) (string, int, error) {
	addr = orDefault(addr, DefaultAddr)
	host, portStr, err := net.SplitHostPort(addr)
	var ae *net.AddrError
	if errors.As(err, &ae) && ae.Err == "missing port in address" {
		host, portStr, err = addr, "6334", nil // "qdrant" alone: the default gRPC port
	}
	if err != nil {
		return "", 0, kefu.Errorf(kefu.EInvalid, "qdrant address %q is not host:port", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, kefu.Errorf(kefu.EInvalid, "qdrant address %q has a bad port", addr)
	}
	if host == "" {
		host = "localhost"
	}
	return host, port, nil
}

// ensureCollection creates the collection when it is missing, then checks
// that it holds kefu's schema for this embedder and has every payload index.
func (s *Store) ensureCollection(ctx context.Context) error {
	var exists bool
	err := s.call(ctx, "check collection", func(ctx context.Context) (err error) {
		exists, err = s.client.CollectionExists(ctx, s.collection)
		return err
	})
	if err != nil {
		return err
	}
	if !exists {
		err := s.call(ctx, "create collection", func(ctx context.Context) error {
			return s.client.CreateCollection(ctx, s.createRequest())
		})
		// Another replica may have created it first: then check it like
		// any existing collection.
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return err
		}
	}
	var info *qc.CollectionInfo
	err = s.call(ctx, "read collection", func(ctx context.Context) (err error) {
		info, err = s.client.GetCollectionInfo(ctx, s.collection)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.checkSchema(info); err != nil {
		return err
	}
	for _, field := range indexedFields {
		if _, ok := info.GetPayloadSchema()[field]; ok {
			continue
		}
		err := s.call(ctx, "create payload index "+field, func(ctx context.Context) error {
			_, err := s.client.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{
				CollectionName: s.collection,
				Wait:           qc.PtrOf(true),
				FieldName:      field,
				FieldType:      indexType(field).Enum(),
			})
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) createRequest() *qc.CreateCollection {
	return &qc.CreateCollection{
		CollectionName: s.collection,
		VectorsConfig: qc.NewVectorsConfigMap(map[string]*qc.VectorParams{
			vecDense: {Size: uint64(s.emb.Dims), Distance: qc.Distance_Cosine},
		}),
		SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{
			vecLexical: {Modifier: qc.Modifier_Idf.Enum()},
		}),
		Metadata: map[string]*qc.Value{
			metaEmbedder: qc.NewValueString(s.emb.Name),
			metaDims:     qc.NewValueInt(int64(s.emb.Dims)),
			metaSchema:   qc.NewValueInt(schemaV1),
		},
	}
}

// checkSchema compares an existing collection with what this store needs.
func (s *Store) checkSchema(info *qc.CollectionInfo) error {
	meta := info.GetConfig().GetMetadata()
	name := meta[metaEmbedder].GetStringValue()
	dims := int(meta[metaDims].GetIntegerValue())
	if name == "" {
		return kefu.Errorf(kefu.EConflict,
			"Qdrant collection %q was not created by kefu (no embedder recorded); choose another collection name", s.collection)
	}
	if name != s.emb.Name || dims != s.emb.Dims {
		return kefu.Errorf(kefu.EConflict,
			"Qdrant collection %q was built with embedder %s (%d dims) but %s (%d dims) is configured; re-ingest into a new collection",
			s.collection, name, dims, s.emb.Name, s.emb.Dims)
	}
	dense := info.GetConfig().GetParams().GetVectorsConfig().GetParamsMap().GetMap()[vecDense]
	if dense == nil || int(dense.GetSize()) != s.emb.Dims || dense.GetDistance() != qc.Distance_Cosine {
		return kefu.Errorf(kefu.EConflict,
			"Qdrant collection %q has no %d-dim cosine vector %q; re-ingest into a new collection", s.collection, s.emb.Dims, vecDense)
	}
	sparse := info.GetConfig().GetParams().GetSparseVectorsConfig().GetMap()[vecLexical]
	if sparse == nil || sparse.GetModifier() != qc.Modifier_Idf {
		return kefu.Errorf(kefu.EConflict,
			"Qdrant collection %q has no sparse vector %q with the IDF modifier; re-ingest into a new collection", s.collection, vecLexical)
	}
	return nil
}

// Close closes the connection.
func (s *Store) Close() error { return s.client.Close() }

// Ping reports whether Qdrant answers and the collection exists. It does not
// retry: readiness should report what is true now.
func (s *Store) Ping(ctx context.Context) error {
	exists, err := s.client.CollectionExists(ctx, s.collection)
	if err != nil {
		return s.wrap("ping", err)
	}
	if !exists {
		return kefu.Errorf(kefu.EUnavailable, "Qdrant collection %q is gone", s.collection)
	}
	return nil
}

// call runs one request, retrying it with jittered exponential backoff while
// Qdrant answers codes.Unavailable (a node restarting, a connection being
// re-established). Every request kefu sends is idempotent (upserts by
// deterministic id, deletes by filter, reads), so a retry after a lost reply
// is safe. The wait ends early when ctx is done.
func (s *Store) call(ctx context.Context, op string, f func(ctx context.Context) error) error {
	delay := s.backoff
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if status.Code(err) != codes.Unavailable || attempt >= s.retries || ctx.Err() != nil {
			return s.wrap(op, err)
		}
		wait := delay/2 + rand.N(delay/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.wrap(op, errors.Join(ctx.Err(), err))
		case <-t.C:
		}
		delay *= 2
	}
}

// wrap turns a gRPC failure into kefu's error vocabulary. Messages name the
// operation and the collection, never the API key.
func (s *Store) wrap(op string, err error) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return kefu.WrapError(kefu.EUnavailable, fmt.Sprintf("the Qdrant store is unavailable (%s)", op), err)
	case codes.Unauthenticated, codes.PermissionDenied:
		return kefu.WrapError(kefu.EUnavailable, fmt.Sprintf("Qdrant refused kefu's credentials (%s); check vectordb.qdrant.api_key", op), err)
	case codes.InvalidArgument:
		return kefu.WrapError(kefu.EInvalid, fmt.Sprintf("Qdrant rejected the request (%s)", op), err)
	}
	return fmt.Errorf("qdrant %s in collection %s: %w", op, s.collection, err)
}
