package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
)

// synthCorpus builds n pseudo-random chunks over a mixed English and Chinese
// vocabulary, with a Zipf-like word distribution, in docs of perDoc chunks.
func synthCorpus(n, perDoc int, emb *embedding.Local) ([]kefu.Document, [][]kefu.Chunk) {
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
	var docs []kefu.Document
	var chunks [][]kefu.Chunk
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
				Title: id, Source: doc.Source, CustomerID: doc.CustomerID, Text: text, Vector: emb.Vector(text)})
		}
		docs = append(docs, doc)
		chunks = append(chunks, cs)
	}
	return docs, chunks
}

// BenchmarkHybridSearch100k measures one hybrid query, query embedding
// included, over 100,000 synthetic chunks, and reports the p50/p95 latency
// of the iterations as extra metrics.
func BenchmarkHybridSearch100k(b *testing.B) {
	ctx := context.Background()
	emb := embedding.NewLocal(embedding.DefaultDims)
	s, err := Open(b.TempDir(), EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.db.NoSync = true
	docs, chunks := synthCorpus(100_000, 100, emb)
	for i := range docs {
		if err := s.Replace(ctx, docs[i], chunks[i]); err != nil {
			b.Fatal(err)
		}
	}
	queries := []string{
		"how many days do I have to return opened earbuds",
		"refund to alipay how long",
		"退货运费谁出",
		"保修期多久 维修",
		"is the kettle in stock, what colour",
		"tracking my parcel express delivery",
		"发票 怎么开 支付宝",
		"warranty repair broken charger cable",
	}
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := queries[i%len(queries)]
		start := time.Now()
		vec := emb.Vector(q)
		hits, err := s.Search(ctx, kefu.Query{Text: q, Vector: vec, Filter: kefu.Filter{CustomerID: "C0010"}, TopK: 10})
		durs = append(durs, time.Since(start))
		if err != nil || len(hits) == 0 {
			b.Fatalf("search %q: %v, %d hits", q, err, len(hits))
		}
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
}
