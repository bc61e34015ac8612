package sqlpool

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Alerts: the pool's health read from its history each sample, the way
// an operator's alerting rules would read it, with hysteresis and a rate
// limit, so that a steady state logs once.

// The alerts, by name.
const (
	// AlertUtilization fires when the mean share of pool_max_conns in use
	// over pool_alert_window passes pool_alert_utilization.
	AlertUtilization = "utilization"
	// AlertWait fires when the p99 wait for a connection over the window
	// passes pool_alert_wait.
	AlertWait = "wait"
	// AlertExhaustion fires when acquires waited while every connection
	// pool_max_conns allows was in use.
	AlertExhaustion = "exhaustion"
	// AlertAcquireTimeouts fires when acquires failed at
	// pool_acquire_timeout in the window.
	AlertAcquireTimeouts = "acquire_timeouts"
	// AlertDialErrors fires when half or more of the window's dials failed
	// (two at least).
	AlertDialErrors = "dial_errors"
)

// alertNames lists the alerts in the order Snapshot.Alerts gives them.
var alertNames = [numAlerts]string{AlertUtilization, AlertWait, AlertExhaustion, AlertAcquireTimeouts, AlertDialErrors}

const (
	aUtilization = iota
	aWait
	aExhaustion
	aTimeouts
	aDialErrors
	numAlerts
)

// Alert is one alert of a pool: as it fires or clears (WithOnAlert,
// Snapshot.AlertEvents), or as it stands (Snapshot.Alerts).
type Alert struct {
	Pool   string // the pool's name
	Name   string // AlertUtilization, AlertWait, …
	Firing bool
	// Since is when it last fired or cleared; zero if it never fired.
	Since time.Time
	// Value is what the alert measured at its last evaluation: the share in
	// use (utilization), the p99 wait in seconds (wait), the share of
	// samples exhausted (exhaustion), the timeouts (acquire_timeouts), the
	// share of dials that failed (dial_errors); Threshold is what fires it.
	Value, Threshold float64
	// Message says what was measured, in a sentence.
	Message string
	// Advice is the pool's sizing advice when it fired or cleared (in
	// WithOnAlert and AlertEvents; zero in Snapshot.Alerts).
	Advice Advice
}

// alerts is a pool's alert state, kept by the sampler.
type alerts struct {
	mu     sync.Mutex
	state  [numAlerts]alertState // guarded by mu
	events []Alert               // the last maxAlertEvents changes, oldest first; guarded by mu
}

type alertState struct {
	firing  bool
	changed time.Time // the last change; zero if none
	value   float64   // at the last evaluation
	message string
}

// dialErrorShare is the share of failed dials that fires the dial_errors
// alert (two failures at least); it clears below half that.
const dialErrorShare = 0.5

// maxAlertEvents bounds the changes a pool keeps for its Snapshot.
const maxAlertEvents = 64

// alertRule is one alert's reading of a window: the value measured, the
// threshold, whether it fires, whether it clears (between the two, the
// alert keeps its state: hysteresis), and a sentence.
type alertRule struct {
	on        bool // the alert is on (its threshold is not 0)
	known     bool // the window tells: else the alert keeps its state
	value     float64
	threshold float64
	fire      bool
	clear     bool
	message   string
}

// alertWindow is what the alerts read: the samples of the last
// pool_alert_window and the pool's histogram of waits over it.
type alertWindow struct {
	now     time.Time
	window  time.Duration
	samples []Sample
	covered bool          // the history reaches back to the window's start
	waitP99 time.Duration // -1 when unknown (the history is younger than a mark)
	lastErr string
}

// rules reads the window w with the pool's settings cfg.
func rules(cfg *config, w alertWindow) [numAlerts]alertRule {
	var r [numAlerts]alertRule
	n := len(w.samples)
	if n == 0 {
		return r
	}
	var used float64
	var exhausted int
	var timeouts, dials, dialErrs int64
	for _, s := range w.samples {
		if s.MaxConns > 0 {
			used += float64(s.InUse) / float64(s.MaxConns)
		}
		if (s.Waiting > 0 || s.Waits > 0) && s.InUse >= s.MaxConns {
			exhausted++
		}
		timeouts += s.Timeouts
		dials += s.Dials
		dialErrs += s.DialErrors
	}
	maxConns := w.samples[n-1].MaxConns
	win := formatDuration(w.window)

	if t := cfg.alertUtilization; t > 0 {
		u := used / float64(n)
		r[aUtilization] = alertRule{on: true, known: true, value: u, threshold: t,
			fire: w.covered && u > t, clear: u < t*0.9,
			message: fmt.Sprintf("%.0f%% of pool_max_conns=%d in use on average over the last %s (pool_alert_utilization=%g)", 100*u, maxConns, win, t)}
	}
	if t := cfg.alertWait; t > 0 {
		r[aWait] = alertRule{on: true, known: w.waitP99 >= 0, value: w.waitP99.Seconds(), threshold: t.Seconds(),
			fire: w.waitP99 > t, clear: w.waitP99 < t*8/10,
			message: fmt.Sprintf("the p99 wait for a connection was %v over the last %s (pool_alert_wait=%v)", w.waitP99.Round(time.Millisecond), win, t)}
	}
	share := float64(exhausted) / float64(n)
	r[aExhaustion] = alertRule{on: true, known: true, value: share, fire: exhausted > 0, clear: exhausted == 0,
		message: fmt.Sprintf("acquires waited with all %d connections in use in %d of the last %d samples (%s)", maxConns, exhausted, n, win)}
	r[aTimeouts] = alertRule{on: true, known: true, value: float64(timeouts), fire: timeouts > 0, clear: timeouts == 0,
		message: fmt.Sprintf("%s timed out at pool_acquire_timeout=%s in the last %s", count(timeouts, "acquire"), formatDuration(cfg.acquireTimeout), win)}
	failed := 0.0
	if dials+dialErrs > 0 {
		failed = float64(dialErrs) / float64(dials+dialErrs)
	}
	msg := fmt.Sprintf("%d of %s failed in the last %s", dialErrs, count(dials+dialErrs, "dial"), win)
	if w.lastErr != "" && dialErrs > 0 {
		msg += ": " + w.lastErr
	}
	r[aDialErrors] = alertRule{on: true, known: true, value: failed, threshold: dialErrorShare,
		fire: dialErrs >= 2 && failed >= dialErrorShare, clear: failed < dialErrorShare/2, message: msg}
	return r
}

