package kefu

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Document types. A document's type decides how it is chunked, how it is
// cited, and which questions may retrieve it.
const (
	TypePolicy  = "policy"
	TypeProduct = "product"
	TypeFAQ     = "faq"
	TypeOrder   = "order"
)

// DocTypes lists the valid document types.
var DocTypes = []string{TypePolicy, TypeProduct, TypeFAQ, TypeOrder}

// Document is one unit of the shop's knowledge as loaded from a source: a
// policy page, a product record, an FAQ entry, an order. ID is stable across
// re-ingests (derived from the source and the record id), and Hash is the
// hash of everything that goes into its chunks, so an unchanged document can
// be skipped and a changed one replaced whole.
type Document struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Source     string            `json:"source"`
	Locale     string            `json:"locale,omitempty"`      // "en", "zh" or "" when mixed or unknown
	CustomerID string            `json:"customer_id,omitempty"` // owner of a private document (an order); "" for public knowledge
	Text       string            `json:"text"`
	Meta       map[string]string `json:"meta,omitempty"`
	Hash       string            `json:"hash"`
}

// Chunk is a retrievable piece of a document. It repeats the document fields
// that search filters on and that citations show, so that a hit is
// self-contained.
type Chunk struct {
	ID         string            `json:"id"` // DocID + "#" + Ordinal
	DocID      string            `json:"doc_id"`
	Ordinal    int               `json:"ordinal"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Source     string            `json:"source"`
	Locale     string            `json:"locale,omitempty"`
	CustomerID string            `json:"customer_id,omitempty"`
	Heading    string            `json:"heading,omitempty"` // heading path, "Returns > Opened items"
	Text       string            `json:"text"`
	Tokens     int               `json:"tokens"`
	Meta       map[string]string `json:"meta,omitempty"`
	Vector     []float32         `json:"-"`
}

// Filter restricts a search. The customer rule is not optional: a chunk that
// belongs to a customer matches only a filter with that same CustomerID, and
// an empty CustomerID (an anonymous shopper) matches public chunks only.
// Every store applies it inside the store, before ranking.
type Filter struct {
	Types      []string // document types to keep; empty keeps all
	CustomerID string   // the authenticated shopper, "" when anonymous
	// OnlyCustomer keeps the customer's own chunks only (no public ones),
	// for questions about "my orders".
	OnlyCustomer bool
	// At, a day as "YYYY-MM-DD", keeps only what is in force that day: a
	// chunk whose meta effective_from is after At, or whose effective_to is
	// before it, is left out. Empty At applies no date rule.
	At string
	// ProductID, when set, keeps only the chunks of that product: a chunk
	// passes when its DocID equals ProductID (a product page ingested as a
	// file, or a record's full document id, "catalogue.csv#P1001") or its
	// Meta[MetaProductID] does (the product id set at ingest: by default a
	// product record's own id, "P1001", or the field named by `kefu ingest
	// --product-field`). It narrows, never widens: the customer, type and
	// date rules still apply. Empty keeps every product.
	ProductID string
}

// MaxProductIDLen is the longest product id a request may carry, in bytes.
const MaxProductIDLen = 128

// CheckProductID reports why id cannot name a product, as an EInvalid
// error, or nil when it can: 1 to MaxProductIDLen bytes of letters, digits
// and - _ . : / # @ + = ~ (which covers SKUs, ASINs, record ids and the
// document ids ingest builds from paths). An empty id is allowed: no product.
func CheckProductID(id string) error {
	if id == "" {
		return nil
	}
	if len(id) > MaxProductIDLen {
		return Errorf(EInvalid, "product id is %d bytes; the limit is %d", len(id), MaxProductIDLen)
	}
	if !utf8.ValidString(id) {
		return Errorf(EInvalid, "product id is not valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.:/#@+=~", r) {
			continue
		}
		return Errorf(EInvalid, "product id %q holds %q: use letters, digits and - _ . : / # @ + = ~", id, r)
	}
	return nil
}

// Document meta keys with a meaning of their own.
const (
	MetaEffectiveFrom = "effective_from"
	MetaEffectiveTo   = "effective_to"
	MetaVersion       = "version"
	// MetaProductID is the product a document describes (set at ingest
	// from a record field, `kefu ingest --product-field`; default the
	// record's id for product records).
	MetaProductID = "product_id"
	// MetaIngestedAt is the day (YYYY-MM-DD, UTC) an order's copy was
	// ingested, stamped on order chunks: an answer that falls back to the
	// copy when the live order system fails says "as of" that day.
	MetaIngestedAt = "ingested_at"
)

// Describes reports whether c is one of product's chunks: its document is
// the product (the document id is product) or names it (MetaProductID).
func (c *Chunk) Describes(product string) bool {
	return c.DocID == product || c.Meta[MetaProductID] == product
}

// FilterFields are the parts of a chunk a Filter looks at, with the
// effective days already normalised by Day: what a store that keeps its
// chunks on disk holds per chunk to filter without reading the chunk.
type FilterFields struct {
	DocID, Type, CustomerID, ProductID string
	EffectiveFrom, EffectiveTo         string // YYYY-MM-DD or ""
}

