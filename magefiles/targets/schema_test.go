package targets_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

// imageSpecSchemaDir is where Debian's golang-github-opencontainers-image-spec-dev puts the
// OCI image-spec's JSON schemas.
const imageSpecSchemaDir = "/usr/share/gocode/src/github.com/opencontainers/image-spec/schema"

// schemas holds JSON schemas of one directory, loaded on first use, and validates
// documents against them. It knows the part of JSON Schema draft-04 that the image-spec's
// schemas use: type, properties, patternProperties, required, items, minItems, enum,
// minimum, maximum, pattern, format (date-time, uri), oneOf, and $ref to another file or
// into the same one through #/definitions/...; id, $schema and description are
// annotations. A keyword outside that part fails validation, so that a newer schema
// cannot pass unchecked.
type schemas struct {
	dir   string
	files map[string]any
}

// imageSpecSchemas returns the image-spec's schemas, skipping (or failing under CI=true)
// when they are not installed.
func imageSpecSchemas(t testing.TB) *schemas {
	t.Helper()
	_, err := os.Stat(filepath.Join(imageSpecSchemaDir, "image-manifest-schema.json"))
	testenv.Require(t, err, "apt-get install golang-github-opencontainers-image-spec-dev")
	return &schemas{dir: imageSpecSchemaDir, files: map[string]any{}}
}

func (s *schemas) load(file string) (any, error) {
	if doc, ok := s.files[file]; ok {
		return doc, nil
	}
	data, err := os.ReadFile(filepath.Join(s.dir, file))
	if err != nil {
		return nil, err
	}
	doc, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s.files[file] = doc
	return doc, nil
}

// decodeJSON decodes data keeping numbers as written, so that integers of any size are
// checked exactly.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Validate checks the JSON document data against the schema in file and returns every
// problem found, each with the path of the value in the document.
func (s *schemas) Validate(file string, data []byte) ([]string, error) {
	schema, err := s.load(file)
	if err != nil {
		return nil, err
	}
	doc, err := decodeJSON(data)
	if err != nil {
		return []string{"not JSON: " + err.Error()}, nil
	}
	var problems []string
	s.validate(file, schema, doc, "$", &problems)
	return problems, nil
}

