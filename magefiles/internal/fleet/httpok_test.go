package fleet

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
)

// readOK reads one answer from r and checks that it is 200 OK with the body "ok\n",
// or no body for HEAD.
func readOK(t testing.TB, r *bufio.Reader, method string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	want := "ok\n"
	if method == http.MethodHead {
		want = ""
	}
	if resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("got %s with body %q, want 200 OK with %q", resp.Status, body, want)
	}
	return resp
}

// closed reports whether the server closes conn within 2 s without sending more.
func closed(t testing.TB, conn net.Conn, r *bufio.Reader) bool {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, err := r.ReadByte()
	if err == nil {
		t.Fatalf("the server sent %q more", b)
	}
	return err == io.EOF || strings.Contains(err.Error(), "reset")
}

// TestHTTPOK runs http-ok as process 1 of a container on the host's network for each
// architecture, checks what its requirements say about HTTP, and stops it with
// SIGTERM.
func TestHTTPOK(t *testing.T) {
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			port := freePort(t)
			c := run(t, []oci.File{app("http-ok", appBinary(t, "http-ok", arch))}, Config{
				Args:        []string{"/ko-app/http-ok"},
				Env:         []string{"PORT=" + strconv.Itoa(port)},
				HostNetwork: true,
				NoFile:      4096,
			})
			dial(t, port).Close()
			open := func(t *testing.T) (net.Conn, *bufio.Reader) {
				conn := dial(t, port)
				t.Cleanup(func() { conn.Close() })
				return conn, bufio.NewReader(conn)
			}

			t.Run("keep-alive", func(t *testing.T) {
				conn, r := open(t)
				for i := range 100 {
					fmt.Fprintf(conn, "GET /%d HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n", i)
					if resp := readOK(t, r, "GET"); resp.Close {
						t.Fatal("an HTTP/1.1 answer closes the connection")
					}
				}
			})
			t.Run("HTTP/1.0", func(t *testing.T) {
				conn, r := open(t)
				fmt.Fprint(conn, "GET / HTTP/1.0\r\n\r\n")
				readOK(t, r, "GET")
				if !closed(t, conn, r) {
					t.Error("the server keeps an HTTP/1.0 connection open")
				}
			})
			t.Run("HEAD and a body", func(t *testing.T) {
				conn, r := open(t)
				fmt.Fprint(conn, "HEAD / HTTP/1.1\r\n\r\n")
				readOK(t, r, http.MethodHead)
				fmt.Fprint(conn, "POST /form HTTP/1.1\r\ncontent-length: 11\r\n\r\nhello=world")
				fmt.Fprint(conn, "GET / HTTP/1.1\r\n\r\n")
				readOK(t, r, "POST")
				readOK(t, r, "GET")
			})
			t.Run("pipelined", func(t *testing.T) {
				conn, r := open(t)
				var b strings.Builder
				for range 200 {
					b.WriteString("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				}
				go conn.Write([]byte(b.String()))
				for range 200 {
					readOK(t, r, "GET")
				}
			})
			t.Run("split", func(t *testing.T) {
				conn, r := open(t)
				conn.(*net.TCPConn).SetNoDelay(true)
				req := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbodyGET / HTTP/1.1\r\n\r\n"
				for i := range len(req) {
					if _, err := conn.Write([]byte{req[i]}); err != nil {
						t.Fatal(err)
					}
					time.Sleep(time.Millisecond)
				}
				readOK(t, r, "POST")
				readOK(t, r, "GET")
			})
			t.Run("1000 connections", func(t *testing.T) {
				const n = 1000
				conns := make([]net.Conn, n)
				readers := make([]*bufio.Reader, n)
				for i := range conns {
					conns[i] = dial(t, port)
					defer conns[i].Close()
					readers[i] = bufio.NewReader(conns[i])
				}
				var wg sync.WaitGroup
				errs := make(chan error, 3*n)
				for round := range 3 {
					for i, conn := range conns {
						wg.Add(1)
						go func() {
							defer wg.Done()
							conn.SetDeadline(time.Now().Add(20 * time.Second))
							if _, err := fmt.Fprintf(conn, "GET /%d HTTP/1.1\r\n\r\n", round); err != nil {
								errs <- err
								return
							}
							resp, err := http.ReadResponse(readers[i], nil)
							if err != nil || resp.StatusCode != 200 {
								errs <- fmt.Errorf("round %d: %v %v", round, resp, err)
								return
							}
							if body, _ := io.ReadAll(resp.Body); string(body) != "ok\n" {
								errs <- fmt.Errorf("round %d: body %q", round, body)
							}
						}()
					}
					wg.Wait()
				}
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
			})
			t.Run("bad requests", func(t *testing.T) {
				// A half-sent request on another connection must not stall these.
				half, _ := open(t)
				fmt.Fprint(half, "GET / HTTP/1.1\r\nHost: x\r\n")
				for _, tt := range []struct{ name, req string }{
					{"no version", "GET /\r\n\r\n"},
					{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
					{"garbage", "\x00\x01\x02\x03\xff\r\n\r\n"},
					{"bad length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"},
					{"huge length", "POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"},
					{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
					{"oversized head", "GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 10000) + "\r\n\r\n"},
				} {
					t.Run(tt.name, func(t *testing.T) {
						conn, r := open(t)
						go conn.Write([]byte(tt.req))
						if tt.name == "chunked" {
							// The head is fine and is answered; the chunks that follow are
							// not a request.
							readOK(t, r, "POST")
						}
						conn.SetReadDeadline(time.Now().Add(2 * time.Second))
						resp, err := http.ReadResponse(r, nil)
						if err == nil && resp.StatusCode != 400 {
							t.Fatalf("got %s, want 400 or a closed connection", resp.Status)
						}
						if !closed(t, conn, r) {
							t.Error("the connection stays open after a bad request")
						}
					})
				}
				conn, r := open(t)
				fmt.Fprint(conn, "GET / HTTP/1.1\r\n\r\n")
				readOK(t, r, "GET")
				// The half-sent request is answered once it is whole.
				fmt.Fprint(half, "\r\n")
				readOK(t, bufio.NewReader(half), "GET")
			})

			c.kill(syscall.SIGTERM)
			status, ok := c.wait(stopWithin)
			if !ok || status != 0 {
				t.Errorf("after SIGTERM http-ok ended with %d (ended: %v), want 0", status, ok)
			}
		})
	}
}

// TestHTTPOKPort checks where http-ok takes its port from: its argument first, then
// $PORT, then 8080.
func TestHTTPOKPort(t *testing.T) {
	bin := appBinary(t, "http-ok", "amd64")
	argPort, envPort := freePort(t), freePort(t)
	c := run(t, []oci.File{app("http-ok", bin)}, Config{
		Args: []string{"/ko-app/http-ok", strconv.Itoa(argPort)}, Env: []string{"PORT=" + strconv.Itoa(envPort)}, HostNetwork: true,
	})
	conn := dial(t, argPort)
	fmt.Fprint(conn, "GET / HTTP/1.0\r\n\r\n")
	readOK(t, bufio.NewReader(conn), "GET")
	conn.Close()
	c.kill(syscall.SIGTERM)
	c.wait(stopWithin)

	// 8080 by default, in a network namespace of its own where nothing else listens:
	// it runs, and a bad port makes it exit 1 at once instead.
	c = run(t, []oci.File{app("http-ok", bin)}, Config{Args: []string{"/ko-app/http-ok"}})
	c.waitBlocked(syscall.SIGTERM)
	c.kill(syscall.SIGTERM)
	if status, ok := c.wait(stopWithin); !ok || status != 0 {
		t.Errorf("http-ok on 8080 ended with %d (ended: %v), want 0 on SIGTERM", status, ok)
	}
	c = run(t, []oci.File{app("http-ok", bin)}, Config{Args: []string{"/ko-app/http-ok", "80x"}})
	if status, ok := c.wait(stopWithin); !ok || status != 1 {
		t.Errorf("http-ok 80x ended with %d (ended: %v), want 1", status, ok)
	}
}
