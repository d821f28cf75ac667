package pipeline

import (
	"context"

	"github.com/minimalbuild/minimal/magefiles/internal/outdir"
	"github.com/minimalbuild/minimal/magefiles/internal/pid1"
	"github.com/minimalbuild/minimal/magefiles/internal/verify"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Test builds the apps of m and runs each app's smoke test on its binary for every
// platform it is built for. Every failure is reported; apps without a test are listed as
// untested.
func Test(ctx context.Context, m *manifest.Manifest, opts ...Option) error {
	o, err := makeOptions(m, opts)
	if err != nil {
		return err
	}
	if _, err := Build(ctx, m, opts...); err != nil {
		return err
	}
	specs, err := m.Select(o.apps)
	if err != nil {
		return err
	}
	bins := make([]verify.Binary, len(specs))
	for i, s := range specs {
		init, err := pid1.For(s.Image, s.Platform.Arch)
		if err != nil {
			return err
		}
		bins[i] = verify.Binary{
			Init:     init,
			App:      s.App,
			Platform: s.Platform.String(),
			Path:     outdir.BinaryPath(o.out, s.App, s.Platform),
			Env:      smokeEnv(s),
			Test:     s.Test,
		}
	}
	return verify.Binaries(ctx, o.log, bins)
}