// evaluate applies the rules to the alerts' state and returns the changes:
// an alert fires or clears at most once per window, so a load that hovers
// at a threshold changes it once a window at most.
func (a *alerts) evaluate(pool string, w alertWindow, r [numAlerts]alertRule) []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	var changes []Alert
	for i := range r {
		st, rule := &a.state[i], &r[i]
		if !rule.on {
			*st = alertState{firing: false, changed: st.changed}
			continue
		}
		if !rule.known {
			continue
		}
		st.value, st.message = rule.value, rule.message
		change := st.firing && rule.clear || !st.firing && rule.fire
		if !change || !st.changed.IsZero() && w.now.Sub(st.changed) < w.window {
			continue
		}
		st.firing, st.changed = !st.firing, w.now
		ev := Alert{Pool: pool, Name: alertNames[i], Firing: st.firing, Since: w.now, Value: rule.value, Threshold: rule.threshold, Message: rule.message}
		changes = append(changes, ev)
		if len(a.events) == maxAlertEvents {
			a.events = append(a.events[:0], a.events[1:]...)
		}
		a.events = append(a.events, ev)
	}
	return changes
}

// list returns each alert that is on, as it stands, and the last changes.
func (a *alerts) list(cfg *config, pool string) (now []Alert, events []Alert) {
	if cfg.alertWindow == 0 {
		return nil, nil
	}
	thresholds := [numAlerts]float64{cfg.alertUtilization, cfg.alertWait.Seconds(), 0, 0, dialErrorShare}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, st := range a.state {
		if i == aUtilization && cfg.alertUtilization == 0 || i == aWait && cfg.alertWait == 0 {
			continue
		}
		now = append(now, Alert{Pool: pool, Name: alertNames[i], Firing: st.firing, Since: st.changed, Value: st.value, Threshold: thresholds[i], Message: st.message})
	}
	return now, append([]Alert(nil), a.events...)
}

// evaluateAlerts reads the pool's last window after a sample was taken at
// now, and reports each change: a slog warning as an alert fires, an info
// as it clears, with the numbers and the sizing advice, and the WithOnAlert
// hook.
func (ps *poolState) evaluateAlerts(now time.Time) {
	win := ps.cfg.alertWindow
	if win == 0 {
		return
	}
	sp := ps.hist.since(nil, now.Add(-win))
	w := alertWindow{now: now, window: win, samples: sp.samples, covered: sp.covered, waitP99: -1}
	if sp.marked {
		d := sp.last.WaitBuckets.Sub(sp.mark.s.WaitBuckets)
		w.waitP99 = d.Quantile(0.99)
	}
	if err := ps.pool.LastError(); err != nil {
		w.lastErr = err.Error() // masked when it was made (ps.dial)
	}
	changes := ps.alerts.evaluate(ps.name, w, rules(&ps.cfg, w))
	if len(changes) == 0 {
		return
	}
	advice := ps.advise(now)
	for _, c := range changes {
		c.Advice = advice
		attrs := []any{slog.String("pool", c.Pool), slog.String("alert", c.Name),
			slog.Float64("value", c.Value), slog.Float64("threshold", c.Threshold),
			slog.String("verdict", string(advice.Verdict)), slog.String("advice", advice.Reason)}
		if c.Firing {
			ps.logger().Warn("sqlpool: alert firing: "+c.Message, attrs...)
		} else {
			ps.logger().Info("sqlpool: alert cleared: "+c.Message, attrs...)
		}
		if f := ps.cfg.onAlert; f != nil {
			f(c)
		}
	}
}

// alertGauges returns the alerts that are on and whether each fires (1) or
// not (0), for the sqlpool.pool.alerts gauge.
func (ps *poolState) alertGauges() (names []string, firing []int64) {
	on, _ := ps.alerts.list(&ps.cfg, ps.name)
	names, firing = make([]string, len(on)), make([]int64, len(on))
	for i, a := range on {
		names[i] = a.Name
		if a.Firing {
			firing[i] = 1
		}
	}
	return names, firing
}

// count writes n things: "1 acquire", "3 acquires".
func count(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
