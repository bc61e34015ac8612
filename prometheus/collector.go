package sqlpoolprom

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
)

// Option configures a collector made by NewCollector or Register.
type Option func(*config)

type config struct {
	keep      func(name string) bool    // nil keeps every pool
	snapshots func() []sqlpool.Snapshot // sqlpool.Snapshots; tests give their own
}

// WithPoolFilter makes the collector export only the pools for which keep,
// given the pool's name (pool_name), returns true. keep is called at each
// scrape, once per open pool, and must be safe for concurrent use. Default:
// every open sqlpool pool of the process.
func WithPoolFilter(keep func(name string) bool) Option {
	return func(c *config) { c.keep = keep }
}

// NewCollector returns a collector of every sqlpool pool open in the process
// (sqlpool.Snapshots, read at each scrape; see the package documentation
// for its series). Pools come and go, so the collector is unchecked: its
// Describe sends nothing, and each scrape exports the pools open then,
// labelled db_name with their names. That also lets it share a registry
// with collectors.NewDBStatsCollector for databases that are not sqlpool's,
// under the same go_sql_* names. Register it once per registry: two
// registrations export every series twice, which fails the scrape; and
// Registry.Unregister, which finds a collector by its descriptors, cannot
// remove it (use a registry of its own, or WithPoolFilter). Collect is safe
// for concurrent scrapes; each costs a sqlpool.Snapshots (each pool's lock
// taken once, briefly; the stacks of connections in use symbolized) and
// blocks on nothing else.
func NewCollector(opts ...Option) prometheus.Collector {
	c := &collector{cfg: config{snapshots: sqlpool.Snapshots}}
	for _, o := range opts {
		o(&c.cfg)
	}
	c.descs = newDescs()
	return c
}

// Register registers NewCollector(opts...) with reg, or with
// prometheus.DefaultRegisterer if reg is nil: the one call a program makes.
// It returns reg.Register's error.
func Register(reg prometheus.Registerer, opts ...Option) error {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	return reg.Register(NewCollector(opts...))
}

type collector struct {
	cfg   config
	descs descs
}

// descs are the collector's series. The go_sql_* ones carry the names and
// help texts of client_golang's collectors.NewDBStatsCollector, to the
// letter: a registry refuses a scrape where one name has two help texts.
type descs struct {
	maxOpen, open, inUse, idle                          *prometheus.Desc
	waitCount, waitDuration                             *prometheus.Desc
	maxIdleClosed, maxIdleTimeClosed, maxLifetimeClosed *prometheus.Desc

	info, minOpen, dialing, pending                      *prometheus.Desc
	acquires, timeouts, leaks, suspects, prePingFailures *prometheus.Desc
	created, dialErrors, destroyed, resets               *prometheus.Desc
	holdSeconds, waitSeconds                             *prometheus.Desc
	adviceWindow, arrival, holdMean, holdP99             *prometheus.Desc
	busyMean, busyP99, waitedRatio, waitP99              *prometheus.Desc
	recommended, serverLimit, verdict                    *prometheus.Desc
	alertFiring, alertValue, alertThreshold              *prometheus.Desc
}

// labelDB is the label of every series: the pool's name. It is
// DBStatsCollector's, so go_sql_* and sqlpool_* series join on it.
const labelDB = "db_name"

