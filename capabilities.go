package cashews

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
)

// caps is what a backend can do besides its core (backends.Backend), found at Setup with type
// assertions, as database/sql finds a driver's optional interfaces. A nil field is a capability the
// backend lacks: the Cache derives the command from the core where the result is exact (batches as
// loops, DeleteMatch as Scan plus Delete, Ping as Exists), and otherwise answers it with an error
// naming the missing interface (see unsupported).
type caps struct {
	pinger   backends.Pinger
	batcher  backends.Batcher
	scanner  backends.Scanner
	matchDel backends.MatchDeleter
	counter  backends.Counter // the signed counters for a byte backend with a secret
	locker   backends.Locker
	sets     backends.SetStore
	bits     backends.BitStore
	window   backends.SlidingWindow
	admin    backends.Admin
	tagger   backends.Tagger
}

func capsOf(b backends.Backend) caps {
	var c caps
	c.pinger, _ = b.(backends.Pinger)
	c.batcher, _ = b.(backends.Batcher)
	c.scanner, _ = b.(backends.Scanner)
	c.matchDel, _ = b.(backends.MatchDeleter)
	c.counter, _ = b.(backends.Counter)
	c.locker, _ = b.(backends.Locker)
	c.sets, _ = b.(backends.SetStore)
	c.bits, _ = b.(backends.BitStore)
	c.window, _ = b.(backends.SlidingWindow)
	c.admin, _ = b.(backends.Admin)
	c.tagger, _ = b.(backends.Tagger)
	return c
}

// has reports whether the route has the capability named as the interface of package backends
// ("Counter", "Locker", ...). Batcher and Pinger are always there (derived); MatchDeleter is there
// when the backend has it or a Scanner.
func (r *route) has(capability string) (bool, error) {
	switch capability {
	case "Pinger", "Batcher":
		return true, nil
	case "Scanner":
		return r.scanner != nil, nil
	case "MatchDeleter":
		return r.matchDel != nil || r.scanner != nil, nil
	case "Counter":
		return r.counter != nil, nil
	case "Locker":
		return r.locker != nil, nil
	case "SetStore":
		return r.sets != nil, nil
	case "BitStore":
		return r.bits != nil, nil
	case "SlidingWindow":
		return r.window != nil, nil
	case "Admin":
		return r.admin != nil, nil
	case "Tagger":
		return r.tagger != nil, nil
	case "CompareAndSwapper":
		_, ok := r.backend.(backends.CompareAndSwapper)
		return ok, nil
	}
	return false, fmt.Errorf("%w: %s is not a capability (one of Pinger, Batcher, Scanner, MatchDeleter, Counter, Locker, SetStore, BitStore, SlidingWindow, Admin, Tagger, CompareAndSwapper)", ErrInvalidArgument, quote.String(capability))
}

// unsupported is the error of a command the backend of r cannot run: it lacks the capability
// iface (an interface of package backends) and the command cannot be derived exactly from what it
// has. It matches errors.ErrUnsupported.
func unsupported(cmd Command, r *route, iface string) error {
	return fmt.Errorf("cashews: %s on %s: the backend does not implement backends.%s: %w", cmd, r.url, iface, errors.ErrUnsupported)
}

// Require checks that every backend that may hold keys matching the glob pattern has the named
// capabilities (the names of the optional interfaces of package backends: "Counter", "Locker",
// "SetStore", "BitStore", "SlidingWindow", "Scanner", "Admin", "Tagger", "CompareAndSwapper"; the
// batches, Ping and DeleteMatch over a Scanner are always there, derived from the core). It returns
// an error matching [ErrConfig] and errors.ErrUnsupported that names the first backend and the
// capability it lacks. A strategy that needs a capability calls it when Wrap builds it, with the
// key template's literal prefix followed by "*", so that the mistake shows at Wrap rather than on
// the first call. An unknown name is an error matching [ErrInvalidArgument].
func (c *Cache) Require(pattern string, capabilities ...string) error {
	if c == nil {
		return errNilCache
	}
	for _, r := range c.patternRoutes(pattern) {
		for _, name := range capabilities {
			ok, err := r.has(name)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: keys matching %s go to %s, which does not implement backends.%s: %w",
					ErrConfig, quote.String(pattern), r.url, name, errors.ErrUnsupported)
			}
		}
	}
	return nil
}

// strategyNeeds maps the names of the strategies of package strategies to the capabilities they use,
// for requireStrategy.
var strategyNeeds = map[string][]string{
	"locked":             {"Locker", "Counter"},
	"early":              {"Locker"},
	"hit":                {"Counter"},
	"rate_limit":         {"Counter"},
	"sliding_rate_limit": {"SlidingWindow"},
	"circuit_breaker":    {"Counter"},
	"bloom":              {"BitStore"},
}

