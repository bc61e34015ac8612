// Package dashboard serves a live view of the process's sqlpool pools over
// HTTP, as net/http/pprof does for profiles: one page for the on-call
// engineer (is the pool exhausted, who holds the connections, since when,
// from which line) and the same data as JSON for scripts and alerting.
//
//	mux.Handle("/debug/sqlpool/", dashboard.Handler())
//
// The page lists every open pool (sqlpool.Snapshots): its database and
// settings, the alerts that fire (pool_alert_window) and the sizing advice
// of the last minutes' load (sqlpool.Advise: its verdict, why, and the
// pool_max_conns it recommends), its gauges with a chart of the last
// minutes of connections in use, operations waiting and their wait time,
// marked where each alert fired, its counters, and a table of its physical
// connections, with, for each connection in use, for how long it has been
// held and the stack that took it (leak detection on); leak suspects come
// first, highlighted, their stacks open. It needs no external
// asset (its CSS and its SVG chart are inline), works without JavaScript
// (a small inline script only keeps what you expanded open across the
// refreshes) and reloads itself every 5 seconds.
//
// Paths, relative to where the handler is mounted (it routes on the end of
// the path, so it works with or without http.StripPrefix):
//
//	./              the page; ?refresh=N reloads every N seconds (0: never), ?pool=NAME shows one pool
//	./json          the same data as JSON, with ?pool=NAME too
//
// It shows no password and no bound argument: pools are described by their
// database's system, name and server, never their DSN; statements show with
// their literals replaced by "?" (none with pool_trace_query_text=off).
// Stacks, file paths and statement shapes still tell a lot about a program:
// like pprof, mount it only where operators alone can reach it.
package dashboard

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/leakdetect"
	"github.com/sqlpool/sqlpool/pool"
)

// defaultRefresh is how often the page reloads itself, unless ?refresh= says.
const defaultRefresh = 5 * time.Second

// Handler returns the dashboard's handler. The first call starts recording
// every pool's history for the chart (sqlpool.RecordHistory: one goroutine
// for the process, sampling each pool once a second while any is open).
func Handler() http.Handler {
	sqlpool.RecordHistory()
	return handler{snapshots: sqlpool.Snapshots, now: time.Now}
}

// handler serves the page and the JSON. Its fields are seams for tests.
type handler struct {
	snapshots func() []sqlpool.Snapshot
	now       func() time.Time
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "json" || strings.HasSuffix(p, "/json"):
		h.serveJSON(w, r)
	case strings.HasSuffix(p, "/"):
		h.servePage(w, r)
	case p == "":
		// Mounted with http.StripPrefix: asked for "/x/" with "/x/" stripped,
		// or for "/x" with "/x" stripped, when the page's relative links
		// need the slash.
		asked, _, _ := strings.Cut(r.RequestURI, "?")
		if asked == "" || strings.HasSuffix(asked, "/") || strings.Contains(asked, "://") {
			h.servePage(w, r)
			return
		}
		target := asked + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	default:
		http.NotFound(w, r)
	}
}

// build turns the snapshots into what the page and the JSON show, keeping
// only the pool named by ?pool= if there is one.
func (h handler) build(r *http.Request) report {
	now := h.now()
	snaps := h.snapshots()
	if name := r.URL.Query().Get("pool"); name != "" {
		snaps = slices.DeleteFunc(snaps, func(s sqlpool.Snapshot) bool { return s.Name != name })
	}
	rep := report{
		GeneratedAt: now,
		PID:         os.Getpid(),
		GoVersion:   runtime.Version(),
		Pools:       make([]poolReport, 0, len(snaps)),
	}
	rep.Host, _ = os.Hostname()
	seen := map[string]int{}
	for i := range snaps {
		base := anchor(snaps[i].Name)
		id := base
		if n := seen[base]; n > 0 {
			id += "-" + strconv.Itoa(n) // pools may share a name
		}
		seen[base]++
		rep.Pools = append(rep.Pools, newPoolReport(&snaps[i], now, id))
	}
	return rep
}

func (h handler) serveJSON(w http.ResponseWriter, r *http.Request) {
	rep := h.build(r)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w) // escapes <, > and & in strings: safe even if sniffed as HTML
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}

