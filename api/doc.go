// Package api is kefu's HTTP API, built on gin: the chat endpoint (one JSON
// reply, or the same content as server-sent events), a conversation's
// messages and feedback for the shopper who owns it, the agent console's
// ticket queue (claim, reply, resolve), document administration and
// analytics, an OpenAI-compatible /v1/chat/completions facade over the
// whole pipeline, health, readiness and Prometheus metrics.
//
// The package turns HTTP into calls on small interfaces it declares itself
// (Answerer, Conversations) and turns their results and errors back into
// HTTP: every error reaches the client as
// {"error": {"code": "...", "message": "..."}} with the status its
// kefu.Error code maps to, and reaches the log, with its cause, on the one
// line written per request. Handlers stay thin: they decode and validate a
// request, call the dependencies and encode the reply.
//
// Who is calling is settled before a handler runs: an API key (when any are
// configured) says which integration it is and what its role allows, and an
// optional shopper token, signed by the shop's backend, says which customer
// is chatting. The customer id never comes from a request body.
//
// NewCLIHandler serves, apart from the API and on a loopback listener of
// its own, the endpoints through which kefu ask, ingest and eval reach a
// running server that holds their data dir; a per-start credential and
// the peer's address admit them, and their errors carry the cause, for the
// operator at the terminal.
package api