// FilterFields returns what a Filter looks at of c.
func (c *Chunk) FilterFields() FilterFields {
	return FilterFields{
		DocID: c.DocID, Type: c.Type, CustomerID: c.CustomerID, ProductID: c.Meta[MetaProductID],
		EffectiveFrom: Day(c.Meta[MetaEffectiveFrom]), EffectiveTo: Day(c.Meta[MetaEffectiveTo]),
	}
}

// Allows reports whether a chunk passes the filter. Stores that filter in
// memory call it (or AllowsFields); stores that filter remotely must
// express the same rule.
func (f Filter) Allows(c *Chunk) bool { return f.AllowsFields(c.FilterFields()) }

// AllowsFields is Allows over a chunk's FilterFields.
func (f Filter) AllowsFields(c FilterFields) bool {
	if c.CustomerID != "" && c.CustomerID != f.CustomerID {
		return false
	}
	if f.OnlyCustomer && (f.CustomerID == "" || c.CustomerID != f.CustomerID) {
		return false
	}
	if f.ProductID != "" && c.DocID != f.ProductID && c.ProductID != f.ProductID {
		return false
	}
	if f.At != "" {
		if c.EffectiveFrom != "" && c.EffectiveFrom > f.At {
			return false
		}
		if c.EffectiveTo != "" && c.EffectiveTo < f.At {
			return false
		}
	}
	if len(f.Types) == 0 {
		return true
	}
	for _, t := range f.Types {
		if t == c.Type {
			return true
		}
	}
	return false
}

// Query is one hybrid search: Text drives the lexical side, Vector (the
// embedding of Text) the dense side. Expand holds optional terms (synonyms,
// translations of the shopper's words) that raise a chunk's lexical score
// when it contains them but are not required: they do not count toward the
// normaliser of Hit.Lexical.
type Query struct {
	Text   string
	Expand string
	Vector []float32
	Filter Filter
	TopK   int
}

// Hit is a search result. Score is the fused score used for ranking (higher
// is better); Lexical and Dense are the raw scores of each side (0 when that
// side did not find the chunk), kept so callers can judge relevance.
type Hit struct {
	Chunk   Chunk
	Score   float64
	Lexical float64
	Dense   float64
}

// DocumentInfo is what a store remembers of an ingested document, enough to
// skip it when unchanged and to prune it when its source is gone.
type DocumentInfo struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Source string `json:"source"`
	Hash   string `json:"hash"`
	Chunks int    `json:"chunks"`
}

// Replacement is one document with the chunks that replace its stored
// ones, for stores that write several documents at once.
type Replacement struct {
	Doc    Document
	Chunks []Chunk
}

// Message is one turn of a conversation as the answering pipeline sees it.
type Message struct {
	Role    string `json:"role"` // "user", "assistant", "agent" (a human agent) or "system"
	Content string `json:"content"`
}

// Message roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleAgent     = "agent"
	RoleSystem    = "system"
)

// GenerateRequest is what an answer generator receives: the standalone
// question, the shopper's language, and the retrieved passages, numbered from
// 1 in the order given, which an answer cites as [n]. System and Messages are
// the rendered prompt for language-model backends; the extractive answerer
// reads Query (or Question), Locale and Context.
type GenerateRequest struct {
	Question string
	Query    string // the standalone retrieval query with its expansions; the extractive answerer matches on it

	Locale   string
	Context  []Hit
	System   string
	Messages []Message
	// PromptVersion names the prompt templates System and Messages come
	// from, recorded with the answer.
	PromptVersion string
	// Tools are functions a language model may call while it writes the
	// answer. They are closures bound to this turn (the shopper, the day,
	// the passages so far), so they must not outlive it. A generator that
	// cannot call tools ignores them.
	Tools []Tool
	// FellBack, when set, is called by a generator that hands the answer
	// over to a fallback backend (the primary failed before its first
	// piece, or is resting), with the fallback's name, before the
	// fallback's first piece. It is called on the generating goroutine.
	FellBack func(backend string)
}

// Tool is a function offered to a language model. Parameters is the JSON
// schema of the arguments object. Call runs it with the arguments as the
// model wrote them (which may be malformed) and returns the text the model
// reads back; expected failures (bad arguments, nothing found) are such
// texts too, worded for the model. A non-nil error is a fault of the
// system behind the tool and ends the answer.
type Tool struct {
	Name        string
	Description string
	Parameters  map[string]any
	Call        func(ctx context.Context, args json.RawMessage) (string, error)
}

// Day returns the calendar day a date value starts with, as "YYYY-MM-DD":
// "2026-03-01", "2026/3/1", "2026-03-01T08:00:00Z" and
// "2026-03-01 00:00:00 +0000 UTC" all give "2026-03-01". A value that does
// not start with a valid date gives "".
func Day(v string) string {
	v = strings.TrimSpace(v)
	m := dayPattern.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Month() != time.Month(mo) || t.Day() != d {
		return ""
	}
	return t.Format("2006-01-02")
}

var dayPattern = regexp.MustCompile(`^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[T\s])`)
