// Package pid1 holds the init that an image gets with image.init: true, a
// program of a few hundred bytes that runs as process 1 of a container, starts
// the image's entrypoint as its child, passes every signal it can catch on to
// that child, reaps every process that ends under it, orphans included, and exits
// with its child's status, or 128+N when signal N ended the child, as tini and
// dumb-init do.
//
// The init is freestanding C (init/init.c) built by the pinned zig for linux/amd64
// and linux/386 and shrunk by sstrip; the package embeds the committed bytes
// (init/init_<arch>.bin), which Build makes again from the source and a test
// checks byte for byte. Layer puts the init of a platform into a layer of its own
// that is the same in every image with the same creation time, so a registry
// stores it once and a node pulls it once.
package pid1
