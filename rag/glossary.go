package rag

import "strings"

// glossary maps the ways shoppers ask for something to the words the shop's
// documents use for it, across both languages: a Chinese shopper asking
// 续航 about a product whose record says "Battery life", or an English one
// asking "how much" of a record that says "Price". Matches add to a
// chunk's score (kefu.Query.Expand) without being required.
var glossary = []struct {
	asks   []string
	expand string
}{
	{[]string{"how much", "price", "cost", "cheaper", "cheapest", "expensive", "多少钱", "价格", "价钱", "几块", "便宜", "贵"}, "price 价格"},
	{[]string{"in stock", "available", "availability", "sold out", "restock", "有货", "有没有货", "库存", "现货", "卖完", "缺货"}, "stock 库存"},
	{[]string{"battery", "charge", "续航", "电池", "充电", "用多久"}, "battery life 续航 电池"},
	{[]string{"colour", "color", "颜色", "什么色"}, "colors colours 颜色"},
	{[]string{"warranty", "guarantee", "保修", "质保", "保多久"}, "warranty 保修"},
	{[]string{"weight", "heavy", "weigh", "重量", "多重", "多沉"}, "weight 重量"},
	{[]string{"capacity", "how big", "litre", "liter", "容量", "多大", "几升"}, "capacity 容量"},
	{[]string{"power", "watt", "wattage", "功率", "几瓦"}, "power watt 功率"},
	{[]string{"waterproof", "water proof", "water resistant", "shower", "swim", "防水", "洗澡", "游泳"}, "water resistance ipx 防水"},
	{[]string{"compatible", "work with", "works with", "fit", "支持", "兼容", "能用吗"}, "compatible compatibility 兼容"},
	{[]string{"size", "dimension", "尺寸", "大小"}, "size dimensions 尺寸"},
	{[]string{"return", "send back", "退货", "退回"}, "return 退货"},
	{[]string{"refund", "money back", "退款", "退钱"}, "refund 退款"},
	{[]string{"exchange", "swap", "换货", "换个", "换一个"}, "exchange 换货"},
	{[]string{"shipping fee", "delivery fee", "postage", "运费", "包邮"}, "shipping fee free shipping 运费 包邮"},
	{[]string{"invoice", "fapiao", "发票"}, "invoice 发票"},
	{[]string{"instalment", "installment", "分期", "花呗"}, "instalments huabei 分期 花呗"},
	{[]string{"cancel", "取消"}, "cancel 取消"},
	{[]string{"broken", "faulty", "stopped working", "not working", "doesn't work", "defect", "坏了", "故障", "不能用", "不工作"}, "fault faulty repair 故障 质量问题"},
	{[]string{"smashed", "dented", "crushed", "cracked", "damaged", "arrived broken", "破损", "压坏", "摔坏", "碎了"}, "damaged on arrival 破损"},
	{[]string{"lost", "missing", "never arrived", "丢了", "丢件", "没收到"}, "lost parcel 丢失"},
	{[]string{"how long do i have", "deadline", "time limit", "期限", "几天内"}, "within days window 期限 天内"},
	{[]string{"delete my data", "delete my account", "close my account", "注销", "删除我的"}, "delete account data 注销 删除"},
	{[]string{"customs", "import tax", "duties", "关税"}, "import duties taxes 关税"},
}

// expansion returns the glossary terms that a message calls for, or "".
func expansion(message string) string {
	norm := " " + strings.ToLower(message) + " "
	var out []string
	for _, g := range glossary {
		if hasAny(norm, g.asks) {
			out = append(out, g.expand)
		}
	}
	return strings.Join(out, " ")
}
