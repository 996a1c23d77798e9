package embedded

// Shoppers misspell ("retrun", "refnud", "warrenty"). For Latin-script words
// the store keeps a deletion index over its vocabulary, as SymSpell does:
// every term of four or more letters is filed under each of its one-letter
// deletions. A query word the vocabulary lacks is then matched to the known
// term within one edit (insertion, deletion, substitution or adjacent
// transposition) that the most chunks contain.

const minTypoLen = 4

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
		df := len(s.post[t])
		if df > bestDF || (df == bestDF && df > 0 && t < best) {
			best, bestDF = t, df
		}
	}
	// word is a known term with one letter missing.
	for _, t := range s.typos[word] {
		consider(t)
	}
	for i := range len(word) {
		del := word[:i] + word[i+1:]
		// word has one letter too many.
		if _, ok := s.post[del]; ok {
			consider(del)
		}
		// word has one letter wrong, or two swapped.
		for _, t := range s.typos[del] {
			if len(t) == len(word) {
				consider(t)
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