func newDescs() descs {
	g := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{labelDB}, extra...), nil)
	}
	return descs{
		// collectors.NewDBStatsCollector's, client_golang v1.25.0.
		maxOpen:           g("go_sql_max_open_connections", "Maximum number of open connections to the database."),
		open:              g("go_sql_open_connections", "The number of established connections both in use and idle."),
		inUse:             g("go_sql_in_use_connections", "The number of connections currently in use."),
		idle:              g("go_sql_idle_connections", "The number of idle connections."),
		waitCount:         g("go_sql_wait_count_total", "The total number of connections waited for."),
		waitDuration:      g("go_sql_wait_duration_seconds_total", "The total time blocked waiting for a new connection."),
		maxIdleClosed:     g("go_sql_max_idle_closed_total", "The total number of connections closed due to SetMaxIdleConns."),
		maxIdleTimeClosed: g("go_sql_max_idle_time_closed_total", "The total number of connections closed due to SetConnMaxIdleTime."),
		maxLifetimeClosed: g("go_sql_max_lifetime_closed_total", "The total number of connections closed due to SetConnMaxLifetime."),

		info:            g("sqlpool_info", "Always 1: the pool's inner driver and database (system, namespace, server host:port).", "driver", "system", "namespace", "server"),
		minOpen:         g("sqlpool_min_open_connections", "Physical connections the pool keeps open (pool_min_conns)."),
		dialing:         g("sqlpool_dialing_connections", "Physical connections being dialed, counted in go_sql_open_connections but neither in use nor idle."),
		pending:         g("sqlpool_pending_requests", "Operations queued for a physical connection now."),
		acquires:        g("sqlpool_acquires_total", "Physical connections handed out to operations."),
		timeouts:        g("sqlpool_acquire_timeouts_total", "Operations that failed waiting for a physical connection longer than pool_acquire_timeout."),
		leaks:           g("sqlpool_leaks_total", "Physical connections held by the application longer than pool_leak_threshold, each counted once."),
		suspects:        g("sqlpool_leak_suspect_connections", "Physical connections in use now that have been held longer than pool_leak_threshold."),
		prePingFailures: g("sqlpool_preping_failures_total", "Idle physical connections that failed validation (pre-ping or health check) and were closed."),
		created:         g("sqlpool_connections_created_total", "Physical connections dialed successfully."),
		dialErrors:      g("sqlpool_dial_errors_total", "Dials of a physical connection that failed."),
		destroyed:       g("sqlpool_connections_destroyed_total", "Physical connections closed by the pool, by reason.", "reason"),
		resets:          g("sqlpool_session_resets_total", "Sessions reset by a statement before serving a logical connection that must not see their state."),
		holdSeconds:     g("sqlpool_hold_duration_seconds", "How long physical connections were held, from the hand-out to their return."),
		waitSeconds:     g("sqlpool_wait_duration_seconds", "How long operations queued for a physical connection (to be given back or dialed), whatever the outcome."),

		adviceWindow: g("sqlpool_advice_window_seconds", "The span of history the sizing advice reads (up to five minutes)."),
		arrival:      g("sqlpool_advice_acquires_per_second", "The sizing advice's arrival rate: acquires offered per second over its window (0 with not enough data)."),
		holdMean:     g("sqlpool_advice_hold_mean_seconds", "The sizing advice's mean hold time of a physical connection (0 with not enough data)."),
		holdP99:      g("sqlpool_advice_hold_p99_seconds", "The sizing advice's p99 hold time of a physical connection (0 with not enough data)."),
		busyMean:     g("sqlpool_advice_busy_mean_connections", "The sizing advice's mean connections the load keeps busy, acquires per second times mean hold (0 with not enough data)."),
		busyP99:      g("sqlpool_advice_busy_p99_connections", "The sizing advice's p99 of connections in use, scaled up by the load turned away (0 with not enough data)."),
		waitedRatio:  g("sqlpool_advice_waited_ratio", "The sizing advice's share of acquires that queued, 0 to 1 (0 with not enough data)."),
		waitP99:      g("sqlpool_advice_wait_p99_seconds", "The sizing advice's p99 wait of acquires that queued (0 with not enough data)."),
		recommended:  g("sqlpool_advice_recommended_max_connections", "The pool_max_conns the sizing advice recommends (0 with not enough data)."),
		serverLimit:  g("sqlpool_advice_server_connection_limit", "The connections the server accepts from the pool's user (0 while unknown)."),
		verdict:      g("sqlpool_advice_verdict", "1 for the sizing advice's verdict on pool_max_conns, 0 for the others.", "verdict"),

		alertFiring:    g("sqlpool_alert_firing", "1 while the pool's alert fires, 0 while it is on and does not.", "alert"),
		alertValue:     g("sqlpool_alert_value", "What the pool's alert measured at its last evaluation.", "alert"),
		alertThreshold: g("sqlpool_alert_threshold", "The value past which the pool's alert fires.", "alert"),
	}
}

// verdicts are the values of sqlpool_advice_verdict's verdict label, each
// exported at every scrape (1 for the current one) so that a dashboard can
// graph each verdict's series without gaps.
var verdicts = []sqlpool.Verdict{sqlpool.VerdictNotEnoughData, sqlpool.VerdictUndersized, sqlpool.VerdictRight, sqlpool.VerdictOversized}

// Describe sends nothing: the collector is unchecked (see NewCollector).
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect exports every open pool that the filter keeps. It reads
// sqlpool.Snapshots, which takes each pool's lock once, briefly.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	used := map[string]bool{}
	for _, s := range c.cfg.snapshots() {
		if c.cfg.keep != nil && !c.cfg.keep(s.Name) {
			continue
		}
		// Label values must be UTF-8, or the scrape fails: a pool_name or
		// a file name need not be. Two open pools may share a name
		// (NewConnector or Wrap with the same WithName): the later ones, in
		// opening order, are told apart by a suffix, since a series
		// exported twice fails the whole scrape.
		base := valid(s.Name)
		name := base
		for k := 2; used[name]; k++ {
			name = base + " (" + strconv.Itoa(k) + ")"
		}
		used[name] = true
		c.collectPool(ch, name, &s)
	}
}

