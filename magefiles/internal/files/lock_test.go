package files

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestLockFileExcludesASecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(t.Context(), path, func() { t.Error("the first lock waited") })
	if err != nil {
		t.Fatal(err)
	}

	waiting := make(chan struct{})
	got := make(chan error, 1)
	go func() {
		// A second open file description, as another process would have.
		unlock2, err := Lock(t.Context(), path, func() { close(waiting) })
		if err == nil {
			unlock2()
		}
		got <- err
	}()
	<-waiting // the second caller found the lock held
	unlock()
	if err := <-got; err != nil {
		t.Errorf("second Lock after unlock: %v", err)
	}
}

func TestLockFileGivesUpWhenContextEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	ctx, cancel := context.WithCancel(t.Context())
	_, err = Lock(ctx, path, cancel)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("lockFile error = %v, want context.Canceled", err)
	}
}

func TestLockFileReportsAnUnusablePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "x.lock")
	if _, err := Lock(t.Context(), path, nil); err == nil {
		t.Error("lockFile succeeded in a missing directory")
	}
}
