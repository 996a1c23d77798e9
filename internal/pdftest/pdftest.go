// Package pdftest writes the crafted PDFs that the tests of ingest, api
// and the kefu command attack the PDF reader with.
package pdftest

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"
)

// Bomb writes a PDF of pages pages that all show one content stream, the
// content compressed with Flate at its best: megabytes of repeated
// operands or text become a few kilobytes of file.
func Bomb(content []byte, pages int) []byte {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(content)
	w.Close()
	kids := strings.TrimSpace(strings.Repeat("5 0 R ", pages))
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids, pages),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		"<< /Title (bomb) >>",
		"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents 6 0 R >>",
		fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.String()),
	}
	return Assemble(objs)
}

// Assemble writes objs as a PDF's numbered objects (the first is 1 0 obj)
// with their cross-reference table and a trailer whose root is object 1
// and whose document information is object 4.
func Assemble(objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// Operands is a content stream of 40 MB of operands and no operator: a
// PDF reader stacks every one, about 2 GB of memory from 41 KB of file.
func Operands() []byte { return bytes.Repeat([]byte("0 "), 20<<20) }

// Text is a content stream showing 10 million characters of text.
func Text() []byte {
	return bytes.Repeat([]byte("BT /F1 12 Tf (Returns are accepted within thirty days of delivery.) Tj ET\n"), 200_000)
}
