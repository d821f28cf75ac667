package attest

import (
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Provenance identifiers.
const (
	// MediaTypeInToto is the media type of an in-toto statement, and the
	// artifact type of the referrer that holds one.
	MediaTypeInToto = "application/vnd.in-toto+json"
	// StatementType is the _type of an in-toto statement, version 1.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateSLSAProvenance is the predicate type of SLSA provenance,
	// version 1.
	PredicateSLSAProvenance = "https://slsa.dev/provenance/v1"
	// BuildType names how minimal builds an image, the build whose
	// parameters a provenance records: externalParameters.app is the
	// app's entry of minimal.yaml, as EntryOf gives it.
	BuildType = "https://github.com/minimalbuild/minimal/blob/main/README.md#provenance"
	// BuilderID names minimal as the builder.
	BuilderID = "pkg:golang/github.com/minimalbuild/minimal"
)

// The in-toto statement and SLSA provenance types, reduced to the fields
// written here. Field order is the order of the JSON output.
type (
	statement struct {
		Type          string         `json:"_type"`
		Subject       []resource     `json:"subject"`
		PredicateType string         `json:"predicateType"`
		Predicate     slsaProvenance `json:"predicate"`
	}
	slsaProvenance struct {
		BuildDefinition buildDefinition `json:"buildDefinition"`
		RunDetails      runDetails      `json:"runDetails"`
	}
	buildDefinition struct {
		BuildType            string             `json:"buildType"`
		ExternalParameters   externalParameters `json:"externalParameters"`
		InternalParameters   internalParameters `json:"internalParameters"`
		ResolvedDependencies []resource         `json:"resolvedDependencies,omitempty"`
	}
	externalParameters struct {
		App Entry `json:"app"`
	}
	internalParameters struct {
		// SourceDateEpoch is the time stamped on the image, in seconds.
		SourceDateEpoch int64 `json:"sourceDateEpoch"`
		// GoPackage is the main package of a Go app.
		GoPackage string `json:"goPackage,omitempty"`
		// GoBuildSettings are the settings the Go linker recorded.
		GoBuildSettings []Setting `json:"goBuildSettings,omitempty"`
	}
	runDetails struct {
		Builder    builder    `json:"builder"`
		Byproducts []resource `json:"byproducts"`
	}
	builder struct {
		ID      string            `json:"id"`
		Version map[string]string `json:"version"`
	}
	// resource is an in-toto ResourceDescriptor.
	resource struct {
		Name        string            `json:"name,omitempty"`
		URI         string            `json:"uri,omitempty"`
		Digest      map[string]string `json:"digest,omitempty"`
		MediaType   string            `json:"mediaType,omitempty"`
		Annotations map[string]any    `json:"annotations,omitempty"`
	}
)

// Provenance returns an in-toto statement (version 1) whose subject is the
// manifest of img, a platform image of the app that in describes, and
// whose predicate is SLSA provenance (version 1) of how it was built:
//
//   - externalParameters.app: the app's entry of minimal.yaml for the
//     image's platform;
//   - internalParameters: SOURCE_DATE_EPOCH and, for Go, the main package
//     and the build settings the linker recorded;
//   - resolvedDependencies: the toolchains with their versions, the
//     sources of a C or assembly app with their SHA-256, and the modules of
//     a Go app with their versions and go.sum hashes (dirHash);
//   - byproducts: the compiled executable, then the output of each shrink
//     pass with its size before and after and the digest of its input
//     (for pack, the binary before packing), skipped passes included.
//
// It holds no time other than in.Created, so the same build gives the same
// bytes.
func Provenance(img v1.Image, in Input) ([]byte, error) {
	f, err := factsOf(img)
	if err != nil {
		return nil, fmt.Errorf("making provenance: %w", err)
	}
	return provenance(f, in)
}

func provenance(f imageFacts, in Input) ([]byte, error) {
	if in.Entry.Name == "" {
		return nil, fmt.Errorf("making provenance: the input names no app")
	}
	if err := checkBinary(f, in); err != nil {
		return nil, fmt.Errorf("making provenance: %w", err)
	}
	st := statement{
		Type: StatementType,
		Subject: []resource{{
			Name:   in.Entry.Name,
			Digest: map[string]string{f.desc.Digest.Algorithm: f.desc.Digest.Hex},
		}},
		PredicateType: PredicateSLSAProvenance,
	}
	def := &st.Predicate.BuildDefinition
	def.BuildType = BuildType
	def.ExternalParameters.App = in.Entry
	def.InternalParameters.SourceDateEpoch = in.Created.Unix()

	tools := in.Toolchains
	if g := in.Binary.Go; g != nil {
		def.InternalParameters.GoPackage = g.Path
		def.InternalParameters.GoBuildSettings = g.Settings
		goVersion, _, _ := strings.Cut(g.GoVersion, " ")
		tools = append([]Tool{{Name: "go", Version: goVersion}}, withoutTool(tools, "go")...)
	}
	for _, t := range tools {
		r := resource{
			Name:        t.Name,
			URI:         "pkg:generic/" + t.Name + "@" + t.Version,
			Annotations: map[string]any{"role": "toolchain", "version": t.Version},
		}
		if len(t.Digest) > 0 {
			r.Digest = t.Digest
		}
		def.ResolvedDependencies = append(def.ResolvedDependencies, r)
	}
	for _, s := range in.Sources {
		def.ResolvedDependencies = append(def.ResolvedDependencies, resource{
			Name:        s.Path,
			Digest:      map[string]string{"sha256": s.SHA256},
			Annotations: map[string]any{"role": "source", "size": s.Size},
		})
	}
	if g := in.Binary.Go; g != nil {
		for _, m := range g.Deps {
			built := m
			if m.Replace != nil {
				built = *m.Replace
			}
			r := resource{Name: m.Path, Annotations: map[string]any{"role": "go module"}}
			if built.Version != "" {
				r.URI = "pkg:golang/" + built.Path + "@" + built.Version
			}
			if built.Sum != "" {
				sum, err := h1Hex(built.Sum)
				if err != nil {
					return nil, fmt.Errorf("making provenance: module %s: %w", m.Path, err)
				}
				r.Digest = map[string]string{"dirHash": sum}
				r.Annotations["sum"] = built.Sum
			}
			if m.Replace != nil {
				r.Annotations["replacedBy"] = strings.TrimSpace(built.Path + " " + built.Version)
			}
			if r.URI == "" && r.Digest == nil {
				// A resource needs one of them: a directory replacement has neither.
				r.URI = "pkg:golang/" + m.Path
			}
			def.ResolvedDependencies = append(def.ResolvedDependencies, r)
		}
	}

	run := &st.Predicate.RunDetails
	run.Builder = builder{ID: BuilderID, Version: map[string]string{"minimal": builderVersion(in.Builder)}}
	b := in.Binary
	run.Byproducts = append(run.Byproducts, resource{
		Name:        "compiled",
		Digest:      map[string]string{"sha256": b.Compiled.SHA256},
		Annotations: map[string]any{"size": b.Compiled.Size},
	})
	for i, p := range b.Passes {
		ann := map[string]any{
			"pass":         p.Name,
			"step":         i + 1,
			"sizeBefore":   p.In.Size,
			"sizeAfter":    p.Out.Size,
			"inputSha256":  p.In.SHA256,
			"outputSha256": p.Out.SHA256,
		}
		if p.Skipped != "" {
			ann["skipped"] = p.Skipped
		}
		run.Byproducts = append(run.Byproducts, resource{
			Name:        "shrink " + strconv.Itoa(i+1) + ": " + p.Name,
			Digest:      map[string]string{"sha256": p.Out.SHA256},
			Annotations: ann,
		})
	}
	for _, p := range b.Passes {
		if p.Name == "pack" && p.Skipped == "" {
			run.Byproducts = append(run.Byproducts, resource{
				Name:        "before pack",
				Digest:      map[string]string{"sha256": p.In.SHA256},
				Annotations: map[string]any{"size": p.In.Size},
			})
		}
	}
	run.Byproducts = append(run.Byproducts, resource{
		Name:        in.BinaryPath,
		Digest:      map[string]string{"sha256": b.Final.SHA256},
		Annotations: map[string]any{"size": b.Final.Size, "role": "the executable in the image"},
	})
	return marshal(st)
}
