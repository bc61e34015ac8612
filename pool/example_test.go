package pool_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/sqlpool/sqlpool/pool"
)

// Example pools TCP connections to an echo server. The pool knows nothing of
// what it pools: the Constructor dials, the Destructor closes.
func Example() {
	// An echo server on a free local port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()

	p, err := pool.New(pool.Config[net.Conn]{
		Name: "echo",
		Constructor: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", ln.Addr().String())
		},
		Destructor: func(c net.Conn) { c.Close() },
		MaxSize:    2,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	for _, msg := range []string{"hello", "again"} {
		r, err := p.Acquire(ctx) // the second Acquire reuses the first connection
		if err != nil {
			log.Fatal(err)
		}
		conn := r.Value()
		reply := make([]byte, len(msg))
		if _, err := io.WriteString(conn, msg); err != nil {
			r.Destroy() // broken: do not give it back to the pool
			log.Fatal(err)
		}
		if _, err := io.ReadFull(conn, reply); err != nil {
			r.Destroy()
			log.Fatal(err)
		}
		r.Release()
		fmt.Printf("echo: %s\n", reply)
	}

	st := p.Stat()
	fmt.Printf("made %d, acquired %d, idle %d, in use %d\n", st.CreatedCount, st.AcquireCount, st.Idle, st.InUse)

	p.Close()
	fmt.Printf("after Close: total %d, destroyed (closed) %d\n", p.Stat().Total, p.Stat().DestroyedCount(pool.ReasonClosed))

	// Output:
	// echo: hello
	// echo: again
	// made 1, acquired 2, idle 1, in use 0
	// after Close: total 0, destroyed (closed) 1
}
