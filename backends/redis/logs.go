package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// driverLogEvery is how often a backend logs the go-redis driver's messages while they keep coming:
// the first at once, then one record per period with the count of the others.
const driverLogEvery = 10 * time.Second

// go-redis prints its messages (a dial that failed, a pool in trouble) through one logger for the
// whole process, the standard log package's by default. Importing this package replaces it with
// goredisLogs (at init, before any client can log, so that the swap races with nothing), which hands
// each message to the loggers of the go-redis backends that are open, once per burst each; with none
// open, messages go to slog.Default(). A program that calls goredis.SetLogger itself afterwards
// takes the messages back. rueidis logs nothing.
var goredisLogs = &driverLogs{sinks: map[*logSink]struct{}{}}

func init() { goredis.SetLogger(goredisLogs) }

type driverLogs struct {
	mu    sync.Mutex
	sinks map[*logSink]struct{}
}

// logSink is one backend's share of the driver's messages.
type logSink struct {
	logger *slog.Logger
	addrs  string

	mu      sync.Mutex
	lastLog time.Time
	unseen  int64
}

// add adds a sink for logger; remove it at Close.
func (d *driverLogs) add(logger *slog.Logger, addrs string) *logSink {
	s := &logSink{logger: logger, addrs: addrs}
	d.mu.Lock()
	d.sinks[s] = struct{}{}
	d.mu.Unlock()
	return s
}

func (d *driverLogs) remove(s *logSink) {
	if s == nil {
		return
	}
	d.mu.Lock()
	delete(d.sinks, s)
	d.mu.Unlock()
}

// Printf implements go-redis' logging interface.
func (d *driverLogs) Printf(ctx context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	d.mu.Lock()
	sinks := make([]*logSink, 0, len(d.sinks))
	for s := range d.sinks {
		sinks = append(sinks, s)
	}
	d.mu.Unlock()
	if len(sinks) == 0 {
		slog.Default().LogAttrs(ctx, slog.LevelWarn, "go-redis: "+msg)
		return
	}
	for _, s := range sinks {
		s.log(ctx, msg)
	}
}

// log logs msg unless a record went out less than driverLogEvery ago; then it only counts it.
func (s *logSink) log(ctx context.Context, msg string) {
	now := time.Now()
	s.mu.Lock()
	if !s.lastLog.IsZero() && now.Sub(s.lastLog) < driverLogEvery {
		s.unseen++
		s.mu.Unlock()
		return
	}
	unseen := s.unseen
	s.lastLog, s.unseen = now, 0
	s.mu.Unlock()
	s.logger.LogAttrs(ctx, slog.LevelWarn, "cashews: redis: go-redis: "+msg,
		slog.String("addrs", s.addrs), slog.Int64("unlogged_since_last_record", unseen))
}
