package sqlpool

import "testing"

func TestCacheableKeepsCOPYOutOfTheStatementCache(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                               true,
		"COPY items (id, name) FROM STDIN":       false,
		"  copy items FROM STDIN":                false,
		"\n\tCopy \"items\" (\"id\") FROM STDIN": false,
		"COPYRIGHT":                              false, // not a statement anyone prepares; erring on the safe side
		"":                                       true,
		"CO":                                     true,
	} {
		if got := cacheable(q); got != want {
			t.Errorf("cacheable(%q) = %v, want %v", q, got, want)
		}
	}
}
