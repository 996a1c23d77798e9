package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
)

// MaxCustomerIDLen is the longest customer id a token may carry, in bytes.
const MaxCustomerIDLen = 128

// maxTokenLen bounds the work Verify does on hostile input: a real token
// with a 128-byte subject is well under 512 bytes.
const maxTokenLen = 2048

// b64 is unpadded base64url that rejects non-canonical encodings, so a
// token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// Limits of a shopper token's times, the defaults of Verifier.
const (
	// DefaultMaxTTL is the longest a token may live: a token whose exp is
	// further than this from its iat is refused, however it was signed.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultSkew is how far in the future a token's iat may lie, for the
	// clocks of the shop's backend and kefu to disagree.
	DefaultSkew = 60 * time.Second
	// MaxKeyIDLen is the longest key id (kid) a token may carry.
	MaxKeyIDLen = 64
)

// claims is a shopper token's payload. Kid, when set, names the secret
// that signed it, so that secrets can be rotated.
type claims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
	Kid string `json:"kid,omitempty"`
}

// Secret is one HMAC secret of shopper tokens with its optional key id. A
// token minted with a Secret that has an ID carries it as its kid.
type Secret struct {
	ID  string
	Key []byte
}

// Verifier checks shopper tokens against a list of secrets: the current one
// first, then previous ones still accepted while the shop's backend moves
// to the current one. The zero MaxTTL and Skew mean DefaultMaxTTL and
// DefaultSkew. A Verifier with no non-empty secret refuses every token.
type Verifier struct {
	Secrets []Secret
	MaxTTL  time.Duration
	Skew    time.Duration
}

// Mint returns a shopper token for customerID, issued at now and valid for
// ttl. It fails with kefu.EInvalid when secret is empty (a token signed with
// an empty key proves nothing), when customerID is not a valid customer id
// (see ValidCustomerID) or when ttl is not positive.
func Mint(secret []byte, customerID string, ttl time.Duration, now time.Time) (string, error) {
	return MintWith(Secret{Key: secret}, customerID, ttl, now)
}

// MintWith is Mint with a key id: the token carries secret.ID as its kid
// when it is set. It fails with kefu.EInvalid also when the id is longer
// than MaxKeyIDLen or not of the characters of a customer id.
func MintWith(sec Secret, customerID string, ttl time.Duration, now time.Time) (string, error) {
	secret := sec.Key
	if sec.ID != "" && !validKeyID(sec.ID) {
		return "", kefu.Errorf(kefu.EInvalid, "token key id must be 1 to %d characters of A-Z a-z 0-9 _ . @ -", MaxKeyIDLen)
	}
	if len(secret) == 0 {
		return "", kefu.Errorf(kefu.EInvalid, "the shopper token secret is empty")
	}
	if !ValidCustomerID(customerID) {
		return "", kefu.Errorf(kefu.EInvalid,
			"customer id must be 1 to %d characters of A-Z a-z 0-9 _ . @ -", MaxCustomerIDLen)
	}
	if ttl <= 0 {
		return "", kefu.Errorf(kefu.EInvalid, "token lifetime must be positive, got %s", ttl)
	}
	// Expiry is rounded up to a whole second so a token never lives
	// shorter than asked.
	exp := now.Add(ttl)
	if exp.Truncate(time.Second).Before(exp) {
		exp = exp.Truncate(time.Second).Add(time.Second)
	}
	payload, err := json.Marshal(claims{Sub: customerID, Exp: exp.Unix(), Iat: now.Unix(), Kid: sec.ID})
	if err != nil {
		return "", kefu.WrapError(kefu.EInternal, "encode token", err)
	}
	p := b64.EncodeToString(payload)
	return p + "." + b64.EncodeToString(sign(secret, p)), nil
}

// Verify checks a shopper token at time now against one secret, with the
// default lifetime and skew limits, and returns its customer id; see
// Verifier.Verify.
func Verify(secret []byte, token string, now time.Time) (customerID string, err error) {
	return Verifier{Secrets: []Secret{{Key: secret}}}.Verify(token, now)
}

