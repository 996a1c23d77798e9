package embedded

import (
	"strings"
	"sync"
)

// Shoppers misspell ("retrun", "refnud", "warrenty"). For Latin-script words
// the store keeps a deletion index over its vocabulary, as SymSpell does:
// every term of four or more letters is filed under each of its one-letter
// deletions. A query word the vocabulary lacks is then matched to the known
// term within one edit (insertion, deletion, substitution or adjacent
// transposition) that the most chunks contain.

const minTypoLen = 4

// typoIndex is the deletion index of the base segment's vocabulary, built
// on the first word that needs it (most turns spell their words right).
type typoIndex struct {
	once sync.Once
	m    map[string][]string
}

func (x *typoIndex) lookup(g *segment, del string) []string {
	if x == nil || g == nil {
		return nil
	}
	x.once.Do(func() {
		x.m = map[string][]string{}
		for i := range g.nterms() {
			if t := g.term(i); latinWord(t) && len(t) >= minTypoLen {
				t = strings.Clone(t)
				for j := range len(t) {
					x.m[t[:j]+t[j+1:]] = append(x.m[t[:j]+t[j+1:]], t)
				}
			}
		}
	})
	return x.m[del]
}

func (s *Store) addTypoKeys(term string) {
	if !latinWord(term) || len(term) < minTypoLen {
		return
	}
	for i := range len(term) {
		del := term[:i] + term[i+1:]
		s.typos[del] = append(s.typos[del], term)
	}
}

// correct returns the known term one edit away from an unknown word, or ""
// when there is none. Ties go to the more frequent term, then the smaller.
func (s *Store) correct(word string) string {
	if !latinWord(word) || len(word) < minTypoLen {
		return ""
	}
	best, bestDF := "", 0
	consider := func(t string) {
		df := s.df(t)
		if df > bestDF || (df == bestDF && df > 0 && t < best) {
			best, bestDF = t, df
		}
	}
	// word is a known term with one letter missing.
	for _, t := range s.typos[word] {
		consider(t)
	}
	for _, t := range s.baseTypos.lookup(s.base, word) {
		consider(t)
	}
	for i := range len(word) {
		del := word[:i] + word[i+1:]
		// word has one letter too many.
		if s.df(del) > 0 {
			consider(del)
		}
		// word has one letter wrong, or two swapped.
		for _, ts := range [][]string{s.typos[del], s.baseTypos.lookup(s.base, del)} {
			for _, t := range ts {
				if len(t) == len(word) {
					consider(t)
				}
			}
		}
	}
	return best
}

func latinWord(t string) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return len(t) > 0
}