// report is the dashboard's data: the JSON document, and what the page
// renders.
type report struct {
	GeneratedAt time.Time    `json:"generated_at"`
	Host        string       `json:"host"`
	PID         int          `json:"pid"`
	GoVersion   string       `json:"go_version"`
	Pools       []poolReport `json:"pools"`
}

// poolReport is one pool. Durations are in seconds.
type poolReport struct {
	Name      string `json:"name"`
	Driver    string `json:"driver"`
	System    string `json:"system"`
	Namespace string `json:"namespace,omitempty"`
	Server    string `json:"server,omitempty"`

	Settings     map[string]string `json:"settings"`
	SettingsList []sqlpool.Setting `json:"-"` // in order, for the page

	// Gauges.
	Max     int `json:"max"`
	Total   int `json:"total"`
	InUse   int `json:"in_use"`
	Idle    int `json:"idle"`
	Waiting int `json:"waiting"`
	Dialing int `json:"dialing"`

	// Counters, since the pool opened.
	Acquires        int64            `json:"acquires"`
	Waits           int64            `json:"waits"`
	WaitSeconds     float64          `json:"wait_seconds"`
	Timeouts        int64            `json:"timeouts"`
	Canceled        int64            `json:"canceled"`
	Unavailable     int64            `json:"unavailable"`
	Created         int64            `json:"created"`
	CreateErrors    int64            `json:"create_errors"`
	Destroyed       map[string]int64 `json:"destroyed"`
	PrePingFailures int64            `json:"preping_failures"`
	Leaks           int64            `json:"leaks"`

	LeakThresholdSeconds float64 `json:"leak_threshold_seconds"` // 0: leak detection off
	Suspects             int     `json:"suspects"`               // connections held past the threshold now
	LastError            string  `json:"last_error,omitempty"`   // the last dial's error, while dials fail

	Conns   []connReport   `json:"conns"`
	HeldBy  []holderReport `json:"held_by"` // connections in use, by the line that took them
	History []sampleReport `json:"history"` // oldest first, one a second

	Sizing sizingReport  `json:"sizing"` // sqlpool.Advise: what the last minutes' load needs
	Alerts []alertReport `json:"alerts"` // the alerts that are on, firing or not; [] when alerts are off

	// For the page only.
	Anchor      string        `json:"-"` // the element id of the pool's section
	Destroys    []countReport `json:"-"` // Destroyed, in pool.DestroyReasons order
	RecentWait  time.Duration `json:"-"` // mean wait over the last minute of History
	Chart       chart         `json:"-"`
	Exhausted   bool          `json:"-"` // every connection in use and operations waiting
	InUseIdx    int           `json:"-"` // Conns[:InUseIdx] are in use, checking or dialing
	OpenStacks  int           `json:"-"` // how many suspects' stacks show open
	IdleVisible bool          `json:"-"` // the idle connections show without a click
	Firing      []alertReport `json:"-"` // Alerts that fire now
}

// sizingReport is a pool's sizing advice (sqlpool.Advice).
type sizingReport struct {
	ArrivalRate         float64 `json:"arrival_rate"` // acquires per second
	HoldMeanSeconds     float64 `json:"hold_mean_seconds"`
	HoldP99Seconds      float64 `json:"hold_p99_seconds"`
	BusyMean            float64 `json:"busy_mean"` // connections busy: arrival_rate × hold_mean_seconds
	BusyP99             float64 `json:"busy_p99"`
	WaitedShare         float64 `json:"waited_share"` // from 0 to 1
	WaitP99Seconds      float64 `json:"wait_p99_seconds"`
	Timeouts            int64   `json:"timeouts"` // in the window
	MaxConns            int     `json:"max_conns"`
	RecommendedMaxConns int     `json:"recommended_max_conns"` // 0 with "not enough data"
	ServerLimit         int     `json:"server_limit"`          // 0: unknown
	PoolsOnServer       int     `json:"pools_on_server"`
	Verdict             string  `json:"verdict"` // "undersized", "right", "oversized" or "not enough data"
	Reason              string  `json:"reason"`
	Warning             string  `json:"warning,omitempty"`
	WindowSeconds       float64 `json:"window_seconds"` // the span of history read

	Window time.Duration `json:"-"`
}

