package targets

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/pipeline"
)

// defaultMaxAge is how long Prune keeps an action that no build uses, unless
// $MINIMAL_CACHE_MAX_AGE says otherwise.
const defaultMaxAge = 30 * 24 * time.Hour

// prune trims the action cache a build uses (actions/ under $MINIMAL_CACHE, else under
// $XDG_CACHE_HOME/minimal) to the age $MINIMAL_CACHE_MAX_AGE gives, and says what it
// did on log.
func prune(log io.Writer) error {
	maxAge := defaultMaxAge
	if s := os.Getenv("MINIMAL_CACHE_MAX_AGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Hour {
			return usageError{fmt.Errorf("prune: MINIMAL_CACHE_MAX_AGE=%q: want a duration of at least an hour, such as 168h", s)}
		}
		maxAge = d
	}
	dir, err := pipeline.CacheDir()
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	c, err := cache.Open(dir)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if err := c.Trim(maxAge); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	fmt.Fprintf(log, "pruned %s: kept what a build used in the last %v\n", c.Dir(), maxAge)
	return nil
}
