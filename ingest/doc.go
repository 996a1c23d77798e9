// Package ingest turns a shop's files into searchable knowledge: it loads
// Markdown, plain text, HTML, PDF, CSV, JSON and JSONL files, normalises
// their text, cuts them into token-bounded chunks, embeds the chunks and
// hands every document to a Store.
//
// A prose file (Markdown, text, HTML, PDF) becomes one document whose ID is
// its source path; every record of a structured file (CSV, JSON, JSONL)
// becomes its own document, "source#record-id". Each document carries a
// content hash, so running the same files again writes nothing, and a
// changed document is replaced whole.
//
// Ingestion never stops at a bad file or record: the problem is reported in
// Summary.Failed, naming the file and line, and everything else is still
// ingested. Orders are private: an order record without a customer id is
// refused rather than stored as public knowledge.
//
// The package does no logging; callers print the Summary.
package ingest
