package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/faultproxy"
)

// echoServer echoes every line back, until the test ends.
func echoServer(t *testing.T) string {
	return testServer(t, func(c net.Conn) { io.Copy(c, c) })
}

// testServer listens on 127.0.0.1 and runs handle on every connection, until
// the test ends; it returns the address.
func testServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	return ln.Addr().String()
}

func roundTrip(c net.Conn, msg string, timeout time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestBlackHoleAllSilencesOpenConnectionsButNotNewOnes(t *testing.T) {
	p := faultproxy.Start(t, echoServer(t))
	old, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if got, err := roundTrip(old, "before", 5*time.Second); err != nil || got != "before\n" {
		t.Fatalf("echo through the proxy: %q, %v", got, err)
	}

	p.BlackHoleAll()

	// The write succeeds and the read hangs until its deadline: no EOF, no
	// reset, nothing comes back.
	_, err = roundTrip(old, "into the hole", 200*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("round trip on a black-holed connection: %v, want the read deadline to pass", err)
	}
	if n := p.Active(); n != 1 {
		t.Errorf("Active after BlackHoleAll: %d, want the black-holed connection still open", n)
	}

	fresh, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if got, err := roundTrip(fresh, "after", 5*time.Second); err != nil || got != "after\n" {
		t.Errorf("echo on a connection made after BlackHoleAll: %q, %v", got, err)
	}

	p.CutAll()
	old.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := old.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		t.Errorf("read on a black-holed connection after CutAll: %v, want it closed", err)
	}
}

func TestLatencyDelaysEveryChunkBothWaysUntilSwitchedOff(t *testing.T) {
	p := faultproxy.Start(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const d = 150 * time.Millisecond
	p.Latency(d)
	// The line waits d on its way to the server and d on its way back, so
	// it cannot come back sooner than 2d: a lower bound, not a timing goal.
	start := time.Now()
	if got, err := roundTrip(c, "slow", 10*time.Second); err != nil || got != "slow\n" {
		t.Fatalf("echo with latency: %q, %v", got, err)
	}
	if took := time.Since(start); took < 2*d {
		t.Errorf("a round trip with latency %v took %v, want at least %v", d, took, 2*d)
	}
	if _, err := roundTrip(c, "late", d/2); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("round trip with a deadline shorter than the latency: %v, want the deadline to pass", err)
	}

	p.Latency(0)
	// The late line is still on its way; it arrives, in order, before the
	// next one.
	r := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "fast\n"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"late\n", "fast\n"} {
		if got, err := r.ReadString('\n'); err != nil || got != want {
			t.Fatalf("after Latency(0): read %q, %v; want %q", got, err, want)
		}
	}
}

// namedServer answers every line with its name, until the test ends.
func namedServer(t *testing.T, name string) string {
	return testServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			io.WriteString(c, name+"\n")
		}
	})
}

func TestSetTargetMovesNewConnectionsAndLeavesOpenOnes(t *testing.T) {
	old, moved := namedServer(t, "old"), namedServer(t, "new")
	p := faultproxy.Start(t, old)
	before, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if got, err := roundTrip(before, "hi", 5*time.Second); err != nil || got != "old\n" {
		t.Fatalf("before SetTarget: got %q, %v; want old", got, err)
	}
	p.SetTarget(moved)
	after, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if got, err := roundTrip(after, "hi", 5*time.Second); err != nil || got != "new\n" {
		t.Errorf("a connection made after SetTarget: got %q, %v; want new", got, err)
	}
	if got, err := roundTrip(before, "hi", 5*time.Second); err != nil || got != "old\n" {
		t.Errorf("the connection open before SetTarget: got %q, %v; want old, still", got, err)
	}
}
