package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// folder is one directory listed in CONFIG_FOLDERS, read once at load time.
// Kubernetes swaps secret contents atomically by re-pointing the `..data`
// symlink, so a single snapshot taken at boot is self-consistent.
type folder struct {
	path  string
	files map[string]string
}

// readFolder reads every regular file (following symlinks) in dir. Entries
// whose name starts with "." are skipped: Kubernetes volume mounts contain
// `..data` and `..<timestamp>` bookkeeping directories next to the visible
// key symlinks, and those must not be mistaken for keys.
func readFolder(dir string) (folder, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return folder{}, err
	}
	f := folder{path: dir, files: make(map[string]string, len(entries))}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(dir, name)
		info, err := os.Stat(full) // Stat, not Lstat: key files are usually symlinks.
		if err != nil {
			return folder{}, fmt.Errorf("%s: %w", name, err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(full)
		if err != nil {
			return folder{}, fmt.Errorf("%s: %w", name, err)
		}
		f.files[name] = strings.TrimSpace(string(b))
	}
	return f, nil
}

// spellings returns the file names under which key may appear in a config
// folder. Secrets are conventionally dash-separated (DB-USER) while config
// map keys use underscores (DB_HOST), and operators mix both, so either is
// accepted. The key as written is tried first.
func spellings(key string) []string {
	out := []string{key}
	for _, alt := range []string{
		strings.ReplaceAll(key, "-", "_"),
		strings.ReplaceAll(key, "_", "-"),
	} {
		if !slices.Contains(out, alt) {
			out = append(out, alt)
		}
	}
	return out
}

// envName is the environment-variable spelling of key: environment variable
// names cannot portably contain dashes.
func envName(key string) string {
	return strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// displayName names a setting in error messages. For dash-spelled keys the
// environment spelling is shown too so an operator knows both places to look.
func displayName(key string) string {
	if env := envName(key); env != key {
		return fmt.Sprintf("%s (env %s)", key, env)
	}
	return key
}

// source resolves settings: config folders first (in CONFIG_FOLDERS order),
// then the environment. Empty values count as unset because Helm renders
// absent optional values as empty strings.
type source struct {
	getenv  func(string) string
	folders []folder
}

// lookup returns the first non-empty value for any of keys (aliases of one
// setting), or "" if none is set.
func (s *source) lookup(keys ...string) string {
	for _, f := range s.folders {
		for _, k := range keys {
			for _, name := range spellings(k) {
				if v := f.files[name]; v != "" {
					return v
				}
			}
		}
	}
	for _, k := range keys {
		if v := strings.TrimSpace(s.getenv(envName(k))); v != "" {
			return v
		}
	}
	return ""
}
