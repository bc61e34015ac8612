package redact_test

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/sqlpool/sqlpool/internal/redact"
)

// testPassword is a password distinctive enough that finding it in an
// error message can only mean the message quotes the DSN.
const testPassword = "S3cr3t-Pa55"

func TestSecrets(t *testing.T) {
	for _, tt := range []struct {
		inner string
		want  []string // among the secrets
		not   []string // not among them: what must stay readable
	}{
		{"postgres://app:secret@db:5432/app?sslmode=disable", []string{"secret"}, []string{"app", "db", "5432", "disable"}},
		{"postgresql://app:p%40ss%2Fw%20rd@db/app", []string{"p%40ss%2Fw%20rd", "p@ss/w rd", "p%40ss%2Fw%20rd"}, []string{"app", "db"}},
		{"postgres://app:p@ss@db/app", []string{"p@ss"}, []string{"app", "db"}},
		{"postgres://app:pa/ss@db/app", []string{"pa/ss"}, []string{"app", "db"}},
		{"postgres://app:ab/cd+ef==@db/app?sslmode=disable", []string{"ab/cd+ef=="}, []string{"app", "db"}},
		{"postgres://app:pa?ss@db/app", []string{"pa?ss"}, []string{"app", "db"}},
		{"postgres://app:pa#ss@db/app", []string{"pa#ss"}, []string{"app", "db"}},
		{"postgres://app:pa ss@db/app", []string{"pa ss", "pa%20ss"}, []string{"app", "db"}},
		{"postgres://app@db/app?sslmode=disable&password=se%26cret", []string{"se%26cret", "se&cret"}, []string{"app", "db", "disable"}},
		{"postgres://app@db/app?sslpassword=keypass&sslmode=verify-full", []string{"keypass"}, []string{"verify-full"}},
		{"postgres://app@db/app?pass%77ord=enc", []string{"enc"}, nil},
		{"sqlserver://sa:Str0ng@localhost:1433?database=master", []string{"Str0ng"}, []string{"sa", "master"}},
		{"host=db password=secret user=app", []string{"secret"}, []string{"db", "app"}},
		{`host=db password='a b\'c' user=app`, []string{`a b'c`, `a b\'c`}, []string{"db", "app"}},
		{"host=db password = plain", []string{"plain"}, []string{"db"}},
		{"host=db sslpassword=keypass", []string{"keypass"}, []string{"db"}},
		{"host=db password='abc def", []string{"abc def"}, []string{"db"}},
		{"host pw password=secret", []string{"secret"}, []string{"host", "pw"}}, // broken before the password
		{"user:p@ss:w@rd@tcp(host)/db", []string{"p@ss:w@rd"}, []string{"user", "host", "db"}},
		{"user:pw@/db", []string{"pw"}, []string{"user", "db"}},
		{"user:pw@unix(/tmp/mysql.sock)/db?parseTime=true", []string{"pw"}, []string{"user", "db", "true"}},
		{"user:pa/ss@tcp(h)/db", []string{"pa/ss"}, []string{"user", "db"}},
		{"user:pa?ss@tcp(h)/db?loc=Local", []string{"pa?ss"}, []string{"user", "db", "Local"}},
		{"server=db;user id=sa;Password=Secret1;", []string{"Secret1"}, []string{"db", "sa"}},
	} {
		got := redact.Secrets(tt.inner)
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("redact.Secrets(%q) = %q, want it to have %q", tt.inner, got, w)
			}
		}
		for _, n := range tt.not {
			if slices.Contains(got, n) {
				t.Errorf("redact.Secrets(%q) = %q, want it not to have %q", tt.inner, got, n)
			}
		}
		if slices.Contains(got, "") {
			t.Errorf("redact.Secrets(%q) = %q, has the empty string", tt.inner, got)
		}
	}
	for _, inner := range []string{"", ":memory:", "file:app.db?mode=ro", "file::memory:?cache=shared", "host=db user=app",
		"postgres://app@db/app", "postgres://db:5432/app?x=a@b", "user@tcp(h)/db", "/db"} {
		if got := redact.Secrets(inner); len(got) != 0 {
			t.Errorf("redact.Secrets(%q) = %q, want none", inner, got)
		}
	}
}

