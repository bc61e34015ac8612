package sqltext_test

import (
	"fmt"

	"github.com/sqlpool/sqlpool/internal/sqltext"
)

func Example() {
	pg := sqltext.Options{}
	fmt.Println(sqltext.Sanitize(`SELECT * FROM users WHERE email = 'jane@example.com' AND id = $1 -- from the login page`, pg))
	fmt.Println(sqltext.Sanitize(`/* app=web */ UPDATE t SET "Note" = E'it\'s', n = n + 1.5`, pg))

	mysql := sqltext.Options{DoubleQuotedStrings: true, MaxLen: 40}
	fmt.Println(sqltext.Sanitize(`SELECT name FROM t WHERE pw = "hunter2" AND tag IN ('a', 'b') # login`, mysql))
	// Output:
	// SELECT * FROM users WHERE email = ? AND id = $1
	// UPDATE t SET "Note" = ?, n = n + ?
	// SELECT name FROM t WHERE pw = ? AND t…
}

func ExampleTruncate() {
	fmt.Println(sqltext.Truncate("SELECT größe FROM t", 12))
	fmt.Println(sqltext.Truncate("SELECT", 2))
	// Output:
	// SELECT gr…
	// SE
}
