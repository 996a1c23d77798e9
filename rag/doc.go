// Package rag is kefu's answering pipeline. For one shopper turn it
// understands the message (language, intent, sentiment, a standalone form of
// a follow-up), decides what to do (answer, ask the shopper to sign in,
// escalate to a human, refuse), retrieves from the shop's knowledge and the
// shopper's own orders, generates a cited answer and reports everything as a
// stream of typed events.
//
// Orders are read live first (OrderLookup, OrderLister), the ingested
// copies standing in, labelled, when the order system fails. With
// WithActions a signed-in shopper's request for an after-sales action on
// one of their orders is checked (EligibilityChecker), described and kept
// (ActionStore), and taken (ActionRunner) only on their explicit yes in
// the next turn; a turn reports it in Done.Action.
//
// rag declares the interfaces it needs (Searcher, Embedder, Generator, and
// those above) and
// never imports the adapters that satisfy them, nor the API that calls it.
package rag
