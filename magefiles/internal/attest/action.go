package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/action"
	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
)

// Names of the image action's outputs: the image's description, each layer's blob by
// its index, and the documents that describe the image.
const (
	outImage      = "image.json"
	outLayerN     = "layer-"
	outSBOM       = "sbom.spdx.json"
	outProvenance = "provenance.intoto.json"
)

// Imaged is the image action's result: the image, its SBOM and provenance as referrers,
// and what was stored of it.
type Imaged struct {
	Image     v1.Image
	Referrers []v1.Image
	oci.Stored
}

// ImageAction is the action that builds the layers of app's image around final, the
// shrink action's output, and the image's SBOM and provenance from in, with in.Binary
// described from compiled, the compile action's output, and steps, the shrink passes
// that made final of it (Describe). It is keyed by what app reports, both digests, the
// steps and in.
func ImageAction(app oci.App, compiled, final cache.Output, steps []shrink.Step, in Input) (action.Action[Imaged], error) {
	ins, err := app.Inputs()
	if err != nil {
		return action.Action[Imaged]{}, err
	}
	passes, err := json.Marshal(steps)
	if err != nil {
		return action.Action[Imaged]{}, err
	}
	described, err := json.Marshal(in)
	if err != nil {
		return action.Action[Imaged]{}, err
	}
	ins = append(ins, action.DigestInput("binary", final), action.DigestInput("compiled", compiled),
		cache.Input{Name: "passes", Value: string(passes)}, cache.Input{Name: "attestation", Value: string(described)})
	return action.Action[Imaged]{
		Kind:   "image",
		Inputs: ins,
		Run: func(ctx context.Context) (map[string][]byte, []string, error) {
			outs, err := storeImage(ctx, app, compiled, final, steps, in)
			return outs, nil, err
		},
		Decode: func(outs map[string]cache.Output) (Imaged, error) { return decodeImage(app, in, outs) },
	}, nil
}

// storeImage makes the image action's outputs.
func storeImage(ctx context.Context, app oci.App, compiled, final cache.Output, steps []shrink.Step, in Input) (map[string][]byte, error) {
	bin, err := final.Read()
	if err != nil {
		return nil, err
	}
	from, err := compiled.Read()
	if err != nil {
		return nil, err
	}
	if in.Binary, err = Describe(ctx, from, steps, bin); err != nil {
		return nil, err
	}
	st, blobs, err := app.Store(bin)
	if err != nil {
		return nil, err
	}
	outputs := map[string][]byte{}
	for j, b := range blobs {
		outputs[outLayerN+strconv.Itoa(j)] = b
	}
	img, err := app.Restore(st, func(j int) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blobs[j])), nil })
	if err != nil {
		return nil, err
	}
	if outputs[outSBOM], outputs[outProvenance], err = Documents(img, in); err != nil {
		return nil, err
	}
	outputs[outImage], err = json.Marshal(st)
	return outputs, err
}

// decodeImage puts the image action's result together from its stored outputs.
func decodeImage(app oci.App, in Input, outs map[string]cache.Output) (r Imaged, err error) {
	if err := action.ReadJSON(outs, outImage, &r.Stored); err != nil {
		return r, err
	}
	paths := make([]string, len(r.Layers))
	for j := range paths {
		o, err := action.Output(outs, outLayerN+strconv.Itoa(j))
		if err != nil {
			return r, err
		}
		paths[j] = o.Path
	}
	if r.Image, err = app.Restore(r.Stored, func(j int) (io.ReadCloser, error) { return os.Open(paths[j]) }); err != nil {
		return r, err
	}
	sbom, err := action.Read(outs, outSBOM)
	if err != nil {
		return r, err
	}
	prov, err := action.Read(outs, outProvenance)
	if err != nil {
		return r, err
	}
	if r.Referrers, err = Attach(r.Image, sbom, prov, in.Created); err != nil {
		return r, fmt.Errorf("attaching the SBOM and provenance: %w", err)
	}
	return r, nil
}
