// Package embedding turns text into vectors for dense retrieval. Local, the
// default, needs no network and no model files: it hashes words, character
// trigrams and Chinese character n-grams into a fixed-size vector. Remote
// embedders (OpenAI-compatible, Ollama) live in sub-packages.
package embedding
