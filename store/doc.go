// Package store keeps conversations and their messages, shoppers' feedback
// on answers, escalation tickets with their webhook outbox, and the audit log
// of agent and admin access. The types
// here are what every implementation stores and returns;
// Bolt is the embedded implementation, one bbolt file in the data
// directory, used when no database server is configured. Consumers declare
// the few methods they need as their own interface, and package storetest
// holds the conformance suite that every implementation passes.
//
// A user message is appended before the answer is generated and the answer
// after, so what a shopper said is kept even when answering fails; an
// answer cut short by a failure is kept with Partial set.
//
// Every record that can hold a shopper's words or identity is sealed at
// rest with package seal (AES-256-GCM, the key's id in each record), and
// plaintext records of an older store still read; Reseal re-encrypts under
// the current key after a rotation. ApplyRetention removes what has
// outlived its window, EraseCustomer and ExportCustomer serve a shopper's
// rights, and the audit log is a hash chain that VerifyAudit checks.
package store
