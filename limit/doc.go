// Package limit holds request limits keyed by who asks: one token bucket
// per key (an API key's name, a shopper, a client address) and counted
// slots for long-lived requests, with the memory they take bounded however
// many keys an attacker invents. It knows nothing of HTTP; package api
// decides the keys and answers 429.
package limit
