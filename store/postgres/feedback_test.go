package postgres_test

import (
	"testing"

	"github.com/kefuhq/kefu/store/postgres"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.FeedbackStore = (*postgres.Store)(nil)

func TestFeedbackConformance(t *testing.T) {
	storetest.RunFeedback(t, func(t *testing.T) storetest.FeedbackStore { return openTest(t) })
}
