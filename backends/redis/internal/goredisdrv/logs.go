package goredisdrv

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// go-redis prints its messages (a dial that failed, a pool in trouble) through one logger for the
// whole process, the standard log package's by default. Importing this package replaces it with
// logs (at init, before any client can log, so that the swap races with nothing), which hands each
// message to the backends whose go-redis drivers are open (each logs it once per burst, to the
// Cache's logger); with none open, messages go to slog.Default(). A program that calls
// goredis.SetLogger itself afterwards takes the messages back.
var logs = &dispatch{sinks: map[*sink]struct{}{}}

func init() { goredis.SetLogger(logs) }

type dispatch struct {
	mu    sync.Mutex
	sinks map[*sink]struct{}
}

// sink is one driver's share of the messages: its backend's Log.
type sink struct {
	log func(ctx context.Context, msg string)
}

// add adds a sink for log (nil: none); remove it at Close.
func (d *dispatch) add(log func(ctx context.Context, msg string)) *sink {
	if log == nil {
		return nil
	}
	s := &sink{log: log}
	d.mu.Lock()
	d.sinks[s] = struct{}{}
	d.mu.Unlock()
	return s
}

func (d *dispatch) remove(s *sink) {
	if s == nil {
		return
	}
	d.mu.Lock()
	delete(d.sinks, s)
	d.mu.Unlock()
}

// Printf implements go-redis' logging interface.
func (d *dispatch) Printf(ctx context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	d.mu.Lock()
	sinks := make([]*sink, 0, len(d.sinks))
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
