// Package understand reads a shopper's message: what it asks for (intent),
// whether it asks about the shopper's own order or parcel rather than a
// rule, whether it tries to override the assistant, and whether the shopper
// is angry.
//
// The model is linear: multinomial logistic regression for the intent and
// one logistic regression per yes/no head, over hashed features of the
// folded text (character n-grams, words, word pairs), the phrase lists in
// cues.go (as features, not verdicts) and the message's shape (identifiers
// that look like order numbers or like model numbers, length, capitals
// outside identifiers, exclamation marks). Training is deterministic: the
// weights embedded in weights.bin are what `go generate ./understand`
// writes from the labelled sets in the repository (data/*.jsonl and the
// train half of the demo shop's golden sets), byte for byte.
//
// Identifiers are read by shape (ids.go): an order or tracking number is a
// short letter prefix followed only by digits (W260912-1001,
// SF1409283756120) or a long run of digits; a token with letters after its
// digits or several letter groups (F8033-UDmini, MR-421WUFPZE, LM-HP-001)
// is a model number or SKU.
package understand

//go:generate go run ./cmd/train -root .. -out weights.bin
