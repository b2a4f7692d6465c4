// netpollbench: the Go side of netpoll's benchmark (run by `cargo run --release --example
// bench` when a Go 1.19 toolchain is present).
//
//	netpollbench pingpong ROUND_TRIPS
//	    one byte back and forth over a socket pair between two goroutines; prints
//	    "pingpong <round trips per second>".
//	netpollbench echo-server ADDR
//	    a TCP echo server, one goroutine per connection; prints "listening <addr>" and serves
//	    until its standard input closes.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "netpollbench: "+format+"\n", args...)
	os.Exit(2)
}

// socketPair returns two connected net.Conns over an AF_UNIX stream socket pair.
func socketPair() (net.Conn, net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socketpair: %v", err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		if err != nil {
			fail("FileConn: %v", err)
		}
		f.Close()
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

func pingPong(n int) {
	a, b := socketPair()
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 1)
		for i := 0; i < n; i++ {
			if _, err := io.ReadFull(b, buf); err != nil {
				fail("pong read: %v", err)
			}
			if _, err := b.Write(buf); err != nil {
				fail("pong write: %v", err)
			}
		}
		close(done)
	}()
	buf := []byte{7}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := a.Write(buf); err != nil {
			fail("ping write: %v", err)
		}
		if _, err := io.ReadFull(a, buf); err != nil {
			fail("ping read: %v", err)
		}
	}
	el := time.Since(start)
	<-done
	a.Close()
	b.Close()
	fmt.Printf("pingpong %.0f\n", float64(n)/el.Seconds())
}

func echoServer(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen %s: %v", addr, err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	go func() {
		// Serve until the parent closes our standard input.
		io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		go func(c net.Conn) {
			buf := make([]byte, 512)
			for {
				n, err := c.Read(buf)
				if err != nil {
					c.Close()
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					c.Close()
					return
				}
			}
		}(c)
	}
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: netpollbench pingpong ROUND_TRIPS | echo-server ADDR")
	}
	switch os.Args[1] {
	case "pingpong":
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || n <= 0 {
			fail("ROUND_TRIPS must be a positive number, got %q", os.Args[2])
		}
		pingPong(n)
	case "echo-server":
		echoServer(os.Args[2])
	default:
		fail("unknown command %q", os.Args[1])
	}
}
