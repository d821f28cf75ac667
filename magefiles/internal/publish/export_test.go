package publish

import (
	"context"
	"time"
)

// WithWait replaces how a registry publisher waits between tries, and the
// longest wait, so that tests need not wait.
func WithWait(wait func(ctx context.Context, d time.Duration) error, maxWait time.Duration) RegistryOption {
	return withWait(wait, maxWait)
}

// Retries returns how many tries after a failure the registry publisher p
// has made.
func Retries(p Interface) int64 {
	return p.(*registryPublisher).retries.Load()
}