// TestSecretsFindsWhatDriversParse checks Secrets against the drivers'
// own parsers: whatever password they would use, Secrets has.
func TestSecretsFindsWhatDriversParse(t *testing.T) {
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", "/nonexistent")
	t.Setenv("PGSERVICEFILE", "/nonexistent")
	t.Setenv("PGSSLMODE", "disable")
	for _, dsn := range []string{
		"postgres://app:secret@db/app",
		"postgres://app:p%40ss%2Fw@db/app",
		"postgres://app:pa?ss@db/app",
		"postgres://app:pa#ss@db/app",
		"postgres://app:pa:ss@db/app",
		"postgres://app@db/app?password=se%26cret",
		"postgres://app@db/app?pass%77ord=enc",
		"host=db password=secret",
		`host=db password='a b\'c\\'`,
		`host=db password=a\ b`,
		"host=db password = spaced",
	} {
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			t.Errorf("pgconn.ParseConfig(%q): %v", dsn, err)
			continue
		}
		if got := redact.Secrets(dsn); !slices.Contains(got, cfg.Password) {
			t.Errorf("redact.Secrets(%q) = %q, want it to have pgx's password %q", dsn, got, cfg.Password)
		}
	}
	for _, dsn := range []string{
		"user:pw@tcp(127.0.0.1:3306)/db",
		"user:p@ss:w@rd@tcp(host)/db",
		"user:pa/ss@tcp(h)/db?parseTime=true",
		"user:pa?ss@unix(/tmp/mysql.sock)/db",
		"user:pw@/db",
		"user:@/db",
	} {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Errorf("mysql.ParseDSN(%q): %v", dsn, err)
			continue
		}
		if got := redact.Secrets(dsn); cfg.Passwd != "" && !slices.Contains(got, cfg.Passwd) {
			t.Errorf("redact.Secrets(%q) = %q, want it to have mysql's password %q", dsn, got, cfg.Passwd)
		}
	}
}

