package understand

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/kefuhq/kefu"
)

// Intents are the intent head's classes, in the order of its outputs.
var Intents = []string{
	"order_status", "return_refund", "shipping", "product_question", "payment", "account", "warranty",
	"complaint", "human_request", "chit_chat", "out_of_scope", "other",
}

// The yes/no heads follow the intent classes among the model's outputs.
const (
	headMyOrders = iota
	headAttack
	headAngry
	numBinary
)

var numOut = len(Intents) + numBinary

// intentOutOfScope is the index of "out_of_scope" in Intents.
const (
	intentOutOfScope = 10
	intentOther      = 11
)

// Prediction is what the model reads in one message.
type Prediction struct {
	// Intent is the most probable class of Intents, with its probability
	// (out_of_scope only at its threshold, and always for an attack).
	Intent     string
	IntentProb float64
	// Probs holds the probability of each class of Intents, in order.
	Probs []float64
	// MyOrders is the probability that the message asks about the
	// shopper's own order, parcel or refund (rather than a rule).
	MyOrders float64
	// Attack is the probability of prompt injection: overriding the
	// assistant's instructions, making it play a role or say something,
	// or extracting its prompt or other shoppers' data.
	Attack float64
	// Angry is the probability that the shopper is angry.
	Angry float64
	// KnownWords is the share of the message's words the model has
	// weights for; with none, the intent is "other".
	KnownWords float64
	// Analysis is what the features were computed from.
	Analysis Analysis
	th       Thresholds
}

// Prob is the probability of intent, 0 for a name not in Intents.
func (p Prediction) Prob(intent string) float64 {
	for i, name := range Intents {
		if name == intent {
			return p.Probs[i]
		}
	}
	return 0
}

// Model is a trained linear model. Its zero value is not usable; get one
// from Default or Load. A Model is safe for concurrent use.
type Model struct {
	rows map[uint32]int32 // feature -> first of its numOut weights in w
	w    []float32
	bias []float32
	// Thresholds are the probabilities at which the model's verdicts
	// fire, chosen by cross-validation on the training half.
	Thresholds Thresholds
}

// Thresholds are the probabilities at which a head's verdict fires.
type Thresholds struct {
	Attack, Angry, MyOrders float64
	// OutOfScope is the probability the out_of_scope class needs to be
	// the intent; below it the next most probable class is.
	OutOfScope float64
}

//go:embed weights.bin
var weights []byte

var defaultModel = sync.OnceValues(func() (*Model, error) { return Load(weights) })

// Default returns the model embedded in the binary (weights.bin). It
// fails only if that file is corrupt, which the package's tests rule out.
func Default() (*Model, error) { return defaultModel() }

// Predict reads one message. Only the first MaxInput bytes count.
func (m *Model) Predict(text string) Prediction {
	a := Analyse(text)
	scores := make([]float64, numOut)
	for k := range scores {
		scores[k] = float64(m.bias[k])
	}
	var words, known int
	for _, f := range a.feats {
		if f.word {
			words++
		}
		r, ok := m.rows[f.Hash]
		if !ok {
			continue
		}
		if f.word {
			known++
		}
		row := m.w[r : int(r)+numOut]
		for k, w := range row {
			scores[k] += float64(w * f.Value)
		}
	}
	p := m.prediction(scores)
	p.Analysis = a
	p.KnownWords = 1
	if words > 0 {
		p.KnownWords = float64(known) / float64(words)
	}
	if words > 0 && known == 0 && !p.IsAttack() {
		// None of the message's words is one the model learned: whatever
		// it guesses is a guess.
		p.Intent = Intents[intentOther]
	}
	return p
}

// prediction turns the outputs' scores into probabilities and verdicts.
func (m *Model) prediction(scores []float64) Prediction {
	p := Prediction{Probs: softmax(scores[:len(Intents)]), th: m.Thresholds}
	best := -1
	for k, q := range p.Probs {
		if k == intentOutOfScope && q < m.Thresholds.OutOfScope {
			continue
		}
		if best < 0 || q > p.Probs[best] {
			best = k
		}
	}
	p.Intent, p.IntentProb = Intents[best], p.Probs[best]
	bin := scores[len(Intents):]
	p.MyOrders, p.Attack, p.Angry = sigmoid(bin[headMyOrders]), sigmoid(bin[headAttack]), sigmoid(bin[headAngry])
	if p.IsAttack() {
		// An attempt to subvert the assistant is not a shop question,
		// whatever it mentions.
		p.Intent, p.IntentProb = Intents[intentOutOfScope], p.Probs[intentOutOfScope]
	}
	return p
}

func softmax(s []float64) []float64 {
	out := make([]float64, len(s))
	top := s[0]
	for _, x := range s {
		top = max(top, x)
	}
	var sum float64
	for i, x := range s {
		out[i] = math.Exp(x - top)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// The weights file: magic and version, the number of outputs, the intent
// names, one scale and one bias per output (float32), the thresholds
// (float32: attack, angry, my_orders, out_of_scope), the number of rows,
// then each row as the uvarint difference of its feature from the one
// before and numOut signed bytes (weight = byte * scale).
const magic = "KEFUUND1"

const numThresholds = 4

// Load decodes a weights file written by Train.
func Load(b []byte) (*Model, error) {
	bad := func(why string) (*Model, error) {
		return nil, kefu.Errorf(kefu.EInvalid, "understand: bad weights file: %s", why)
	}
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return bad("no header")
	}
	b = b[len(magic):]
	n, k := binary.Uvarint(b)
	if k <= 0 || int(n) != numOut {
		return bad(fmt.Sprintf("%d outputs, want %d", n, numOut))
	}
	b = b[k:]
	for _, name := range Intents {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l || string(b[k:k+int(l)]) != name {
			return bad("intent classes differ from this build's")
		}
		b = b[k+int(l):]
	}
	if len(b) < 8*numOut+4*numThresholds {
		return bad("short header")
	}
	scale := make([]float32, numOut)
	m := &Model{bias: make([]float32, numOut)}
	for i := range numOut {
		scale[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		m.bias[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(numOut+i):]))
	}
	b = b[8*numOut:]
	th := make([]float64, numThresholds)
	for i := range th {
		th[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
	m.Thresholds = Thresholds{Attack: th[0], Angry: th[1], MyOrders: th[2], OutOfScope: th[3]}
	b = b[4*numThresholds:]
	rows, k := binary.Uvarint(b)
	if k <= 0 || rows > uint64(len(b))/uint64(numOut) {
		return bad("row count")
	}
	b = b[k:]
	m.rows = make(map[uint32]int32, rows)
	m.w = make([]float32, 0, int(rows)*numOut)
	var feat uint64
	for r := range int(rows) {
		d, k := binary.Uvarint(b)
		if k <= 0 || len(b) < k+numOut || (r > 0 && d == 0) || feat+d > math.MaxUint32 {
			return bad(fmt.Sprintf("row %d", r))
		}
		feat += d
		b = b[k:]
		m.rows[uint32(feat)] = int32(len(m.w))
		for i := range numOut {
			m.w = append(m.w, float32(int8(b[i]))*scale[i])
		}
		b = b[numOut:]
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return m, nil
}
