package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var bins struct {
	once        sync.Once
	ges, gessim string
	err         error
}

// Binaries returns the paths of the ges and gessim executables. $GES_BIN and
// $GESSIM_BIN name prebuilt ones; otherwise ./cmd/ges and ./cmd/gessim are
// built once per test process (with -race when the tests run with -race).
func Binaries(t testing.TB) (ges, gessim string) {
	t.Helper()
	bins.once.Do(func() { bins.ges, bins.gessim, bins.err = buildBinaries() })
	if bins.err != nil {
		t.Fatalf("testenv: %v", bins.err)
	}
	return bins.ges, bins.gessim
}

func buildBinaries() (ges, gessim string, err error) {
	ges, gessim = os.Getenv("GES_BIN"), os.Getenv("GESSIM_BIN")
	var pkgs []string
	for _, b := range []struct {
		path *string
		env  string
		pkg  string
	}{{&ges, "GES_BIN", "./cmd/ges"}, {&gessim, "GESSIM_BIN", "./cmd/gessim"}} {
		if *b.path == "" {
			pkgs = append(pkgs, b.pkg)
			continue
		}
		abs, err := filepath.Abs(*b.path)
		if err != nil {
			return "", "", err
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() {
			return "", "", fmt.Errorf("%s=%s is not an executable file", b.env, *b.path)
		}
		*b.path = abs
	}
	if len(pkgs) == 0 {
		return ges, gessim, nil
	}

	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	sess, err := sessionDir()
	if err != nil {
		return "", "", err
	}
	out := filepath.Join(sess, "bin")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", "", err
	}
	gobin, err := goTool()
	if err != nil {
		return "", "", err
	}
	args := []string{"build", "-o", out + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(gobin, append(args, pkgs...)...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go %v: %v\n%s", cmd.Args[1:], err, b)
	}
	if ges == "" {
		ges = filepath.Join(out, "ges")
	}
	if gessim == "" {
		gessim = filepath.Join(out, "gessim")
	}
	return ges, gessim, nil
}

// ModuleRoot returns the directory holding the module's go.mod, found by
// walking up from the test's working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// goTool finds the go command; `go test` puts its own GOROOT/bin first on PATH.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("go command not found on PATH")
}
