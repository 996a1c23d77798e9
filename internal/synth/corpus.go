// Package synth makes synthetic shops for benchmarks: a store of any size
// with a realistic mix of English and Chinese text, without the data.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/kefuhq/kefu"
)

// Corpus builds n pseudo-random chunks over a mixed English and Chinese
// vocabulary, with a Zipf-like word distribution, in docs of perDoc chunks.
func Corpus(n, perDoc int, vector func(string) []float32) ([]kefu.Document, [][]kefu.Chunk) {
	var docs []kefu.Document
	var chunks [][]kefu.Chunk
	Each(n, perDoc, vector, func(d kefu.Document, cs []kefu.Chunk) error {
		docs = append(docs, d)
		chunks = append(chunks, cs)
		return nil
	})
	return docs, chunks
}

// Each makes the same documents as Corpus, one at a time, calling fn with
// each (for stores larger than memory would hold twice); it stops at fn's
// first error and returns it.
func Each(n, perDoc int, vector func(string) []float32, fn func(kefu.Document, []kefu.Chunk) error) error {
	r := rand.New(rand.NewPCG(1, 2))
	en := strings.Fields(`return refund order ship delivery warranty repair kettle earbuds speaker vacuum lamp charger cable
		price stock colour battery invoice payment alipay wechat card coupon member points account privacy data address
		courier express tracking parcel damaged broken exchange policy days hours weeks free fee restocking gift seal
		opened unopened receipt box manual accessory model size weight capacity power watt litre bluetooth noise waterproof`)
	zh := []rune("退货退款订单发货配送保修维修水壶耳机音箱吸尘器台灯充电器价格库存颜色电池发票支付宝微信优惠券会员积分隐私地址快递物流包裹损坏换货政策天小时免费运费礼品说明书型号尺寸重量容量功率蓝牙降噪防水")
	word := func() string {
		// Zipf-ish: low indexes are much more frequent.
		i := int(float64(len(en)) * r.Float64() * r.Float64())
		return en[i]
	}
	for d := 0; d*perDoc < n; d++ {
		id := fmt.Sprintf("doc-%05d", d)
		doc := kefu.Document{ID: id, Type: kefu.TypePolicy, Title: id, Source: "synthetic/" + id, Hash: id}
		if d%10 == 0 {
			doc.Type, doc.CustomerID = kefu.TypeOrder, fmt.Sprintf("C%04d", d%500)
		}
		var cs []kefu.Chunk
		for i := 0; i < perDoc && d*perDoc+i < n; i++ {
			var b strings.Builder
			for w := 0; w < 60; w++ {
				if r.IntN(3) == 0 {
					for k := 0; k < 2+r.IntN(3); k++ {
						b.WriteRune(zh[int(float64(len(zh))*r.Float64()*r.Float64())])
					}
				} else {
					b.WriteString(word())
				}
				b.WriteByte(' ')
			}
			text := b.String()
			cs = append(cs, kefu.Chunk{ID: fmt.Sprintf("%s#%d", id, i), DocID: id, Ordinal: i, Type: doc.Type,
				Title: id, Source: doc.Source, CustomerID: doc.CustomerID, Text: text, Vector: vector(text)})
		}
		if err := fn(doc, cs); err != nil {
			return err
		}
	}
	return nil
}
