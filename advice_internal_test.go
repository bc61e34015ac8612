package sqlpool

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/pool"
)

// steadyLoad is the history a load of rate acquires a second, each holding
// a connection for hold, leaves in a pool of maxConns over secs seconds of
// samples: what Little's law says of it (busy = rate × hold), with the
// connections in use sampled as busy±1, and, when the pool is too small,
// what it turned away as timeouts.
func steadyLoad(rate float64, hold time.Duration, maxConns, secs int) adviceInput {
	t0 := time.Unix(1_800_000_000, 0)
	busy := rate * hold.Seconds()
	served := rate
	var timeoutsPerSec float64
	if capacity := float64(maxConns) / hold.Seconds(); capacity < rate {
		served, timeoutsPerSec = capacity, rate-capacity
	}
	in := adviceInput{from: t0, to: t0.Add(time.Duration(secs) * time.Second), pools: 1}
	in.start.MaxSize, in.end.MaxSize = maxConns, maxConns
	n := int64(served * float64(secs))
	in.end.AcquireCount = n
	in.end.TimeoutCount = int64(timeoutsPerSec * float64(secs))
	in.end.HoldCount = n
	in.end.HoldDuration = time.Duration(n) * hold
	in.end.WaitCount = in.end.TimeoutCount
	for range n {
		in.end.HoldBuckets[bucketIndex(hold)]++
	}
	for i := range secs {
		inUse := min(int(math.Round(busy))+i%3-1, maxConns)
		in.samples = append(in.samples, Sample{At: t0.Add(time.Duration(i+1) * time.Second), InUse: inUse, MaxConns: maxConns})
	}
	return in
}

// bucketIndex is the pool's histogram bucket of d.
func bucketIndex(d time.Duration) int {
	for i := range pool.NumBuckets {
		if d <= pool.BucketBound(i) {
			return i
		}
	}
	return pool.NumBuckets - 1
}

func TestAdviceIsLittlesLaw(t *testing.T) {
	// 100 acquires/s held 50ms each keep 5 connections busy (L = λW); the
	// samples see 4 to 6, so the p99 is 6 and the advice 6 × 1.5 = 9.
	for _, tc := range []struct {
		maxConns int
		verdict  Verdict
	}{
		{2, VerdictUndersized},
		{10, VerdictRight},
		{40, VerdictOversized},
	} {
		a := advise(steadyLoad(100, 50*time.Millisecond, tc.maxConns, 60))
		if a.Verdict != tc.verdict {
			t.Errorf("pool_max_conns=%d: verdict %q, want %q (%s)", tc.maxConns, a.Verdict, tc.verdict, a.Reason)
		}
		if math.Abs(a.ArrivalRate-100) > 1 || a.HoldMean != 50*time.Millisecond {
			t.Errorf("pool_max_conns=%d: λ = %.1f/s, W = %v; want 100/s, 50ms", tc.maxConns, a.ArrivalRate, a.HoldMean)
		}
		if math.Abs(a.BusyMean-5) > 0.1 {
			t.Errorf("pool_max_conns=%d: busy mean %.2f, want λW = 5", tc.maxConns, a.BusyMean)
		}
		if a.RecommendedMaxConns < 8 || a.RecommendedMaxConns > 10 {
			t.Errorf("pool_max_conns=%d: recommended %d, want 1.5 × the busy p99 (5 to 6): 8 to 10 (%s)", tc.maxConns, a.RecommendedMaxConns, a.Reason)
		}
		if !strings.Contains(a.Reason, "pool_max_conns=") {
			t.Errorf("pool_max_conns=%d: the reason %q names no setting", tc.maxConns, a.Reason)
		}
	}
}

