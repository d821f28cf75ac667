package pipeline

import (
	"context"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/outdir"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Push builds the apps of m and pushes each app's multi-arch index, with each of its
// tags, to <repo>/<app> through pub. It returns one Pushed per app, in manifest order,
// and writes the same as push.json in the output directory.
func Push(ctx context.Context, m *manifest.Manifest, pub publish.Interface, opts ...Option) ([]publish.Pushed, error) {
	if _, err := Build(ctx, m, opts...); err != nil {
		return nil, err
	}
	return PushBuilt(ctx, m, pub, opts...)
}

// PushBuilt pushes what the last build put in the output directory's OCI layout, as Push
// does, without building first.
func PushBuilt(ctx context.Context, m *manifest.Manifest, pub publish.Interface, opts ...Option) ([]publish.Pushed, error) {
	o, err := makeOptions(m, opts)
	if err != nil {
		return nil, err
	}
	specs, err := m.Select(o.apps)
	if err != nil {
		return nil, err
	}
	var apps []*manifest.App
	var names []string
	for i, a := range m.Apps {
		for _, s := range specs {
			if s.App == a.Name {
				apps = append(apps, &m.Apps[i])
				names = append(names, a.Name)
				break
			}
		}
	}
	indexes, err := outdir.Indexes(o.out, names)
	if err != nil {
		return nil, err
	}
	pushed := make([]publish.Pushed, len(apps))
	var mu sync.Mutex
	err = parallel(ctx, len(apps), len(apps), func(ctx context.Context, i int) error {
		p, err := pushOne(ctx, pub, apps[i], indexes[i])
		if err != nil {
			return err // the publisher names the app and the repository
		}
		mu.Lock()
		fmt.Fprintf(o.log, "pushed %-20s %s\n", p.App, p.Ref)
		mu.Unlock()
		pushed[i] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := outdir.WritePushed(o.out, pushed); err != nil {
		return nil, err
	}
	return pushed, nil
}

// pushOne pushes one app's index with each of its tags.
func pushOne(ctx context.Context, pub publish.Interface, a *manifest.App, idx v1.ImageIndex) (publish.Pushed, error) {
	rs, err := pub.Publish(ctx, a.Name, idx, a.Tags)
	if err != nil {
		return publish.Pushed{}, err
	}
	p := publish.Pushed{App: a.Name}
	for _, r := range rs {
		p.Refs = append(p.Refs, r.Ref)
		p.Digest = r.Digest.String()
	}
	if len(p.Refs) > 0 {
		p.Ref = p.Refs[0]
	}
	return p, nil
}