// Badge is the class of the verdict's badge on the page.
func (s sizingReport) Badge() string {
	switch sqlpool.Verdict(s.Verdict) {
	case sqlpool.VerdictUndersized:
		return "bad"
	case sqlpool.VerdictOversized:
		return "warn"
	case sqlpool.VerdictRight:
		return "ok"
	}
	return "muted"
}

// alertReport is one alert as it stands (sqlpool.Alert).
type alertReport struct {
	Name      string     `json:"name"`
	Firing    bool       `json:"firing"`
	Since     *time.Time `json:"since"` // when it last fired or cleared; null if it never fired
	Value     float64    `json:"value"`
	Threshold float64    `json:"threshold"`
	Message   string     `json:"message"`

	For time.Duration `json:"-"` // since Since, as of the report
}

type countReport struct {
	Name  string
	Count int64
}

// connReport is one physical connection.
type connReport struct {
	ID               uint64    `json:"id"`
	State            string    `json:"state"` // "in_use", "checking", "dialing" or "idle"
	CreatedAt        time.Time `json:"created_at"`
	AgeSeconds       float64   `json:"age_seconds"`
	Uses             int64     `json:"uses"`
	IdleSince        time.Time `json:"idle_since,omitzero"`
	IdleSeconds      *float64  `json:"idle_seconds,omitempty"`
	ExpiresAt        time.Time `json:"expires_at,omitzero"`
	ExpiresInSeconds *float64  `json:"expires_in_seconds,omitempty"` // < 0: past its lifetime, closed when given back
	AcquiredAt       time.Time `json:"acquired_at,omitzero"`
	HeldSeconds      *float64  `json:"held_seconds,omitempty"`
	Suspect          bool      `json:"suspect,omitempty"`

	// With leak detection on, for a connection in use.
	Open       string             `json:"open,omitempty"` // "rows", "tx", "tx+rows" or "conn"
	Statement  string             `json:"statement,omitempty"`
	TakenAt    string             `json:"taken_at,omitempty"` // file:line of the application's frame that took it
	TakenBy    string             `json:"taken_by,omitempty"` // that frame's function
	Stack      []leakdetect.Frame `json:"stack,omitempty"`    // innermost first
	RowsAt     string             `json:"rows_at,omitempty"`  // where rows still open were opened
	TxAt       string             `json:"tx_at,omitempty"`    // where the open transaction began
	RowsStack  []leakdetect.Frame `json:"rows_stack,omitempty"`
	TxStack    []leakdetect.Frame `json:"tx_stack,omitempty"`
	Reclaimed  bool               `json:"reclaimed,omitempty"`
	StackID    string             `json:"-"` // the element id of its stack, for the page
	OriginIdx  int                `json:"-"` // index in Stack of TakenAt's frame; -1 if none
	ShowStack  bool               `json:"-"` // its stack shows open
	Held       time.Duration      `json:"-"`
	Idle       time.Duration      `json:"-"`
	Age        time.Duration      `json:"-"`
	ExpiresIn  time.Duration      `json:"-"`
	HasExpires bool               `json:"-"`
}

// holderReport is the connections in use taken from one line.
type holderReport struct {
	TakenAt        string  `json:"taken_at"` // file:line; "" when leak detection is off or the stack is unknown
	TakenBy        string  `json:"taken_by,omitempty"`
	Conns          int     `json:"conns"`
	Suspects       int     `json:"suspects"`
	LongestSeconds float64 `json:"longest_held_seconds"`

	Longest time.Duration `json:"-"`
}

// sampleReport is one second of history.
type sampleReport struct {
	At              time.Time `json:"at"`
	InUse           int       `json:"in_use"`
	Idle            int       `json:"idle"`
	Waiting         int       `json:"waiting"`
	Dialing         int       `json:"dialing"`
	Acquires        int64     `json:"acquires"`          // in the second before At
	Waits           int64     `json:"waits"`             // waits that ended in the second before At
	MeanWaitSeconds float64   `json:"mean_wait_seconds"` // their mean
	Timeouts        int64     `json:"timeouts"`
}

