// Package pgtemp starts throwaway PostgreSQL servers for tests and
// benchmarks that must restart, reconfigure or put something in front of a
// server: initdb in a temporary directory, pg_ctl start on a free port of
// 127.0.0.1, and removal on Stop. The shared test server is never touched.
package pgtemp

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Options configures a server. The zero value is a plain server with trust
// authentication for every local connection.
type Options struct {
	// Settings are extra server settings (name and value, as after -c),
	// e.g. {"ssl": "on"}.
	Settings map[string]string
	// Files are written into the data directory after initdb and before
	// the server starts, readable by the server's user only (a private key
	// must be), replacing initdb's (pg_hba.conf, say). Keys are file names.
	Files map[string][]byte
}

// Server is a throwaway PostgreSQL server in a temporary directory.
type Server struct {
	dir, bin string
	port     int
	uid, gid int      // the server's user, when running as root; -1 otherwise
	runAs    []string // runuser prefix when running as root
}

// Start initdbs and starts a server on a free port of 127.0.0.1, with the
// binaries of the newest PostgreSQL under /usr/lib/postgresql (or on PATH),
// and returns when it accepts connections. As root, the server runs as the
// postgres user, since PostgreSQL refuses to run as root.
func Start(opts Options) (*Server, error) {
	p, err := newServer()
	if err != nil {
		return nil, err
	}
	data := p.DataDir()
	if out, err := p.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		p.remove()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	for name, content := range opts.Files {
		path := filepath.Join(data, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			p.remove()
			return nil, err
		}
		if err := os.Chmod(path, 0o600); err != nil { // WriteFile keeps the mode of a file initdb made
			p.remove()
			return nil, err
		}
		if err := p.Chown(path); err != nil {
			p.remove()
			return nil, err
		}
	}
	if err := p.start(opts.Settings); err != nil {
		p.remove()
		return nil, err
	}
	return p, nil
}

// StartStandby makes a streaming-replication standby of primary, whose
// pg_hba.conf must let it replicate (initdb's, which Start keeps unless
// Options.Files replaces it, does): pg_basebackup -R into a new temporary
// directory, started on a free port of its own. It returns when the
// standby accepts (read-only) connections; Promote makes it a primary.
func StartStandby(primary *Server) (*Server, error) {
	p, err := newServer()
	if err != nil {
		return nil, err
	}
	src := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres", primary.port)
	if out, err := p.run("pg_basebackup", "-D", p.DataDir(), "-R", "-X", "stream", "-c", "fast", "-d", src); err != nil {
		p.remove()
		return nil, fmt.Errorf("pg_basebackup: %w\n%s", err, out)
	}
	if err := p.start(nil); err != nil {
		p.remove()
		return nil, err
	}
	return p, nil
}

// Promote makes a standby the primary (pg_ctl promote) and returns when it
// accepts writes.
func (p *Server) Promote() error {
	if out, err := p.run("pg_ctl", "-D", p.DataDir(), "-w", "promote"); err != nil {
		return fmt.Errorf("pg_ctl promote: %w\n%s", err, out)
	}
	return nil
}

// newServer makes the temporary directory, owned by the server's user, and
// picks a port.
func newServer() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sqlpool-pgtemp-")
	if err != nil {
		return nil, err
	}
	p := &Server{dir: dir, bin: bin, uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, a throwaway PostgreSQL needs the postgres user: %w", err)
		}
		p.uid, _ = strconv.Atoi(u.Uid)
		p.gid, _ = strconv.Atoi(u.Gid)
		if err := p.Chown(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		p.runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	if p.port, err = FreePort(); err != nil {
		p.remove()
		return nil, err
	}
	return p, nil
}

// start starts the server in the data directory with settings, and returns
// when it accepts connections.
func (p *Server) start(settings map[string]string) error {
	o := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", p.port, p.dir)
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		o += fmt.Sprintf(" -c %s=%s", k, settings[k])
	}
	if out, err := p.run("pg_ctl", "-D", p.DataDir(), "-o", o, "-l", p.LogFile(), "-w", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return nil
}

// URL is the server's postgres database as user postgres, without TLS.
func (p *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Port is the server's TCP port on 127.0.0.1.
func (p *Server) Port() int { return p.port }

// Dir is the server's temporary directory (holding data/, the log and the
// Unix socket), owned by the server's user.
func (p *Server) Dir() string { return p.dir }

// DataDir is the server's data directory.
func (p *Server) DataDir() string { return filepath.Join(p.dir, "data") }

// LogFile is the server's log.
func (p *Server) LogFile() string { return filepath.Join(p.dir, "log") }

// Chown gives path to the server's user when running as root (a no-op
// otherwise), for files that a program run with Credential must read.
func (p *Server) Chown(path string) error {
	if p.uid < 0 {
		return nil
	}
	return os.Chown(path, p.uid, p.gid)
}

// Credential is the credential to run a helper process (a connection
// pooler that refuses root, say) as the server's user, or nil when not
// running as root.
func (p *Server) Credential() *syscall.Credential {
	if p.uid < 0 {
		return nil
	}
	return &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}
}

// Restart stops the server (fast shutdown: sessions are terminated) and
// starts it again, returning when it accepts connections.
func (p *Server) Restart() error {
	if out, err := p.run("pg_ctl", "-D", p.DataDir(), "-l", p.LogFile(), "-m", "fast", "-w", "restart"); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s", err, out)
	}
	return nil
}

// Stop stops the server and removes its directory.
func (p *Server) Stop() {
	p.run("pg_ctl", "-D", p.DataDir(), "-m", "immediate", "-w", "stop")
	p.remove()
}

func (p *Server) remove() { os.RemoveAll(p.dir) }

// run runs one of PostgreSQL's programs. Its output goes to a file, not a
// pipe: a server that pg_ctl starts inherits the output, and a pipe would
// stay open for as long as the server runs.
func (p *Server) run(name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, p.runAs...), filepath.Join(p.bin, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.dir
	out, err := os.CreateTemp("", "sqlpool-pgctl-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return b, err
}

// BinDir finds the directory of initdb and pg_ctl: the newest PostgreSQL
// under /usr/lib/postgresql, or PATH.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", fmt.Errorf("no initdb under /usr/lib/postgresql/*/bin or on PATH: install the PostgreSQL server (apt-get install postgresql)")
}

func pgMajor(binDir string) int {
	v, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(binDir)), ".")[0])
	return v
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
