// Package shrink holds the passes that make a linked static binary smaller:
// the names an app's shrink: list may use, and the post-link passes
// themselves as pure functions from bytes to bytes.
//
// # Passes
//
// Every pass has a Kind. "strip" is a CompileTime pass: the toolchain
// applies it with linker flags (go build -ldflags='-s -w', zig cc -s), so
// there is nothing for this package to do. "sstrip" is a PostLink pass:
// Apply runs it on a binary. Run applies the post-link passes of a shrink:
// list in order, calls a Check (the app's smoke test) after each one, and
// reports each pass's size before and after as a Step. Lookup and Names
// list what exists; any other name is an error wrapping ErrUnknownPass.
//
// "pack" is a PostLink pass that compresses the program behind a start-up
// stub (package pack). On a binary it cannot make smaller it fails with
// ErrNoGain, and Run keeps the binary as it was and records why in the
// Step. A Run given WithSkip also keeps the input of a pass that fails, or
// whose Check fails, when the caller allows it for that pass.
//
// Each Pass also declares what its caller's checks need to know: Stub, when
// the pass puts code of its own in front of the program (pack does), and
// SkipByDefault, when a failure keeps the pass's input unless the app says
// otherwise (pack again). The names themselves come from package passname,
// which the manifest also reads, so neither imports the other.
//
// # sstrip
//
// SStrip removes what the Linux kernel never loads from a static x86
// executable. It accepts little-endian ELF32 EM_386 and ELF64 EM_X86_64
// files of type ET_EXEC, and of type ET_DYN when they have neither
// PT_INTERP nor PT_DYNAMIC (a position-independent executable that needs no
// relocation). It refuses dynamically linked executables (PT_INTERP) and
// anything with PT_DYNAMIC, which includes gcc's -static-pie output, whose
// start-up code relocates itself through its dynamic section; relocatable
// objects, core dumps, other machines, big-endian files, the x32 ABI,
// extended program header numbering, and headers that are truncated,
// overlap or contradict each other. A program header table may lie over
// the ELF header, as the build's compact 386 layout and executables made by
// hand place it, but not over a section header field that is not zero:
// clearing it would change a program header. Errors wrap ErrNotELF,
// ErrUnsupported or ErrMalformed.
//
// The result keeps the ELF header, the program header table, and every
// byte up to the end of the last file image a segment (of any type other
// than PT_NULL) describes. It clears e_shoff, e_shnum and e_shstrndx and
// drops everything after that point: the section header table, the section
// name table, the symbol table, debug information and padding. Section
// headers that lie inside a loaded segment, as Go's linker places them,
// stay in place as loaded bytes; only the ELF header stops pointing at
// them.
//
// Then SStrip drops the trailing zero bytes of the last PT_LOAD segment by
// lowering its p_filesz, when that segment is the highest one in memory,
// its file image ends the file and its header's sizes do not lie in the
// ELF header. The memory image does not change,
// because the kernel supplies those zeros itself, with these limits:
//
//   - A writable segment keeps p_memsz. The kernel zeroes the rest of the
//     page after p_filesz and maps anonymous zero pages up to p_memsz: the
//     classic bss, which every kernel version handles for the highest
//     segment.
//   - A segment that is read-only or executable keeps the last page of its
//     file mapping, because bss pages are always writable and older
//     kernels map them without PROT_EXEC. The bytes the file no longer
//     holds in that page are the zeros mmap supplies past the end of a
//     file.
//   - A read-only segment is trimmed only when p_filesz equals p_memsz,
//     and then both shrink together: it never gets a bss. Kernels before
//     6.7 fail exec when they cannot zero the tail of a read-only page
//     after p_filesz.
//   - At least one byte of the file image stays, so the segment's first
//     page is still mapped from the file; a file image of zero bytes is
//     mapped anonymously from the start of its page, over any earlier
//     segment sharing that page.
//   - Nothing another segment needs is trimmed: a PT_TLS initialization
//     image, a PT_GNU_RELRO or PT_NOTE range, or the program header table
//     inside the segment keep their bytes.
//
// Memory past p_memsz in a segment's last page showed whatever followed
// in the file; after SStrip it reads as zero. Nothing may rely on those
// bytes. The kernel's mm end_code and end_data, which it derives from
// p_filesz, may move down by the trimmed bytes.
//
// # Go binaries
//
// A static Go binary (CGO_ENABLED=0) runs the same after SStrip, with or
// without -ldflags='-s -w', on amd64 and 386: the tests compare output and
// exit status for runtime.Caller and runtime.CallersFrames, unrecovered
// panics with their stack traces, a nil dereference turned into a panic by
// the SIGSEGV handler (recovered and not), goroutines, the garbage
// collector, signal.Notify, and runtime/debug.ReadBuildInfo. The runtime
// never reads section headers: it finds its function and line tables
// (pclntab), type links and module data through the linked moduledata
// structure in the loaded image.
//
// Tools that read the file keep working where they use program headers:
// debug/buildinfo ("go version -m", vulnerability scanners) finds the build
// information at the start of the first writable PT_LOAD, and the Go build
// ID note stays in its PT_NOTE ("go tool buildid"). What goes away with the
// section headers: the symbol table and DWARF for debuggers, perf and "go
// tool nm/objdump/addr2line" (as with -s -w), and the GNU build ID that
// runtime/pprof looks up through the section headers, so profile mappings
// of an sstripped binary carry no build ID.
//
// Go's linker puts the symbol table and DWARF after the loaded segments,
// so SStrip of a full build and of a -s -w build give binaries of the same
// size; on a -s -w build it removes the section name table, the alignment
// padding before it, and the zero tail of the data segment (about 0.2-0.4%
// of a small program).
package shrink
