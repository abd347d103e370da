package cashews

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/stats"
)

// suppressor is the suppression of a backend set up with suppress=true, a built-in hook (see Hook)
// inside the user's: backend errors become misses, false and zeros, are counted in
// Cache.SuppressedErrors and the backend's Stats, and logged once per burst. Errors about the
// caller's arguments (invalid argument, wrong type, not an integer) and ErrClosed still reach the
// caller, and so do Ping's errors: a health check
// must see the outage. Lock commands, counters (Incr, IncrBits, SliceIncr) and invalidations
// (Delete, DeleteMany, DeleteMatch, DeleteTags, Clear) never pretend: their errors reach the caller,
// matching ErrUnavailable. A delete that failed while it said "done" would leave the old value to be
// served once the backend answers again; with the backend gone, "not locked" or 0 would look real.
type suppressor struct {
	cache *Cache
	name  string
	st    *backendStats
	log   burstLog
}

// neverPretends marks the commands whose errors suppression never hides.
var neverPretends = [numCommands]bool{
	CmdDelete: true, CmdDeleteMany: true, CmdDeleteMatch: true, CmdDeleteTags: true, CmdClear: true,
	CmdIncr: true, CmdIncrBits: true, CmdSliceIncr: true,
	CmdSetLock: true, CmdUnlock: true, CmdExtendLock: true, CmdIsLocked: true,
}

// callerErrors are the errors that say the call was wrong, not the backend: suppression passes
// them as they are.
var callerErrors = []error{backends.ErrInvalidArgument, backends.ErrWrongType, backends.ErrNotInteger, backends.ErrClosed}

// suppressed is suppression's part in a command: it returns res and err as the caller gets them
// from a backend set up with suppress=true (a backend without it passes everything through).
func suppressed(ctx context.Context, call *Call, res Result, err error) (Result, error) {
	if err == nil || call.r.sup == nil {
		return res, err
	}
	err, hidden := call.r.sup.filter(ctx, call.cmd, err)
	if !hidden {
		return res, err
	}
	switch call.cmd {
	case CmdScan:
		return res, nil // the keys yielded before the error stay yielded; the scan ends
	case CmdGetMany:
		return Result{Value: make([]backends.Entry, len(call.keys))}, nil
	}
	return Result{}, nil // get_bits: its caller makes the zeros
}

// suppressionHook is suppression as a hook.
func suppressionHook(next Handler) Handler {
	return func(ctx context.Context, call *Call) (Result, error) {
		res, err := next(ctx, call)
		return suppressed(ctx, call, res, err)
	}
}

// filter takes the error of cmd (not nil) and returns it as the caller gets it, or reports that it is
// hidden. A nil s (no suppression) passes every error.
func (s *suppressor) filter(ctx context.Context, cmd Command, err error) (error, bool) {
	if s == nil || cmd == CmdPing {
		return err, false
	}
	if neverPretends[cmd] {
		return unavailable(err), false
	}
	for _, keep := range callerErrors {
		if errors.Is(err, keep) {
			return err, false
		}
	}
	s.cache.suppressed.Add(1)
	s.st.n.Inc(stats.Suppressed)
	s.log.log(ctx, s.cache, slog.LevelError, "cashews: backend error suppressed",
		slog.String("backend", s.name), slog.String("command", cmd.String()), slog.Any("error", err))
	return nil, true
}

// unavailable returns the error of a command that never pretends: one that does not say so already
// is made to match ErrUnavailable, unless it is the caller's mistake.
func unavailable(err error) error {
	if errors.Is(err, backends.ErrUnavailable) {
		return err
	}
	for _, keep := range callerErrors {
		if errors.Is(err, keep) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", backends.ErrUnavailable, err)
}
