package lab

import (
	"crypto/tls"
	"encoding/pem"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// pool is what every set of lab servers shares: a directory for its
// files, listeners to close, connections to cut, goroutines to wait for,
// and a channel that closes when the set stops, so that endless and slow
// servers end with it.
type pool struct {
	dir      string
	closers  []io.Closer
	mu       sync.Mutex
	held     []net.Conn
	wg       sync.WaitGroup
	stopping chan struct{}
	once     sync.Once
}

// start readies the pool, with a fresh directory named after prefix.
func (p *pool) start(prefix string) (err error) {
	p.stopping = make(chan struct{})
	p.dir, err = os.MkdirTemp("", prefix)
	return err
}

// serve accepts connections on loopback (network "tcp4" or "tcp6") and
// hands each to fn in a goroutine. A deadline other than 0 bounds every
// connection, so that a stuck client cannot hold shutdown.
func (p *pool) serve(network string, deadline time.Duration, fn func(net.Conn)) (netip.AddrPort, error) {
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p.closers = append(p.closers, ln)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.held = append(p.held, c)
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				if deadline > 0 {
					c.SetDeadline(time.Now().Add(deadline))
				}
				fn(c)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), nil
}

// shutdown stops everything once and removes the directory.
func (p *pool) shutdown() {
	p.once.Do(func() {
		if p.stopping != nil {
			close(p.stopping)
		}
		for _, c := range p.closers {
			c.Close()
		}
		p.mu.Lock()
		for _, c := range p.held {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
		if p.dir != "" {
			os.RemoveAll(p.dir)
		}
	})
}

// caCert makes a self-signed certificate for CertName, localhost,
// 127.0.0.1 and ::1, valid for 30 days, and writes it as PEM into the
// pool's directory: the file clients pass as --ca-file.
func (p *pool) caCert() (cert tls.Certificate, caFile string, err error) {
	if cert, err = selfSigned(CertName, []string{CertName, "localhost"}, time.Now().Add(30*24*time.Hour)); err != nil {
		return tls.Certificate{}, "", err
	}
	caFile = filepath.Join(p.dir, "lab-ca.pem")
	err = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644)
	return cert, caFile, err
}

// closeFunc makes a shutdown function one of the pool's closers.
type closeFunc func() error

func (f closeFunc) Close() error { return f() }