func TestAdviceSeesAPoolAtItsCapUnderWorkersThatWait(t *testing.T) {
	// Closed-loop workers queue as long as it takes: nothing times out and
	// the queue does not grow, but every connection is always in use and
	// most acquires wait. The pool shows what it has, not what the load
	// wants: undersized, and at least half as many again.
	in := steadyLoad(100, 80*time.Millisecond, 8, 60) // 8 busy: exactly the cap
	for i := range in.samples {
		in.samples[i].InUse = 8
	}
	in.end.WaitCount = in.end.AcquireCount * 3 / 4
	a := advise(in)
	if a.Verdict != VerdictUndersized || a.RecommendedMaxConns < 12 {
		t.Errorf("verdict %q, recommended %d; want undersized, at least 12 (%s)", a.Verdict, a.RecommendedMaxConns, a.Reason)
	}
	if !strings.Contains(a.Reason, "at the cap of pool_max_conns=8") {
		t.Errorf("reason %q does not say the pool was at its cap", a.Reason)
	}
	// The same pool with few waits is right.
	in.end.WaitCount = in.end.AcquireCount / 10
	if a := advise(in); a.Verdict != VerdictRight {
		t.Errorf("10%% waited: verdict %q, want right (%s)", a.Verdict, a.Reason)
	}
}

func TestAdviceNeedsData(t *testing.T) {
	in := steadyLoad(1, 10*time.Millisecond, 10, 10) // 10 acquires in 10s
	if a := advise(in); a.Verdict != VerdictNotEnoughData || a.RecommendedMaxConns != 0 {
		t.Errorf("10 acquires: verdict %q, recommended %d; want %q, 0", a.Verdict, a.RecommendedMaxConns, VerdictNotEnoughData)
	}
	in = steadyLoad(100, 10*time.Millisecond, 10, 3) // three samples
	if a := advise(in); a.Verdict != VerdictNotEnoughData {
		t.Errorf("three samples: verdict %q, want %q", a.Verdict, VerdictNotEnoughData)
	}
}

func TestAdviceIsBoundedByTheServer(t *testing.T) {
	in := steadyLoad(100, 50*time.Millisecond, 10, 60)
	in.serverLimit, in.pools = 12, 3 // three pools of 10 on a server that allows 12
	a := advise(in)
	if a.RecommendedMaxConns != 4 {
		t.Errorf("recommended %d, want this pool's share of 12 over 3 pools: 4", a.RecommendedMaxConns)
	}
	if !strings.Contains(a.Warning, "30") || !strings.Contains(a.Warning, "12") {
		t.Errorf("warning %q: want the 30 connections the pools could open and the server's 12", a.Warning)
	}
	in.serverLimit, in.pools = 100, 3
	if a := advise(in); a.Warning != "" {
		t.Errorf("3 × 10 under a limit of 100: warning %q, want none", a.Warning)
	}
}

// clock feeds a pool's alerts samples a second apart, as the sampler would.
type alertClock struct {
	t       *testing.T
	cfg     config
	a       alerts
	now     time.Time
	samples []Sample
	changes []Alert
}

func (c *alertClock) tick(inUse, waiting int) {
	c.now = c.now.Add(time.Second)
	c.samples = append(c.samples, Sample{At: c.now, InUse: inUse, Waiting: waiting, MaxConns: c.cfg.maxConns})
	w := alertWindow{now: c.now, window: c.cfg.alertWindow, waitP99: -1}
	for _, s := range c.samples {
		if s.At.After(c.now.Add(-c.cfg.alertWindow)) {
			w.samples = append(w.samples, s)
		} else {
			w.covered = true
		}
	}
	c.changes = append(c.changes, c.a.evaluate("p", w, rules(&c.cfg, w))...)
}

func (c *alertClock) named(name string) []Alert {
	var out []Alert
	for _, a := range c.changes {
		if a.Name == name {
			out = append(out, a)
		}
	}
	return out
}

