package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Connecting in the background.
const (
	// setupWait is how long New waits for the first connection attempt before it returns and lets
	// the attempts go on in the background: a healthy server is connected by the time Setup
	// returns, and an unreachable one does not hold the program's start.
	setupWait = time.Second
	// retryMin and retryMax bound the pause between two connection attempts.
	retryMin, retryMax = 50 * time.Millisecond, 500 * time.Millisecond
	// connectLogEvery is how often failed attempts are logged while they go on.
	connectLogEvery = 10 * time.Second
)

// errConnecting is the cause of commands sent before the first connection was made.
var errConnecting = errors.New("not connected yet")

// permanent marks a connection error that another attempt cannot fix (a Cluster where a database
// was asked for, a single server where cluster=true was): the attempts stop.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// lazyExec is the executor of a backend that connects in the background: Setup returns at once, and
// commands sent before the connection is made fail with an error that the backend reports as
// unavailable, naming the last connection error (which stays matchable with errors.Is). A command
// sent while the first attempt is still under way waits for it, as long as its context lasts.
// Attempts go on with a backoff from 50 ms to 500 ms until one succeeds or Close stops them.
type lazyExec struct {
	connect func(ctx context.Context) (executor, error)
	logger  *slog.Logger
	addrs   string
	cluster bool // the options say Cluster: isCluster before a connection is made

	cur      atomic.Pointer[lazyConn]
	lastErr  atomic.Pointer[error]
	firstErr error         // the first attempt's error; read after first is closed
	first    chan struct{} // closed when the first attempt ended
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	once     sync.Once
}

type lazyConn struct {
	ex  executor
	csc cachingExecutor // nil without client-side caching
}

func newLazy(connect func(ctx context.Context) (executor, error), logger *slog.Logger, addrs string, cluster bool) *lazyExec {
	l := &lazyExec{connect: connect, logger: logger, addrs: addrs, cluster: cluster, first: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.run() // owned by the executor: close stops it and waits for it
	return l
}

// waitFirst waits for the first connection attempt, at most d.
func (l *lazyExec) waitFirst(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.first:
	case <-t.C:
	}
}

