package sqlpoolprom_test

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
	sqlpoolprom "github.com/sqlpool/sqlpool/prometheus"
)

// families is one scrape, parsed: the metric families by name.
type families map[string]*dto.MetricFamily

// newRegistry returns a registry with a collector of the pools named in
// names only, so that a test sees its own pools, whatever else the process
// has open.
func newRegistry(t *testing.T, names ...string) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := sqlpoolprom.Register(reg, sqlpoolprom.WithPoolFilter(func(n string) bool { return slices.Contains(names, n) })); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return reg
}

// scrape serves g's /metrics over HTTP as a program would, fetches it in
// the text format, and parses it as Prometheus would.
func scrape(t *testing.T, g prometheus.Gatherer) families {
	t.Helper()
	body := scrapeText(t, g)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return fams
}

// scrapeText returns g's /metrics page in the text format.
func scrapeText(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, b)
	}
	return string(b)
}

// match reports whether m has every label of kv (name, value, …).
func match(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == kv[i] {
				found = lp.GetValue() == kv[i+1]
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// metric returns the one series of family name with the labels kv, failing
// the test if there is not exactly one.
func (f families) metric(t *testing.T, name string, kv ...string) *dto.Metric {
	t.Helper()
	var out []*dto.Metric
	for _, m := range f[name].GetMetric() {
		if match(m, kv) {
			out = append(out, m)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%s%v: got %d series, want 1 (families: %v)", name, kv, len(out), slices.Sorted(maps.Keys(f)))
	}
	return out[0]
}

// value returns the value of the gauge or counter name{kv}.
func (f families) value(t *testing.T, name string, kv ...string) float64 {
	t.Helper()
	m := f.metric(t, name, kv...)
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	t.Fatalf("%s%v is a %v, not a gauge or counter", name, kv, f[name].GetType())
	return 0
}

// want checks that name{kv} is v.
func (f families) want(t *testing.T, v float64, name string, kv ...string) {
	t.Helper()
	if got := f.value(t, name, kv...); got != v {
		t.Errorf("%s%v: got %v, want %v", name, kv, got, v)
	}
}

// histogram returns the histogram name{kv}.
func (f families) histogram(t *testing.T, name string, kv ...string) *dto.Histogram {
	t.Helper()
	m := f.metric(t, name, kv...)
	if m.Histogram == nil {
		t.Fatalf("%s%v is a %v, not a histogram", name, kv, f[name].GetType())
	}
	return m.GetHistogram()
}

// sumBy is PromQL's sum by (label) (name): the values of the family's
// series added up by the value of label.
func (f families) sumBy(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f[name].GetMetric() {
		var v string
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				v = lp.GetValue()
			}
		}
		switch {
		case m.Gauge != nil:
			out[v] += m.GetGauge().GetValue()
		case m.Counter != nil:
			out[v] += m.GetCounter().GetValue()
		}
	}
	return out
}

// wantBuckets checks that the histogram's buckets are every second bound of
// the pool's histograms, with h's counts added up to each, and its count and
// sum.
func wantBuckets(t *testing.T, name string, got *dto.Histogram, h pool.Histogram, count int64, sum float64) {
	t.Helper()
	bs := got.GetBucket()
	// The text format's +Inf bucket, which the parser keeps, is the count.
	if n := len(bs); n != pool.NumBuckets/2+1 || !math.IsInf(bs[n-1].GetUpperBound(), 1) || bs[n-1].GetCumulativeCount() != uint64(count) {
		t.Fatalf("%s: got buckets %v, want %d and +Inf with the count, %d", name, bs, pool.NumBuckets/2, count)
	}
	bs = bs[:len(bs)-1]
	var cum uint64
	for i, b := range bs {
		cum += uint64(h[2*i])
		if i > 0 {
			cum += uint64(h[2*i-1])
		}
		if want := pool.BucketBound(2 * i).Seconds(); b.GetUpperBound() != want {
			t.Errorf("%s: bucket %d: got le=%v, want %v", name, i, b.GetUpperBound(), want)
		}
		if b.GetCumulativeCount() != cum {
			t.Errorf("%s: bucket le=%v: got %d, want %d", name, b.GetUpperBound(), b.GetCumulativeCount(), cum)
		}
	}
	if got.GetSampleCount() != uint64(count) || got.GetSampleSum() != sum {
		t.Errorf("%s: got count %d sum %v, want %d and %v", name, got.GetSampleCount(), got.GetSampleSum(), count, sum)
	}
	if h.Count() != count {
		t.Errorf("%s: the pool's histogram counts %d, its count is %d", name, h.Count(), count)
	}
}

// wantStat checks every series of pool name that reads its Stat against
// s: what a scrape of a pool at rest must show.
func (f families) wantStat(t *testing.T, name string, s sqlpool.Stat) {
	t.Helper()
	db := []string{"db_name", name}
	for _, c := range []struct {
		series string
		v      float64
	}{
		{"go_sql_max_open_connections", float64(s.MaxSize)},
		{"go_sql_open_connections", float64(s.Total)},
		{"go_sql_in_use_connections", float64(s.InUse)},
		{"go_sql_idle_connections", float64(s.Idle)},
		{"go_sql_wait_count_total", float64(s.WaitCount)},
		{"go_sql_wait_duration_seconds_total", s.WaitDuration.Seconds()},
		{"go_sql_max_idle_closed_total", 0},
		{"go_sql_max_idle_time_closed_total", float64(s.DestroyedCount(pool.ReasonIdle))},
		{"go_sql_max_lifetime_closed_total", float64(s.DestroyedCount(pool.ReasonLifetime))},
		{"sqlpool_min_open_connections", float64(s.MinSize)},
		{"sqlpool_dialing_connections", float64(s.Constructing)},
		{"sqlpool_pending_requests", float64(s.Waiting)},
		{"sqlpool_acquires_total", float64(s.AcquireCount)},
		{"sqlpool_acquire_timeouts_total", float64(s.TimeoutCount)},
		{"sqlpool_leaks_total", float64(s.Leaks)},
		{"sqlpool_preping_failures_total", float64(s.DestroyedCount(pool.ReasonCheck))},
		{"sqlpool_connections_created_total", float64(s.CreatedCount)},
		{"sqlpool_dial_errors_total", float64(s.CreateErrorCount)},
		{"sqlpool_session_resets_total", float64(s.Resets)},
	} {
		f.want(t, c.v, c.series, db...)
	}
	for _, r := range pool.DestroyReasons() {
		f.want(t, float64(s.DestroyedCount(r)), "sqlpool_connections_destroyed_total", "db_name", name, "reason", r.String())
	}
	if got, want := len(f.sumBy("sqlpool_connections_destroyed_total", "reason")), len(pool.DestroyReasons()); got != want {
		t.Errorf("sqlpool_connections_destroyed_total: got %d reasons, want %d", got, want)
	}
	wantBuckets(t, "sqlpool_hold_duration_seconds", f.histogram(t, "sqlpool_hold_duration_seconds", db...), s.HoldBuckets, s.HoldCount, s.HoldDuration.Seconds())
	wantBuckets(t, "sqlpool_wait_duration_seconds", f.histogram(t, "sqlpool_wait_duration_seconds", db...), s.WaitBuckets, s.WaitCount, s.WaitDuration.Seconds())
}

func (f families) String() string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(f)) {
		fmt.Fprintf(&b, "%s %v\n", n, f[n].GetType())
	}
	return b.String()
}
