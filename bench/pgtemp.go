package bench

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
)

// TempPostgres is a throwaway PostgreSQL server in a temporary directory,
// for the workload that restarts the server: the shared one is never
// stopped.
type TempPostgres struct {
	dir, bin string
	port     int
	runAs    []string // runuser prefix when running as root
}

// StartTempPostgres initdbs and starts a server on a free port of
// 127.0.0.1, with the binaries of the newest PostgreSQL under
// /usr/lib/postgresql (or on PATH). As root, the server runs as the
// postgres user, since PostgreSQL refuses to run as root.
func StartTempPostgres() (*TempPostgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sqlpool-bench-pg-")
	if err != nil {
		return nil, err
	}
	p := &TempPostgres{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, a throwaway PostgreSQL needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		p.runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	if p.port, err = freePort(); err != nil {
		p.remove()
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if out, err := p.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		p.remove()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", p.port, dir)
	if out, err := p.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		p.remove()
		return nil, fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return p, nil
}

// URL is the server's postgres database as user postgres.
func (p *TempPostgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Restart stops the server (fast shutdown: sessions are terminated) and
// starts it again, returning when it accepts connections.
func (p *TempPostgres) Restart() error {
	if out, err := p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "log"), "-m", "fast", "-w", "restart"); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s", err, out)
	}
	return nil
}

// Stop stops the server and removes its directory.
func (p *TempPostgres) Stop() {
	p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
	p.remove()
}

func (p *TempPostgres) remove() { os.RemoveAll(p.dir) }

// run runs one of PostgreSQL's programs. Its output goes to a file, not a
// pipe: a server that pg_ctl starts inherits the output, and a pipe would
// stay open for as long as the server runs.
func (p *TempPostgres) run(name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, p.runAs...), filepath.Join(p.bin, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.dir
	out, err := os.CreateTemp("", "sqlpool-bench-pgctl-")
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

// pgBinDir finds the directory of initdb and pg_ctl.
func pgBinDir() (string, error) {
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
