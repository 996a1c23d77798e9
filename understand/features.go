package understand

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/tokenize"
)

// MaxInput is how many bytes of a message the model reads; the rest is
// ignored (a shopper's message is a few hundred bytes at most).
const MaxInput = 4000

// Placeholders stand for identifiers in the text the n-grams are taken
// from, so the model learns "an order number is here", not which one.
const (
	orderPlaceholder = " qxorderid "
	modelPlaceholder = " qxmodelid "
)

// Analysis is what the features are computed from, kept for the caller.
type Analysis struct {
	Folded string // guard.Fold of the message, a space at both ends
	Shape  Shape
	// InjectionReason is guard.Injection's reason code, "" when the rules
	// found no attack.
	InjectionReason string
	feats           []Feature
}

// Feature is one hashed feature and its value.
type Feature struct {
	Hash  uint32
	Value float32
	word  bool // a word of the message (not a pair, n-gram, cue or shape)
}

// Feature groups: each group's values are scaled to unit length, so the
// few phrase-list and shape features weigh as much as the many n-grams.
const (
	groupGrams = iota // character n-grams
	groupWords        // words and word pairs
	groupCues         // phrase lists and the injection rules
	groupShape        // identifiers, length, capitals, marks
	numGroups
)

// groupWeight is each group's length after scaling.
var groupWeight = [numGroups]float64{1, 1, 1, 1}

// Features returns the hashed features of a message, sorted by hash and
// distinct.
func Features(text string) []Feature { return Analyse(text).feats }

// Analyse folds a message, reads its shape and computes its features.
func Analyse(text string) Analysis {
	text = truncate(text, MaxInput)
	nf := norm.NFKC.String(text)
	folded := " " + guard.Fold(nf) + " "
	sh := ShapeOf(nf, folded)
	masked := guard.Fold(maskIDs(nf))
	hidden := guard.Hidden(text)
	reason, _ := guard.InjectionIn(append([]string{strings.TrimSpace(folded)}, hidden...)...)
	f := featSet{out: make([]uint32, 0, 256), group: make([]uint8, 0, 256)}
	f.g = groupGrams
	f.charGrams(masked)
	f.g = groupWords
	terms := tokenize.Terms(masked)
	for _, t := range terms {
		f.add('w', t)
		f.words = append(f.words, f.out[len(f.out)-1])
	}
	f.wordPairs(masked)
	f.g = groupCues
	f.add('q', "bias")
	var pairs pairSet
	ps := &pairs
	ps.fill(folded)
	var fired []string
	for _, c := range cueFeatures {
		switch n := c.list.count(folded, ps); {
		case n >= 2:
			f.add('q', c.name+"2")
			fallthrough
		case n == 1:
			f.add('q', c.name)
			fired = append(fired, c.name)
		}
	}
	f.cuePairs(fired)
	f.hiddenCues(hidden, fired)
	if shopWords.count(folded, ps) == 0 && !hasTopic(folded, ps) {
		f.add('q', "noshop")
	}
	if reason != "" {
		f.add('q', "inject")
		f.add('q', "inject:"+reason)
	}
	f.g = groupShape
	f.shape(sh, masked, len(terms))
	return Analysis{Folded: folded, Shape: sh, InjectionReason: reason, feats: f.features()}
}

var shopWords = compileList(Cues.ShopWords)

// cuePairs adds a feature for each pair of phrase lists the message hits:
// a linear model cannot tell "you" and "show me" and "instructions"
// together from each apart, and an attempt is such a combination of words
// that are innocent one by one.
func (f *featSet) cuePairs(fired []string) {
	for i, a := range fired {
		for _, b := range fired[i+1:] {
			f.add('p', a+"&"+b)
		}
	}
}

// attackLists are the phrase lists read again in a message's hidden
// readings (guard.Hidden).
var attackLists = func() []cueFeature {
	var out []cueFeature
	for _, c := range cueFeatures {
		if strings.HasPrefix(c.name, "atk:") || c.name == "you" {
			out = append(out, c)
		}
	}
	return out
}()

