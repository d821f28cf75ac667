package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// MediaTypeSPDX is the media type of an SPDX JSON document, and the
// artifact type of the referrer that holds one.
const MediaTypeSPDX = "application/spdx+json"

// The SPDX document's types, reduced to the fields written here. Field
// order is the order of the JSON output.
type (
	spdxDocument struct {
		SPDXVersion       string             `json:"spdxVersion"`
		DataLicense       string             `json:"dataLicense"`
		SPDXID            string             `json:"SPDXID"`
		Name              string             `json:"name"`
		DocumentNamespace string             `json:"documentNamespace"`
		CreationInfo      spdxCreationInfo   `json:"creationInfo"`
		Packages          []spdxPackage      `json:"packages"`
		Files             []spdxFile         `json:"files,omitempty"`
		Relationships     []spdxRelationship `json:"relationships"`
	}
	spdxCreationInfo struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	}
	spdxPackage struct {
		SPDXID           string            `json:"SPDXID"`
		Name             string            `json:"name"`
		VersionInfo      string            `json:"versionInfo,omitempty"`
		PackageFileName  string            `json:"packageFileName,omitempty"`
		DownloadLocation string            `json:"downloadLocation"`
		FilesAnalyzed    bool              `json:"filesAnalyzed"`
		Checksums        []spdxChecksum    `json:"checksums,omitempty"`
		SourceInfo       string            `json:"sourceInfo,omitempty"`
		Comment          string            `json:"comment,omitempty"`
		ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
		Purpose          string            `json:"primaryPackagePurpose,omitempty"`
	}
	spdxChecksum struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"checksumValue"`
	}
	spdxExternalRef struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	spdxFile struct {
		SPDXID    string         `json:"SPDXID"`
		FileName  string         `json:"fileName"`
		FileTypes []string       `json:"fileTypes,omitempty"`
		Checksums []spdxChecksum `json:"checksums"`
	}
	spdxRelationship struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	}
)

// noAssertion is SPDX's word for a value the document does not state.
const noAssertion = "NOASSERTION"

// SBOM returns the SPDX 2.3 JSON document describing img, a platform image
// of the app that in describes. The document describes:
//
//   - the image (SPDXRef-Image): its manifest digest and platform, and the
//     layers it contains, each listing its regular files with their SHA-256
//     and SHA-1;
//   - the app (SPDXRef-App): the executable at in.BinaryPath with the
//     digest of the bytes in the image;
//   - for a Go app, read from the build information of the compiled
//     executable before any shrink pass: the Go standard library and every
//     module the executable links, each with its version and go.sum
//     checksum, and the Go toolchain;
//   - for a C or assembly app: the sources it was built from with their
//     digests, and the toolchains (zig, musl, nasm) with their versions.
//
// The document's only time is in.Created; its namespace is made from the
// image digest, so the same image gives the same bytes.
func SBOM(img v1.Image, in Input) ([]byte, error) {
	f, err := factsOf(img)
	if err != nil {
		return nil, fmt.Errorf("making SBOM: %w", err)
	}
	return sbom(f, in)
}

func sbom(f imageFacts, in Input) ([]byte, error) {
	app := in.Entry.Name
	if app == "" {
		return nil, fmt.Errorf("making SBOM: the input names no app")
	}
	if err := checkBinary(f, in); err != nil {
		return nil, fmt.Errorf("making SBOM: %w", err)
	}
	plat := f.desc.Platform
	doc := spdxDocument{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              app + " " + plat.String(),
		DocumentNamespace: "urn:minimal:spdx:" + app + ":" + f.desc.Digest.String(),
		CreationInfo: spdxCreationInfo{
			Created:  in.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: minimal-" + builderVersion(in.Builder)},
		},
	}
	rel := func(a, typ, b string) {
		doc.Relationships = append(doc.Relationships, spdxRelationship{a, typ, b})
	}
	rel(doc.SPDXID, "DESCRIBES", "SPDXRef-Image")

	doc.Packages = append(doc.Packages, spdxPackage{
		SPDXID:           "SPDXRef-Image",
		Name:             app,
		VersionInfo:      f.desc.Digest.String(),
		DownloadLocation: noAssertion,
		Checksums:        []spdxChecksum{{"SHA256", f.desc.Digest.Hex}},
		Comment:          "the " + plat.String() + " image manifest",
		ExternalRefs:     []spdxExternalRef{purl(ociPURL(app, f.desc.Digest, plat))},
		Purpose:          "CONTAINER",
	})
	appPkg := spdxPackage{
		SPDXID:           "SPDXRef-App",
		Name:             app,
		PackageFileName:  in.BinaryPath,
		DownloadLocation: noAssertion,
		Checksums:        []spdxChecksum{{"SHA256", in.Binary.Final.SHA256}},
		Purpose:          "APPLICATION",
	}
	rel("SPDXRef-Image", "CONTAINS", "SPDXRef-App")

	var deps []spdxPackage
	tools := in.Toolchains
	if g := in.Binary.Go; g != nil {
		appPkg.VersionInfo = g.Main.Version
		appPkg.SourceInfo = fmt.Sprintf("built from Go package %s of module %s; the modules below are read from the build information of the executable as the Go linker wrote it, before any shrink pass", g.Path, g.Main.Path)
		goVersion, _, _ := strings.Cut(g.GoVersion, " ")
		deps = append(deps, spdxPackage{
			SPDXID:           "SPDXRef-Go-stdlib",
			Name:             "stdlib",
			VersionInfo:      goVersion,
			DownloadLocation: noAssertion,
			ExternalRefs:     []spdxExternalRef{purl("pkg:golang/stdlib@" + strings.TrimPrefix(goVersion, "go"))},
			Comment:          "the Go standard library",
			Purpose:          "LIBRARY",
		})
		rel("SPDXRef-App", "STATIC_LINK", "SPDXRef-Go-stdlib")
		for i, m := range g.Deps {
			p, err := modulePackage(i, m)
			if err != nil {
				return nil, fmt.Errorf("making SBOM: %w", err)
			}
			deps = append(deps, p)
			rel("SPDXRef-App", "STATIC_LINK", p.SPDXID)
		}
		// The version that linked the executable is the one that counts.
		tools = append([]Tool{{Name: "go", Version: goVersion}}, withoutTool(tools, "go")...)
	}
	for i, s := range in.Sources {
		id := "SPDXRef-Source-" + strconv.Itoa(i)
		doc.Files = append(doc.Files, spdxFile{
			SPDXID:    id,
			FileName:  sourceName(s.Path),
			FileTypes: []string{"SOURCE"},
			Checksums: fileChecksums(s),
		})
		rel("SPDXRef-App", "GENERATED_FROM", id)
	}
	for _, t := range tools {
		p := toolPackage(t)
		if t.Name == "musl" {
			// musl is the C library linked into a static C program.
			p.Purpose = "LIBRARY"
			rel("SPDXRef-App", "STATIC_LINK", p.SPDXID)
		} else {
			rel(p.SPDXID, "BUILD_TOOL_OF", "SPDXRef-App")
		}
		deps = append(deps, p)
	}
	doc.Packages = append(doc.Packages, appPkg)
	doc.Packages = append(doc.Packages, deps...)

	for i, l := range f.layers {
		id := "SPDXRef-Layer-" + strconv.Itoa(i)
		doc.Packages = append(doc.Packages, spdxPackage{
			SPDXID:           id,
			Name:             fmt.Sprintf("%s %s layer %d", app, plat, i),
			VersionInfo:      l.digest.String(),
			DownloadLocation: noAssertion,
			Checksums:        []spdxChecksum{{"SHA256", l.digest.Hex}},
			Comment:          "the layer's compressed blob; its uncompressed tar has diff_id " + l.diffID.String(),
			Purpose:          "ARCHIVE",
		})
		rel("SPDXRef-Image", "CONTAINS", id)
		for j, file := range l.files {
			fid := fmt.Sprintf("%s-File-%d", id, j)
			doc.Files = append(doc.Files, spdxFile{SPDXID: fid, FileName: file.Path, Checksums: fileChecksums(file)})
			rel(id, "CONTAINS", fid)
		}
	}
	return marshal(doc)
}

// modulePackage is the SPDX package of the i-th module a Go executable
// links. A replaced module is described by its replacement, the code that
// was built.
func modulePackage(i int, m Module) (spdxPackage, error) {
	built := m
	p := spdxPackage{
		SPDXID:           "SPDXRef-Go-Module-" + strconv.Itoa(i),
		Name:             m.Path,
		DownloadLocation: noAssertion,
		Purpose:          "LIBRARY",
	}
	if m.Replace != nil {
		built = *m.Replace
		p.Comment = "replaced by " + strings.TrimSpace(built.Path+" "+built.Version) + "; "
	}
	p.VersionInfo = built.Version
	if built.Version != "" {
		p.ExternalRefs = []spdxExternalRef{purl("pkg:golang/" + built.Path + "@" + built.Version)}
	}
	if built.Sum != "" {
		sum, err := h1Hex(built.Sum)
		if err != nil {
			return spdxPackage{}, fmt.Errorf("module %s: %w", m.Path, err)
		}
		// SPDX has no algorithm for Go's module hash; SHA256 is what it
		// is made with, as ko and the in-toto dirHash write it.
		p.Checksums = []spdxChecksum{{"SHA256", sum}}
		p.Comment += "go.sum checksum " + built.Sum + " (the SHA256 checksum is this h1 hash in hex)"
	} else {
		p.Comment += "no go.sum checksum: a module replaced by a directory"
	}
	return p, nil
}

// h1Hex returns the hash of a go.sum h1: checksum in lowercase hex.
func h1Hex(sum string) (string, error) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(raw) != 32 {
		return "", fmt.Errorf("checksum %q is not an h1: hash", sum)
	}
	return hex.EncodeToString(raw), nil
}

// toolPackage is the SPDX package of a toolchain.
func toolPackage(t Tool) spdxPackage {
	p := spdxPackage{
		SPDXID:           "SPDXRef-Tool-" + spdxIDPart(t.Name),
		Name:             t.Name,
		VersionInfo:      t.Version,
		DownloadLocation: noAssertion,
		Purpose:          "APPLICATION",
	}
	for _, alg := range []string{"sha256", "sha512"} {
		if v, ok := t.Digest[alg]; ok {
			p.Checksums = append(p.Checksums, spdxChecksum{strings.ToUpper(alg), v})
		}
	}
	return p
}

// withoutTool returns tools without the one called name.
func withoutTool(tools []Tool, name string) []Tool {
	var out []Tool
	for _, t := range tools {
		if t.Name != name {
			out = append(out, t)
		}
	}
	return out
}

// spdxIDPart keeps the characters an SPDX identifier may hold.
func spdxIDPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

func fileChecksums(f File) []spdxChecksum {
	return []spdxChecksum{{"SHA1", f.SHA1}, {"SHA256", f.SHA256}}
}

// sourceName is the SPDX file name of a source: ./ and its
// repository-relative path.
func sourceName(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "./" + p
}

func purl(locator string) spdxExternalRef {
	return spdxExternalRef{Category: "PACKAGE-MANAGER", Type: "purl", Locator: locator}
}

// ociPURL is the package URL of an image: pkg:oci/<name>@<digest>, with
// the architecture as a qualifier.
func ociPURL(name string, d v1.Hash, p *v1.Platform) string {
	return "pkg:oci/" + name + "@" + d.Algorithm + "%3A" + d.Hex + "?arch=" + p.Architecture
}

// builderVersion is the version minimal calls itself by.
func builderVersion(v string) string {
	if v == "" {
		return "devel"
	}
	return v
}

// marshal encodes v as indented JSON with a final newline, leaving <, >
// and & as they are.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
