package action

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
)

// Action is one cached step of a build: everything that determines its outputs, how to
// make them, and how to read its result back from them.
type Action[T any] struct {
	// Kind names the action: compile, shrink or image.
	Kind string
	// Inputs are what the stage that runs the action reports as determining its
	// outputs, including the digest of the output of an earlier action it reads
	// (DigestInput).
	Inputs []cache.Input
	// Host, when set, makes the key two-level: Run also returns the files it found it
	// reads (such as the headers a C source includes), by names that Host turns into
	// paths, and their content keys the action too (cache.DiscoveredKey).
	Host func(name string) string
	// Run makes the outputs to store, by name, and the files it discovered it read.
	Run func(ctx context.Context) (outs map[string][]byte, discovered []string, err error)
	// Decode reads the action's result from its stored outputs. When it fails on an
	// entry found in the cache (a damaged blob, say), the entry is not used: the action
	// runs again.
	Decode func(outs map[string]cache.Output) (T, error)
}

// Runner runs actions against one action cache and counts where their results came
// from. Its zero value is not usable: set Cache and Tool.
type Runner struct {
	Cache *cache.Cache
	// Tool identifies minimal's own executable; it keys every action.
	Tool string
	// Dry makes Do return a *Runs error for an action that would run, instead of
	// running it.
	Dry bool
	// Slots, when set, bounds how many actions run at once: each run holds one. Lookups
	// hold none, so that more builds than slots can wait on the cache at once.
	Slots chan struct{}

	ran, local, remote atomic.Int64
	// discovered holds, by action name, the files each action with a Host discovered it
	// read, as the key that Do used names them.
	discovered sync.Map
}

// Runs is the error of an action that a dry run finds would run, saying why.
type Runs struct {
	Kind string
	// Recorded says an earlier run's inputs were recorded.
	Recorded bool
	// Changes says how the inputs changed since then, one line each.
	Changes []string
}

func (r *Runs) Error() string { return r.Kind + " runs" }

// Do returns act's result from the cache when it holds a usable entry, and otherwise
// runs act, stores its outputs and what it saw, and returns the result read back from
// the cache. ran reports whether act ran. In a dry run an action that would run
// returns a *Runs error instead. name identifies the action of one app and platform
// across builds.
func Do[T any](ctx context.Context, r *Runner, name string, act Action[T]) (result T, ran bool, err error) {
	ins, k, err := r.declared(act.Kind, act.Inputs)
	if err != nil {
		return result, false, err
	}
	key, ok, names := k.Sum(), true, []string(nil)
	if act.Host != nil {
		if key, names, ok, err = r.Cache.DiscoveredKey(k.Sum(), act.Host); err != nil {
			return result, false, err
		}
	}
	if ok {
		if result, found, err := lookup(ctx, r, key, act); found || err != nil {
			if found && act.Host != nil {
				r.discovered.Store(name, names)
			}
			return result, false, err
		}
	}
	if r.Dry {
		runs := &Runs{Kind: act.Kind}
		if before, err := r.Cache.Recall(name); err == nil {
			runs.Recorded, runs.Changes = true, cache.Changes(before, seen(ins, names, act.Host))
		}
		return result, true, runs
	}
	if r.Slots != nil {
		select {
		case r.Slots <- struct{}{}:
			defer func() { <-r.Slots }()
		case <-ctx.Done():
			return result, false, ctx.Err()
		}
	}
	r.ran.Add(1)
	result, err = run(ctx, r, name, act, ins, k)
	return result, true, err
}

// lookup returns act's result stored under key, and whether there was a usable one.
func lookup[T any](ctx context.Context, r *Runner, key cache.Key, act Action[T]) (result T, found bool, err error) {
	outs, src, err := r.Cache.LookupContext(ctx, key)
	switch {
	case err == nil:
		if result, err := act.Decode(outs); err == nil {
			if src == cache.Remote {
				r.remote.Add(1)
			} else {
				r.local.Add(1)
			}
			return result, true, nil
		}
	case !errors.Is(err, cache.ErrMiss):
		return result, false, err
	}
	return result, false, nil
}

// run runs act, whose declared inputs are ins in k, stores its outputs and what it saw,
// and decodes its result from the cache.
func run[T any](ctx context.Context, r *Runner, name string, act Action[T], ins []cache.Input, k *cache.KeyBuilder) (result T, err error) {
	outputs, found, err := act.Run(ctx)
	if err != nil {
		return result, err
	}
	key := k.Sum()
	if act.Host != nil {
		if key, err = r.Cache.RecordDiscovered(k.Sum(), found, act.Host); err != nil {
			return result, err
		}
		r.discovered.Store(name, found)
	}
	if err := r.Cache.Remember(name, seen(ins, found, act.Host)); err != nil {
		return result, err
	}
	if err := r.Cache.Put(key, outputs); err != nil {
		return result, err
	}
	outs, err := r.Cache.Lookup(key)
	if err != nil {
		return result, fmt.Errorf("reading back the outputs just stored in %s: %w", r.Cache.Dir(), err)
	}
	return act.Decode(outs)
}

// declared returns the inputs of an action of kind as its key holds them, minimal
// first, and the key builder that holds them.
func (r *Runner) declared(kind string, inputs []cache.Input) ([]cache.Input, *cache.KeyBuilder, error) {
	ins := append([]cache.Input{{Name: "minimal", Value: r.Tool}}, inputs...)
	k := cache.NewKey(kind)
	return ins, k, k.Inputs(ins)
}

// Discovered returns the files that the action called name, done by Do with a Host,
// discovered it read, by the names its key holds them: those of the run that made the
// result Do returned.
func (r *Runner) Discovered(name string) []string {
	names, _ := r.discovered.Load(name)
	s, _ := names.([]string)
	return s
}

// Counts says how many actions ran and how many came from each tier of the cache.
func (r *Runner) Counts() string {
	return fmt.Sprintf("%d run, %d from the local cache, %d from the remote cache", r.ran.Load(), r.local.Load(), r.remote.Load())
}

// seen is what an action with inputs ins saw, with the discovered files names.
func seen(ins []cache.Input, names []string, host func(string) string) []cache.Seen {
	all := ins
	for _, n := range names {
		all = append(all, cache.Input{Name: n, Path: host(n)})
	}
	return cache.See(all)
}

// Output returns the output called name of an action, unread.
func Output(outs map[string]cache.Output, name string) (cache.Output, error) {
	o, ok := outs[name]
	if !ok {
		return cache.Output{}, fmt.Errorf("%w: no output %q", cache.ErrMiss, name)
	}
	return o, nil
}

// Read reads the output called name of an action.
func Read(outs map[string]cache.Output, name string) ([]byte, error) {
	o, err := Output(outs, name)
	if err != nil {
		return nil, err
	}
	return o.Read()
}

// ReadJSON reads the output called name of an action into v.
func ReadJSON(outs map[string]cache.Output, name string, v any) error {
	data, err := Read(outs, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("reading cached output %q: %w", name, err)
	}
	return nil
}

// DigestInput is the input of an action that reads the output of an earlier one, called
// name: its digest. A later action is keyed by what an earlier one made, not by its key,
// so a change that compiles to the same bytes stops there.
func DigestInput(name string, o cache.Output) cache.Input {
	return cache.Input{Name: name, Value: hex.EncodeToString(o.SHA256[:])}
}