// Verify checks a shopper token at time now and returns its customer id.
// The signature is checked, in constant time and against every secret,
// before the payload is read. A token is refused when it is malformed, its
// signature matches none of the secrets, its kid names another secret than
// the one that signed it, it has expired (now is at or after exp), it was
// issued more than Skew in the future, it lives longer than MaxTTL (exp -
// iat), or its subject is not a valid customer id. Errors are *kefu.Error
// with code kefu.EUnauthorized and a message that names the reason
// ("malformed token", "token signature invalid", "token expired", ...).
func (v Verifier) Verify(token string, now time.Time) (customerID string, err error) {
	keys := make([]Secret, 0, len(v.Secrets))
	for _, s := range v.Secrets {
		if len(s.Key) > 0 {
			keys = append(keys, s)
		}
	}
	if len(keys) == 0 {
		return "", kefu.Errorf(kefu.EUnauthorized, "shopper tokens are not accepted: no token secret is configured")
	}
	maxTTL, skew := v.MaxTTL, v.Skew
	if maxTTL <= 0 {
		maxTTL = DefaultMaxTTL
	}
	if skew <= 0 {
		skew = DefaultSkew
	}
	// Times are whole seconds: iat is cut down and exp rounded up, so a
	// token of exactly maxTTL may span one second more.
	maxSeconds := int64((maxTTL+time.Second-1)/time.Second) + 1
	if len(token) > maxTokenLen {
		return "", malformed("malformed token: too long")
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok || p == "" || s == "" || strings.Contains(s, ".") {
		return "", malformed("malformed token: want two base64url parts separated by a dot")
	}
	sig, err := b64.DecodeString(s)
	if err != nil || len(sig) != sha256.Size {
		return "", malformed("malformed token: bad signature encoding")
	}
	signer := -1
	for i, k := range keys { // every secret is tried, so timing tells not which matched
		if hmac.Equal(sig, sign(k.Key, p)) && signer < 0 {
			signer = i
		}
	}
	if signer < 0 {
		return "", kefu.Errorf(kefu.EUnauthorized, "token signature invalid")
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return "", malformed("malformed token: bad payload encoding")
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil || dec.More() {
		return "", malformed("malformed token: payload is not a JSON object of sub, exp, iat and kid")
	}
	switch {
	case c.Exp == 0:
		return "", malformed("malformed token: no expiry")
	case c.Kid != "" && keys[signer].ID != "" && c.Kid != keys[signer].ID:
		return "", kefu.Errorf(kefu.EUnauthorized, "token key id does not name the secret that signed it")
	case now.Unix() >= c.Exp:
		return "", kefu.Errorf(kefu.EUnauthorized, "token expired")
	case c.Sub == "":
		return "", malformed("malformed token: no subject")
	case !ValidCustomerID(c.Sub):
		return "", malformed("malformed token: subject is not a valid customer id")
	case c.Iat > now.Add(skew).Unix():
		return "", kefu.Errorf(kefu.EUnauthorized, "token issued in the future (iat is more than %s ahead of this server's clock)", skew)
	case c.Iat != 0 && c.Exp-c.Iat > maxSeconds:
		return "", kefu.Errorf(kefu.EUnauthorized, "token lives longer than the %s this server accepts (exp - iat)", maxTTL)
	case c.Iat == 0 && c.Exp-now.Unix() > maxSeconds:
		// A token without an issue time may not reach further ahead than
		// the longest lifetime.
		return "", kefu.Errorf(kefu.EUnauthorized, "token has no issue time and expires more than %s from now", maxTTL)
	}
	return c.Sub, nil
}

// ValidCustomerID reports whether id can name a customer: 1 to
// MaxCustomerIDLen bytes of A-Z, a-z, 0-9, '_', '.', '@' and '-'.
func ValidCustomerID(id string) bool {
	if id == "" || len(id) > MaxCustomerIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '_', b == '.', b == '@', b == '-':
		default:
			return false
		}
	}
	return true
}

// validKeyID reports whether id can be a token's kid.
func validKeyID(id string) bool { return len(id) <= MaxKeyIDLen && ValidCustomerID(id) }

func sign(secret []byte, payloadPart string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payloadPart))
	return m.Sum(nil)
}

func malformed(msg string) error { return kefu.Errorf(kefu.EUnauthorized, "%s", msg) }
