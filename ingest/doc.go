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
// Structured files are read as the shops' exports come: JSON may hold
// several collections under keys that name them ({"products": {...},
// "orders": {...}}) and wrap records in levels of keys (platform, shop,
// customer), which Options.Levels can name. Records too long for one chunk
// are cut between their fields, a long field being a section of its own;
// a multi-line "content" field is kept as prose, cut at its headings.
// Statutes are cut per article ("第二十五条", "Article 25").
//
// People's personal data is not knowledge. Collections and files named for
// people (users, customers, 用户...) are skipped and listed in
// Summary.Skipped unless Options.Records names them, and a record holding
// contact details (a phone number, an email address, a recipient) needs
// the customer it belongs to, like an order, unless its type is set.
//
// Ingestion never stops at a bad file or record: the problem is reported in
// Summary.Failed, naming the file and line, and everything else is still
// ingested. Orders are private: an order record without a customer id is
// refused rather than stored as public knowledge.
//
// The package does no logging; callers print the Summary.
package ingest
