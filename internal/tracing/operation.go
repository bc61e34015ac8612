package tracing

// operations are the statements' first keywords that become
// db.operation.name. Anything else gets no operation name: span names and
// metric attributes stay low in cardinality whatever the application runs.
var operations = []string{
	"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "WITH", "VALUES", "TABLE",
	"CREATE", "DROP", "ALTER", "TRUNCATE", "RENAME", "COMMENT", "GRANT", "REVOKE",
	"BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END", "ABORT",
	"SET", "SHOW", "RESET", "USE", "CALL", "DO", "EXECUTE", "EXEC", "PREPARE", "DEALLOCATE", "DISCARD",
	"EXPLAIN", "ANALYZE", "VACUUM", "REINDEX", "CLUSTER", "CHECKPOINT", "REFRESH", "LOCK", "UNLOCK",
	"COPY", "LOAD", "LISTEN", "NOTIFY", "UNLISTEN", "DECLARE", "FETCH", "MOVE", "CLOSE",
	"PRAGMA", "ATTACH", "DETACH", "OPTIMIZE", "FLUSH", "KILL", "HANDLER", "DESCRIBE", "DESC",
}

var operationSet = func() map[string]string {
	m := make(map[string]string, len(operations))
	for _, op := range operations {
		m[op] = op
	}
	return m
}()

// maxKeyword is the longest keyword in operations.
const maxKeyword = 10

// operationName returns db.operation.name for query: its first keyword,
// upper-cased, if it is one of operations; else "". Leading white space,
// comments and parentheses are skipped.
func operationName(query string) string {
	i := 0
	for i < len(query) {
		switch c := query[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '(':
			i++
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			for i < len(query) && query[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			end := indexFrom(query, i+2, "*/")
			if end < 0 {
				return ""
			}
			i = end + 2
		default:
			var buf [maxKeyword]byte
			n := 0
			for ; i < len(query); i++ {
				c := query[i]
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				} else if c < 'A' || c > 'Z' {
					break
				}
				if n == maxKeyword {
					return ""
				}
				buf[n] = c
				n++
			}
			return operationSet[string(buf[:n])] // the conversion does not allocate
		}
	}
	return ""
}

func indexFrom(s string, from int, sub string) int {
	for j := from; j+len(sub) <= len(s); j++ {
		if s[j:j+len(sub)] == sub {
			return j
		}
	}
	return -1
}
