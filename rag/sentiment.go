package rag

import "github.com/kefuhq/kefu/understand"

// Anger is the model's verdict (understand.Prediction.IsAngry), which reads
// the strong and mild anger words, sarcasm, angry emoji, "!!" and "？？" and
// shouting in capitals as features, beside the words themselves. Capitals
// in identifiers (MR-421WUFPZE) are not shouting. Short of anger, the same
// signs make a message negative, and thanks make it positive.
var (
	positiveCue = []string{"great", "love", "awesome", "thanks", "thank you", "perfect", "appreciate", "谢谢", "很好", "满意", "喜欢", "赞", "感谢"}
	negativeCue = []string{"disappoint", "not happy", "unhappy", "annoy", "frustrat", "bad", "broken", "late", "damaged", "rude", "失望", "不满意", "烦", "慢", "坏了", "差", "破损"}
)

// sentiment reads the folded message (norm) and the model's prediction.
func sentiment(norm string, p understand.Prediction) string {
	switch {
	case p.IsAngry():
		return SentimentAngry
	case p.Analysis.Shape.Anger > 0, hasAny(norm, negativeCue):
		return SentimentNegative
	case hasAny(norm, positiveCue):
		return SentimentPositive
	}
	return SentimentNeutral
}
