package cashews_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/keytemplate"
)

// invUser is the argument of the invalidation tests' functions.
type invUser struct {
	ID   string
	Lang string
}

// invLoader returns a loader that counts its runs and returns "<ID>/<Lang> v<run>", so that a
// recomputed value differs from a cached one.
func invLoader(runs *atomic.Int64) func(context.Context, invUser) (string, error) {
	return func(_ context.Context, u invUser) (string, error) {
		n := runs.Add(1)
		return fmt.Sprintf("%s/%s v%d", u.ID, u.Lang, n), nil
	}
}

// invSave returns a function that "saves" a user, counting its calls, and fails with err if set.
func invSave(calls *atomic.Int64, err error) func(context.Context, invUser) (bool, error) {
	return func(context.Context, invUser) (bool, error) {
		calls.Add(1)
		return err == nil, err
	}
}

// invKeys returns the keys present in c matching pattern, sorted.
func invKeys(t *testing.T, c *cashews.Cache, pattern string) []string {
	t.Helper()
	var keys []string
	for k, err := range c.Scan(context.Background(), pattern) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestInvalidateAfterPattern(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url)
			ctx := context.Background()
			var runs, saves atomic.Int64
			get := cashews.MustWrap(c, invLoader(&runs), cashews.TTL(time.Hour), cashews.Key("user:{ID}:{Lang}"))
			save := cashews.MustInvalidateAfter(c, invSave(&saves, nil), "user:{ID}:*")

			for _, u := range []invUser{{"1", "en"}, {"1", "de"}, {"2", "en"}} {
				get(ctx, u)
			}
			if ok, err := save(ctx, invUser{ID: "1"}); !ok || err != nil {
				t.Fatalf("save = %v, %v; want true, nil", ok, err)
			}
			if got := fmt.Sprint(invKeys(t, c, "user:*")); got != "[user:2:en]" {
				t.Fatalf("keys after saving user 1 = %s; want [user:2:en]", got)
			}
			for _, u := range []invUser{{"1", "en"}, {"1", "de"}, {"2", "en"}} {
				get(ctx, u)
			}
			if n := runs.Load(); n != 5 {
				t.Fatalf("runs = %d; want 5 (user 1 recomputed in both languages, user 2 cached)", n)
			}
			if v, _ := get(ctx, invUser{"1", "en"}); v != "1/en v4" {
				t.Fatalf("get(1, en) = %q; want the recomputed \"1/en v4\"", v)
			}
		})
	}
}

