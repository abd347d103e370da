package cashews

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Command names a command of the Cache, for hooks, callbacks and the disable switches.
type Command uint8

// The commands. Each method of the Cache runs as one of these.
const (
	CmdGet Command = iota + 1
	CmdGetMany
	CmdSet
	CmdSetMany
	CmdExists
	CmdDelete
	CmdDeleteMany
	CmdDeleteMatch
	CmdScan
	CmdIncr
	CmdExpire
	CmdGetExpire
	CmdPing
	CmdClear
	CmdSetLock
	CmdUnlock
	CmdExtendLock
	CmdIsLocked
	CmdKeysCount
	CmdValueSize
	CmdSetAdd
	CmdSetRemove
	CmdSetPop
	CmdSetMembers
	CmdGetBits
	CmdIncrBits
	CmdSliceIncr
	CmdDeleteTags
	CmdTagKeys
	numCommands
)

var commandNames = [...]string{
	CmdGet: "get", CmdGetMany: "get_many", CmdSet: "set", CmdSetMany: "set_many", CmdExists: "exists",
	CmdDelete: "delete", CmdDeleteMany: "delete_many", CmdDeleteMatch: "delete_match", CmdScan: "scan",
	CmdIncr: "incr", CmdExpire: "expire", CmdGetExpire: "get_expire", CmdPing: "ping", CmdClear: "clear",
	CmdSetLock: "set_lock", CmdUnlock: "unlock", CmdExtendLock: "extend_lock", CmdIsLocked: "is_locked",
	CmdKeysCount: "keys_count", CmdValueSize: "value_size", CmdSetAdd: "set_add",
	CmdSetRemove: "set_remove", CmdSetPop: "set_pop", CmdSetMembers: "set_members",
	CmdGetBits: "get_bits", CmdIncrBits: "incr_bits", CmdSliceIncr: "slice_incr",
	CmdDeleteTags: "delete_tags", CmdTagKeys: "tag_keys",
}

// String returns the command's name in snake case, as cashews spells it ("get_many").
func (c Command) String() string {
	if c > 0 && c < numCommands {
		return commandNames[c]
	}
	return "Command(?)"
}

// Commands returns every command, for callers that want to disable all but a few.
func Commands() []Command {
	all := make([]Command, 0, numCommands-1)
	for c := CmdGet; c < numCommands; c++ {
		all = append(all, c)
	}
	return all
}

// Call describes one command on its way to a backend. It is read-only: the command was routed to
// its backend before any hook sees it, so a changed key could only be wrong (another backend's key)
// or need routing again inside the chain. A hook changes what a command does through the context it
// passes to next, by answering without calling next, or by changing the Result it returns.
type Call struct {
	cmd   Command
	key   string
	keys  []string
	r     *route // the backend the command was routed to
	value any
	tags  []string

	do func(ctx context.Context) (Result, error) // runs the command on the backend
}

// Command returns the command.
func (c *Call) Command() Command { return c.cmd }

// Key returns the key of a single-key command, or the glob pattern of scan and delete_match; empty
// for commands on the whole backend (ping, clear, keys_count) and for multi-key commands.
func (c *Call) Key() string { return c.key }

// Keys returns a copy of the keys of get_many, set_many and delete_many that go to this backend.
func (c *Call) Keys() []string { return slices.Clone(c.keys) }

// Backend returns the URL of the backend, with passwords and secrets redacted.
func (c *Call) Backend() string {
	if c.r == nil {
		return ""
	}
	return c.r.url
}

// Prefix returns the routing prefix of the backend.
func (c *Call) Prefix() string {
	if c.r == nil {
		return ""
	}
	return c.r.prefix
}

// Value returns the value of set as the backend will store it (encoded bytes for byte backends, the
// Go value for the memory backend); nil for other commands. Do not modify it.
func (c *Call) Value() any { return c.value }

// Tags returns a copy of the tags of set, delete_tags and tag_keys.
func (c *Call) Tags() []string { return slices.Clone(c.tags) }

// Result is what a command returned.
type Result struct {
	// Value is the command's main result: the stored value of get (encoded bytes for byte
	// backends), an int64 for incr, a time.Duration for get_expire, the number of keys yielded (an
	// int) for scan, and so on; nil where the command returns only OK. A scan of a backend is one
	// command, however many batches it fetches.
	Value any
	// OK is whether a read found its key (a hit) or a write took effect.
	OK bool
}

// Handler runs a command.
type Handler func(ctx context.Context, call *Call) (Result, error)

// Hook wraps every command of a Cache: it gets the next handler of the chain and returns the
// handler that runs before it. Every command crosses one chain of hooks, outermost first:
//
//  1. the disable switches ([Cache.Disable], [WithDisabled], enable=false in the setup URL): a
//     disabled command goes no further and answers as if the cache were empty;
//  2. the hooks added by [Cache.Use] and [Cache.OnCommand], in the order they were added, the first
//     one outermost: Use(a, b) runs a start → b start → ... → b end → a end;
//  3. suppression, on a backend set up with suppress=true: the backend's errors become misses and
//     false (see [Cache.Setup]);
//  4. the health breaker and the counters of [Cache.Stats]: a backend that keeps failing fails fast
//     until it answers a ping, and every answer is counted;
//  5. the backend.
//
// So a hook sees commands after routing (Call.Backend is known) and after the disable switches,
// and sees what suppression made of the backend's answer. A hook may change the context, answer
// without calling next, or change the result. Values reach hooks as the backend stores them:
// encoded []byte for byte backends.
type Hook func(next Handler) Handler

