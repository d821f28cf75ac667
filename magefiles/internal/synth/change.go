package synth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// revisionRE matches the revision in an app's greeting.
var revisionRE = regexp.MustCompile(`revision ([0-9]+)`)

// Change makes a one-app change in the monorepo at dir: it increments the revision in
// every source file of app, so that the app prints a different line and its binary
// changes. Its smoke test, and every other file, stay as they are.
func Change(dir, app string) error {
	files, err := appFiles(dir, app)
	if err != nil {
		return fmt.Errorf("changing %s: %w", app, err)
	}
	changed := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("changing %s: %w", app, err)
		}
		var bad error
		out := revisionRE.ReplaceAllFunc(b, func(m []byte) []byte {
			k, err := strconv.Atoi(string(revisionRE.FindSubmatch(m)[1]))
			if err != nil {
				bad = err
				return m
			}
			changed++
			return fmt.Appendf(nil, "revision %d", k+1)
		})
		if bad != nil {
			return fmt.Errorf("changing %s: %s: %w", app, f, bad)
		}
		info, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("changing %s: %w", app, err)
		}
		if err := os.WriteFile(f, out, info.Mode().Perm()); err != nil {
			return fmt.Errorf("changing %s: %w", app, err)
		}
	}
	if changed == 0 {
		return fmt.Errorf("changing %s: no source file in %s holds a revision", app, filepath.Join(dir, "apps", app))
	}
	return nil
}

// Touch sets the modification time of every source file of app in the monorepo at dir
// to now, and changes nothing else.
func Touch(dir, app string) error {
	files, err := appFiles(dir, app)
	if err != nil {
		return fmt.Errorf("touching %s: %w", app, err)
	}
	now := time.Now()
	for _, f := range files {
		if err := os.Chtimes(f, now, now); err != nil {
			return fmt.Errorf("touching %s: %w", app, err)
		}
	}
	return nil
}

// appFiles returns the regular files in app's directory under dir/apps.
func appFiles(dir, app string) ([]string, error) {
	if !manifest.ValidAppName(app) {
		return nil, fmt.Errorf("%q is not an app name", app)
	}
	appDir := filepath.Join(dir, "apps", app)
	entries, err := os.ReadDir(appDir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(appDir, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no source files in " + appDir)
	}
	return files, nil
}
