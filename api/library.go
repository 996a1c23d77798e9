package api

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/store"
)

// Library reads the knowledge store's documents and their chunks as they
// are stored, for the dashboard (the embedded and the Qdrant chunk store).
type Library interface {
	Documents(ctx context.Context) ([]kefu.DocumentInfo, error)
	DocumentChunks(ctx context.Context, docID string) ([]kefu.Chunk, error)
}

// Bounds of the library routes.
const (
	defaultLibraryLimit = 200
	maxLibraryLimit     = 2000
	maxLibraryQuery     = 200
)

// DocumentList is the body of GET /v1/admin/documents: the documents
// whose id, source or type contains q (all without it), sorted by id, at
// most limit of them; Total counts every match.
type DocumentList struct {
	Documents []kefu.DocumentInfo `json:"documents"`
	Total     int                 `json:"total"`
}

// DocumentChunks is the body of GET /v1/admin/documents/{id}: the
// document's chunks as the store holds them, in order.
type DocumentChunks struct {
	ID     string       `json:"id"`
	Chunks []kefu.Chunk `json:"chunks"`
}

// libraryRoutes registers the reading side of the admin documents API.
func (s *Server) libraryRoutes(r gin.IRouter) {
	g := r.Group("/v1/admin", s.requireLibrary)
	g.GET("/documents", s.listDocuments)
	g.GET("/documents/*id", s.documentChunks)
}

// requireLibrary admits an admin key (or session) and audits the access.
func (s *Server) requireLibrary(c *gin.Context) {
	if !s.staffKey(c, auth.RoleAdmin,
		"document administration is closed: no API keys are configured; add a key with role admin to auth.api_keys",
		"unauthorized: an admin API key is required",
		"may not read the documents; it needs role admin") {
		return
	}
	if s.library == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "the document library is not served by this server"))
		return
	}
	if s.auditLog != nil {
		rec := store.AuditRecord{At: time.Now(), Actor: c.GetString(ginKeyName), Role: c.GetString(ginKeyRole), Action: "documents.list"}
		if c.FullPath() != "/v1/admin/documents" {
			rec.Action = "documents.view"
			if id, err := documentID(c.Request.URL); err == nil {
				rec.Target = clip(id)
			}
		}
		if err := s.auditLog.AppendAudit(c.Request.Context(), rec); err != nil {
			writeError(c, kefu.WrapError(kefu.EUnavailable, "the audit log is unavailable, so admin access is refused", err))
			return
		}
	}
	c.Next()
}

func (s *Server) listDocuments(c *gin.Context) {
	q := strings.ToLower(strings.TrimSpace(c.Query("q")))
	if len(q) > maxLibraryQuery {
		writeError(c, kefu.Errorf(kefu.EInvalid, "q is longer than %d bytes", maxLibraryQuery))
		return
	}
	limit := defaultLibraryLimit
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLibraryLimit {
			writeError(c, kefu.Errorf(kefu.EInvalid, "limit %q is not a whole number from 1 to %d", clip(v), maxLibraryLimit))
			return
		}
		limit = n
	}
	docs, err := s.library.Documents(c.Request.Context())
	if err != nil {
		writeError(c, fmt.Errorf("list documents: %w", err))
		return
	}
	out := DocumentList{Documents: []kefu.DocumentInfo{}}
	sort.Slice(docs, func(i, j int) bool { return docs[i].ID < docs[j].ID })
	for _, d := range docs {
		if q != "" && !strings.Contains(strings.ToLower(d.ID+"\x00"+d.Source+"\x00"+d.Type), q) {
			continue
		}
		out.Total++
		if len(out.Documents) < limit {
			out.Documents = append(out.Documents, d)
		}
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) documentChunks(c *gin.Context) {
	id, err := documentID(c.Request.URL)
	if err != nil {
		writeError(c, err)
		return
	}
	chunks, err := s.library.DocumentChunks(c.Request.Context(), id)
	if err != nil {
		writeError(c, fmt.Errorf("read the document's chunks: %w", err))
		return
	}
	if len(chunks) == 0 {
		writeError(c, kefu.Errorf(kefu.ENotFound, "document not found"))
		return
	}
	sort.Slice(chunks, func(i, j int) bool { return chunks[i].Ordinal < chunks[j].Ordinal })
	c.JSON(http.StatusOK, DocumentChunks{ID: id, Chunks: chunks})
}
