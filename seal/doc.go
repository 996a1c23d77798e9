// Package seal encrypts records at rest with AES-256-GCM from the standard
// library. A sealed record carries a small header, so that any store (the
// embedded bbolt store, a PostgreSQL store) can keep it as an opaque value
// and keys can be rotated:
//
//	version (1 byte, 0x01) | key id (4 bytes) | nonce (12 bytes) | ciphertext and tag
//
// The key id is derived from the key itself (see KeyID), so a key needs no
// name. A Keyring holds the current key, which seals, and older keys kept
// only to open what was sealed before a rotation. The caller passes
// additional data (the record's place: its table and key) that is
// authenticated but not stored, so a sealed value copied to another place
// does not open.
//
// A version byte of 0x01 never begins a JSON document, so a store can tell
// a sealed value from a plaintext record written before encryption was
// introduced (IsSealed).
package seal
