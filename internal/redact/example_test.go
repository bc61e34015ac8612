package redact_test

import (
	"errors"
	"fmt"

	"github.com/sqlpool/sqlpool/internal/redact"
)

func ExampleSecrets() {
	// A raw '/' in the password: each parser could read it differently, so
	// every reading and the pieces a parser could quote are secrets.
	fmt.Printf("%q\n", redact.Secrets("postgres://app:pa/ss@db:5432/app?sslmode=disable"))
	fmt.Printf("%q\n", redact.Secrets("host=db user=app password='a b' dbname=app"))
	fmt.Printf("%q\n", redact.Secrets("app:S3cr3t@tcp(db:3306)/app?parseTime=true"))
	fmt.Printf("%q\n", redact.Secrets("file:app.db?mode=ro"))
	// Output:
	// ["pa%2Fss" "pa/ss" "pa" "ss"]
	// ["a b"]
	// ["S3cr3t"]
	// []
}

func ExampleString() {
	dsn := "postgres://app:S3cr3t@db/app?sslpassword=K3y&sslmode=verify-full"
	redacted, changed := redact.String(dsn, redact.Secrets(dsn))
	fmt.Println(redacted, changed)
	// Output: postgres://app:xxxxx@db/app?sslpassword=xxxxx&sslmode=verify-full true
}

func ExampleError() {
	dsn := "postgres://app:S3cr3t@db:bad/app"
	err := fmt.Errorf("sqlpool: the postgres driver rejected its DSN: %w",
		errors.New(`parse "postgres://app:S3cr3t@db:bad/app": invalid port ":bad" after host`))
	red := redact.Error(err, redact.Secrets(dsn))
	fmt.Println(red)
	fmt.Printf("%#v\n", red)
	fmt.Println(errors.Unwrap(red))
	// Output:
	// sqlpool: the postgres driver rejected its DSN: parse "postgres://app:xxxxx@db:bad/app": invalid port ":bad" after host
	// &sqlpool.redactedError{msg:"sqlpool: the postgres driver rejected its DSN: parse \"postgres://app:xxxxx@db:bad/app\": invalid port \":bad\" after host"}
	// parse "postgres://app:xxxxx@db:bad/app": invalid port ":bad" after host
}
