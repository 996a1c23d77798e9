// Package llmtest is an in-process model server for tests, demos and load
// runs: it speaks the OpenAI chat-completions and embeddings API (streamed
// as server-sent events or not), Anthropic's /v1/messages stream, and Ollama's native /api/chat and
// /api/embed, answers each chat request with the next scripted Reply or an
// echo of the last user message, returns tool calls when told to, records
// every request it receives, and injects the faults a real backend shows:
// a slow first token, 429 with Retry-After, 500, a malformed chunk, a
// connection dropped mid-stream and a stream that never ends.
//
// Tests start one with NewServer and close it with t.Cleanup(s.Close);
// `kefu fake-llm` serves a Fake on a loopback address.
package llmtest
