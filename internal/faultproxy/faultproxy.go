// Package faultproxy is a TCP proxy for tests that puts network faults
// between a client (a connection pool) and a real server, so that tests can
// take "the database" away and give it back without touching the shared
// server itself.
//
// A Proxy listens on 127.0.0.1 on a port of its own for its whole life and
// forwards every accepted connection to a fixed target. Faults are switched
// on and off while it runs:
//
//   - Refuse: new connections are reset before they reach the server, as by
//     a server that is down or restarting.
//   - CutAll: every proxied connection is closed both ways, as when a server
//     restart or failover kills its sessions.
//   - Latency: every chunk of bytes is held for a while before it is
//     forwarded, either way, as over a slow network path.
//   - BlackHoleAll: every proxied connection stays open but carries nothing
//     more, either way, as when a network path or a host dies silently: no
//     FIN, no RST, reads hang until a timeout.
//   - SetTarget: new connections go to another server while the open ones
//     stay where they are, as a DNS name, a virtual IP or a Kubernetes
//     Service moved to a new primary after a failover.
//
// Every connection goes through one accept loop and one handler (serve), and
// its bytes through one copy loop per direction (pipe): faults that shape
// traffic rather than refuse or cut it (latency, black-holing) belong there.
//
// No goroutine of a Proxy outlives Close, which Start registers with
// t.Cleanup.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// refuseAfter is how long a refused connection may stay open waiting for
// the client's first bytes; see Proxy.Refuse.
const refuseAfter = 100 * time.Millisecond

// dialTimeout bounds the proxy's own dial of the target for one client
// connection; a client whose target dial fails is closed.
const dialTimeout = 5 * time.Second

// Proxy is a fault-injecting TCP proxy to one target address. Its methods are
// safe for concurrent use. Create one with Start.
type Proxy struct {
	target atomic.Pointer[string] // where new connections go (SetTarget)
	ln     net.Listener
	ctx    context.Context // done when Close begins; bounds target dials
	cancel context.CancelFunc
	dials  atomic.Int64   // client connections accepted, refused ones included
	delay  atomic.Int64   // Latency: a time.Duration added to every chunk, each way
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	mu       sync.Mutex
	closed   bool                  // Close has begun: accept nothing more
	refuse   bool                  // reset new client connections instead of proxying them
	hole     bool                  // new connections are black holes from the start
	links    map[*link]struct{}    // open proxied connections; an entry leaves when both its sides are closed
	refusing map[net.Conn]struct{} // refused connections not yet reset; Close resets them at once
}

// link is one proxied connection: the client's side, accepted by the
// proxy, and the server's side, dialed by it.
type link struct {
	client net.Conn

	hole atomic.Bool // BlackHoleAll: bytes are read and dropped

	// Guarded by Proxy.mu.
	server net.Conn // nil until the target dial succeeds
	cut    bool     // closed by CutAll or Close: a late server side is closed at once
}

// Start starts a proxy to target (host:port) on 127.0.0.1 on a free port,
// and closes it when the test ends. It fails the test if it cannot listen.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// New starts a proxy to target (host:port) on 127.0.0.1 on a free port,
// for programs other than tests (the reliability suite); the caller closes
// it.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, links: map[*link]struct{}{}, refusing: map[net.Conn]struct{}{}}
	p.target.Store(&target)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address clients dial: 127.0.0.1 and the proxy's port,
// which stays the same for the proxy's whole life, faults or not.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget sends the connections accepted from now on to target
// (host:port); those open stay with the server they reached.
func (p *Proxy) SetTarget(target string) { p.target.Store(&target) }

// Refuse switches refusing on or off. While it is on, the proxy still
// accepts TCP connections but, without dialing the target, resets each one
// (SO_LINGER 0: an RST, not a FIN) as soon as the client has sent its first
// bytes, or after refuseAfter if it sends none. A PostgreSQL client's connect
// succeeds, and its first read, of the answer to its startup (or SSL
// request) message, fails with "connection reset by peer" within one
// loopback round trip: a dial error, as from a server that is down, and a
// *net.OpError that the drivers keep in their connect errors.
//
// Why not reset at once: an RST that reaches the client before its connect
// has returned makes Go's dialer take the socket for a TCP self-connect
// (net.selfConnect: no peer address) and dial again, up to twice, so one
// connection attempt of the client would count as up to three Dials. Waiting
// for the client's first bytes proves its connect has returned; refuseAfter
// covers protocols in which the server speaks first (MySQL).
//
// Why not close the listener: that would give a truer "connection refused",
// but the proxy could not count the attempts, re-opening it on the same port
// races with any other process on the machine that takes the port meanwhile,
// and a listener that stays open is what latency and black-hole faults need.
//
// Refuse does not touch connections already proxied; CutAll does.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// CutAll closes every proxied connection, both its client and its server
// side, as a server restart or failover kills every session. Clients see
// end of file (or a reset) on their next read; the server sees its clients
// go away and ends their sessions. Connections accepted after CutAll returns
// are proxied unless Refuse is on: call Refuse(true) first to keep the
// "server" down. CutAll does not block on the connections' goroutines.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		p.cutLocked(l)
	}
}