// TestRedactedDriverErrorsHideThePassword feeds the drivers' own DSN
// parsers DSNs whose password is written carelessly (raw '/', '?', '#', '@',
// '%', quotes, spaces), and checks that their errors, redacted with
// Secrets, show no piece of it. Each password is "S3cr3t" and "Pa55"
// around the careless character, so a parser that splits it may quote either
// half.
func TestRedactedDriverErrorsHideThePassword(t *testing.T) {
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", "/nonexistent")
	t.Setenv("PGSERVICEFILE", "/nonexistent")
	t.Setenv("PGSSLMODE", "disable")
	libpq := func(dsn string) error { _, err := pq.NewConnector(dsn); return err }
	pgx := func(dsn string) error { _, err := pgconn.ParseConfig(dsn); return err }
	my := func(dsn string) error { _, err := mysql.ParseDSN(dsn); return err }
	netURL := func(dsn string) error { _, err := url.Parse(dsn); return err }
	type parser = func(string) error
	for _, c := range []string{"", "/", "?", "#", "@", "%", "%zz", ":", " ", "'", "\\", "\"", "&", "=", "/?#@", "é"} {
		pw := "S3cr3t" + c + "Pa55"
		for _, tt := range []struct {
			dsn     string
			parsers []parser
		}{
			{"postgres://app:" + pw + "@db:5432/app?sslmode=disable", []parser{libpq, pgx, netURL}},
			{"postgres://app:" + pw + "@db:5432", []parser{libpq, pgx, netURL}},
			{"postgres://app:" + pw + "@db:bad/app", []parser{libpq, pgx, netURL}},
			{"postgres://app@db:5432/app?password=" + pw, []parser{libpq, pgx, netURL}},
			{"postgres://app@db:bad/app?password=" + pw, []parser{libpq, pgx, netURL}},
			{"host=db password=" + pw + " port=bad", []parser{libpq, pgx}},
			{"host=db password='" + strings.NewReplacer("'", `\'`, `\`, `\\`).Replace(pw) + "' port=bad", []parser{libpq, pgx}},
			{"host=db password='" + pw, []parser{libpq, pgx}},
			{"host=db password=" + pw + " sslmode=bad", []parser{libpq, pgx}},
			{"app:" + pw + "@tcp(db:3306)/app?parseTime=maybe", []parser{my}},
			{"app:" + pw + "@tcp(db:3306/app", []parser{my}},
			{"app:" + pw + "@tcp(db:3306)/app%zz", []parser{my}},
		} {
			secrets := redact.Secrets(tt.dsn)
			for _, parse := range tt.parsers {
				err := redact.Error(parse(tt.dsn), secrets)
				if err != nil && (strings.Contains(err.Error(), "S3cr3t") || strings.Contains(err.Error(), "Pa55")) {
					t.Errorf("parsing %q: redacted error %q shows the password (secrets %q)", tt.dsn, err, secrets)
				}
			}
		}
	}
}

type testError struct{ msg string }

func (e *testError) Error() string { return e.msg }

func TestError(t *testing.T) {
	if err := redact.Error(nil, []string{"pw"}); err != nil {
		t.Errorf("redact.Error(nil) = %v, want nil", err)
	}
	plain := errors.New("sqlpool: nothing secret here")
	if err := redact.Error(plain, []string{"pw", ""}); err != plain {
		t.Errorf("redact.Error without a secret in the message = %#v, want the error itself", err)
	}
	if err := redact.Error(plain, nil); err != plain {
		t.Errorf("redact.Error with no secrets = %#v, want the error itself", err)
	}

	inner := &testError{"dial app:" + testPassword + "@db failed"}
	err := redact.Error(fmt.Errorf("sqlpool: the postgres driver rejected its DSN: %w: %w", inner, driver.ErrBadConn), []string{testPassword})
	const want = "sqlpool: the postgres driver rejected its DSN: dial app:xxxxx@db failed: driver: bad connection"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("errors.Is(redacted, driver.ErrBadConn) = false, want true")
	}
	// What it wraps is redacted too: the inner error, which shows the
	// password, is out of reach.
	var te *testError
	if errors.As(err, &te) {
		t.Errorf("errors.As(redacted, *testError) = %v, want false: it shows the password", te)
	}
	if fs := fmt.Sprintf("%v %s %+v", err, err, err); strings.Contains(fs, testPassword) {
		t.Errorf("formatted redacted error %q has the password", fs)
	}

	for _, tt := range []struct {
		msg     string
		secrets []string
		want    string
	}{
		{"a secret and secret again", []string{"secret"}, "a xxxxx and xxxxx again"},
		{"1abcdef2", []string{"abcd", "cdef"}, "1xxxxx2"},          // overlapping: no "ef" or "ab" left
		{"1abcdef2", []string{"cd", "abcdef"}, "1xxxxx2"},          // one inside another
		{"p@ss p%40ss", []string{"p@ss", "p%40ss"}, "xxxxx xxxxx"}, // raw and escaped forms
		{"aaaa", []string{"aa"}, "xxxxx"},
	} {
		got := redact.Error(errors.New(tt.msg), tt.secrets).Error()
		if got != tt.want {
			t.Errorf("redact %q of %q = %q, want %q", tt.secrets, tt.msg, got, tt.want)
		}
	}
}

// fieldError keeps a DSN in a field its message leaves out, as pgx's
// *pgconn.ParseConfigError does.
type fieldError struct{ connString, msg string }

func (e *fieldError) Error() string { return e.msg }

// TestErrorFormsShowOnlyTheMessage checks that a redacted error prints its
// redacted message only, with %v, %+v and %#v: never the original error, its
// fields or the secrets.
func TestErrorFormsShowOnlyTheMessage(t *testing.T) {
	field := &fieldError{connString: "postgres://app:" + testPassword + "@db/app", msg: "cannot parse the DSN"}
	for _, tt := range []struct {
		err      error
		goSyntax string // what %#v prints
	}{
		{fmt.Errorf("open: %w", &testError{"app:" + testPassword + "@db"}), `&sqlpool.redactedError{msg:"open: app:xxxxx@db"}`},
		{fmt.Errorf("open: %w: %w", &testError{"app:" + testPassword}, driver.ErrBadConn), `&sqlpool.redactedError{msg:"open: app:xxxxx: driver: bad connection"}`},
		{fmt.Errorf("open: %w", field), `&sqlpool.redactedError{msg:"open: cannot parse the DSN"}`},
	} {
		err := redact.Error(tt.err, []string{testPassword})
		if got := fmt.Sprintf("%#v", err); got != tt.goSyntax {
			t.Errorf("%%#v of the redacted %q = %s, want %s", tt.err, got, tt.goSyntax)
		}
		for _, form := range []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%q", err)} {
			if strings.Contains(form, testPassword) || strings.Contains(form, "Error{") && !strings.HasPrefix(form, "&sqlpool.redactedError{") {
				t.Errorf("the redacted %q prints as %s: want the redacted message only", tt.err, form)
			}
		}
	}
	// The message is clean but a field is not: the error is redacted all
	// the same, and the field is out of reach.
	err := redact.Error(field, []string{testPassword})
	if err == error(field) || err.Error() != field.msg {
		t.Errorf("redact.Error(%#v) = %#v, want another error with the same message", field, err)
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		t.Errorf("errors.As(redacted, *fieldError) = %v, want false: it shows the password", fe)
	}
}

func TestString(t *testing.T) {
	for _, tt := range []struct {
		s       string
		secrets []string
		want    string
		changed bool
	}{
		{"", []string{"pw"}, "", false},
		{"no secret", []string{"pw", ""}, "no secret", false},
		{"no secret", nil, "no secret", false},
		{"pw", []string{"pw"}, redact.Mask, true},
		{"a pw, a pwpw", []string{"pw"}, "a xxxxx, a xxxxx", true},
		{"1abcdef2", []string{"abcd", "cdef"}, "1xxxxx2", true},
	} {
		got, changed := redact.String(tt.s, tt.secrets)
		if got != tt.want || changed != tt.changed {
			t.Errorf("String(%q, %q) = %q, %v; want %q, %v", tt.s, tt.secrets, got, changed, tt.want, tt.changed)
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	for _, k := range []string{"password", "PASSWORD", "Password", "sslpassword", "passwd", "pwd", "PWD", "_auth_pass"} {
		if !redact.IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false, want true", k)
		}
	}
	for _, k := range []string{"", "user", "pass", "password2", " password", "_auth_user", "sslkey"} {
		if redact.IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true, want false", k)
		}
	}
}

// FuzzSecrets checks Secrets on arbitrary DSNs: it must not panic, its
// result has no empty string and no duplicate and is longest first, it has
// the password net/url and go-sql-driver/mysql read, and String with it
// leaves none of those passwords in the DSN. (A password with an 'x' in it
// could be made up with the mask's.)
func FuzzSecrets(f *testing.F) {
	for _, seed := range []string{
		"postgres://app:" + testPassword + "@db:5432/app?sslmode=disable",
		"postgres://app:p%40ss%2Fw@db/app",
		"postgres://app:pa/ss@db/app?x=a@b",
		"postgres://app@db/app?sslmode=disable&password=se%26cret&x",
		"//app:pw@db",
		"host=db password='a b\\'c' user=app",
		"host=db password='unterminated",
		"host=db password=pa ss",
		"user:p@ss:w@rd@tcp(host)/db?parseTime=true",
		"server=db;user id=sa;Password=Secret1;",
		"file:app.db?_auth_user=u&_auth_pass=pw",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		got := redact.Secrets(dsn)
		for i, s := range got {
			if s == "" || slices.Contains(got[:i], s) || i > 0 && len(got[i-1]) < len(s) {
				t.Fatalf("Secrets(%q) = %q: want no empty string, no duplicate, longest first", dsn, got)
			}
		}
		var pws []string
		if u, err := url.Parse(dsn); err == nil && u.User != nil && (strings.Contains(dsn, "://") || strings.HasPrefix(dsn, "//")) {
			if pw, ok := u.User.Password(); ok && pw != "" {
				pws = append(pws, pw)
			}
		}
		if cfg, err := mysql.ParseDSN(dsn); err == nil && cfg.Passwd != "" && !strings.HasPrefix(cfg.Passwd, "//") {
			pws = append(pws, cfg.Passwd)
		}
		red, _ := redact.String(dsn, got)
		for _, pw := range pws {
			if !slices.Contains(got, pw) {
				t.Errorf("Secrets(%q) = %q, misses the password %q", dsn, got, pw)
			}
			if !strings.Contains(pw, "x") && strings.Contains(red, pw) {
				t.Errorf("String(%q) = %q, shows the password %q", dsn, red, pw)
			}
		}
	})
}
