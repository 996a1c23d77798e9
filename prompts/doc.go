// Package prompts holds kefu's versioned text templates, embedded in the
// binary: the fixed replies of the pipeline (sign in, refuse, hand off, not
// found) and the prompts a language model receives, one file per locale.
// Templates are rendered with text/template; golden tests under testdata/
// pin their output (go test ./prompts -update rewrites them).
package prompts