// requireStrategy checks, at Wrap, that the backends of the keys starting with keyPrefix have what
// the strategy named name needs (see strategyNeeds).
func (c *Cache) requireStrategy(name, keyPrefix string) error {
	needs := strategyNeeds[name]
	if len(needs) == 0 {
		return nil
	}
	if err := c.Require(escapeGlob(keyPrefix)+"*", needs...); err != nil {
		return fmt.Errorf("strategy %s: %w", name, err)
	}
	return nil
}

// escapeGlob escapes the glob characters of s, so that it matches itself.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ping returns the backend's Ping, or its derived form: Exists of a key nobody writes, which the
// backend answers only when it can be reached.
func (r *route) ping() func(context.Context) error {
	if r.pinger != nil {
		return r.pinger.Ping
	}
	b := r.backend
	return func(ctx context.Context) error {
		_, err := b.Exists(ctx, internalPrefix+"ping")
		return err
	}
}

// getMany reads keys with the backend's GetMany, or one Get at a time. A key holding something that
// is not a value (a set, say) is not found, as the contract of GetMany says.
func (r *route) getMany(ctx context.Context, keys []string) ([]backends.Entry, error) {
	if r.batcher != nil {
		return r.batcher.GetMany(ctx, keys)
	}
	out := make([]backends.Entry, len(keys))
	for i, k := range keys {
		v, found, err := r.backend.Get(ctx, k)
		if errors.Is(err, backends.ErrWrongType) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = backends.Entry{Value: v, Found: found}
	}
	return out, nil
}

// setMany writes items with the backend's SetMany, or one Set at a time.
func (r *route) setMany(ctx context.Context, items []backends.Item) error {
	if r.batcher != nil {
		return r.batcher.SetMany(ctx, items)
	}
	for _, it := range items {
		if _, err := r.backend.Set(ctx, it.Key, it.Value, it.TTL, backends.SetAlways); err != nil {
			return err
		}
	}
	return nil
}

// deleteMany deletes keys with the backend's DeleteMany, or one Delete at a time, and returns how
// many were present (the ones deleted before an error included).
func (r *route) deleteMany(ctx context.Context, keys []string) (int, error) {
	if r.batcher != nil {
		return r.batcher.DeleteMany(ctx, keys)
	}
	return r.deleteEach(ctx, keys)
}

// deleteEach deletes keys one Delete at a time and returns how many were present (the ones deleted
// before an error included).
func (r *route) deleteEach(ctx context.Context, keys []string) (int, error) {
	n := 0
	for _, k := range keys {
		ok, err := r.backend.Delete(ctx, k)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// deleteMatch deletes the keys matching pattern with the backend's DeleteMatch, or as a Scan plus a
// Delete of each key yielded (a key yielded twice is deleted, and counted, once). A backend with
// neither cannot delete by pattern: that is an error, as an invalidation must never silently miss.
func (r *route) deleteMatch(ctx context.Context, pattern string) (int, error) {
	if r.matchDel != nil {
		return r.matchDel.DeleteMatch(ctx, pattern)
	}
	if r.scanner == nil {
		return 0, unsupported(CmdDeleteMatch, r, "MatchDeleter (or backends.Scanner, to derive it)")
	}
	n := 0
	for keys, err := range r.scanner.Scan(ctx, pattern, 100) {
		if err != nil {
			return n, err
		}
		d, err := r.deleteEach(ctx, keys)
		n += d
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// supports returns nil when the backend of r can run cmd (itself, or derived from its core), and
// otherwise the error naming the capability it lacks. Commands ask it before the chain: a missing
// capability is a mistake of the setup, not an answer of the backend, so no hook, breaker or
// counter sees it, and suppression does not hide it.
func (r *route) supports(cmd Command) error {
	var ok bool
	var iface string
	switch cmd {
	case CmdScan:
		ok, iface = r.scanner != nil, "Scanner"
	case CmdDeleteMatch:
		ok, iface = r.matchDel != nil || r.scanner != nil, "MatchDeleter (nor backends.Scanner, to derive it)"
	case CmdIncr:
		ok, iface = r.counter != nil, "Counter"
	case CmdSetLock, CmdUnlock, CmdExtendLock, CmdIsLocked:
		ok, iface = r.locker != nil, "Locker"
	case CmdSetAdd, CmdSetRemove, CmdSetPop, CmdSetMembers:
		ok, iface = r.sets != nil, "SetStore"
	case CmdGetBits, CmdIncrBits:
		ok, iface = r.bits != nil, "BitStore"
	case CmdSliceIncr:
		ok, iface = r.window != nil, "SlidingWindow"
	case CmdClear, CmdKeysCount, CmdValueSize:
		ok, iface = r.admin != nil, "Admin"
	case CmdDeleteTags, CmdTagKeys:
		ok, iface = r.tagger != nil, "Tagger"
	default:
		return nil // the core, and what is derived from it
	}
	if ok {
		return nil
	}
	return unsupported(cmd, r, iface)
}