// Middleware is the former name of [Hook].
//
// Deprecated: use Hook; "middleware" now means net/http middleware (package middleware) only.
type Middleware = Hook

// Use adds hooks around every command, inside the disable switches and outside suppression and the
// health breaker; see [Hook] for the order. It is safe to call while commands run: commands that
// already started keep the chain they had. A nil hook, or one that returns a nil Handler, is an
// error matching [ErrInvalidArgument], and then none of hooks is added.
func (c *Cache) Use(hooks ...Hook) error {
	if c == nil {
		return errNilCache
	}
	for i, hk := range hooks {
		if hk == nil {
			return fmt.Errorf("%w: Use: hook %d of %d is nil", ErrInvalidArgument, i+1, len(hooks))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	chain := append(append([]Hook(nil), c.chain()...), hooks...)
	h := Handler(builtinInner)
	for i := len(chain) - 1; i >= 0; i-- {
		if h = chain[i](h); h == nil {
			return fmt.Errorf("%w: Use: hook %d of the chain returned a nil Handler", ErrInvalidArgument, i+1)
		}
	}
	h = switchHook(h)
	c.hooks.Store(&chain)
	c.handler.Store(&h)
	return nil
}

// dispatch is the innermost handler: it runs the command's operation on the backend.
func dispatch(ctx context.Context, call *Call) (Result, error) { return call.do(ctx) }

// builtinInner is the part of the built-in chain inside the user's hooks: suppression, then the
// health breaker and the stats, then the backend.
var builtinInner = suppressionHook(healthHook(dispatch))

// builtins runs call through the built-in hooks when the user added none, written out as direct
// calls (the same halves the hooks are made of), so that call stays on the caller's stack:
// switches, suppression, health, the backend.
func builtins(ctx context.Context, call *Call) (Result, error) {
	if call.r.off(ctx, call.cmd) {
		return offResult(call), nil
	}
	var res Result
	err := healthBefore(ctx, call)
	if err == nil {
		res, err = call.do(ctx)
		healthAfter(ctx, call, res, err)
	}
	return suppressed(ctx, call, res, err)
}

// run runs call through the chain: the built-in hooks and the user's. call is copied to the heap
// only when the user's hooks may keep it.
func (c *Cache) run(ctx context.Context, call Call) (Result, error) {
	if h := c.handler.Load(); h != nil {
		cl := call
		return (*h)(ctx, &cl)
	}
	return builtins(ctx, &call)
}

// hooked reports whether the user added hooks, so that the chain is more than the built-in hooks.
func (c *Cache) hooked() bool { return c.handler.Load() != nil }

func (c *Cache) chain() []Hook {
	if p := c.hooks.Load(); p != nil {
		return *p
	}
	return nil
}

// OnCommand adds a callback that runs after every command of the given kinds (every command when
// none is given) with the call, its result and its error. Callbacks run in the calling goroutine,
// outside any lock of the Cache; a slow callback slows the command. A nil fn is an error matching
// [ErrInvalidArgument].
func (c *Cache) OnCommand(fn func(ctx context.Context, call *Call, res Result, err error), cmds ...Command) error {
	if fn == nil {
		return fmt.Errorf("%w: OnCommand with a nil function", ErrInvalidArgument)
	}
	var want [numCommands]bool
	for _, cmd := range cmds {
		if cmd > 0 && cmd < numCommands {
			want[cmd] = true
		}
	}
	all := len(cmds) == 0
	return c.Use(func(next Handler) Handler {
		return func(ctx context.Context, call *Call) (Result, error) {
			res, err := next(ctx, call)
			if all || want[call.cmd] {
				fn(ctx, call, res, err)
			}
			return res, err
		}
	})
}

// LogHook returns a hook that logs every command to logger (slog.Default() when nil) at
// level (errors at slog.LevelError) with its name, key or keys, backend, result and duration. Values
// are not logged.
func LogHook(logger *slog.Logger, level slog.Level) Hook {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, call *Call) (Result, error) {
			start := time.Now()
			res, err := next(ctx, call)
			lvl := level
			if err != nil {
				lvl = slog.LevelError
			}
			if !logger.Enabled(ctx, lvl) {
				return res, err
			}
			attrs := []slog.Attr{
				slog.String("command", call.cmd.String()),
				slog.String("backend", call.Backend()),
				slog.Bool("ok", res.OK),
				slog.Duration("duration", time.Since(start)),
			}
			if call.key != "" {
				attrs = append(attrs, slog.String("key", call.key))
			}
			if len(call.keys) > 0 {
				attrs = append(attrs, slog.Any("keys", call.Keys()))
			}
			if len(call.tags) > 0 {
				attrs = append(attrs, slog.Any("tags", call.Tags()))
			}
			if err != nil {
				attrs = append(attrs, slog.Any("error", err))
			}
			logger.LogAttrs(ctx, lvl, "cashews: "+call.cmd.String(), attrs...)
			return res, err
		}
	}
}

// LogMiddleware is the former name of [LogHook].
//
// Deprecated: use LogHook.
func LogMiddleware(logger *slog.Logger, level slog.Level) Hook { return LogHook(logger, level) }
