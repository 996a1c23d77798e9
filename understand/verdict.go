package understand

// IsAttack reports whether the attack head fires.
func (p Prediction) IsAttack() bool { return p.Attack >= p.th.Attack }

// IsAngry reports whether the anger head fires.
func (p Prediction) IsAngry() bool { return p.Angry >= p.th.Angry }

// IsMyOrders reports whether the message asks about the shopper's own
// orders: the intent is order_status and the my_orders head agrees, or the
// message names an order's number (asking the status of W261001-0001 is
// asking about that order, however the rest is phrased). A rule question
// that mentions orders ("can shipped orders be refunded?") has another
// intent and is not.
func (p Prediction) IsMyOrders() bool {
	return p.Intent == "order_status" && (p.MyOrders >= p.th.MyOrders || p.namesOrder())
}

func (p Prediction) namesOrder() bool {
	for _, id := range p.Analysis.Shape.IDs {
		if id.Kind == KindOrder {
			return true
		}
	}
	return false
}

// Refused reports whether kefu declines the message as out of scope or as
// an attack, by the model alone.
func (p Prediction) Refused() bool { return p.IsAttack() || p.Intent == "out_of_scope" }
