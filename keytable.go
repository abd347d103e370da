package cashews

import (
	"context"
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"

	"github.com/cashews-go/cashews/keytemplate"
)

// keySets and keyWays shape a Wrap's key table: sets of keyWays recently rendered keys (16 KiB of
// slots).
const (
	keySets = 512
	keyWays = 4
)

// keyBuf is the largest key rendered on the stack; longer keys are rendered by Render.
const keyBuf = 128

// keyTable holds the keys a Wrap rendered lately, so that a call whose key was rendered before
// uses the same string instead of a new one: a Wrap hit allocates nothing for its key. The key is
// rendered into a buffer on the stack and looked up by its bytes; the bytes are never handed on as
// a string (the strategies keep keys: in flights, locks, stored entries and detect's records), only
// a string made from them earlier, which is immutable like any other. The table is bounded: a set
// holds four keys, a key that finds its set full replaces one of them once in 16 times (a cold key
// rarely pushes out a hot one), and a Wrap whose keys rarely repeat pays, on top of the string
// each call makes anyway, a slot pointer once in 16 calls.
type keyTable struct {
	seed  maphash.Seed
	slots [keySets * keyWays]atomic.Pointer[string]
}

func newKeyTable() *keyTable { return &keyTable{seed: maphash.MakeSeed()} }

// renderKey returns the key of a call: prefix followed by tmpl rendered for a.
func renderKey[A any](ctx context.Context, t *keyTable, tmpl *keytemplate.Template[A], prefix string, a A) (string, error) {
	var buf [keyBuf]byte
	b, err := tmpl.AppendRender(ctx, append(buf[:0], prefix...), a)
	if err != nil {
		return "", err
	}
	if len(b) > keyBuf { // grown on the heap: a string of its own
		return string(b), nil
	}
	return t.intern(b), nil
}

// intern returns a string equal to b: the table's when it holds one, else a new one, which it may
// keep.
func (t *keyTable) intern(b []byte) string {
	set := t.slots[(maphash.Bytes(t.seed, b)&(keySets-1))*keyWays:][:keyWays]
	free := -1
	for i := range set {
		p := set[i].Load()
		if p == nil {
			if free < 0 {
				free = i
			}
			continue
		}
		if *p == string(b) {
			return *p
		}
	}
	k := string(b)
	switch r := rand.Uint32(); {
	case free >= 0:
		set[free].Store(&k)
	case r&15 == 0:
		set[r>>4%keyWays].Store(&k)
	}
	return k
}