func (c *collector) collectPool(ch chan<- prometheus.Metric, name string, s *sqlpool.Snapshot) {
	d := &c.descs
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{name}, labels...)...)
	}
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, append([]string{name}, labels...)...)
	}
	st := &s.Stat

	gauge(d.maxOpen, float64(st.MaxSize))
	gauge(d.open, float64(st.Total))
	gauge(d.inUse, float64(st.InUse))
	gauge(d.idle, float64(st.Idle))
	counter(d.waitCount, float64(st.WaitCount))
	counter(d.waitDuration, st.WaitDuration.Seconds())
	counter(d.maxIdleClosed, 0) // sqlpool has no cap on idle connections
	counter(d.maxIdleTimeClosed, float64(st.DestroyedCount(pool.ReasonIdle)))
	counter(d.maxLifetimeClosed, float64(st.DestroyedCount(pool.ReasonLifetime)))

	gauge(d.info, 1, valid(s.Driver), valid(s.System), valid(s.Namespace), valid(s.Server))
	gauge(d.minOpen, float64(st.MinSize))
	gauge(d.dialing, float64(st.Constructing))
	gauge(d.pending, float64(st.Waiting))
	counter(d.acquires, float64(st.AcquireCount))
	counter(d.timeouts, float64(st.TimeoutCount))
	counter(d.leaks, float64(st.Leaks))
	gauge(d.suspects, float64(s.Suspects))
	counter(d.prePingFailures, float64(st.DestroyedCount(pool.ReasonCheck)))
	counter(d.created, float64(st.CreatedCount))
	counter(d.dialErrors, float64(st.CreateErrorCount))
	for _, r := range pool.DestroyReasons() {
		counter(d.destroyed, float64(st.DestroyedCount(r)), r.String())
	}
	counter(d.resets, float64(s.Resets))
	ch <- histogram(d.holdSeconds, name, st.HoldBuckets, st.HoldCount, st.HoldDuration.Seconds())
	ch <- histogram(d.waitSeconds, name, st.WaitBuckets, st.WaitCount, st.WaitDuration.Seconds())

	a := &s.Advice
	gauge(d.adviceWindow, a.Window.Seconds())
	gauge(d.arrival, a.ArrivalRate)
	gauge(d.holdMean, a.HoldMean.Seconds())
	gauge(d.holdP99, a.HoldP99.Seconds())
	gauge(d.busyMean, a.BusyMean)
	gauge(d.busyP99, a.BusyP99)
	gauge(d.waitedRatio, a.WaitedShare)
	gauge(d.waitP99, a.WaitP99.Seconds())
	gauge(d.recommended, float64(a.RecommendedMaxConns))
	gauge(d.serverLimit, float64(a.ServerLimit))
	known := false
	for _, v := range verdicts {
		gauge(d.verdict, b2f(a.Verdict == v), string(v))
		known = known || a.Verdict == v
	}
	if !known && a.Verdict != "" { // a verdict newer than this package
		gauge(d.verdict, 1, string(a.Verdict))
	}

	for _, al := range s.Alerts {
		gauge(d.alertFiring, b2f(al.Firing), al.Name)
		gauge(d.alertValue, al.Value, al.Name)
		gauge(d.alertThreshold, al.Threshold, al.Name)
	}
}

// histogram is h as a Prometheus histogram with every second bound of the
// pool's histograms (pool.BucketBound), the powers of two nanoseconds from
// 2^10 (about 1µs) to 2^41 (about 37 minutes): 32 buckets and +Inf. The pool's bucket i counts the durations in
// (BucketBound(i-1), BucketBound(i)]; the Prometheus bucket of bound
// BucketBound(2k) counts those up to it: buckets 0 to 2k. The pool's last
// bucket, which also counts everything longer, goes to +Inf alone.
func histogram(desc *prometheus.Desc, name string, h pool.Histogram, count int64, sum float64) prometheus.Metric {
	buckets := make(map[float64]uint64, pool.NumBuckets/2)
	var cum int64
	for i := 0; i < pool.NumBuckets-1; i++ {
		cum += h[i]
		if i%2 == 0 {
			buckets[pool.BucketBound(i).Seconds()] = uint64(cum)
		}
	}
	return prometheus.MustNewConstHistogram(desc, uint64(count), sum, buckets, name)
}

// valid is s with any invalid UTF-8 replaced.
func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
