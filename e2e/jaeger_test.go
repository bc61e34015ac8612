package e2e

// sqlpool's traces in a real Jaeger: the Jaeger v2 program, built from the
// module proxy (jaegertool/), run on loopback with the example's own
// configuration (examples/jaeger/jaeger.yaml), fed by examples/jaeger on
// SQLite and PostgreSQL and by the demo, and read back through its HTTP
// query API.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// jaegerVersion is the Jaeger the tests build; jaegertool/go.mod holds it.
const jaegerVersion = "v1.75.0"

// jaegerBinary returns Jaeger built from jaegertool/, building it once per
// machine into the user's cache directory (about 4 minutes and 2.3 GB of
// memory on 2 cores; the Go build cache makes a rebuild quick).
func jaegerBinary(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(cache, "sqlpool", "jaeger-"+jaegerVersion)
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("building Jaeger %s into %s (minutes, once per machine)", jaegerVersion, bin)
	tmp := bin + ".building"
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/jaegertracing/jaeger/cmd/jaeger")
	cmd.Dir = "jaegertool"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building Jaeger: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// jaeger is a running Jaeger.
type jaeger struct {
	otlp, query string // base URLs: OTLP/HTTP and the query API
	log         *bytes.Buffer
}

// startJaeger runs Jaeger with examples/jaeger/jaeger.yaml on free ports of
// 127.0.0.1 and stops it when the test ends.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := jaegerBinary(t)
	ports := map[string]string{}
	for _, name := range []string{"HEALTH", "QUERY", "QUERY_GRPC", "OTLP_GRPC", "OTLP_HTTP"} {
		ports[name] = freeAddr(t)
	}
	cmd := exec.Command(bin, "--config", "../examples/jaeger/jaeger.yaml")
	cmd.Env = os.Environ()
	for name, addr := range ports {
		cmd.Env = append(cmd.Env, "SQLPOOL_JAEGER_"+name+"="+addr)
	}
	j := &jaeger{otlp: "http://" + ports["OTLP_HTTP"], query: "http://" + ports["QUERY"], log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = j.log, j.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + ports["HEALTH"] + "/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("Jaeger exited (%v):\n%s", err, j.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger not healthy within a minute:\n%s", j.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// jSpan is a span as Jaeger's query API (/api/traces) returns it.
type jSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

func (s jSpan) tag(key string) (string, bool) {
	for _, tg := range s.Tags {
		if tg.Key == key {
			return fmt.Sprint(tg.Value), true
		}
	}
	return "", false
}

func (s jSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

type jTrace struct {
	TraceID string  `json:"traceID"`
	Spans   []jSpan `json:"spans"`
}

// traces returns the traces Jaeger stored for service, and their JSON as
// Jaeger sent it, waiting until it has at least want traces and the count
// has held for a moment (Jaeger's batch processor stores them in batches).
func (j *jaeger) traces(t *testing.T, service string, want int) ([]jTrace, string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, stable := -1, 0
	for {
		resp, err := http.Get(j.query + "/api/traces?limit=100000&service=" + service)
		if err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		raw.ReadFrom(resp.Body)
		resp.Body.Close()
		var body struct {
			Data []jTrace `json:"data"`
		}
		if err := json.Unmarshal(raw.Bytes(), &body); err != nil {
			t.Fatalf("Jaeger's /api/traces: %v", err)
		}
		n := 0
		for _, tr := range body.Data {
			n += len(tr.Spans)
		}
		if n == last && len(body.Data) >= want {
			stable++
		} else {
			last, stable = n, 0
		}
		if stable >= 3 {
			return body.Data, raw.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger has %d traces of %s after 30 s, want %d", len(body.Data), service, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// services returns the services Jaeger knows.
func (j *jaeger) services(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get(j.query + "/api/services")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Data
}

// buildExample builds examples/jaeger as a user would run it.
func buildExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jaeger-example")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/jaeger")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/jaeger: %v\n%s", err, out)
	}
	return bin
}

// postgresURL is the shared test server, as the README's example DSN has
// it, with a password the server (trust authentication) never asks for:
// the tests look for it in everything Jaeger stored.
func postgresURL(t *testing.T, db string) string {
	t.Helper()
	if err := exec.Command("pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at 127.0.0.1:5432: %v (CI=true)", err)
		}
		t.Skipf("PostgreSQL at 127.0.0.1:5432: %v; start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", err)
	}
	return "postgres://postgres:" + secretPassword + "@127.0.0.1:5432/" + db + "?sslmode=disable"
}

const secretPassword = "Jaeger-Must-Not-See-This-9"

// TestJaegerStoresSqlpoolsTraces runs examples/jaeger against a real
// Jaeger on SQLite and on PostgreSQL through lib/pq and pgx, once on a
// database that does not exist, and the demo for a second, and checks what
// Jaeger stored.
func TestJaegerStoresSqlpoolsTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs Jaeger")
	}
	j := startJaeger(t)
	example := buildExample(t)
	run := func(t *testing.T, service string, args ...string) (string, error) {
		cmd := exec.Command(example, args...)
		cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT="+j.otlp, "OTEL_SERVICE_NAME="+service,
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	for _, tc := range []struct {
		name, dsn         string
		system, namespace string
		server            bool
	}{
		{name: "sqlite", system: "sqlite", namespace: "example.db"},
		{name: "pgx", dsn: "pgx:" + postgresURL(t, "test"), system: "postgresql", namespace: "test", server: true},
		{name: "lib-pq", dsn: "postgres:" + postgresURL(t, "test"), system: "postgresql", namespace: "test", server: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			service := "sqlpool-e2e-" + tc.name
			var args []string
			if tc.dsn != "" {
				args = []string{"--dsn", tc.dsn}
			}
			if out, err := run(t, service, args...); err != nil || !strings.Contains(out, "exported 6 operations") {
				t.Fatalf("the example: %v\n%s", err, out)
			}
			traces, raw := j.traces(t, service, 1)
			if !slices.Contains(j.services(t), service) {
				t.Errorf("Jaeger's services %q lack %s", j.services(t), service)
			}
			checkNoSecrets(t, raw)
			if len(traces) != 1 {
				t.Fatalf("Jaeger has %d traces of %s, want 1 (checkout; no orphan CONNECT)", len(traces), service)
			}
			byName := map[string]jSpan{}
			for _, s := range traces[0].Spans {
				byName[strings.Fields(s.OperationName)[0]] = s
			}
			checkout, ok := byName["checkout"]
			if !ok || checkout.parent() != "" {
				t.Fatalf("no root span checkout among %v", spanNames(traces[0]))
			}
			if kind, _ := checkout.tag("span.kind"); kind != "internal" {
				t.Errorf("checkout: span.kind %q, want internal", kind)
			}
			parents := map[string]string{"CONNECT": "CREATE", "CREATE": "checkout", "INSERT": "checkout", "SELECT": "checkout", "BEGIN": "checkout", "UPDATE": "checkout", "COMMIT": "checkout"}
			if len(traces[0].Spans) != len(parents)+1 {
				t.Errorf("spans %v, want checkout and %d under it", spanNames(traces[0]), len(parents))
			}
			for op, parent := range parents {
				s, ok := byName[op]
				if !ok {
					t.Errorf("no %s span among %v", op, spanNames(traces[0]))
					continue
				}
				if want := op + " " + tc.namespace; s.OperationName != want {
					t.Errorf("span name %q, want %q", s.OperationName, want)
				}
				if s.parent() != byName[parent].SpanID {
					t.Errorf("%s: parent %s, want %s", op, s.parent(), parent)
				}
				want := map[string]string{"span.kind": "client", "db.system.name": tc.system, "db.namespace": tc.namespace, "db.operation.name": op, "otel.scope.name": "github.com/sqlpool/sqlpool"}
				if tc.server {
					want["server.address"], want["server.port"] = "127.0.0.1", "5432"
				}
				for k, v := range want {
					if got, _ := s.tag(k); got != v {
						t.Errorf("%s: %s = %q, want %q", op, k, got, v)
					}
				}
				if _, ok := s.tag("db.client.connection.pool.name"); ok {
					t.Errorf("%s: db.client.connection.pool.name on a span", op)
				}
				if v, _ := s.tag("otel.scope.version"); v == "" {
					t.Errorf("%s: no otel.scope.version", op)
				}
			}
			arg := "?"
			if tc.system == "postgresql" {
				arg = "$1"
			}
			if got, _ := byName["SELECT"].tag("db.query.text"); got != "SELECT item, qty FROM sqlpool_example_orders WHERE order_id = "+arg {
				t.Errorf("SELECT: db.query.text %q", got)
			}
			if got, _ := byName["SELECT"].tag("db.response.returned_rows"); got != "1" {
				t.Errorf("SELECT: db.response.returned_rows %q, want 1", got)
			}
			for _, op := range []string{"INSERT", "SELECT", "UPDATE"} {
				if got, _ := byName[op].tag("db.collection.name"); got != "sqlpool_example_orders" {
					t.Errorf("%s: db.collection.name %q, want sqlpool_example_orders", op, got)
				}
			}
		})
	}

	t.Run("missing database", func(t *testing.T) {
		service := "sqlpool-e2e-missing"
		out, err := run(t, service, "--dsn", "pgx:"+postgresURL(t, "sqlpool_e2e_no_such_database"))
		if err == nil {
			t.Fatalf("the example succeeded on a missing database:\n%s", out)
		}
		traces, raw := j.traces(t, service, 1)
		checkNoSecrets(t, raw)
		if len(traces) != 1 {
			t.Fatalf("Jaeger has %d traces, want 1", len(traces))
		}
		var failed []string
		for _, s := range traces[0].Spans {
			op := strings.Fields(s.OperationName)[0]
			if code, _ := s.tag("otel.status_code"); code != "ERROR" {
				t.Errorf("%s: otel.status_code %q, want ERROR", s.OperationName, code)
			}
			failed = append(failed, op)
			if op == "checkout" {
				continue
			}
			desc, _ := s.tag("otel.status_description")
			for _, want := range []string{"127.0.0.1:5432 (127.0.0.1)", "does not exist (SQLSTATE 3D000)"} {
				if !strings.Contains(desc, want) {
					t.Errorf("%s: status %q, want the cause kept: %q", s.OperationName, desc, want)
				}
			}
			if typ, _ := s.tag("error.type"); typ != "3D000" {
				t.Errorf("%s: error.type %q, want 3D000", s.OperationName, typ)
			}
		}
		slices.Sort(failed)
		if !slices.Equal(failed, []string{"CONNECT", "CREATE", "checkout"}) {
			t.Errorf("failed spans %v, want checkout, CREATE and its CONNECT", failed)
		}
	})

	t.Run("demo", func(t *testing.T) {
		bin := buildDemo(t)
		cmd := exec.Command(bin, "demo", "--otel", "--duration", "1s", "--workers", "4")
		cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT="+j.otlp, "OTEL_SERVICE_NAME=sqlpool-e2e-demo",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo --otel: %v\n%s", err, out)
		}
		var exported int
		for line := range strings.Lines(string(out)) {
			if _, err := fmt.Sscanf(line, "OpenTelemetry: %d spans exported", &exported); err == nil {
				break
			}
		}
		if exported == 0 || strings.Contains(string(out), "dropped") {
			t.Fatalf("the demo's report of its spans:\n%s", out)
		}
		traces, raw := j.traces(t, "sqlpool-e2e-demo", 1)
		checkNoSecrets(t, raw)
		stored := 0
		for _, tr := range traces {
			stored += len(tr.Spans)
			for _, s := range tr.Spans {
				if s.parent() == "" && strings.HasPrefix(s.OperationName, "CONNECT") {
					t.Errorf("an orphan CONNECT trace %s: a background dial", tr.TraceID)
				}
			}
		}
		if stored != exported {
			t.Errorf("Jaeger stored %d spans of the demo, the demo exported %d", stored, exported)
		}
	})
}

func spanNames(tr jTrace) []string {
	var out []string
	for _, s := range tr.Spans {
		out = append(out, s.OperationName)
	}
	return out
}

// checkNoSecrets fails the test if what Jaeger stored holds the password or
// an argument value of the example's statements.
func checkNoSecrets(t *testing.T, raw string) {
	t.Helper()
	for _, secret := range []string{secretPassword, "coffee", "order-"} {
		if strings.Contains(raw, secret) {
			i := strings.Index(raw, secret)
			t.Errorf("Jaeger stored %q: …%s…", secret, raw[max(0, i-200):min(len(raw), i+100)])
		}
	}
}
