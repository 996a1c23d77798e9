package escalate

import (
	"slices"

	"github.com/kefuhq/kefu/store"
)

// Reason codes, most specific and urgent first; see the package
// documentation.
const (
	ReasonSafety          = "safety"
	ReasonFraud           = "fraud"
	ReasonChargeback      = "chargeback"
	ReasonLegal           = "legal"
	ReasonAnger           = "anger"
	ReasonRequested       = "requested"
	ReasonRefundAmount    = "refund_amount"
	ReasonRepeatedFailure = "repeated_failure"
	ReasonNoKnowledge     = "no_knowledge"
	ReasonUngrounded      = "ungrounded"
	// ReasonActionRequested: a confirmed after-sales action waits for an
	// agent to carry it out (no order system takes actions);
	// ReasonActionFailed: the order system refused one, or its outcome is
	// unknown.
	ReasonActionRequested = "action_requested"
	ReasonActionFailed    = "action_failed"
	ReasonOther           = "other"
)

// Reasons is the taxonomy in order of precedence: when several reasons
// apply to a turn, the first of them is the ticket's reason.
var Reasons = []string{
	ReasonSafety, ReasonFraud, ReasonChargeback, ReasonLegal, ReasonAnger, ReasonRequested,
	ReasonRefundAmount, ReasonActionFailed, ReasonActionRequested, ReasonRepeatedFailure, ReasonNoKnowledge, ReasonUngrounded, ReasonOther,
}

// PriorityOf returns a reason's priority: urgent for safety, fraud,
// chargeback and legal, high for anger, normal otherwise.
func PriorityOf(reason string) string {
	switch reason {
	case ReasonSafety, ReasonFraud, ReasonChargeback, ReasonLegal:
		return store.PriorityUrgent
	case ReasonAnger:
		return store.PriorityHigh
	}
	return store.PriorityNormal
}

// reasonCode maps a reason the pipeline gives to the taxonomy.
func reasonCode(r string) string {
	if slices.Contains(Reasons, r) {
		return r
	}
	return ReasonOther
}

// precedes reports whether reason a wins over reason b.
func precedes(a, b string) bool {
	ia, ib := slices.Index(Reasons, reasonCode(a)), slices.Index(Reasons, reasonCode(b))
	return ia < ib
}

// offerOnly reports whether every reason is one where the assistant merely
// offered a person (it did not know, or kept failing): such a ticket closes
// by itself when the assistant answers the next question.
func offerOnly(reasons []string) bool {
	for _, r := range reasons {
		switch r {
		case ReasonNoKnowledge, ReasonUngrounded, ReasonRepeatedFailure:
		default:
			return false
		}
	}
	return len(reasons) > 0
}
