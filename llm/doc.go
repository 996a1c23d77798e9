// Package llm holds kefu's answer generators behind one small interface
// (Generate a stream of text from a kefu.GenerateRequest). Extractive, the
// default, needs no model: it quotes the retrieved sentences that best match
// the question and cites them. Model-backed generators live in
// sub-packages and fall back to it.
package llm
