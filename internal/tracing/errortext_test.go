package tracing

import (
	"strings"
	"testing"
)

func TestErrorTextHidesWhatIsQuotedAndKeepsTheRest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`pool: acquire timeout: pgx#3: 8/8 in use, 2 waiting, waited 30s`, `pool: acquire timeout: pgx#3: 8/8 in use, 2 waiting, waited 30s`},
		{"failed to connect to `user=app database=shop`: 127.0.0.1:5432 (127.0.0.1): server error: FATAL: database \"shop\" does not exist (SQLSTATE 3D000)",
			"failed to connect to `user=app database=shop`: 127.0.0.1:5432 (127.0.0.1): server error: FATAL: database \"?\" does not exist (SQLSTATE 3D000)"},
		{`ERROR: invalid input syntax for type integer: "hunter2" (SQLSTATE 22P02)`, `ERROR: invalid input syntax for type integer: "?" (SQLSTATE 22P02)`},
		{`Error 1062 (23000): Duplicate entry 'alice@example.com' for key 'users.email'`, `Error 1062 (23000): Duplicate entry '?' for key '?'`},
		{`Error 1093: You can't specify target table 't' for update`, `Error 1093: You can't specify target table '?' for update`},
		{`unterminated "secret`, `unterminated "?`},
		{`-- not a comment; # not one either: 42`, `-- not a comment; # not one either: 42`},
	} {
		if got := ErrorText(tc.in); got != tc.want {
			t.Errorf("ErrorText(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	long := ErrorText(strings.Repeat("é", 400))
	if len(long) > maxErrorText+len("…") || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "é") {
		t.Errorf("a long message: got %d bytes, want at most %d and cut on a rune", len(long), maxErrorText)
	}
}
