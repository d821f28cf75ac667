package progress

import (
	"os"
	"time"
)

// Option configures New.
type Option func(*options)

type options struct {
	live    *bool
	now     func() time.Time
	getenv  func(string) string
	refresh time.Duration
}

// makeOptions sets every default, then applies opts.
func makeOptions(opts []Option) *options {
	o := &options{
		now:     time.Now,
		getenv:  os.Getenv,
		refresh: 100 * time.Millisecond,
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithLive forces the live view on or off. The default is on when the writer is a
// terminal (an *os.File that is a character device) and neither $CI is true nor $TERM is
// dumb.
func WithLive(live bool) Option {
	return func(o *options) { o.live = &live }
}

// WithClock sets where the time comes from. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithGetenv sets how $CI, $TERM, $LINES and $COLUMNS are read. The default is os.Getenv.
func WithGetenv(getenv func(string) string) Option {
	return func(o *options) { o.getenv = getenv }
}

// withRefresh sets how often the live view is redrawn on its own; 0 turns that off, so
// that only messages, explicit redraws and Close draw it. The default is 100ms.
func withRefresh(d time.Duration) Option {
	return func(o *options) { o.refresh = d }
}