func TestUtilizationAlertFiresOnceAndClearsOnce(t *testing.T) {
	cfg := defaultConfig()
	cfg.maxConns, cfg.alertWindow = 10, 10*time.Second
	c := &alertClock{t: t, cfg: cfg, now: time.Unix(1_800_000_000, 0)}
	// Idle for 20s, 9 of 10 in use for 60s (hovering 8 to 10, above 80%
	// on average), then 2 in use for 60s.
	for range 20 {
		c.tick(1, 0)
	}
	for i := range 60 {
		c.tick(8+i%3, 0)
	}
	loadEnd := c.now
	for range 60 {
		c.tick(2, 0)
	}
	got := c.named(AlertUtilization)
	if len(got) != 2 || !got[0].Firing || got[1].Firing {
		t.Fatalf("utilization alert changes: %+v; want one firing, then one clearing", got)
	}
	fired, cleared := got[0].Since, got[1].Since
	// The mean of a 10s window passes 80% with the 9th second of load.
	if start := loadEnd.Add(-60 * time.Second); !fired.Equal(start.Add(9 * time.Second)) {
		t.Errorf("fired %v after the load started, want 9s: once the mean of its window (10s) passed 80%%", fired.Sub(start))
	}
	if cleared.Before(loadEnd) || cleared.After(loadEnd.Add(10*time.Second)) {
		t.Errorf("cleared %v after the load ended, want within its window (10s)", cleared.Sub(loadEnd))
	}
	if got[0].Value < 0.8 || got[0].Threshold != 0.8 || !strings.Contains(got[0].Message, "pool_max_conns=10") {
		t.Errorf("firing: value %.2f, threshold %v, message %q; want above 0.8, 0.8, and the setting", got[0].Value, got[0].Threshold, got[0].Message)
	}
	// The load hovered at capacity with nobody waiting: no exhaustion.
	if ex := c.named(AlertExhaustion); len(ex) != 0 {
		t.Errorf("exhaustion changes: %+v; want none (nobody waited)", ex)
	}
}

func TestAlertsHoldStillAtTheirThreshold(t *testing.T) {
	cfg := defaultConfig()
	cfg.maxConns, cfg.alertWindow = 10, 5*time.Second
	c := &alertClock{t: t, cfg: cfg, now: time.Unix(1_800_000_000, 0)}
	// Exhausted every other second for five minutes: the alert would flap
	// each second without its rate limit; with it, it changes at most once
	// a window, and here never clears (a window always holds an exhausted
	// sample).
	for i := range 300 {
		if i%2 == 0 {
			c.tick(10, 3)
		} else {
			c.tick(7, 0)
		}
	}
	ex := c.named(AlertExhaustion)
	if len(ex) != 1 || !ex[0].Firing {
		t.Errorf("exhaustion changes: %d (%+v); want one firing", len(ex), ex)
	}
	// Utilization between 70% and 100% (mean 85%) hovers about its
	// threshold, 80%, and its clearing level, 72%: it fires once.
	if u := c.named(AlertUtilization); len(u) != 1 {
		t.Errorf("utilization changes: %d; want 1", len(u))
	}
}

func TestAlertsOff(t *testing.T) {
	cfg := defaultConfig()
	cfg.maxConns, cfg.alertWindow, cfg.alertUtilization, cfg.alertWait = 10, 5*time.Second, 0, 0
	c := &alertClock{t: t, cfg: cfg, now: time.Unix(1_800_000_000, 0)}
	for range 30 {
		c.tick(10, 0)
	}
	if len(c.changes) != 0 {
		t.Errorf("pool_alert_utilization=0: changes %+v, want none", c.changes)
	}
	on, _ := c.a.list(&cfg, "p")
	for _, a := range on {
		if a.Name == AlertUtilization || a.Name == AlertWait {
			t.Errorf("alert %q listed as on with its threshold 0", a.Name)
		}
	}
	cfg.alertWindow = 0
	if on, _ := c.a.list(&cfg, "p"); len(on) != 0 {
		t.Errorf("pool_alert_window=0: %d alerts on, want none", len(on))
	}
}
