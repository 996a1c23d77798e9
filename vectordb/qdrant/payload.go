package qdrant

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"strings"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/kefuhq/kefu"
)

// Point ids are name-based UUIDs (version 5, RFC 9562) in two namespaces of
// kefu's own, so that a chunk or document keeps its point across re-ingests
// and across kefu processes.
var (
	namespaceURL   = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	chunkNamespace = uuidV5(namespaceURL, "https://github.com/kefuhq/kefu#chunk")
	docNamespace   = uuidV5(namespaceURL, "https://github.com/kefuhq/kefu#document")
)

func uuidV5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func uuidString(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// chunkPointID is the Qdrant point id of a chunk: the UUIDv5 of its id.
func chunkPointID(chunkID string) string { return uuidString(uuidV5(chunkNamespace, chunkID)) }

func docPointID(docID string) string { return uuidString(uuidV5(docNamespace, docID)) }

// chunkPayload holds every kefu.Chunk field but the vector, plus the point
// kind, the write generation, and the product id copied out of the meta
// into a field of its own (for kefu.Filter.ProductID). Empty optional
// fields are left out: in particular a public chunk has no customer_id at
// all, which is what the anonymous filter (is_empty) matches.
func chunkPayload(c *kefu.Chunk, gen string) map[string]*qc.Value {
	p := map[string]*qc.Value{
		fieldKind:  qc.NewValueString(kindChunk),
		fieldGen:   qc.NewValueString(gen),
		"id":       qc.NewValueString(c.ID),
		fieldDocID: qc.NewValueString(c.DocID),
		"ordinal":  qc.NewValueInt(int64(c.Ordinal)),
		fieldType:  qc.NewValueString(c.Type),
		"title":    qc.NewValueString(c.Title),
		"source":   qc.NewValueString(c.Source),
		"text":     qc.NewValueString(c.Text),
		"tokens":   qc.NewValueInt(int64(c.Tokens)),
	}
	if c.Locale != "" {
		p[fieldLocale] = qc.NewValueString(c.Locale)
	}
	if c.CustomerID != "" {
		p[fieldCustomer] = qc.NewValueString(c.CustomerID)
	}
	if c.Heading != "" {
		p["heading"] = qc.NewValueString(c.Heading)
	}
	if id := c.Meta[kefu.MetaProductID]; id != "" {
		p[fieldProduct] = qc.NewValueString(id)
	}
	if d := dayNumber(c.Meta[kefu.MetaEffectiveFrom]); d > 0 {
		p[fieldFromDay] = qc.NewValueInt(d)
	}
	if d := dayNumber(c.Meta[kefu.MetaEffectiveTo]); d > 0 {
		p[fieldToDay] = qc.NewValueInt(d)
	}
	if len(c.Meta) > 0 {
		fields := make(map[string]*qc.Value, len(c.Meta))
		for k, v := range c.Meta {
			fields[k] = qc.NewValueString(v)
		}
		p["meta"] = qc.NewValueFromFields(fields)
	}
	return p
}

// decodeChunk reads a chunk back from its payload.
func decodeChunk(p map[string]*qc.Value) (kefu.Chunk, error) {
	c := kefu.Chunk{
		ID:         p["id"].GetStringValue(),
		DocID:      p[fieldDocID].GetStringValue(),
		Ordinal:    int(intValue(p["ordinal"])),
		Type:       p[fieldType].GetStringValue(),
		Title:      p["title"].GetStringValue(),
		Source:     p["source"].GetStringValue(),
		Locale:     p[fieldLocale].GetStringValue(),
		CustomerID: p[fieldCustomer].GetStringValue(),
		Heading:    p["heading"].GetStringValue(),
		Text:       p["text"].GetStringValue(),
		Tokens:     int(intValue(p["tokens"])),
	}
	if fields := p["meta"].GetStructValue().GetFields(); len(fields) > 0 {
		c.Meta = make(map[string]string, len(fields))
		for k, v := range fields {
			c.Meta[k] = v.GetStringValue()
		}
	}
	if c.ID == "" || c.DocID == "" {
		return c, fmt.Errorf("chunk point without id or doc_id")
	}
	return c, nil
}

func docPayload(info kefu.DocumentInfo, gen string) map[string]*qc.Value {
	return map[string]*qc.Value{
		fieldKind:  qc.NewValueString(kindDoc),
		fieldGen:   qc.NewValueString(gen),
		fieldDocID: qc.NewValueString(info.ID),
		fieldType:  qc.NewValueString(info.Type),
		"source":   qc.NewValueString(info.Source),
		"hash":     qc.NewValueString(info.Hash),
		"chunks":   qc.NewValueInt(int64(info.Chunks)),
	}
}

func decodeDoc(p map[string]*qc.Value) kefu.DocumentInfo {
	return kefu.DocumentInfo{
		ID:     p[fieldDocID].GetStringValue(),
		Type:   p[fieldType].GetStringValue(),
		Source: p["source"].GetStringValue(),
		Hash:   p["hash"].GetStringValue(),
		Chunks: int(intValue(p["chunks"])),
	}
}

// intValue reads an integer that a JSON round trip may have turned into a
// double.
func intValue(v *qc.Value) int64 {
	if d, ok := v.GetKind().(*qc.Value_DoubleValue); ok {
		return int64(d.DoubleValue)
	}
	return v.GetIntegerValue()
}

// dayNumber is a date value as the integer yyyymmdd (kefu.Day), or 0.
func dayNumber(v string) int64 {
	d := kefu.Day(v)
	if d == "" {
		return 0
	}
	n, _ := strconv.ParseInt(strings.ReplaceAll(d, "-", ""), 10, 64)
	return n
}
