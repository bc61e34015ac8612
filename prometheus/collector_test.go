package sqlpoolprom_test

// Tests that need no server: the go_sql_* series against client_golang's own
// DBStatsCollector on SQLite, and every series against snapshots made up to
// known values.

import (
	"context"
	"database/sql"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
	sqlpoolprom "github.com/sqlpool/sqlpool/prometheus"
)

// openSQLite opens a sqlpool database on an in-memory SQLite database of
// its own, with a pool named name, closed when the test ends.
func openSQLite(t *testing.T, name string, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlpool", "sqlite3:file:"+name+"?mode=memory&cache=shared&pool_name="+name+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db
}

func goSQL(f families) []string {
	var out []string
	for n := range f {
		if strings.HasPrefix(n, "go_sql_") {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func labelNames(m *dto.Metric) []string {
	var out []string
	for _, lp := range m.GetLabel() {
		out = append(out, lp.GetName())
	}
	return out
}

func TestGoSQLSeriesHaveDBStatsCollectorsNamesHelpTypesAndLabelExactly(t *testing.T) {
	plain, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	theirs := prometheus.NewPedanticRegistry()
	theirs.MustRegister(collectors.NewDBStatsCollector(plain, "plain"))
	want := scrape(t, theirs)

	openSQLite(t, "names", "")
	got := scrape(t, newRegistry(t, "names"))

	if g, w := goSQL(got), goSQL(want); !slices.Equal(g, w) {
		t.Fatalf("go_sql_* series: got %v, want DBStatsCollector's %v", g, w)
	}
	if len(goSQL(want)) != 9 {
		t.Fatalf("DBStatsCollector exports %d go_sql_* series, want the 9 this package knows: %v", len(goSQL(want)), goSQL(want))
	}
	for _, n := range goSQL(want) {
		w, g := want[n], got[n]
		if g.GetHelp() != w.GetHelp() {
			t.Errorf("%s: got HELP %q, want %q", n, g.GetHelp(), w.GetHelp())
		}
		if g.GetType() != w.GetType() {
			t.Errorf("%s: got TYPE %v, want %v", n, g.GetType(), w.GetType())
		}
		if l := labelNames(g.GetMetric()[0]); !slices.Equal(l, []string{"db_name"}) {
			t.Errorf("%s: got labels %v, want [db_name]", n, l)
		}
		if l := labelNames(w.GetMetric()[0]); !slices.Equal(l, []string{"db_name"}) {
			t.Errorf("DBStatsCollector's %s: labels %v, want [db_name]", n, l)
		}
	}
}

func TestCollectorSharesARegistryWithDBStatsCollectorOfAPlainDatabase(t *testing.T) {
	plain, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.SetMaxOpenConns(7)
	if err := plain.Ping(); err != nil {
		t.Fatal(err)
	}
	db := openSQLite(t, "shared_registry", "&pool_max_conns=4")
	if _, err := db.Exec("SELECT 1"); err != nil {
		t.Fatal(err)
	}

	// One registry, both collectors: the registry takes both (the sqlpool
	// collector is unchecked) and a scrape succeeds only if each go_sql_*
	// name has one help text and one type.
	reg := newRegistry(t, "shared_registry")
	if err := reg.Register(collectors.NewDBStatsCollector(plain, "plain")); err != nil {
		t.Fatalf("registering DBStatsCollector beside sqlpoolprom's: %v", err)
	}
	f := scrape(t, reg)
	for _, n := range goSQL(f) {
		f.metric(t, n, "db_name", "plain")
		f.metric(t, n, "db_name", "shared_registry")
	}
	f.want(t, 7, "go_sql_max_open_connections", "db_name", "plain")
	f.want(t, 4, "go_sql_max_open_connections", "db_name", "shared_registry")
	if got := len(goSQL(f)); got != 9 {
		t.Errorf("got %d go_sql_* series, want 9", got)
	}
}

func TestCollectorDescribesNothingSoPoolsMayComeAndGo(t *testing.T) {
	ch := make(chan *prometheus.Desc, 100)
	sqlpoolprom.NewCollector().Describe(ch)
	close(ch)
	if n := len(ch); n != 0 {
		t.Errorf("Describe sent %d descriptors, want 0 (an unchecked collector)", n)
	}

	reg := newRegistry(t, "comes_and_goes")
	if f := scrape(t, reg); len(f) != 0 {
		t.Errorf("before the pool opens: got series %v, want none", f)
	}
	db, err := sql.Open("sqlpool", "sqlite3:file:comes_and_goes?mode=memory&cache=shared&pool_name=comes_and_goes")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	scrape(t, reg).want(t, 1, "go_sql_open_connections", "db_name", "comes_and_goes")
	db.Close()
	if f := scrape(t, reg); len(f) != 0 {
		t.Errorf("after the pool closed: got series %v, want none", f)
	}
}

func TestRegisterNilRegistersWithTheDefaultRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	defer func() { prometheus.DefaultRegisterer = saved }()

	openSQLite(t, "default_registerer", "")
	if err := sqlpoolprom.Register(nil, sqlpoolprom.WithPoolFilter(func(n string) bool { return n == "default_registerer" })); err != nil {
		t.Fatalf("Register(nil): %v", err)
	}
	f := scrape(t, reg)
	f.want(t, 1, "go_sql_open_connections", "db_name", "default_registerer")
	if got := f.sumBy("go_sql_open_connections", "db_name"); len(got) != 1 {
		t.Errorf("WithPoolFilter: got pools %v, want default_registerer only", got)
	}
}

func TestCollectorExportsAnSQLitePoolAsItsStat(t *testing.T) {
	db := openSQLite(t, "sqlite_stat", "&pool_max_conns=2&pool_min_conns=1")
	ctx := context.Background()
	for range 5 {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	f := scrape(t, newRegistry(t, "sqlite_stat"))
	s, err := sqlpool.DBStat(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f.wantStat(t, "sqlite_stat", s)
	f.want(t, 2, "go_sql_max_open_connections", "db_name", "sqlite_stat")
	f.want(t, 1, "sqlpool_min_open_connections", "db_name", "sqlite_stat")
	f.want(t, 1, "sqlpool_info", "db_name", "sqlite_stat", "driver", "sqlite3", "system", "sqlite")
	// No server limit for SQLite, and too little history for advice.
	f.want(t, 0, "sqlpool_advice_server_connection_limit", "db_name", "sqlite_stat")
	f.want(t, 1, "sqlpool_advice_verdict", "db_name", "sqlite_stat", "verdict", "not enough data")
}

// madeUp is a snapshot with a distinct value in every field the collector
// reads.
func madeUp(name string) sqlpool.Snapshot {
	s := sqlpool.Snapshot{
		Stat: sqlpool.Stat{Name: name, Leaks: 17, Resets: 18, Stat: pool.Stat{
			MaxSize: 20, MinSize: 2, Total: 9, Idle: 3, InUse: 5, Constructing: 1, Waiting: 4,
			AcquireCount: 1000, WaitCount: 15, WaitDuration: 1500 * time.Millisecond, TimeoutCount: 6,
			CreatedCount: 30, CreateErrorCount: 7,
			HoldCount: 15, HoldDuration: 2250 * time.Millisecond,
		}},
		Driver: "postgres", System: "postgresql", Namespace: "orders", Server: "db:5432",
		Suspects: 2,
		Advice: sqlpool.Advice{
			Window: 5 * time.Minute, ArrivalRate: 99.5, HoldMean: 50 * time.Millisecond, HoldP99: 120 * time.Millisecond,
			BusyMean: 4.975, BusyP99: 6.5, WaitedShare: 0.25, WaitP99: 300 * time.Millisecond,
			RecommendedMaxConns: 10, ServerLimit: 97, Verdict: sqlpool.VerdictOversized,
		},
		Alerts: []sqlpool.Alert{
			{Pool: name, Name: sqlpool.AlertUtilization, Firing: false, Value: 0.25, Threshold: 0.8},
			{Pool: name, Name: sqlpool.AlertWait, Firing: true, Value: 0.3, Threshold: 0.25},
			{Pool: name, Name: sqlpool.AlertAcquireTimeouts, Firing: true, Value: 6, Threshold: 0},
		},
	}
	for i, r := range pool.DestroyReasons() {
		s.Destroyed[r] = int64(100 + i)
	}
	// 15 holds: 1 up to 1.024µs, 2 up to 1.536µs, 3 up to 2.048µs, 4 in
	// bucket 5 (up to 6.144µs), 5 longer than 2^41ns (the last bucket).
	s.HoldBuckets[0], s.HoldBuckets[1], s.HoldBuckets[2], s.HoldBuckets[5], s.HoldBuckets[pool.NumBuckets-1] = 1, 2, 3, 4, 5
	s.WaitBuckets[20], s.WaitBuckets[21], s.WaitBuckets[40] = 5, 5, 5
	return s
}

func TestCollectorExportsEverySeriesOfASnapshotExactly(t *testing.T) {
	s := madeUp("orders")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(sqlpoolprom.NewCollector(sqlpoolprom.WithSnapshots(func() []sqlpool.Snapshot { return []sqlpool.Snapshot{s} })))
	f := scrape(t, reg)
	f.wantStat(t, "orders", s.Stat)
	db := []string{"db_name", "orders"}
	for _, c := range []struct {
		series string
		v      float64
		kv     []string
	}{
		{"go_sql_max_open_connections", 20, nil},
		{"go_sql_open_connections", 9, nil},
		{"go_sql_in_use_connections", 5, nil},
		{"go_sql_idle_connections", 3, nil},
		{"go_sql_wait_count_total", 15, nil},
		{"go_sql_wait_duration_seconds_total", 1.5, nil},
		{"go_sql_max_idle_closed_total", 0, nil},
		{"go_sql_max_idle_time_closed_total", 102, nil},
		{"go_sql_max_lifetime_closed_total", 101, nil},
		{"sqlpool_info", 1, []string{"driver", "postgres", "system", "postgresql", "namespace", "orders", "server", "db:5432"}},
		{"sqlpool_min_open_connections", 2, nil},
		{"sqlpool_dialing_connections", 1, nil},
		{"sqlpool_pending_requests", 4, nil},
		{"sqlpool_acquires_total", 1000, nil},
		{"sqlpool_acquire_timeouts_total", 6, nil},
		{"sqlpool_leaks_total", 17, nil},
		{"sqlpool_leak_suspect_connections", 2, nil},
		{"sqlpool_preping_failures_total", 103, nil},
		{"sqlpool_connections_created_total", 30, nil},
		{"sqlpool_dial_errors_total", 7, nil},
		{"sqlpool_connections_destroyed_total", 100, []string{"reason", "broken"}},
		{"sqlpool_connections_destroyed_total", 108, []string{"reason", "resized"}},
		{"sqlpool_session_resets_total", 18, nil},
		{"sqlpool_advice_window_seconds", 300, nil},
		{"sqlpool_advice_acquires_per_second", 99.5, nil},
		{"sqlpool_advice_hold_mean_seconds", 0.05, nil},
		{"sqlpool_advice_hold_p99_seconds", 0.12, nil},
		{"sqlpool_advice_busy_mean_connections", 4.975, nil},
		{"sqlpool_advice_busy_p99_connections", 6.5, nil},
		{"sqlpool_advice_waited_ratio", 0.25, nil},
		{"sqlpool_advice_wait_p99_seconds", 0.3, nil},
		{"sqlpool_advice_recommended_max_connections", 10, nil},
		{"sqlpool_advice_server_connection_limit", 97, nil},
		{"sqlpool_advice_verdict", 0, []string{"verdict", "not enough data"}},
		{"sqlpool_advice_verdict", 0, []string{"verdict", "undersized"}},
		{"sqlpool_advice_verdict", 0, []string{"verdict", "right"}},
		{"sqlpool_advice_verdict", 1, []string{"verdict", "oversized"}},
		{"sqlpool_alert_firing", 0, []string{"alert", "utilization"}},
		{"sqlpool_alert_value", 0.25, []string{"alert", "utilization"}},
		{"sqlpool_alert_threshold", 0.8, []string{"alert", "utilization"}},
		{"sqlpool_alert_firing", 1, []string{"alert", "wait"}},
		{"sqlpool_alert_value", 0.3, []string{"alert", "wait"}},
		{"sqlpool_alert_threshold", 0.25, []string{"alert", "wait"}},
		{"sqlpool_alert_firing", 1, []string{"alert", "acquire_timeouts"}},
		{"sqlpool_alert_value", 6, []string{"alert", "acquire_timeouts"}},
		{"sqlpool_alert_threshold", 0, []string{"alert", "acquire_timeouts"}},
	} {
		f.want(t, c.v, c.series, append(db, c.kv...)...)
	}
	if got := len(f["sqlpool_advice_verdict"].GetMetric()); got != 4 {
		t.Errorf("sqlpool_advice_verdict: got %d series, want one per verdict, 4", got)
	}
	if got := len(f["sqlpool_alert_firing"].GetMetric()); got != len(s.Alerts) {
		t.Errorf("sqlpool_alert_firing: got %d series, want one per alert that is on, %d", got, len(s.Alerts))
	}

	// The histograms, coarsened to every second bound: cumulative counts
	// 1 (le 1.024µs), 6 (2.048µs), 6 (4.096µs), 10 (8.192µs) … 10, and 15
	// at +Inf, the count.
	h := f.histogram(t, "sqlpool_hold_duration_seconds", db...)
	wantCum := map[float64]uint64{1.024e-6: 1, 2.048e-6: 6, 4.096e-6: 6, 8.192e-6: 10, pool.BucketBound(62).Seconds(): 10}
	for _, b := range h.GetBucket() {
		if w, ok := wantCum[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("sqlpool_hold_duration_seconds_bucket{le=%v}: got %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if h.GetSampleCount() != 15 || h.GetSampleSum() != 2.25 {
		t.Errorf("sqlpool_hold_duration_seconds: got count %d sum %v, want 15 and 2.25", h.GetSampleCount(), h.GetSampleSum())
	}
	if last := h.GetBucket()[len(h.GetBucket())-2].GetUpperBound(); last != float64(1<<41)/1e9 {
		t.Errorf("sqlpool_hold_duration_seconds: last finite bound %v, want 2^41ns", last)
	}
}

func TestCollectorTellsPoolsOfOneNameApartAndKeepsLabelsUTF8(t *testing.T) {
	snaps := []sqlpool.Snapshot{madeUp("orders"), madeUp("orders (2)"), madeUp("orders"), madeUp("bad\xffname")}
	snaps[1].MaxSize = 30
	snaps[2].MaxSize = 40
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(sqlpoolprom.NewCollector(sqlpoolprom.WithSnapshots(func() []sqlpool.Snapshot { return snaps })))
	f := scrape(t, reg)
	f.want(t, 20, "go_sql_max_open_connections", "db_name", "orders")
	f.want(t, 30, "go_sql_max_open_connections", "db_name", "orders (2)")
	f.want(t, 40, "go_sql_max_open_connections", "db_name", "orders (3)")
	f.want(t, 20, "go_sql_max_open_connections", "db_name", "bad\uFFFDname")
}

// TestDocListsEverySeries holds doc.go's list of series to what a scrape
// exports, both ways.
func TestDocListsEverySeries(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^//\t((?:go_sql|sqlpool)_[a-z0-9_]+)`).FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	s := madeUp("doc")
	s.Alerts = append(s.Alerts, sqlpool.Alert{Name: sqlpool.AlertExhaustion})
	reg := prometheus.NewRegistry()
	reg.MustRegister(sqlpoolprom.NewCollector(sqlpoolprom.WithSnapshots(func() []sqlpool.Snapshot { return []sqlpool.Snapshot{s} })))
	exported := map[string]bool{}
	for n := range scrape(t, reg) {
		exported[n] = true
	}
	if d, e := slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(exported)); !slices.Equal(d, e) {
		t.Errorf("doc.go lists %v\nthe collector exports %v", d, e)
	}
}
