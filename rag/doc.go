// Package rag is kefu's answering pipeline. For one shopper turn it
// understands the message (language, intent, sentiment, a standalone form of
// a follow-up), decides what to do (answer, ask the shopper to sign in,
// escalate to a human, refuse), retrieves from the shop's knowledge and the
// shopper's own orders, generates a cited answer and reports everything as a
// stream of typed events.
//
// rag declares the interfaces it needs (Searcher, Embedder, Generator) and
// never imports the adapters that satisfy them, nor the API that calls it.
package rag
