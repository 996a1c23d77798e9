package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/pdftest"
)

// makePDF writes a minimal PDF whose pages show the given lines of text in
// Helvetica; a page with no lines only draws a rectangle, as a scan's page
// holds an image and no text. title, when set, goes in the document info.
func makePDF(title string, pages ...[]string) []byte {
	var objs []string
	// 1: catalog, 2: page tree, 3: font, 4: info; then a page and its
	// content stream for each page.
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 5+2*i)
	}
	objs = append(objs,
		"<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Title (%s) /Producer (kefu test) >>", title),
	)
	for i, lines := range pages {
		var content strings.Builder
		if len(lines) == 0 {
			content.WriteString("0.5 g 72 72 468 648 re f\n")
		}
		for j, l := range lines {
			fmt.Fprintf(&content, "BT /F1 12 Tf 72 %d Td (%s) Tj ET\n", 720-16*j, l)
		}
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 6+2*i),
			fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		)
	}
	return pdftest.Assemble(objs)
}

func TestLoadPDF(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		title  string
		text   []string
		reason string
	}{
		{
			name:  "text layer",
			data:  makePDF("Warranty terms", []string{"Warranty", "All products carry a 12 month warranty."}, []string{"Faulty items are replaced within 15 days."}),
			title: "Warranty terms",
			text:  []string{"12 month warranty", "replaced within 15 days"},
		},
		{
			name:  "no title: the file name",
			data:  makePDF("", []string{"Gift cards never expire."}),
			title: "Gift cards",
			text:  []string{"Gift cards never expire."},
		},
		{name: "scanned", data: makePDF("Scan", nil, nil), reason: "no text layer (scanned PDF?)"},
		{name: "not a PDF", data: []byte("hello"), reason: "read PDF: "},
		{name: "truncated", data: makePDF("T", []string{"text"})[:200], reason: "read PDF: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTemp(t, "gift-cards.pdf", string(tt.data))
			s := loadFile(t, Options{}, p)
			if tt.reason != "" {
				if len(s.fails) != 1 || !strings.HasPrefix(s.fails[0], "0/0: "+tt.reason) || len(s.units) != 0 {
					t.Fatalf("failures %q, units %d; want %q", s.fails, len(s.units), tt.reason)
				}
				return
			}
			if len(s.fails) != 0 || len(s.units) != 1 {
				t.Fatalf("failures %q, units %d", s.fails, len(s.units))
			}
			d := s.units[0].doc
			if d.Title != tt.title || d.Type != kefu.TypePolicy || d.Locale != "en" || d.ID != p {
				t.Errorf("doc = %+v", d)
			}
			for _, want := range tt.text {
				if !strings.Contains(d.Text, want) {
					t.Errorf("text lacks %q: %q", want, d.Text)
				}
			}
		})
	}
}
