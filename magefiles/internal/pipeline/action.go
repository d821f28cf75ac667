package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// action is one cached step of a build: everything that determines its outputs, how to
// make them, and how to read its result back from them.
type action[T any] struct {
	// kind names the action: compile, shrink or image.
	kind string
	// inputs are what the stage that runs the action reports as determining its
	// outputs, including the digest of the output of an earlier action it reads.
	inputs []cache.Input
	// host, when set, makes the key two-level: run also returns the files it found it
	// reads (such as the headers a C source includes), by names that host turns into
	// paths, and their content keys the action too (cache.DiscoveredKey).
	host func(name string) string
	// run makes the outputs to store, and the files it discovered it read.
	run func(ctx context.Context) (outs map[string][]byte, discovered []string, err error)
	// decode reads the action's result from its stored outputs. When it fails on an
	// entry found in the cache (a damaged blob, say), the entry is not used: the action
	// runs again.
	decode func(outs map[string]cache.Output) (T, error)
}

// runs is the error of an action that a dry run finds would run, saying why.
type runs struct {
	kind     string
	recorded bool     // an earlier run's inputs were recorded
	changes  []string // how the inputs changed since then
}

func (r *runs) Error() string { return r.kind + " runs" }

// do returns act's result from the cache when it holds a usable entry, and otherwise
// runs act, stores its outputs and what it saw, and returns the result read back from
// the cache. ran reports whether act ran. In a dry run an action that would run
// returns a *runs error instead. name identifies the action of one app and platform
// across builds.
func do[T any](ctx context.Context, a *actions, name string, act action[T]) (result T, ran bool, err error) {
	ins, k, err := a.declared(act.kind, act.inputs)
	if err != nil {
		return result, false, err
	}
	key, ok, names := k.Sum(), true, []string(nil)
	if act.host != nil {
		if key, names, ok, err = a.cache.DiscoveredKey(k.Sum(), act.host); err != nil {
			return result, false, err
		}
	}
	if ok {
		outs, src, err := a.cache.LookupContext(ctx, key)
		switch {
		case err == nil:
			if result, err := act.decode(outs); err == nil {
				a.count(src)
				return result, false, nil
			}
		case !errors.Is(err, cache.ErrMiss):
			return result, false, err
		}
	}
	if a.dry {
		r := &runs{kind: act.kind}
		if before, err := a.cache.Recall(name); err == nil {
			r.recorded, r.changes = true, cache.Changes(before, seen(ins, names, act.host))
		}
		return result, true, r
	}
	a.ran.Add(1)
	outputs, found, err := act.run(ctx)
	if err != nil {
		return result, true, err
	}
	if act.host != nil {
		if key, err = a.cache.RecordDiscovered(k.Sum(), found, act.host); err != nil {
			return result, true, err
		}
	}
	if err := a.cache.Remember(name, seen(ins, found, act.host)); err != nil {
		return result, true, err
	}
	if err := a.cache.Put(key, outputs); err != nil {
		return result, true, err
	}
	outs, err := a.cache.Lookup(key)
	if err != nil {
		return result, true, fmt.Errorf("reading back the outputs just stored in %s: %w", a.cache.Dir(), err)
	}
	result, err = act.decode(outs)
	return result, true, err
}

// declared returns the inputs of an action of kind as its key holds them, minimal
// first, and the key builder that holds them.
func (a *actions) declared(kind string, inputs []cache.Input) ([]cache.Input, *cache.KeyBuilder, error) {
	ins := append([]cache.Input{{Name: "minimal", Value: a.tool}}, inputs...)
	k := cache.NewKey(kind)
	return ins, k, k.Inputs(ins)
}

// builtFrom is what spec i's compile read and ran, as its toolchain reports it: the
// files (with those the last compile of its inputs discovered it read) and the tools.
func (a *actions) builtFrom(i int, s manifest.Spec) ([]string, []toolchain.Tool, error) {
	_, k, err := a.declared("compile", a.inputs[i])
	if err != nil {
		return nil, nil, err
	}
	_, names, _, err := a.cache.DiscoveredKey(k.Sum(), s.HostPath)
	if err != nil {
		return nil, nil, err
	}
	hosts := make([]string, len(names))
	for j, n := range names {
		hosts[j] = s.HostPath(n)
	}
	return toolchain.BuiltFrom(s, a.inputs[i], hosts)
}

// seen is what an action with inputs ins saw, with the discovered files names.
func seen(ins []cache.Input, names []string, host func(string) string) []cache.Seen {
	all := ins
	for _, n := range names {
		all = append(all, cache.Input{Name: n, Path: host(n)})
	}
	return cache.See(all)
}

// read reads the output called name of an action.
func read(outs map[string]cache.Output, name string) ([]byte, error) {
	o, ok := outs[name]
	if !ok {
		return nil, fmt.Errorf("%w: no output %q", cache.ErrMiss, name)
	}
	return o.Read()
}

// readJSON reads the output called name of an action into v.
func readJSON(outs map[string]cache.Output, name string, v any) error {
	data, err := read(outs, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("reading cached output %q: %w", name, err)
	}
	return nil
}

// output returns the output called name of an action, unread.
func output(outs map[string]cache.Output, name string) (cache.Output, error) {
	o, ok := outs[name]
	if !ok {
		return cache.Output{}, fmt.Errorf("%w: no output %q", cache.ErrMiss, name)
	}
	return o, nil
}

// count notes an action found in the cache.
func (a *actions) count(src cache.Source) {
	if src == cache.Remote {
		a.remote.Add(1)
	} else {
		a.local.Add(1)
	}
}

// counts says how many actions ran and how many came from each tier of the cache.
func (a *actions) counts() string {
	return fmt.Sprintf("%d run, %d from the local cache, %d from the remote cache", a.ran.Load(), a.local.Load(), a.remote.Load())
}