// validate checks v against schema, which lives in file (for $refs), adding problems.
func (s *schemas) validate(file string, schema, v any, path string, problems *[]string) {
	bad := func(format string, args ...any) {
		*problems = append(*problems, path+": "+fmt.Sprintf(format, args...))
	}
	sc, ok := schema.(map[string]any)
	if !ok {
		bad("schema is not an object")
		return
	}
	if ref, ok := sc["$ref"].(string); ok {
		refFile, pointer, _ := strings.Cut(ref, "#")
		if refFile == "" {
			refFile = file
		}
		target, err := s.load(refFile)
		if err != nil {
			bad("$ref %s: %v", ref, err)
			return
		}
		for _, part := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
			if part == "" {
				continue
			}
			m, ok := target.(map[string]any)
			if !ok || m[part] == nil {
				bad("$ref %s does not resolve", ref)
				return
			}
			target = m[part]
		}
		s.validate(refFile, target, v, path, problems)
	}
	for _, key := range slices.Sorted(maps.Keys(sc)) {
		kw := sc[key]
		switch key {
		case "$ref", "id", "$schema", "description", "definitions":
		case "type":
			if !hasType(v, kw.(string)) {
				bad("want %s, got %s", kw, jsonType(v))
				return // the other keywords would only repeat it
			}
		case "properties", "patternProperties", "required":
		case "items":
			if arr, ok := v.([]any); ok {
				for i, it := range arr {
					s.validate(file, kw, it, fmt.Sprintf("%s[%d]", path, i), problems)
				}
			}
		case "minItems":
			if arr, ok := v.([]any); ok && big.NewInt(int64(len(arr))).Cmp(integer(kw)) < 0 {
				bad("%d items, want at least %v", len(arr), kw)
			}
		case "enum":
			if !slices.ContainsFunc(kw.([]any), func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) && jsonType(e) == jsonType(v) }) {
				bad("%v is not one of %v", v, kw)
			}
		case "minimum", "maximum":
			n, ok := v.(json.Number)
			if !ok {
				continue
			}
			got, _ := new(big.Float).SetString(n.String())
			limit, _ := new(big.Float).SetString(kw.(json.Number).String())
			if c := got.Cmp(limit); (key == "minimum" && c < 0) || (key == "maximum" && c > 0) {
				bad("%v is beyond the %s %v", n, key, kw)
			}
		case "pattern":
			if str, ok := v.(string); ok && !regexp.MustCompile(kw.(string)).MatchString(str) {
				bad("%q does not match %s", str, kw)
			}
		case "format":
			str, ok := v.(string)
			if !ok {
				continue
			}
			switch kw {
			case "date-time":
				if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
					bad("%q is not a date-time: %v", str, err)
				}
			case "uri":
				if u, err := url.Parse(str); err != nil || !u.IsAbs() {
					bad("%q is not an absolute URI", str)
				}
			default:
				bad("the schema's format %q is not known to this validator", kw)
			}
		case "oneOf":
			matched := 0
			for _, alt := range kw.([]any) {
				var sub []string
				s.validate(file, alt, v, path, &sub)
				if len(sub) == 0 {
					matched++
				}
			}
			if matched != 1 {
				bad("matches %d of the oneOf schemas, want exactly 1", matched)
			}
		default:
			bad("the schema's keyword %q is not known to this validator", key)
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	for _, r := range asList(sc["required"]) {
		if _, ok := obj[r.(string)]; !ok {
			bad("%s is required", r)
		}
	}
	props, _ := sc["properties"].(map[string]any)
	patterns, _ := sc["patternProperties"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if p, ok := props[k]; ok {
			s.validate(file, p, obj[k], path+"."+k, problems)
		}
		for _, pat := range slices.Sorted(maps.Keys(patterns)) {
			if regexp.MustCompile(pat).MatchString(k) {
				s.validate(file, patterns[pat], obj[k], path+"."+k, problems)
			}
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func integer(v any) *big.Int {
	n, _ := new(big.Int).SetString(v.(json.Number).String(), 10)
	return n
}

// hasType reports whether v is of the JSON Schema type name.
func hasType(v any, name string) bool {
	switch name {
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, _, err := big.ParseFloat(n.String(), 10, 256, big.ToNearestEven)
		return err == nil && f.IsInt()
	case "number":
		_, ok := v.(json.Number)
		return ok
	}
	return jsonType(v) == name
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// validateLayout validates every JSON document of the OCI layout dir against the
// image-spec's schemas: oci-layout, index.json, and, following descriptors, every index,
// manifest and config blob, checking each blob's size and digest on the way. It returns
// how many documents it validated.
func validateLayout(t *testing.T, s *schemas, dir string) int {
	t.Helper()
	n := 0
	check := func(schema, name string, data []byte) {
		t.Helper()
		problems, err := s.Validate(schema, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s against %s: %s", name, schema, p)
		}
		n++
	}
	read := func(name string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	check("image-layout-schema.json", "oci-layout", read("oci-layout"))

	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	schemaOf := map[string]string{
		"application/vnd.oci.image.index.v1+json":    "image-index-schema.json",
		"application/vnd.oci.image.manifest.v1+json": "image-manifest-schema.json",
		"application/vnd.oci.image.config.v1+json":   "config-schema.json",
	}
	seen := map[string]bool{}
	var walk func(name string, data []byte, schema string)
	walk = func(name string, data []byte, schema string) {
		t.Helper()
		check(schema, name, data)
		var doc struct {
			Manifests []descriptor `json:"manifests"`
			Config    *descriptor  `json:"config"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		refs := doc.Manifests
		if doc.Config != nil && schema == "image-manifest-schema.json" {
			refs = append(refs, *doc.Config)
		}
		for _, d := range refs {
			if d.MediaType == emptyMediaType {
				// An artifact's config, such as a referrer's: the image-spec's empty
				// descriptor, whose blob is the two bytes {}.
				algo, hex, _ := strings.Cut(d.Digest, ":")
				if blob := read(filepath.Join("blobs", algo, hex)); string(blob) != "{}" || d.Size != 2 {
					t.Errorf("%s: the empty descriptor %s holds %q (size %d), want {} (2)", name, d.Digest, blob, d.Size)
				}
				continue
			}
			next, ok := schemaOf[d.MediaType]
			if !ok {
				t.Errorf("%s refers to %s of media type %q, which is not an OCI JSON type", name, d.Digest, d.MediaType)
				continue
			}
			if seen[d.Digest] {
				continue
			}
			seen[d.Digest] = true
			algo, hex, _ := strings.Cut(d.Digest, ":")
			blob := read(filepath.Join("blobs", algo, hex))
			if int64(len(blob)) != d.Size {
				t.Errorf("%s: %s is %d bytes, its descriptor says %d", name, d.Digest, len(blob), d.Size)
			}
			walk(d.Digest, blob, next)
		}
	}
	walk("index.json", read("index.json"), "image-index-schema.json")
	return n
}

// emptyMediaType is the image-spec's empty descriptor, the config of an artifact.
const emptyMediaType = "application/vnd.oci.empty.v1+json"

// TestImageSpecSchemasReject checks that the validator the end-to-end test uses finds
// the mistakes the image-spec's schemas describe, so that a layout passing it means
// something; and that it passes a document that is right.
func TestImageSpecSchemasReject(t *testing.T) {
	s := imageSpecSchemas(t)
	const digest = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"
	good := `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 7023, "digest": "` + digest + `"},
		"layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 32654, "digest": "` + digest + `",
			"annotations": {"a": "b"}, "urls": ["https://example.com/layer"]}]}`
	tests := []struct {
		name   string
		schema string
		doc    string
		want   string // a substring of the problems; empty for none
	}{
		{"a good manifest", "image-manifest-schema.json", good, ""},
		{"a schema version other than 2", "image-manifest-schema.json", strings.Replace(good, `"schemaVersion": 2`, `"schemaVersion": 3`, 1), "$.schemaVersion: 3 is beyond the maximum 2"},
		{"a fractional schema version", "image-manifest-schema.json", strings.Replace(good, `"schemaVersion": 2`, `"schemaVersion": 2.5`, 1), "$.schemaVersion: want integer"},
		{"no config", "image-manifest-schema.json", `{"schemaVersion": 2, "layers": []}`, "$: config is required"},
		{"a digest that is not one", "image-manifest-schema.json", strings.Replace(good, `"digest": "`+digest+`"}`, `"digest": "sha256"}`, 1), `$.config.digest: "sha256" does not match`},
		{"a size that is a string", "image-manifest-schema.json", strings.Replace(good, `"size": 7023`, `"size": "7023"`, 1), "$.config.size: want integer, got string"},
		{"an annotation that is not a string", "image-manifest-schema.json", strings.Replace(good, `{"a": "b"}`, `{"a": 1}`, 1), "$.layers[0].annotations.a: want string, got number"},
		{"a relative url", "image-manifest-schema.json", strings.Replace(good, `https://example.com/layer`, `layer`, 1), `$.layers[0].urls[0]: "layer" is not an absolute URI`},
		{"a layout version other than 1.0.0", "image-layout-schema.json", `{"imageLayoutVersion": "1.1.0"}`, "$.imageLayoutVersion: 1.1.0 is not one of [1.0.0]"},
		{"a platform without os", "image-index-schema.json", `{"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": "` + digest + `", "platform": {"architecture": "386"}}]}`, "$.manifests[0].platform: os is required"},
		{"a config with a bad date", "config-schema.json", `{"architecture": "amd64", "os": "linux", "created": "yesterday", "rootfs": {"type": "layers", "diff_ids": []}}`, `$.created: "yesterday" is not a date-time`},
		{"a config with entrypoint that is neither list nor null", "config-schema.json", `{"architecture": "amd64", "os": "linux", "config": {"Entrypoint": "/app"}, "rootfs": {"type": "layers", "diff_ids": []}}`, "$.config.Entrypoint: matches 0 of the oneOf schemas"},
		{"a config whose rootfs is not layers", "config-schema.json", `{"architecture": "amd64", "os": "linux", "rootfs": {"type": "blobs", "diff_ids": []}}`, "$.rootfs.type: blobs is not one of [layers]"},
		{"not an object", "image-index-schema.json", `[]`, "$: want object, got array"},
	}
	for _, tt := range tests {
		problems, err := s.Validate(tt.schema, []byte(tt.doc))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := strings.Join(problems, "\n")
		switch {
		case tt.want == "" && got != "":
			t.Errorf("%s: problems %q, want none", tt.name, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("%s: problems %q, want one containing %q", tt.name, got, tt.want)
		}
	}
}