// hiddenCues adds the attack lists that a hidden reading of the message
// (decoded, unescaped, spelled out, reversed, ROT13) hits and the folded
// message does not: words written so that a reader does not see them.
func (f *featSet) hiddenCues(readings []string, fired []string) {
	n := 0
	for _, r := range readings {
		r = " " + r + " "
		var ps pairSet
		ps.fill(r)
		for _, c := range attackLists {
			if !slices.Contains(fired, c.name) && c.list.count(r, &ps) > 0 {
				f.add('q', "hidden:"+c.name)
				n++
			}
		}
	}
	if n > 0 {
		f.add('q', "hidden"+bucket(n, 1, 2))
	}
}

func hasTopic(folded string, ps *pairSet) bool {
	for _, c := range cueFeatures {
		if strings.HasPrefix(c.name, "topic:") && c.list.count(folded, ps) > 0 {
			return true
		}
	}
	return false
}

// features gives each collected feature its group's value, sorted by hash,
// the first of equal hashes kept.
func (f *featSet) features() []Feature {
	var n [numGroups]int
	for _, g := range f.group {
		n[g]++
	}
	var val [numGroups]float32
	for g := range val {
		if n[g] > 0 {
			val[g] = float32(groupWeight[g] / math.Sqrt(float64(n[g])))
		}
	}
	// Sort by hash, the first collected of equal hashes first, and keep
	// that one.
	keys := make([]uint64, len(f.out))
	for i, h := range f.out {
		keys[i] = uint64(h)<<32 | uint64(i)
	}
	slices.Sort(keys)
	out := make([]Feature, 0, len(keys))
	for _, k := range keys {
		h, i := uint32(k>>32), int(uint32(k))
		if len(out) > 0 && out[len(out)-1].Hash == h {
			continue
		}
		out = append(out, Feature{Hash: h, Value: val[f.group[i]], word: f.group[i] == groupWords && slices.Contains(f.words, h)})
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// maskIDs replaces the identifier-shaped tokens of s with placeholders.
func maskIDs(s string) string {
	spans := idSpans(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		k := classify(s[sp[0]:sp[1]])
		if k == 0 {
			continue
		}
		b.WriteString(s[last:sp[0]])
		if k == KindOrder {
			b.WriteString(orderPlaceholder)
		} else {
			b.WriteString(modelPlaceholder)
		}
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

type cueFeature struct {
	name string
	list cueList
}

var cueFeatures = func() []cueFeature {
	lists := []struct {
		name string
		list []string
	}{
		{"human", Cues.Human}, {"legal", Cues.Legal}, {"oos", Cues.OutOfScope}, {"oos!", Cues.StrongOutOfScope},
		{"complaint", Cues.Complaint}, {"order", Cues.OrderStatus}, {"policy", Cues.Policy}, {"chat", Cues.ChitChat},
		{"cont", Cues.Continuation}, {"identity", Cues.Identity}, {"follow", Cues.FollowUp},
		{"anger!", Cues.StrongAnger}, {"anger", Cues.MildAnger}, {"sarcasm", Cues.Sarcasm},
		{"atk:verb", Cues.AttackVerb}, {"atk:target", Cues.AttackTarget}, {"atk:authority", Cues.AttackAuthority},
		{"atk:others", Cues.AttackOthers}, {"atk:forced", Cues.AttackForced}, {"atk:role", Cues.AttackRole},
		{"atk:encoding", Cues.AttackEncoding}, {"shop", Cues.ShopWords},
		{"you", Cues.SecondPerson}, {"do", Cues.Directive}, {"person", Cues.OtherPerson}, {"pdata", Cues.PersonalData},
		{"commit", Cues.Commitment},
	}
	var out []cueFeature
	for _, l := range lists {
		out = append(out, cueFeature{l.name, compileList(l.list)})
	}
	topics := make([]string, 0, len(Cues.Topic))
	for t := range Cues.Topic {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		out = append(out, cueFeature{"topic:" + t, compileList(Cues.Topic[t])})
	}
	return out
}()

// featSet collects hashed features: FNV-1a over a namespace byte and the
// feature's text.
type featSet struct {
	out   []uint32
	group []uint8
	words []uint32 // the hashes of the message's words
	g     uint8    // the group being added to
	buf   [16]byte
}

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

func (f *featSet) add(ns byte, s string) {
	h := uint32(fnvOffset)
	h = (h ^ uint32(ns)) * fnvPrime
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * fnvPrime
	}
	f.out = append(f.out, h)
	f.group = append(f.group, f.g)
}

func (f *featSet) addRunes(ns byte, rs []rune) {
	h := uint32(fnvOffset)
	h = (h ^ uint32(ns)) * fnvPrime
	for _, r := range rs {
		n := utf8.EncodeRune(f.buf[:], r)
		for i := 0; i < n; i++ {
			h = (h ^ uint32(f.buf[i])) * fnvPrime
		}
	}
	f.out = append(f.out, h)
	f.group = append(f.group, f.g)
}

// charGrams adds character n-grams: 1 to 3 within each run of CJK
// characters, 2 to 4 over the rest (letters, digits written as 0, "!" and
// "?", single spaces between words, one at each end).
func (f *featSet) charGrams(s string) {
	var cjk, latin []rune
	flushCJK := func() {
		for n := 1; n <= 3; n++ {
			for i := 0; i+n <= len(cjk); i++ {
				f.addRunes('c', cjk[i:i+n])
			}
		}
		cjk = cjk[:0]
	}
	space := func() {
		if len(latin) > 0 && latin[len(latin)-1] != ' ' {
			latin = append(latin, ' ')
		}
	}
	latin = append(latin, ' ')
	for _, r := range s {
		switch {
		case r >= 0x2e80 && tokenize.IsCJK(r):
			cjk = append(cjk, r)
			space()
			continue
		case unicode.IsDigit(r):
			latin = append(latin, '0')
		case unicode.IsLetter(r), r == '!', r == '?':
			latin = append(latin, r)
		default:
			space()
		}
		if len(cjk) > 0 {
			flushCJK()
		}
	}
	flushCJK()
	space()
	for n := 2; n <= 4; n++ {
		for i := 0; i+n <= len(latin); i++ {
			if n == 2 && latin[i] == ' ' && latin[i+1] == ' ' {
				continue
			}
			f.addRunes('l', latin[i:i+n])
		}
	}
}

// wordPairs adds pairs of adjacent Latin words, unstemmed and with stop
// words kept ("my order" and "an order" differ).
func (f *featSet) wordPairs(s string) {
	words := strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'') || tokenize.IsCJK(r)
	})
	for i := 0; i+1 < len(words); i++ {
		f.add('b', words[i]+" "+words[i+1])
	}
}

