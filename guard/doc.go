// Package guard holds kefu's input and output guardrails: text
// normalisation that undoes Unicode tricks (zero-width characters,
// full-width letters, homoglyphs, spaced-out and leet-speak words) before any
// check runs, prompt-injection and jailbreak detection, PII detection and
// redaction (e-mail, phone numbers, bank cards with the Luhn check, Chinese
// resident ID numbers with their checksum, street addresses), a redacting
// slog handler, the grounding check of an answer against its sources, and
// the detection of urgent reports (a product on fire or an injury, a fraud)
// that a person must handle at once.
//
// Every function is pure and safe for concurrent use; nothing here logs or
// does I/O.
package guard
