package understand

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Shape is how a message is written, apart from what it says.
type Shape struct {
	IDs []Identifier
	// Letters counts the ASCII letters of words that are not identifiers;
	// Upper how many of them are capitals.
	Letters, Upper int
	// Shouted counts words of three or more letters written in capitals,
	// leaving out identifiers, words with digits and known abbreviations.
	Shouted int
	Bangs   int // "!" and "！"
	MarkRun int // the longest run of ! and ? (either width)
	// Anger is the phrase-and-shape score of the rules kefu used before the
	// model: strong anger words two, mild ones and sarcasm one, angry
	// emoji, "!!", and shouting.
	Anger int
}

// Shouting reports a message written mostly in capitals ("WHERE IS MY
// ORDER"), not counting identifiers such as MR-421WUFPZE.
func (s Shape) Shouting() bool { return s.Letters >= 8 && s.Upper*10 >= s.Letters*7 }

// ShapeOf reads raw, the message as written, and folded, its Fold with a
// space at both ends.
func ShapeOf(raw, folded string) Shape {
	raw = norm.NFKC.String(raw)
	s := Shape{IDs: identifiersOf(raw)}
	run := 0
	for _, r := range raw {
		switch r {
		case '!', '！':
			s.Bangs++
			fallthrough
		case '?', '？':
			run++
			s.MarkRun = max(s.MarkRun, run)
		default:
			run = 0
		}
	}
	for _, w := range idTokens(raw) {
		if strings.IndexFunc(w, unicode.IsDigit) >= 0 {
			continue // identifiers, quantities, numbers
		}
		for _, part := range strings.FieldsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if abbreviations[part] {
				continue
			}
			up := 0
			for i := 0; i < len(part); i++ {
				if part[i] >= 'A' && part[i] <= 'Z' {
					up++
				}
			}
			s.Letters += len(part)
			s.Upper += up
			if len(part) >= 3 && up == len(part) {
				s.Shouted++
			}
		}
	}
	s.Anger = 2*CountCues(folded, Cues.StrongAnger) + CountCues(folded, Cues.MildAnger) + CountCues(folded, Cues.Sarcasm)
	for _, e := range Cues.AngryEmoji {
		if strings.Contains(raw, e) {
			s.Anger++
		}
	}
	switch {
	case s.MarkRun >= 3:
		s.Anger += 2
	case s.MarkRun >= 2:
		s.Anger++
	}
	switch {
	case s.Shouted >= 3 || s.Shouting():
		s.Anger += 2
	case s.Shouted >= 1:
		s.Anger++
	}
	return s
}

// abbreviations are capitalised words that are not shouting.
var abbreviations = map[string]bool{
	"USB": true, "VAT": true, "USA": true, "GPS": true, "LED": true, "NFC": true, "SMS": true, "APP": true, "DOA": true,
	"CNY": true, "RMB": true, "HDMI": true, "GAN": true, "SKU": true, "ETA": true, "FAQ": true, "EMS": true, "DHL": true,
	"UPS": true, "JCB": true, "SSD": true, "RAM": true, "CPU": true, "PDF": true, "IOS": true, "AAA": true, "DIY": true,
	"ANC": true, "OLED": true, "LCD": true, "WIFI": true, "IPX": true, "SF": true, "JD": true, "EU": true, "UK": true,
	"PM": true, "AM": true, "TV": true, "OK": true, "ID": true, "VIP": true, "QR": true, "API": true, "AI": true,
}
