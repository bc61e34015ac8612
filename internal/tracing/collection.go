package tracing

import "strings"

// collectionName returns db.collection.name for a statement whose
// operation (db.operation.name) is op: the one table an INSERT, UPDATE,
// DELETE or SELECT names, as written but for its quotes (schema.table
// stays qualified); "" when it names none, several (a join, a list, a
// subquery), or the statement is another kind. It reads at most the first
// maxCollectionTokens tokens.
func collectionName(op, query string) string {
	var want string // the keyword the table follows
	switch op {
	case "INSERT":
		want = "INTO"
	case "UPDATE":
		want = "UPDATE"
	case "DELETE", "SELECT":
		want = "FROM"
	default:
		return ""
	}
	toks := sqlTokens(query, maxCollectionTokens)
	for i, tk := range toks {
		if tk.depth != 0 || !strings.EqualFold(tk.text, want) {
			continue
		}
		j := i + 1
		if op == "UPDATE" && j < len(toks) && strings.EqualFold(toks[j].text, "ONLY") {
			j++
		}
		if j >= len(toks) || !toks[j].ident {
			return ""
		}
		name := toks[j].text
		// A second table (FROM a, b; FROM a JOIN b) makes it none.
		for _, next := range toks[j+1:] {
			if next.depth != 0 {
				continue
			}
			if next.text == "," || strings.EqualFold(next.text, "JOIN") {
				return ""
			}
		}
		return strings.NewReplacer(`"`, "", "`", "", "[", "", "]", "").Replace(name)
	}
	return ""
}

const maxCollectionTokens = 256

type sqlToken struct {
	text  string
	ident bool // a word or a quoted identifier, not a keyword-looking symbol
	depth int  // parentheses open around it
}

// sqlTokens splits the first limit tokens of query: words (with their dots:
// schema.table), quoted identifiers ("…", `…`, […]), and single symbols.
// String literals, numbers' signs and comments are skipped.
func sqlTokens(query string, limit int) []sqlToken {
	var out []sqlToken
	depth := 0
	for i := 0; i < len(query) && len(out) < limit; {
		c := query[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			for i < len(query) && query[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			end := indexFrom(query, i+2, "*/")
			if end < 0 {
				return out
			}
			i = end + 2
		case c == '\'':
			end := i + 1
			for end < len(query) && query[end] != '\'' {
				end++
			}
			i = end + 1
		case c == '(':
			depth++
			out = append(out, sqlToken{text: "(", depth: depth})
			i++
		case c == ')':
			out = append(out, sqlToken{text: ")", depth: depth})
			depth = max(depth-1, 0)
			i++
		case isIdentByte(c) || c == '"' || c == '`' || c == '[':
			start := i
			for i < len(query) {
				c := query[i]
				if close := closingQuote(c); close != 0 {
					end := strings.IndexByte(query[i+1:], close)
					if end < 0 {
						return out
					}
					i += end + 2
					continue
				}
				if !isIdentByte(c) && c != '.' {
					break
				}
				i++
			}
			out = append(out, sqlToken{text: query[start:i], ident: true, depth: depth})
		default:
			out = append(out, sqlToken{text: query[i : i+1], depth: depth})
			i++
		}
	}
	return out
}

func closingQuote(c byte) byte {
	switch c {
	case '"', '`':
		return c
	case '[':
		return ']'
	}
	return 0
}

func isIdentByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '$' || c >= 0x80
}
