package verify

import (
	"context"
	"encoding/json"
	"io"
	"os"

	"github.com/minimalbuild/minimal/magefiles/internal/action"
	"github.com/minimalbuild/minimal/magefiles/internal/cache"
)

// Names of the shrink action's outputs.
const (
	outBin   = "bin"
	outSteps = "steps.json"
)

// Shrunk is the shrink action's result: the final executable and each pass as Shrink
// ran it.
type Shrunk struct {
	Bin   cache.Output
	Steps []Step
}

// Action is the action that runs t's passes over compiled, the compile action's
// output, in dir, each checked as Shrink checks it; warnings go to log. It is keyed by
// t.Inputs and compiled's digest.
func (t Target) Action(log io.Writer, compiled cache.Output, dir string) (action.Action[Shrunk], error) {
	ins, err := t.Inputs()
	if err != nil {
		return action.Action[Shrunk]{}, err
	}
	return action.Action[Shrunk]{
		Kind:   "shrink",
		Inputs: append(ins, action.DigestInput("binary", compiled)),
		Run: func(ctx context.Context) (map[string][]byte, []string, error) {
			bin, err := compiled.Read()
			if err != nil {
				return nil, nil, err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, nil, err
			}
			out, steps, err := Shrink(ctx, log, t, bin, dir)
			if err != nil {
				return nil, nil, err
			}
			js, err := json.Marshal(steps)
			return map[string][]byte{outBin: out, outSteps: js}, nil, err
		},
		Decode: func(outs map[string]cache.Output) (r Shrunk, err error) {
			if err = action.ReadJSON(outs, outSteps, &r.Steps); err == nil {
				r.Bin, err = action.Output(outs, outBin)
			}
			return r, err
		},
	}, nil
}