// BlackHoleAll makes every proxied connection a black hole: it stays open
// on both sides, and whatever either side sends from now on is read and
// dropped. A client's writes succeed and its reads hang, as when the
// server's host or the path to it is gone without a word; only a timeout
// (a ping's, a keepalive's, a context's) tells. Connections accepted after
// BlackHoleAll returns are proxied normally. Close (or CutAll) still closes
// black-holed connections.
func (p *Proxy) BlackHoleAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.hole.Store(true)
	}
}

// BlackHole switches black-holing of new connections on or off: while it
// is on, each connection the proxy accepts is a black hole from its first
// byte (see BlackHoleAll), as a server whose host went silent: the
// client's connect succeeds and its handshake hangs. Connections accepted
// before are not touched.
func (p *Proxy) BlackHole(on bool) {
	p.mu.Lock()
	p.hole = on
	p.mu.Unlock()
}

// Latency sets a delay added to every chunk of bytes the proxy forwards,
// each way, on every connection, open or new; 0 switches it off. A
// request and its answer take 2*d more, as over a slow or congested
// network path. Bytes keep their order; a chunk is forwarded whole once
// its delay has passed, so throughput on one connection falls too.
func (p *Proxy) Latency(d time.Duration) { p.delay.Store(int64(d)) }

// Dials returns how many client connections the proxy has accepted since
// Start, refused ones included: the connection attempts a pool made (one per
// attempt of a Go client; see Refuse). A connection counts once the proxy has
// accepted it, a moment after the client's connect returned.
func (p *Proxy) Dials() int64 { return p.dials.Load() }

// Active returns how many proxied connections are open: accepted, not
// refused, and not yet closed on both sides.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Close stops accepting, closes every proxied connection and waits for all
// of the proxy's goroutines to end. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	p.cancel()
	p.ln.Close()
	for l := range p.links {
		p.cutLocked(l)
	}
	for c := range p.refusing {
		c.SetReadDeadline(time.Now()) // ends its wait: it is reset now
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient accept error (EMFILE, ECONNABORTED): keep serving,
			// without spinning.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		p.dials.Add(1)
		// Whether to refuse is decided under the lock that CutAll takes, so
		// that after Refuse(true) and CutAll no proxied connection is left
		// open: it was either registered before CutAll ran, or refused.
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			reset(c)
			continue
		}
		if p.refuse {
			p.refusing[c] = struct{}{}
			p.wg.Add(1)
			p.mu.Unlock()
			go p.refuseConn(c)
			continue
		}
		l := &link{client: c}
		l.hole.Store(p.hole)
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// serve dials the target for l and pipes both ways until either side ends
// or l is cut; then it closes both sides and forgets l.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer p.forget(l)
	d := net.Dialer{Timeout: dialTimeout}
	s, err := d.DialContext(p.ctx, "tcp", *p.target.Load())
	if err != nil {
		// The target is down: to the client, so is the proxy. The link
		// leaves Active now; the client is reset as a refused one.
		p.mu.Lock()
		delete(p.links, l)
		gone := p.closed || l.cut
		l.cut = true // the client is refuseConn's now: forget leaves it alone
		if !gone {
			p.refusing[l.client] = struct{}{}
		}
		p.mu.Unlock()
		if gone {
			reset(l.client)
			return
		}
		p.wg.Add(1)
		p.refuseConn(l.client)
		return
	}
	p.mu.Lock()
	if l.cut {
		p.mu.Unlock()
		s.Close()
		return
	}
	l.server = s
	p.mu.Unlock()

	done := make(chan struct{}, 2)
	go func() { p.pipe(l, s, l.client); done <- struct{}{} }()
	go func() { p.pipe(l, l.client, s); done <- struct{}{} }()
	// When one direction ends (its source closed or failed), close both
	// sides, which ends the other direction too: a proxied connection has
	// no half-open state.
	<-done
	p.mu.Lock()
	p.cutLocked(l)
	p.mu.Unlock()
	<-done
}

// pipe copies from src to dst until src ends or either fails, dropping
// what it reads once l is a black hole and delaying it by Latency.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	var timer *time.Timer
	for {
		n, err := src.Read(buf)
		if d := time.Duration(p.delay.Load()); n > 0 && d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-timer.C:
			case <-p.ctx.Done():
				return
			}
		}
		if n > 0 && !l.hole.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cutLocked closes both sides of l. It is idempotent.
func (p *Proxy) cutLocked(l *link) {
	if l.cut {
		return
	}
	l.cut = true
	l.client.Close()
	if l.server != nil {
		l.server.Close()
	}
}

func (p *Proxy) forget(l *link) {
	p.mu.Lock()
	p.cutLocked(l)
	delete(p.links, l)
	p.mu.Unlock()
}

// refuseConn resets c once the client has sent its first bytes, or after
// refuseAfter, or at once when the proxy closes; see Refuse.
func (p *Proxy) refuseConn(c net.Conn) {
	defer p.wg.Done()
	c.SetReadDeadline(time.Now().Add(refuseAfter))
	p.mu.Lock()
	if p.closed {
		// Close may have set its deadline before this one replaced it.
		c.SetReadDeadline(time.Now())
	}
	p.mu.Unlock()
	var b [1]byte
	c.Read(b[:])
	p.mu.Lock()
	delete(p.refusing, c)
	p.mu.Unlock()
	reset(c)
}

// reset closes c with an RST instead of a FIN, as a host with no listener
// on the port answers a connection attempt.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
