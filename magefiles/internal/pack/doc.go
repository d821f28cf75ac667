// Package pack compresses static x86 executables: Pack turns a static
// linux/amd64 or linux/386 ELF executable into a smaller one that restores
// the original in memory when it starts. It is the shrink pass "pack".
//
// # What Pack accepts
//
// Little-endian ELF64 EM_X86_64 and ELF32 EM_386 files of type ET_EXEC,
// and of type ET_DYN when they need no relocation (no PT_DYNAMIC): such a
// program is mapped wherever the kernel chooses. Pack refuses dynamically
// linked programs (PT_INTERP), anything with PT_DYNAMIC (gcc's -static-pie
// output relocates itself through it), other machines and byte orders,
// objects and core dumps, with errors wrapping ErrUnsupported; and headers
// that are truncated, overlap or contradict each other, with ErrMalformed.
// When the packed file would not be smaller it returns ErrNoGain, and the
// caller keeps the original. Pack never panics, whatever its input.
//
// # The packed file
//
// The packed file is an ET_EXEC ELF file of the same class and machine with
// one PT_LOAD segment, readable and executable, that maps the whole file:
// the ELF header and program headers, the stub's code, the stub's header (a
// table of streams and page ranges) and the compressed streams. When the
// original has a PT_GNU_STACK header the packed file has a copy, so the
// stack is executable exactly when it was. The segment goes right above the
// program's highest page, so that nothing of the stub is where the program
// will be.
//
// The program's memory is rebuilt exactly as the kernel would have mapped
// it: every PT_LOAD segment's file bytes from the start of its first page,
// zero pages up to p_memsz, and each page with the protection of the last
// segment that covers it. That memory is split into at most four streams
// where code and data meet (a small piece joins its neighbour, so a small
// program has one stream), and each stream is compressed on its own.
//
// # Compression
//
// Streams holding machine code first go through an x86 branch filter, this
// package's own: it rewrites the 32-bit operand of each call (E8), and
// optionally of each jump (E9) and conditional jump (0F 8x), from relative
// to absolute, so that repeated calls of one function become repeated
// bytes; on amd64 it does the same for every RIP-relative operand of the
// common instructions that take one (LEA, MOV, CMP...), which Go and C code
// use to reach their data. See bcj.go for how the filter stays reversible
// on any bytes. Then
// the internal/lzma package encodes the stream as raw LZMA1. A stream of
// code has six candidates (every filter with lc 4 and with lc 3, pb 0), a
// stream of data three (lc 3, 1 and 2, pb 2). Pack ranks them with
// lzma.Estimate, a greedy parse per filter coded under each parameter set,
// which takes a fraction of an encode, and encodes with the optimal parse
// only the best candidate, for code the other parameter set with its
// filter too (the estimates tell filters apart better than lc 4 from lc 3),
// and any whose estimate is within 0.01% of the best, keeping the smallest
// result; ties go to the earlier candidate, so the output does not depend
// on timing. The candidates encoded in full that share a stream and a
// filter go through one lzma.EncodeEach, which searches the filtered bytes
// for matches once for all of them and parses for them side by side on the
// cores the other jobs leave free. Estimates, encodes and those parses
// share GOMAXPROCS cores through one semaphore; the encodes of the largest
// streams start first. Before it returns, Pack decodes every stream with
// lzma.Decode, undoes the filter and compares the result with the original
// bytes.
//
// A stream of data that holds a Go program's pclntab (Go 1.18 and later)
// goes through two filters first (pctab.go): the pc-table filter, which
// moves the value deltas of the pc tables, the tables that map each
// instruction to its stack offset, line and GC indices, before their pc
// deltas, each grouped by the kind of table the function records say it
// is, and the function-table filter, which stores the
// offsets that grow from one function to the next in the function table
// after them as differences. Both are reversible, and Pack finds the
// tables by the pclntab header's magic and fields, checked against each
// other and the stream, so a program that only looks like a Go program
// packs correctly, only less well. On the Go hello amd64 they make the
// stream that holds them 8.5% smaller (BENCHMARKS.md).
//
// Most Go programs also hold strconv's table of the powers of ten, 11,136
// bytes that LZMA cannot compress. Where a stream's filtered bytes hold it,
// byte for byte as pow10.go computes it, Pack stores zeros in its place and
// the stub computes it again (pow10.go).
//
// Converting jumps helps C code and hurts Go code, whose long jumps mostly
// stay inside one function; so does converting conditional jumps. On the
// example programs (BENCHMARKS.md) the search gives, byte for byte, the
// files of the earlier one that encoded seven candidates in full, with
// three or four full encodes and about 1.65 times less processor time.
//
// # What the stub does
//
// The stub is freestanding C and GNU assembly in the stub directory, with
// its own LZMA decoder and reverse branch filter; it uses no C library.
// When the packed program starts, the stub:
//
//  1. maps anonymous read-write memory at the program's own addresses with
//     MAP_FIXED_NOREPLACE (or anywhere, for ET_DYN);
//  2. starts one thread (clone) per stream after the first, decodes the
//     first stream itself and waits for the others on a futex; if no thread
//     can be created it decodes the streams one after another;
//  3. in the same thread, writes the table of powers of ten where the
//     stream held it, then undoes the branch filter in each stream of
//     code, or the pc-table filter in a stream of data;
//  4. gives every page its segment's protection with mprotect and unmaps the
//     pages no segment covers, then unmaps the compressed streams;
//  5. sets AT_PHDR, AT_PHNUM and AT_ENTRY in the auxiliary vector to the
//     program's, which static C libraries use to find their TLS template and
//     IRELATIVE relocations;
//  6. restores the initial stack pointer, clears every general-purpose
//     register as the kernel does (the C runtime takes %rdx/%edx as an
//     atexit function; the flags are not the kernel's: ZF and PF are set) and
//     jumps to the program's entry point.
//
// argc, argv, envp and the auxiliary vector stay where the kernel put them,
// so arguments and environment of any size reach the program intact. If
// the memory cannot be mapped, or a stream turns out corrupt, the stub
// writes "packed executable: cannot map memory" or "packed executable:
// corrupt data" to stderr and exits with status 127 before the program
// runs. LZMA has no checksum: the stub detects impossible streams, not
// every flipped bit; the image's layer digest protects the file.
//
// # Why in place, and not memfd_create and execveat
//
// Decoding into a memfd and running it with execveat(fd, "", argv, envp,
// AT_EMPTY_PATH) would let the kernel load the real ELF, but it needs
// memfd_create (Linux 3.17) and execveat (3.19) to be allowed by seccomp,
// costs a second exec, and changes what the process looks like:
// /proc/self/exe and os.Executable name "/memfd:... (deleted)", and the
// process name (comm) becomes the descriptor's number or the memfd's name,
// so ps, top and pkill no longer find the program by name. On kernels
// before 6.11, execveat also fails with ETXTBSY while a writable descriptor
// of the memfd is open, so the stub would have to seal it or reopen it
// read-only through /proc; on this machine's 6.18 kernel a writable memfd
// executes directly (tested with write, with a shared mapping, with
// F_SEAL_WRITE and with a read-only reopen). Mapping in place needs only
// mmap, mprotect, munmap, clone, futex, write and exit_group, which every
// seccomp profile allows, no /proc, and keeps /proc/self/exe, comm and the
// argument and environment memory as they were.
//
// # Costs
//
// Start-up: decoding runs before the program's first instruction. On a
// 2-core AMD EPYC virtual machine the Go hello example (1.2 MB) starts in
// about 20 ms packed instead of 2.1 ms, on amd64 and on 386 alike (a
// quieter machine of the same kind gave 11 ms instead of 1 ms); almost all
// of it is the LZMA decoder, which decodes that program's two streams on
// two threads, about as fast as xz -d decodes here. Held to one CPU the
// packed program takes about 28 ms. With UPX's stub the program takes
// about 37 ms on the same machine. The time grows with the size of the program;
// BenchmarkStartup measures it.
//
// Memory: the program's pages are private anonymous memory instead of
// pages of the file in the page cache, so processes running the same
// packed program do not share them, the kernel cannot drop them under
// memory pressure (only swap them), and they count in full against the
// process's RSS and memory cgroup from the start. The stub's first pages
// (headers, code and table, usually one or two) stay mapped.
//
// Other differences a program can see: /proc/self/maps shows the program's
// segments as anonymous memory; the heap that brk grows starts above the
// stub's segment rather than right after the program's bss, and the stub's
// first pages follow the program's last one, so a read just past the
// program's end may not fault; a short-lived thread per extra stream exists
// before the program starts, and is gone when it does (it takes a PID: in a
// new PID namespace the program's first child gets 3, not 2);
// /proc/self/auxv and PR_GET_AUXV show the stub's AT_PHDR, AT_PHNUM and
// AT_ENTRY, while the copy on the stack that C libraries and the Go runtime
// read has the program's; the bytes of a segment's last page past its file
// bytes are zeros, where the kernel shows the file's next bytes; and a
// position-independent program is loaded at a page boundary, not at one of
// its largest p_align. The stub decodes on the program's stack and needs
// about 34 KB of it: under ulimit -s below about 40 KB (the default is
// 8 MB) a packed program crashes before it starts. On 386 with an unlimited
// stack the kernel lays memory out bottom-up and may put the vDSO inside a
// program spanning more than about 580 MB, which the stub then cannot map.
// Pack refuses segment layouts the kernel maps in ways the stub does not
// copy (a read-only segment with memory past its file bytes, a segment of
// bss alone in the previous one's last page) and segments more than
// 256 MiB apart, since the stub maps the program's whole span at once.
// Tools that read the file (go version -m, debug/buildinfo, readelf) see
// the stub, not the program, as with every packer.
//
// # Building the stub
//
// The stubs are committed as stub/stub_amd64.bin and stub/stub_386.bin,
// with stub_amd64_pc.bin and stub_386_pc.bin, which also undo the pc-table
// filters and, on 386, decode the most frequent bits in place, 10 to 15%
// faster (about 550 and 650 bytes more; only programs that use the filters
// carry them), and
// embedded, so this package never compiles anything. The developer tool
// stubbuild (`go tool mage stubs`) rebuilds them with the pinned zig (zig cc
// -target x86_64-linux-musl and x86-linux-musl, freestanding, -Os, no build
// ID, no paths in the output). It links each stub at two addresses and
// refuses bytes that differ, so the stub is position-independent and the
// packer can place it anywhere; its TestStubsUpToDate checks that the
// committed bytes are what the sources build to.
package pack