// stateNames are the states as the dashboard names them.
var stateNames = map[pool.ResourceState]string{
	pool.ResourceIdle:         "idle",
	pool.ResourceInUse:        "in_use",
	pool.ResourceChecking:     "checking",
	pool.ResourceConstructing: "dialing",
}

// maxOpenStacks bounds the suspects whose stacks show open: past a few,
// the holders' table says more than the stacks.
const maxOpenStacks = 5

// maxVisibleIdle is how many idle connections show without a click.
const maxVisibleIdle = 16

// newPoolReport reports the pool of s as of now; id is the element id of its
// section.
func newPoolReport(s *sqlpool.Snapshot, now time.Time, id string) poolReport {
	p := poolReport{
		Name:                 s.Name,
		Driver:               s.Driver,
		System:               s.System,
		Namespace:            s.Namespace,
		Server:               s.Server,
		Settings:             make(map[string]string, len(s.Settings)),
		SettingsList:         s.Settings,
		Max:                  s.MaxSize,
		Total:                s.Total,
		InUse:                s.InUse,
		Idle:                 s.Idle,
		Waiting:              s.Waiting,
		Dialing:              s.Constructing,
		Acquires:             s.AcquireCount,
		Waits:                s.WaitCount,
		WaitSeconds:          s.WaitDuration.Seconds(),
		Timeouts:             s.TimeoutCount,
		Canceled:             s.CanceledCount,
		Unavailable:          s.UnavailableCount,
		Created:              s.CreatedCount,
		CreateErrors:         s.CreateErrorCount,
		Destroyed:            map[string]int64{},
		PrePingFailures:      s.DestroyedCount(pool.ReasonCheck),
		Leaks:                s.Leaks,
		LeakThresholdSeconds: s.LeakThreshold.Seconds(),
		Suspects:             s.Suspects,
		LastError:            s.LastError,
		Conns:                make([]connReport, 0, len(s.Conns)),
		HeldBy:               []holderReport{},
		History:              make([]sampleReport, 0, len(s.History)),
		Sizing:               newSizingReport(s.Advice),
		Alerts:               make([]alertReport, 0, len(s.Alerts)),
		Anchor:               id,
	}
	for _, a := range s.Alerts {
		ar := alertReport{Name: a.Name, Firing: a.Firing, Value: finite(a.Value), Threshold: finite(a.Threshold), Message: a.Message}
		if !a.Since.IsZero() {
			since := a.Since
			ar.Since, ar.For = &since, now.Sub(since)
		}
		p.Alerts = append(p.Alerts, ar)
		if ar.Firing {
			p.Firing = append(p.Firing, ar)
		}
	}
	p.Exhausted = p.InUse >= p.Max && p.Waiting > 0
	for _, st := range s.Settings {
		p.Settings[st.Name] = st.Value
	}
	for _, reason := range pool.DestroyReasons() {
		n := s.DestroyedCount(reason)
		p.Destroyed[reason.String()] = n
		p.Destroys = append(p.Destroys, countReport{reason.String(), n})
	}

	holders := map[string]*holderReport{}
	for _, c := range s.Conns {
		cr := newConnReport(c, s.TakenAt)
		cr.StackID = fmt.Sprintf("%s-c%d", p.Anchor, c.ID)
		if cr.Suspect && p.OpenStacks < maxOpenStacks {
			cr.ShowStack = true
			p.OpenStacks++
		}
		if c.State != pool.ResourceIdle {
			p.InUseIdx = len(p.Conns) + 1
		}
		if c.State == pool.ResourceInUse {
			hr := holders[cr.TakenAt]
			if hr == nil {
				hr = &holderReport{TakenAt: cr.TakenAt, TakenBy: cr.TakenBy}
				holders[cr.TakenAt] = hr
			}
			hr.Conns++
			if cr.Suspect {
				hr.Suspects++
			}
			hr.Longest = max(hr.Longest, cr.Held)
		}
		p.Conns = append(p.Conns, cr)
	}
	p.IdleVisible = len(p.Conns)-p.InUseIdx <= maxVisibleIdle
	for _, hr := range holders {
		hr.LongestSeconds = hr.Longest.Seconds()
		p.HeldBy = append(p.HeldBy, *hr)
	}
	slices.SortFunc(p.HeldBy, func(a, b holderReport) int {
		return cmp.Or(cmp.Compare(b.Conns, a.Conns), cmp.Compare(b.Longest, a.Longest), strings.Compare(a.TakenAt, b.TakenAt))
	})

	var recentWaits int64
	var recentWait time.Duration
	for _, h := range s.History {
		p.History = append(p.History, sampleReport{
			At: h.At, InUse: h.InUse, Idle: h.Idle, Waiting: h.Waiting, Dialing: h.Dialing,
			Acquires: h.Acquires, Waits: h.Waits, MeanWaitSeconds: h.MeanWait().Seconds(), Timeouts: h.Timeouts,
		})
		if now.Sub(h.At) <= time.Minute {
			recentWaits += h.Waits
			recentWait += h.WaitTime
		}
	}
	if recentWaits > 0 {
		p.RecentWait = recentWait / time.Duration(recentWaits)
	}
	p.Chart = newChart(s, now)
	return p
}

