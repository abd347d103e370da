package burst

import (
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	var l Log
	t0 := time.Unix(1000, 0)
	for i, step := range []struct {
		at         time.Duration
		wantDue    bool
		wantUnseen int64
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{9 * time.Second, false, 0},
		{10 * time.Second, true, 2},
		{15 * time.Second, false, 0},
		{30 * time.Second, true, 1},
	} {
		unseen, due := l.Due(t0.Add(step.at), 10*time.Second)
		if due != step.wantDue || unseen != step.wantUnseen {
			t.Errorf("step %d at +%v: Due = (%d, %v), want (%d, %v)", i, step.at, unseen, due, step.wantUnseen, step.wantDue)
		}
	}
}