func TestInvalidateAfterExactKeyAndSeveralPatterns(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var saves atomic.Int64
	for _, k := range []string{"user:1:en", "user:1:de", "list:en", "list:de"} {
		c.Set(ctx, k, "v", 0)
	}
	save := cashews.MustInvalidateAfter(c, invSave(&saves, nil), "user:{ID}:{Lang}", "list:{Lang}")
	if _, err := save(ctx, invUser{"1", "en"}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(invKeys(t, c, "*")); got != "[list:de user:1:de]" {
		t.Fatalf("keys = %s; want [list:de user:1:de]", got)
	}
}

func TestInvalidateAfterValuesAreLiteral(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var saves atomic.Int64
	ids := []string{"1", "2", "12", "*", "?", "[12]", `\`, `\*`, "a*b", "ab"}
	for _, id := range ids {
		for _, tail := range []string{"x", "y"} {
			c.Set(ctx, "user:"+id+":"+tail, "v", 0)
		}
	}
	save := cashews.MustInvalidateAfter(c, invSave(&saves, nil), "user:{ID}:*")
	for _, id := range ids {
		before := len(invKeys(t, c, "user:*"))
		if _, err := save(ctx, invUser{ID: id}); err != nil {
			t.Fatalf("save(%q): %v", id, err)
		}
		for _, tail := range []string{"x", "y"} {
			if ok, _ := c.Exists(ctx, "user:"+id+":"+tail); ok {
				t.Fatalf("save(%q) left user:%s:%s", id, id, tail)
			}
		}
		if after := len(invKeys(t, c, "user:*")); after != before-2 {
			t.Fatalf("save(%q) deleted %d keys; want 2: a value in a pattern must match only itself", id, before-after)
		}
	}
}

func TestInvalidateAfterFailureDeletesNothing(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	boom := errors.New("boom")
	var saves atomic.Int64
	c.Set(ctx, "user:1:en", "v", 0)
	save := cashews.MustInvalidateAfter(c, invSave(&saves, boom), "user:{ID}:*")
	if ok, err := save(ctx, invUser{ID: "1"}); ok || !errors.Is(err, boom) || errors.Is(err, cashews.ErrInvalidation) {
		t.Fatalf("save = %v, %v; want false and the function's error", ok, err)
	}
	if ok, _ := c.Exists(ctx, "user:1:en"); !ok {
		t.Fatal("a failed call deleted user:1:en")
	}
}

func TestInvalidateAfterCancelledContextStillDeletes(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx, cancel := context.WithCancel(context.Background())
	c.Set(ctx, "user:1:en", "v", 0)
	save := cashews.MustInvalidateAfter(c, func(context.Context, invUser) (bool, error) {
		cancel() // the caller gives up while the change is being made
		return true, nil
	}, "user:{ID}:*")
	if ok, err := save(ctx, invUser{ID: "1"}); !ok || err != nil {
		t.Fatalf("save = %v, %v; want true, nil", ok, err)
	}
	if ok, _ := c.Exists(context.Background(), "user:1:en"); ok {
		t.Fatal("user:1:en survived a change made under a context cancelled meanwhile")
	}
}

func TestInvalidateErrorsKeepTheResult(t *testing.T) {
	c, _ := newCache(t, "user:=mem://") // no backend takes "other:" keys
	ctx := context.Background()
	c.Set(ctx, "user:1:en", "v", 0)
	var saves atomic.Int64
	save := cashews.MustInvalidateAfter(c, invSave(&saves, nil), "other:{ID}", "user:{ID}:*")
	ok, err := save(ctx, invUser{ID: "1"})
	if !ok || !errors.Is(err, cashews.ErrInvalidation) || !errors.Is(err, cashews.ErrNoBackend) {
		t.Fatalf("save = %v, %v; want true (the function's result) and an error matching ErrInvalidation and ErrNoBackend", ok, err)
	}
	if exists, _ := c.Exists(ctx, "user:1:en"); exists {
		t.Fatal("the failure of one pattern kept the next one from being deleted")
	}

	// A value that cannot be rendered: a nil pointer on the path to the field.
	savePtr := cashews.MustInvalidateAfter(c, func(context.Context, *invUser) (int, error) { return 7, nil }, "user:{ID}:*")
	var execErr *keytemplate.ExecError
	if n, err := savePtr(ctx, nil); n != 7 || !errors.Is(err, cashews.ErrInvalidation) || !errors.As(err, &execErr) {
		t.Fatalf("savePtr(nil) = %d, %v; want 7 and an ErrInvalidation wrapping a *keytemplate.ExecError", n, err)
	}

	userKey := cashews.MustNewKey[string]("other:{.}")
	saveKey := cashews.MustInvalidateKey(c, invSave(&saves, nil), userKey, func(u invUser) string { return u.ID })
	if ok, err := saveKey(ctx, invUser{ID: "1"}); !ok || !errors.Is(err, cashews.ErrInvalidation) || !errors.Is(err, cashews.ErrNoBackend) {
		t.Fatalf("saveKey = %v, %v; want true and an error matching ErrInvalidation and ErrNoBackend", ok, err)
	}
}

// invProfile is what getUser returns in TestInvalidateKeyMatchesWrap.
type invProfile struct {
	ID   string
	Name string
}

func TestInvalidateKeyMatchesWrap(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url)
			ctx := context.Background()
			var runs, saves atomic.Int64
			userKey := cashews.MustNewKey[invUser]("user:{ID}")
			getUser := cashews.MustWrap(c, invLoader(&runs), cashews.TTL(time.Hour), userKey)
			updateUser := cashews.MustInvalidateKey(c,
				func(_ context.Context, p invProfile) (invProfile, error) { saves.Add(1); return p, nil },
				userKey, func(p invProfile) invUser { return invUser{ID: p.ID} })

			getUser(ctx, invUser{ID: "1", Lang: "en"})
			getUser(ctx, invUser{ID: "1", Lang: "en"})
			getUser(ctx, invUser{ID: "2", Lang: "en"})
			if ok, _ := c.Exists(ctx, "user:1"); !ok {
				t.Fatal("getUser did not store user:1")
			}
			if p, err := updateUser(ctx, invProfile{ID: "1", Name: "Ann"}); err != nil || p.Name != "Ann" {
				t.Fatalf("updateUser = %+v, %v; want its result", p, err)
			}
			v, _ := getUser(ctx, invUser{ID: "1", Lang: "en"})
			getUser(ctx, invUser{ID: "2", Lang: "en"})
			if n := runs.Load(); n != 3 || v != "1/en v3" {
				t.Fatalf("runs = %d, getUser(1) = %q; want 3 runs and \"1/en v3\" (user 1 recomputed after the update, user 2 cached)", n, v)
			}
		})
	}
}

func TestInvalidateConfigMistakes(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var saves atomic.Int64
	save := invSave(&saves, nil)

	var fieldErr *keytemplate.FieldError
	if _, err := cashews.InvalidateAfter(c, save, "user:{Nope}:*"); !errors.As(err, &fieldErr) {
		t.Errorf("pattern with a missing field: err = %v; want a *keytemplate.FieldError", err)
	}
	var syntaxErr *keytemplate.SyntaxError
	if _, err := cashews.InvalidateAfter(c, save, "user:{ID"); !errors.As(err, &syntaxErr) || syntaxErr.Pos != 5 {
		t.Errorf("unclosed placeholder: err = %v; want a *keytemplate.SyntaxError at 5", err)
	}
	if _, err := cashews.InvalidateAfter(c, save); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("no patterns: err = %v; want ErrConfig", err)
	}
	if _, err := cashews.InvalidateAfter[invUser, bool](nil, save, "x"); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("nil Cache: err = %v; want ErrConfig", err)
	}
	if _, err := cashews.InvalidateKey[invUser, bool, string](c, save, nil, nil); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("nil KeyTemplate: err = %v; want ErrConfig", err)
	}
	if _, err := cashews.NewKey[invUser]("user:{Nope}"); !errors.As(err, &fieldErr) {
		t.Errorf("NewKey with a missing field: err = %v; want a *keytemplate.FieldError", err)
	}
	invPanics(t, "InvalidateAfter with a bad pattern", func() { cashews.MustInvalidateAfter(c, save, "user:{Nope}") })
	invPanics(t, "NewKey with a bad template", func() { cashews.MustNewKey[invUser]("{") })

	var runs atomic.Int64
	key := cashews.MustNewKey[string]("user:{.}")
	if _, err := cashews.Wrap(c, invLoader(&runs), cashews.TTL(time.Hour), key); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("KeyTemplate[string] on a function of invUser: err = %v; want ErrConfig", err)
	}
	userKey := cashews.MustNewKey[invUser]("user:{ID}")
	if _, err := cashews.Wrap(c, invLoader(&runs), cashews.TTL(time.Hour), cashews.KeyPrefix("v2:"), userKey); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("KeyPrefix with a KeyTemplate: err = %v; want ErrConfig", err)
	}
}

func invPanics(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestInvalidateByTags(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url)
			ctx := context.Background()
			var runs atomic.Int64
			get := cashews.MustWrap(c, invLoader(&runs), cashews.TTL(time.Hour), cashews.Key("user:{ID}:{Lang}"), cashews.Tags("user:{ID}"))
			for _, u := range []invUser{{"1", "en"}, {"1", "de"}, {"2", "en"}} {
				get(ctx, u)
			}
			if n, err := c.DeleteTags(ctx, "user:1"); n != 2 || err != nil {
				t.Fatalf("DeleteTags(user:1) = %d, %v; want 2, nil", n, err)
			}
			for _, u := range []invUser{{"1", "en"}, {"1", "de"}, {"2", "en"}} {
				get(ctx, u)
			}
			if n := runs.Load(); n != 5 {
				t.Fatalf("runs = %d; want 5 (both keys of user 1 recomputed, user 2 cached)", n)
			}
		})
	}
}

func TestInvalidateFurtherWithRecompute(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url)
			ctx := context.Background()
			var runs atomic.Int64
			get := cashews.MustWrap(c, invLoader(&runs), cashews.TTL(time.Hour), cashews.Key("user:{ID}"))
			u := invUser{ID: "1", Lang: "en"}
			get(ctx, u)
			if v, _ := get(ctx, u); v != "1/en v1" {
				t.Fatalf("second call = %q; want the cached \"1/en v1\"", v)
			}
			if v, _ := get(cashews.Recompute(ctx), u); v != "1/en v2" {
				t.Fatalf("call with Recompute = %q; want the recomputed \"1/en v2\"", v)
			}
			if v, _ := get(ctx, u); v != "1/en v2" {
				t.Fatalf("call after Recompute = %q; want \"1/en v2\", stored by the recomputing call", v)
			}
			if n := runs.Load(); n != 2 {
				t.Fatalf("runs = %d; want 2", n)
			}
		})
	}
}

func ExampleInvalidateAfter() {
	ctx := context.Background()
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	type Query struct {
		ID   int
		Lang string
	}
	loads := 0
	getUser := cashews.MustWrap(c, func(ctx context.Context, q Query) (string, error) {
		loads++
		return fmt.Sprintf("user %d (%s)", q.ID, q.Lang), nil
	}, cashews.TTL(time.Hour), cashews.Key("user:{ID}:{Lang}"))

	type Rename struct {
		ID   int
		Name string
	}
	rename := cashews.MustInvalidateAfter(c, func(ctx context.Context, r Rename) (bool, error) {
		return true, nil // update the database here
	}, "user:{ID}:*") // every language of the renamed user

	getUser(ctx, Query{1, "en"})
	getUser(ctx, Query{1, "de"})
	rename(ctx, Rename{ID: 1, Name: "Ann"})
	getUser(ctx, Query{1, "en"})
	getUser(ctx, Query{1, "de"})
	fmt.Println("loads:", loads)
	// Output:
	// loads: 4
}

func ExampleInvalidateKey() {
	ctx := context.Background()
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	type User struct {
		ID   int
		Name string
	}
	db := map[int]User{1: {1, "Ann"}}

	userKey := cashews.MustNewKey[int]("user:{.}") // shared by the reader and the writer
	getUser := cashews.MustWrap(c, func(ctx context.Context, id int) (User, error) {
		return db[id], nil
	}, cashews.TTL(time.Hour), userKey)
	saveUser := cashews.MustInvalidateKey(c, func(ctx context.Context, u User) (User, error) {
		db[u.ID] = u
		return u, nil
	}, userKey, func(u User) int { return u.ID })

	u, _ := getUser(ctx, 1)
	fmt.Println(u.Name)
	saveUser(ctx, User{1, "Bob"})
	u, _ = getUser(ctx, 1)
	fmt.Println(u.Name)
	// Output:
	// Ann
	// Bob
}
