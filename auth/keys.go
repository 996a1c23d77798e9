package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"github.com/kefuhq/kefu"
)

// Role is what an API key may do. Roles are ordered: an admin key may do
// whatever an agent key may, and an agent key whatever a widget key may.
type Role string

// API key roles.
const (
	RoleWidget Role = "widget" // the shopper-facing chat widget
	RoleAgent  Role = "agent"  // a human agent's console
	RoleAdmin  Role = "admin"  // configuration, analytics, data deletion
)

func (r Role) rank() int {
	switch r {
	case RoleWidget:
		return 1
	case RoleAgent:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a key with role r may do what needs role need. An
// undefined role allows nothing.
func (r Role) Allows(need Role) bool { return r.Valid() && need.Valid() && r.rank() >= need.rank() }

// hashPrefix marks the hash scheme in KeyConfig.Hash.
const hashPrefix = "sha256:"

// MinKeyLen is the shortest plain API key Keys accepts, in bytes.
const MinKeyLen = 16

// KeyConfig is one API key as configured. Exactly one of Hash and Key is
// set: Hash ("sha256:<64 hex digits>", as HashKey returns) for keys kept in
// a config file, Key for a plain key passed through the environment, which
// NewKeys hashes and does not keep.
type KeyConfig struct {
	Name string `json:"name" yaml:"name"` // shown in logs and audit records; never the key
	Role Role   `json:"role" yaml:"role"`
	Hash string `json:"hash,omitempty" yaml:"hash,omitempty"`
	Key  string `json:"key,omitempty" yaml:"key,omitempty"`
}

// Keys is a set of API keys, held as hashes. The zero value and a nil *Keys
// hold no keys. A Keys is immutable and safe for concurrent use.
type Keys struct {
	entries []keyEntry
}

type keyEntry struct {
	name string
	role Role
	sum  [sha256.Size]byte
}

// HashKey returns the form in which a key is stored: "sha256:" followed by
// the lower-case hex SHA-256 of key. API keys are long random strings, so a
// plain hash is enough; there is nothing to guess.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// NewKeys builds a key set from configuration. It fails with kefu.EInvalid,
// naming the entry (never the key), when a name is empty or repeated, a role
// is not one of the defined roles, neither or both of Hash and Key are set,
// a Hash is not "sha256:" and 64 hex digits, a Key is shorter than
// MinKeyLen, or two entries hold the same key.
func NewKeys(cfg []KeyConfig) (*Keys, error) {
	k := &Keys{entries: make([]keyEntry, 0, len(cfg))}
	names := make(map[string]bool, len(cfg))
	sums := make(map[[sha256.Size]byte]string, len(cfg))
	for i, c := range cfg {
		if c.Name == "" {
			return nil, kefu.Errorf(kefu.EInvalid, "API key #%d has no name", i+1)
		}
		if names[c.Name] {
			return nil, kefu.Errorf(kefu.EInvalid, "API key name %q is used twice", c.Name)
		}
		names[c.Name] = true
		if !c.Role.Valid() {
			return nil, kefu.Errorf(kefu.EInvalid, "API key %q: role %q is not one of widget, agent, admin", c.Name, c.Role)
		}
		e := keyEntry{name: c.Name, role: c.Role}
		switch {
		case c.Hash != "" && c.Key != "":
			return nil, kefu.Errorf(kefu.EInvalid, "API key %q: set either hash or key, not both", c.Name)
		case c.Hash != "":
			sum, ok := parseHash(c.Hash)
			if !ok {
				return nil, kefu.Errorf(kefu.EInvalid, "API key %q: hash must be \"sha256:\" followed by 64 hex digits", c.Name)
			}
			e.sum = sum
		case c.Key != "":
			if len(c.Key) < MinKeyLen {
				return nil, kefu.Errorf(kefu.EInvalid, "API key %q is shorter than %d characters", c.Name, MinKeyLen)
			}
			e.sum = sha256.Sum256([]byte(c.Key))
		default:
			return nil, kefu.Errorf(kefu.EInvalid, "API key %q has neither hash nor key", c.Name)
		}
		if other, dup := sums[e.sum]; dup {
			return nil, kefu.Errorf(kefu.EInvalid, "API keys %q and %q are the same key", other, c.Name)
		}
		sums[e.sum] = c.Name
		k.entries = append(k.entries, e)
	}
	return k, nil
}

func parseHash(h string) (sum [sha256.Size]byte, ok bool) {
	rest, found := strings.CutPrefix(h, hashPrefix)
	if !found || len(rest) != 2*sha256.Size {
		return sum, false
	}
	if _, err := hex.Decode(sum[:], []byte(strings.ToLower(rest))); err != nil {
		return sum, false
	}
	return sum, true
}

// Len returns the number of keys. With none, the API runs open.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.entries)
}

// Lookup finds the key presented by a client. It hashes presented and
// compares the hash with every configured hash in constant time, so the
// time taken does not depend on which key (if any) matched or where the
// bytes differ. An empty presented key never matches.
func (k *Keys) Lookup(presented string) (name string, role Role, ok bool) {
	if k == nil || presented == "" {
		return "", "", false
	}
	sum := sha256.Sum256([]byte(presented))
	for _, e := range k.entries {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			name, role, ok = e.name, e.role, true
		}
	}
	return name, role, ok
}
