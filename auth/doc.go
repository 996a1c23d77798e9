// Package auth decides who is calling kefu. It verifies two kinds of
// credential and nothing else:
//
//   - API keys, which identify an integration (the shop's chat widget, an
//     agent console, an admin tool) and carry a Role. Keys are held only as
//     SHA-256 hashes and compared in constant time.
//   - Shopper tokens, which the shop's own backend signs with a shared secret
//     to say which customer is chatting. A token is
//     base64url(payload JSON) "." base64url(HMAC-SHA256(secret, payload part))
//     with the payload {"sub": customer id, "exp": unix seconds, "iat": unix
//     seconds}. The customer id of a turn comes only from a verified token,
//     never from a request body.
//
// Every failure is a *kefu.Error with code kefu.EUnauthorized (or
// kefu.EInvalid for bad configuration) whose message is safe to show a
// client; no function here logs.
package auth