func (l *lazyExec) run() {
	defer close(l.done)
	firstDone := sync.OnceFunc(func() { close(l.first) })
	defer firstDone()
	wait := retryMin
	var failures int
	var lastLog time.Time
	for {
		ex, err := l.connect(l.ctx)
		if err == nil {
			if l.ctx.Err() != nil { // closed meanwhile
				ex.close()
				return
			}
			c := &lazyConn{ex: ex}
			if csc, ok := ex.(cachingExecutor); ok {
				c.csc = csc
			}
			l.cur.Store(c)
			if failures > 0 {
				l.logger.Info("cashews: redis: connected", "addrs", l.addrs, "failed_attempts", failures)
			}
			return
		}
		if l.ctx.Err() != nil {
			return
		}
		l.lastErr.Store(&err)
		if failures == 0 {
			l.firstErr = err
		}
		failures++
		var perm permanent
		if errors.As(err, &perm) {
			l.logger.Error("cashews: redis: cannot use the server; commands fail until the backend is set up again", "addrs", l.addrs, "error", err)
			firstDone()
			return
		}
		if failures == 1 && refused(err) {
			// New reports it, unless it returned already; the next failure is logged then.
		} else if now := time.Now(); lastLog.IsZero() || now.Sub(lastLog) >= connectLogEvery {
			l.logger.Warn("cashews: redis: cannot connect; retrying in the background", "addrs", l.addrs, "error", err, "failed_attempts", failures)
			lastLog = now
		}
		firstDone()
		t := time.NewTimer(wait)
		select {
		case <-l.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// setupError returns the error of a first attempt that failed because the server refused the
// backend's configuration (see refused), or nil: when the first attempt is still under way after
// setupWait, or failed because the server could not be reached, New returns the backend.
func (l *lazyExec) setupError() error {
	select {
	case <-l.first:
	default:
		return nil
	}
	err := l.firstErr
	if err == nil || !refused(err) {
		return nil
	}
	var perm permanent
	if errors.As(err, &perm) {
		return perm.err
	}
	return err
}

// refused reports whether a connection attempt failed because the server refused the backend's
// configuration rather than because it could not be reached: a Cluster where a database was asked
// for, an error reply (a wrong password), a certificate that does not verify on either side.
func refused(err error) bool {
	if !unavailable(err) {
		return true
	}
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr) ||
		strings.Contains(err.Error(), "remote error: tls:")
}

// conn returns the connection, or nil and the error for commands while there is none. While the
// first attempt is under way it waits for it until ctx ends.
func (l *lazyExec) conn(ctx context.Context) (*lazyConn, error) {
	if c := l.cur.Load(); c != nil {
		return c, nil
	}
	select {
	case <-l.first:
	case <-ctx.Done():
	}
	if c := l.cur.Load(); c != nil {
		return c, nil
	}
	if p := l.lastErr.Load(); p != nil {
		var perm permanent
		if errors.As(*p, &perm) {
			return nil, perm.err
		}
		return nil, fmt.Errorf("%w to %s: %w", errConnecting, l.addrs, *p)
	}
	return nil, fmt.Errorf("%w to %s: connecting", errConnecting, l.addrs)
}

// notConnected is the reply of a command sent while there is no connection.
func notConnected(err error) reply {
	var perm permanent
	if errors.As(err, &perm) {
		return errReply(err)
	}
	return reply{err: err, fault: true}
}

func (l *lazyExec) do(ctx context.Context, c command) reply {
	cn, err := l.conn(ctx)
	if err != nil {
		return notConnected(err)
	}
	return cn.ex.do(ctx, c)
}

func (l *lazyExec) get(ctx context.Context, key string) reply {
	cn, err := l.conn(ctx)
	if err != nil {
		return notConnected(err)
	}
	return getVia(ctx, cn.ex, key)
}

func (l *lazyExec) doMulti(ctx context.Context, cs []command) []reply {
	cn, err := l.conn(ctx)
	if err != nil {
		rs := make([]reply, len(cs))
		for i := range rs {
			rs[i] = notConnected(err)
		}
		return rs
	}
	return cn.ex.doMulti(ctx, cs)
}

func (l *lazyExec) masters(ctx context.Context) ([]executor, error) {
	cn, err := l.conn(ctx)
	if err != nil {
		return nil, err
	}
	return cn.ex.masters(ctx)
}

func (l *lazyExec) knownNodes() []string {
	if c := l.cur.Load(); c != nil {
		return c.ex.knownNodes()
	}
	return nil
}

func (l *lazyExec) node(addr string) (executor, error) {
	if c := l.cur.Load(); c != nil {
		return c.ex.node(addr)
	}
	if p := l.lastErr.Load(); p != nil {
		return nil, fmt.Errorf("%w to %s: %w", errConnecting, l.addrs, *p)
	}
	return nil, fmt.Errorf("%w to %s: connecting", errConnecting, l.addrs)
}

func (l *lazyExec) isCluster() bool {
	if c := l.cur.Load(); c != nil {
		return c.ex.isCluster()
	}
	return l.cluster
}

func (l *lazyExec) getCached(ctx context.Context, key string, ttl time.Duration) (reply, bool) {
	cn, err := l.conn(ctx)
	if err != nil {
		return notConnected(err), false
	}
	return cn.csc.getCached(ctx, key, ttl)
}

func (l *lazyExec) getManyCached(ctx context.Context, keys []string, ttl time.Duration) ([]reply, int) {
	cn, err := l.conn(ctx)
	if err != nil {
		rs := make([]reply, len(keys))
		for i := range rs {
			rs[i] = notConnected(err)
		}
		return rs, 0
	}
	return cn.csc.getManyCached(ctx, keys, ttl)
}

// close stops the attempts, waits for the one under way, and closes the connection.
func (l *lazyExec) close() {
	l.once.Do(func() {
		l.cancel()
		<-l.done
		if c := l.cur.Load(); c != nil {
			c.ex.close()
		}
	})
}
