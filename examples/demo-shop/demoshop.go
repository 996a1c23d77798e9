// Package demoshop embeds the demo shop's documents, so that
// `kefu serve --demo` has a shop to answer from in any directory.
package demoshop

import "embed"

// Files holds the documents that --demo ingests (the golden set is not
// among them: it evaluates the shop, it is not knowledge).
//
//go:embed faq.jsonl orders.jsonl products.json policies
var Files embed.FS

// Rules is the demo shop's rules file (rules.yaml), which serve --demo
// uses when no orders.rules_file is configured.
//
//go:embed rules.yaml
var Rules []byte

// Dir is where the demo shop lives in the source tree.
const Dir = "examples/demo-shop"

// Name is the demo shop's name by locale, used in replies when kefu serves
// the demo and no shop name is configured.
var Name = map[string]string{"en": "Lumi Home & Tech", "zh": "鹿米家居数码"}

// Golden is the demo shop's golden set (golden.jsonl), which the dashboard
// runs when no other is configured.
//
//go:embed golden.jsonl
var Golden []byte
