package oci

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// DefaultUser is the user an app's image runs as when its settings name none: a
// non-root uid, as ko's default base images use. The manifest defines it, as it
// defines the rest of minimal.yaml's vocabulary, and fills it into every app.
const DefaultUser = manifest.DefaultUser

// DataPathEnv is the variable that tells an app where its data directory is: DataDir
// in its image.
const DataPathEnv = "KO_DATA_PATH"

// App is the image of one app for one platform, as plain values. Its zero fields take
// the defaults: the entrypoint is the binary at AppDir/<Name>, the user DefaultUser,
// and an app with Data gets DataPathEnv set to DataDir.
type App struct {
	// Name is the app's name, the name of its binary.
	Name string
	// Platform is the platform the binary runs on.
	Platform v1.Platform
	// Data is a host directory copied to DataDir, in a layer of its own; "" for none.
	Data string
	// Files are host files copied into the image, in a layer of their own.
	Files []HostFile
	// Entrypoint and Cmd are the process the image runs, as in a Dockerfile.
	Entrypoint, Cmd []string
	// Env is the image's environment, over DataPathEnv.
	Env map[string]string
	// WorkingDir is the process's working directory; "" means /.
	WorkingDir string
	// User is the uid[:gid] the process runs as.
	User string
	// Ports are the exposed ports, port or port/protocol.
	Ports []string
	// Labels are the config's labels; Annotations, the image manifest's.
	Labels, Annotations map[string]string
	// Created is stamped on the config and each layer.
	Created time.Time
	// Init, when set, is an init process that runs the entrypoint as its child: it
	// gets a layer of its own before the binary's, the same in every image of its
	// platform, and the entrypoint starts with its path.
	Init *Init
}

// Init is an init process an image runs its entrypoint under.
type Init struct {
	// Path is where the init is in the image.
	Path string
	// Binary is the init's executable.
	Binary []byte
}

// AppOf is the image of the app s describes, for platform p.
func AppOf(s manifest.Spec, p v1.Platform, created time.Time) App {
	files := make([]HostFile, len(s.Image.Files))
	for i, f := range s.Image.Files {
		files[i] = HostFile{From: f.From, To: f.To}
	}
	return App{
		Name:        s.App,
		Platform:    p,
		Data:        s.Image.Data,
		Files:       files,
		Entrypoint:  s.Image.Entrypoint,
		Cmd:         s.Image.Cmd,
		Env:         s.Image.Env,
		WorkingDir:  s.Image.Workdir,
		User:        s.Image.User,
		Ports:       s.Image.Ports,
		Labels:      s.Image.Labels,
		Annotations: s.Image.Annotations,
		Created:     created,
	}
}

// Layers returns the layers of a's image around its binary bin: data, extra files,
// the init, then the binary, each in its own layer, the one that changes most last. An error
// says which layer, once: "data layer: <host file>: ...".
func (a App) Layers(bin []byte) ([]v1.Layer, error) {
	var layers []v1.Layer
	if a.Data != "" {
		l, err := DirLayer(a.Data, DataDir, a.Created)
		if err != nil {
			return nil, fmt.Errorf("data layer: %w", err)
		}
		layers = append(layers, l)
	}
	if len(a.Files) > 0 {
		l, err := HostFilesLayer(a.Files, a.Created)
		if err != nil {
			return nil, fmt.Errorf("files layer: %w", err)
		}
		layers = append(layers, l)
	}
	if a.Init != nil {
		l, err := Layer([]File{{Path: a.Init.Path, Mode: 0o755, Data: a.Init.Binary}}, a.Created)
		if err != nil {
			return nil, fmt.Errorf("init layer: %w", err)
		}
		layers = append(layers, l)
	}
	l, err := BinaryLayer(a.Name, bin, a.Created)
	if err != nil {
		return nil, err
	}
	return append(layers, l), nil
}

// Image returns a's image on scratch from layers, as Layers made them.
func (a App) Image(layers []v1.Layer) (v1.Image, error) {
	return Image(a.Config(), layers...)
}

// Config returns the configuration of a's image, with the defaults applied.
func (a App) Config() Config {
	env := map[string]string{}
	if a.Data != "" {
		env[DataPathEnv] = DataDir
	}
	maps.Copy(env, a.Env)
	entrypoint := a.Entrypoint
	if len(entrypoint) == 0 {
		entrypoint = []string{path.Join(AppDir, a.Name)}
	}
	if a.Init != nil {
		entrypoint = append([]string{a.Init.Path}, entrypoint...)
	}
	user := a.User
	if user == "" {
		user = DefaultUser
	}
	return Config{
		Platform:     a.Platform,
		Entrypoint:   entrypoint,
		Cmd:          a.Cmd,
		Env:          EnvList(env),
		WorkingDir:   a.WorkingDir,
		User:         user,
		ExposedPorts: a.Ports,
		Labels:       a.Labels,
		Annotations:  a.Annotations,
		Created:      a.Created,
	}
}

// HostEnv is the environment a's binary gets when it runs on the host instead of in its
// image, as a smoke test runs it: the image's environment, with DataPathEnv naming the
// host's data directory, then extra.
func (a App) HostEnv(extra map[string]string) []string {
	env := map[string]string{}
	maps.Copy(env, a.Env)
	if a.Data != "" {
		env[DataPathEnv] = a.Data
	}
	maps.Copy(env, extra)
	return EnvList(env)
}

// EnvList renders an environment map as sorted KEY=value entries.
func EnvList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	slices.Sort(list)
	return list
}
