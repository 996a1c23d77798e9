package store

// OpenTimeout is Open with a chosen lock timeout, so a test of a held lock
// need not wait the full two seconds.
var OpenTimeout = open
