package postgres_test

import (
	"testing"

	"github.com/kefuhq/kefu/store/storetest"
)

func TestPeriodConformance(t *testing.T) {
	storetest.RunPeriod(t, func(t *testing.T) storetest.PeriodStore { return openTest(t) })
}
