package postgres_test

import (
	"testing"

	"github.com/kefuhq/kefu/store/postgres"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.PrivacyStore = (*postgres.Store)(nil)

func TestPrivacy(t *testing.T) {
	storetest.RunPrivacy(t, func(t *testing.T) storetest.PrivacyStore { return openTest(t) })
}