func (f *featSet) shape(sh Shape, masked string, terms int) {
	var orders, models int
	for _, id := range sh.IDs {
		if id.Kind == KindOrder {
			orders++
		} else {
			models++
		}
	}
	if orders > 0 {
		f.add('s', "order-id")
	}
	if models > 0 {
		f.add('s', "model-id")
	}
	f.add('s', "ids"+bucket(len(sh.IDs), 0, 1, 2))
	f.add('s', "len"+bucket(terms, 1, 2, 3, 5, 8, 12, 20, 35))
	if sh.Letters >= 4 {
		share := sh.Upper * 10 / sh.Letters
		f.add('s', "caps"+bucket(share, 0, 2, 5, 7))
	}
	f.add('s', "shout"+bucket(sh.Shouted, 0, 1, 2, 3))
	f.add('s', "bang"+bucket(sh.Bangs, 0, 1, 2, 3))
	f.add('s', "marks"+bucket(sh.MarkRun, 0, 1, 2, 3))
	f.add('s', "anger"+bucket(sh.Anger, 0, 1, 2, 3, 4, 6))
	cjk := 0
	for _, r := range masked {
		if tokenize.IsCJK(r) {
			cjk++
			break
		}
	}
	if cjk > 0 {
		f.add('s', "zh")
	} else {
		f.add('s', "en")
	}
}

// bucket names the first of bounds that n is at most, or "+" past them.
func bucket(n int, bounds ...int) string {
	for i, b := range bounds {
		if n <= b {
			return string(rune('a' + i))
		}
	}
	return "+"
}
