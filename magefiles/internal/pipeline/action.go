package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
)

// action is one cached step of a build: the key of everything that determines its
// outputs, how to make them, and how to read its result back from them.
type action[T any] struct {
	// key returns the action's key. ok is false for a miss known without looking,
	// such as a compile whose discovered inputs were never recorded.
	key func(ctx context.Context) (key cache.Key, ok bool, err error)
	// run makes the outputs to store.
	run func(ctx context.Context) (map[string][]byte, error)
	// storeKey, when set, is asked after run for the key to store the outputs under:
	// an action that discovers inputs as it runs knows its key only then.
	storeKey func(ctx context.Context) (cache.Key, error)
	// decode reads the action's result from its stored outputs. When it fails on an
	// entry found in the cache (a damaged blob, say), the entry is not used: the action
	// runs again.
	decode func(outs map[string]cache.Output) (T, error)
}

// do returns act's result from the cache when it holds a usable entry, and otherwise
// runs act, stores its outputs and returns the result read back from the cache. ran
// reports whether act ran.
func do[T any](ctx context.Context, c *cache.Cache, act action[T]) (result T, ran bool, err error) {
	key, ok, err := act.key(ctx)
	if err != nil {
		return result, false, err
	}
	if ok {
		outs, err := c.Lookup(key)
		switch {
		case err == nil:
			if result, err := act.decode(outs); err == nil {
				return result, false, nil
			}
		case !errors.Is(err, cache.ErrMiss):
			return result, false, err
		}
	}
	outputs, err := act.run(ctx)
	if err != nil {
		return result, true, err
	}
	if act.storeKey != nil {
		if key, err = act.storeKey(ctx); err != nil {
			return result, true, err
		}
	}
	if err := c.Put(key, outputs); err != nil {
		return result, true, err
	}
	outs, err := c.Lookup(key)
	if err != nil {
		return result, true, fmt.Errorf("reading back the outputs just stored in %s: %w", c.Dir(), err)
	}
	result, err = act.decode(outs)
	return result, true, err
}

// read reads the output called name of an action.
func read(outs map[string]cache.Output, name string) ([]byte, error) {
	o, ok := outs[name]
	if !ok {
		return nil, fmt.Errorf("%w: no output %q", cache.ErrMiss, name)
	}
	return o.Read()
}

// output returns the output called name of an action, unread.
func output(outs map[string]cache.Output, name string) (cache.Output, error) {
	o, ok := outs[name]
	if !ok {
		return cache.Output{}, fmt.Errorf("%w: no output %q", cache.ErrMiss, name)
	}
	return o, nil
}
