package sqlpool

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeSettingsTable returns the README's settings table: the lines from
// its header to the first line that is not a table row.
func readmeSettingsTable(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const header = "| parameter | Go option | default | meaning |\n"
	s := string(b)
	i := strings.Index(s, header)
	if i < 0 {
		t.Fatalf("README.md has no settings table (no line %q)", strings.TrimSpace(header))
	}
	var table strings.Builder
	for line := range strings.Lines(s[i:]) {
		if !strings.HasPrefix(line, "|") {
			break
		}
		table.WriteString(line)
	}
	return table.String()
}

// update rewrites the README's settings table and doc.go's list of DSN
// parameters from settings.go: go test -run Settings -update.
var update = flag.Bool("update", false, "rewrite README.md's settings table and doc.go's parameter list from settings.go")

func TestREADMESettingsTableIsTheTableOfSettings(t *testing.T) {
	got, want := readmeSettingsTable(t), settingsTable()
	if got != want && *update {
		rewriteFile(t, "README.md", got, want)
		return
	}
	if got != want {
		t.Errorf("README.md's settings table differs from settings.go's (go test -run Settings -update rewrites it); replace it with:\n\n%s", want)
	}
}

func TestPackageDocListsEveryDSNParameter(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	want := settingsDoc()
	if !strings.Contains(string(b), want) && *update {
		rewriteFile(t, "doc.go", docParamList(t, string(b)), want)
		return
	}
	if !strings.Contains(string(b), want) {
		t.Errorf("doc.go does not list the DSN parameters as settings.go has them (go test -run Settings -update rewrites it); the list is:\n\n%s", want)
	}
}

// docParamList returns doc.go's list of DSN parameters: its run of lines
// that start with "//\tpool_".
func docParamList(t *testing.T, doc string) string {
	t.Helper()
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if strings.HasPrefix(line, "//\tpool_") {
			b.WriteString(line)
		} else if b.Len() > 0 {
			break
		}
	}
	if b.Len() == 0 {
		t.Fatal("doc.go has no list of DSN parameters (lines starting with \"//\\tpool_\")")
	}
	return b.String()
}

// rewriteFile replaces old, which must be in the file once, by new.
func rewriteFile(t *testing.T, name, old, new string) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("%s: the text to rewrite is not there exactly once", name)
	}
	if err := os.WriteFile(name, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s rewritten", name)
}

// TestSettingsShowTheDefaultsTheTableSays holds the table's defaults to
// defaultConfig, where a default is a plain value: a snapshot of a pool with
// every default shows it.
func TestSettingsShowTheDefaultsTheTableSays(t *testing.T) {
	cfg := defaultConfig()
	ps := &poolState{cfg: cfg, name: "p"}
	shown := map[string]string{}
	for _, s := range ps.settingsInForce() {
		shown[s.Name] = s.Value
	}
	for i := range settings {
		s := &settings[i]
		def := strings.Trim(s.def, "`")
		switch {
		case s.param == "" || s.show == nil:
			continue
		case def == "none":
			if v, ok := shown[s.param]; ok {
				t.Errorf("%s: shown as %q, want not shown by default (the table says none)", s.param, v)
			}
			continue
		case s.param == "pool_max_conns", s.param == "pool_max_conn_lifetime_jitter", s.param == "pool_stmt_cache_size", s.param == "pool_name":
			continue // computed: checked below, or named by the driver
		}
		if got := shown[s.param]; got != def {
			t.Errorf("%s: the default in force is %q, the table says %q", s.param, got, def)
		}
	}
	if got, want := shown["pool_max_conns"], strconv.Itoa(defaultMaxConns()); got != want {
		t.Errorf("pool_max_conns: default %s, want %s (max(10, number of CPUs))", got, want)
	}
	if got, want := shown["pool_max_conn_lifetime_jitter"], formatDuration(cfg.maxConnLifetime/10); got != want {
		t.Errorf("pool_max_conn_lifetime_jitter: default %s, want a tenth of the lifetime, %s", got, want)
	}
	if got := shown["pool_stmt_cache_size"]; got != "256" {
		t.Errorf("pool_stmt_cache_size: default %s, want 256", got)
	}
	sqlite := defaultConfig()
	sqlite.forDriver(kindSQLite)
	if sqlite.stmtCacheSize != 0 {
		t.Errorf("pool_stmt_cache_size for SQLite: default %d, want 0", sqlite.stmtCacheSize)
	}
	for i := range settings {
		if s := &settings[i]; s.dur != nil && *s.dur(&cfg) < 0 {
			t.Errorf("%s: negative default %v", s.param, time.Duration(*s.dur(&cfg)))
		}
	}
}

func TestEverySettingHasAnOptionAndADSNParameterHasAParser(t *testing.T) {
	for i := range settings {
		s := &settings[i]
		if s.option == "" || s.def == "" || s.doc == "" {
			t.Errorf("setting %d (%q): option %q, default %q, doc %q: want all three", i, s.param, s.option, s.def, s.doc)
		}
		if s.param != "" && (s.parse == nil || s.values == "") {
			t.Errorf("%s: no parser or no values for the documentation", s.param)
		}
	}
}

// TestREADMEFiguresComeFromTheReports holds the figures the README's
// Reliability and Performance sections quote to the generated reports they
// quote (docs/benchmarks.md, docs/reliability.md): a report rerun makes
// this fail until the README quotes it again, so no figure is copied by
// hand from a run that is no longer the report's.
func TestREADMEFiguresComeFromTheReports(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var reports strings.Builder
	for _, p := range []string{"docs/benchmarks.md", "docs/reliability.md"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		reports.Write(b)
	}
	figure := regexp.MustCompile(`[+-]?[0-9][0-9,]*(\.[0-9]+)?( ?(×|%|ms|µs|s\b))?`)
	for _, section := range []string{"## Reliability", "## Performance"} {
		text := string(readme)
		i := strings.Index(text, "\n"+section+"\n")
		if i < 0 {
			t.Fatalf("README.md has no section %q", section)
		}
		text = text[i+len(section)+2:]
		if j := strings.Index(text, "\n## "); j >= 0 {
			text = text[:j]
		}
		for _, f := range figure.FindAllString(text, -1) {
			if !strings.Contains(reports.String(), f) {
				t.Errorf("README's %s quotes %q, which is in neither report", strings.TrimPrefix(section, "## "), f)
			}
		}
	}
}

// TestOptionDocsSayTheTablesDefaults holds each Go option's documentation
// to the default the table of settings gives.
func TestOptionDocsSayTheTablesDefaults(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "options.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
			docs[fd.Name.Name] = strings.Join(strings.Fields(fd.Doc.Text()), " ")
		}
	}
	for i := range settings {
		s := &settings[i]
		doc, ok := docs[s.option]
		if !ok {
			t.Errorf("%s: no func %s in options.go", s.param, s.option)
			continue
		}
		if want := "Default " + strings.Trim(s.def, "`"); !strings.Contains(doc, want) {
			t.Errorf("%s's documentation does not say %q, the table's default", s.option, want)
		}
	}
}