func newSizingReport(a sqlpool.Advice) sizingReport {
	return sizingReport{
		ArrivalRate:         finite(a.ArrivalRate),
		HoldMeanSeconds:     a.HoldMean.Seconds(),
		HoldP99Seconds:      a.HoldP99.Seconds(),
		BusyMean:            finite(a.BusyMean),
		BusyP99:             finite(a.BusyP99),
		WaitedShare:         finite(a.WaitedShare),
		WaitP99Seconds:      a.WaitP99.Seconds(),
		Timeouts:            a.Timeouts,
		MaxConns:            a.MaxConns,
		RecommendedMaxConns: a.RecommendedMaxConns,
		ServerLimit:         a.ServerLimit,
		PoolsOnServer:       a.PoolsOnServer,
		Verdict:             string(a.Verdict),
		Reason:              a.Reason,
		Warning:             a.Warning,
		WindowSeconds:       a.Window.Seconds(),
		Window:              a.Window,
	}
}

// finite returns v, or 0 if it is NaN or infinite, which JSON cannot hold:
// one such number would leave the whole document unwritten.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func newConnReport(c sqlpool.ConnInfo, now time.Time) connReport {
	cr := connReport{
		ID:        c.ID,
		State:     stateNames[c.State],
		CreatedAt: c.CreatedAt,
		Age:       now.Sub(c.CreatedAt),
		Uses:      c.Uses,
		Suspect:   c.Suspect,
		OriginIdx: -1,
	}
	cr.AgeSeconds = cr.Age.Seconds()
	if !c.IdleSince.IsZero() {
		cr.IdleSince = c.IdleSince
		cr.Idle = now.Sub(c.IdleSince)
		cr.IdleSeconds = seconds(cr.Idle)
	}
	if !c.ExpiresAt.IsZero() && c.State != pool.ResourceConstructing {
		cr.ExpiresAt = c.ExpiresAt
		cr.ExpiresIn = c.ExpiresAt.Sub(now)
		cr.ExpiresInSeconds = seconds(cr.ExpiresIn)
		cr.HasExpires = true
	}
	if !c.AcquiredAt.IsZero() {
		cr.AcquiredAt = c.AcquiredAt
		cr.Held = now.Sub(c.AcquiredAt)
		cr.HeldSeconds = seconds(cr.Held)
	}
	if b := c.Borrow; b != nil {
		cr.Open = b.Open
		cr.Statement = b.Statement
		cr.TakenAt = b.AcquiredAt
		cr.Stack = b.Stack
		cr.RowsAt, cr.RowsStack = b.RowsAt, b.RowsStack
		cr.TxAt, cr.TxStack = b.TxAt, b.TxStack
		cr.Reclaimed = b.Reclaimed
		cr.OriginIdx = slices.IndexFunc(b.Stack, func(f leakdetect.Frame) bool { return f.Location() == b.AcquiredAt })
		if cr.OriginIdx >= 0 {
			cr.TakenBy = b.Stack[cr.OriginIdx].Function
		}
	}
	return cr
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

// anchor returns a stable element id for a pool named name: the name itself
// may hold anything.
func anchor(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return "pool-" + strconv.FormatUint(uint64(h.Sum32()), 36)
}
