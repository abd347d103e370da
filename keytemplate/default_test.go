package keytemplate

import (
	"context"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// defaultKey returns a function that renders the default key of a function "pkg.F" for arg.
func defaultKey[A any](arg A) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		d, err := Default[A]("pkg.F")
		if err != nil {
			return "", err
		}
		return d.Render(ctx, arg)
	}
}

type outer struct {
	Q     Query
	P     *Query
	Tags  []string
	When  time.Time
	Wait  time.Duration
	Raw   []byte
	Any   any
	Color Color
	Price Money
	Attrs map[string]int
	//lint:ignore U1000 an unexported field, read only through reflection: the default key must leave it out
	skip int
}

type listNode struct {
	V    int
	Next *listNode
}

func TestDefaultKey(t *testing.T) {
	when := time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)
	runRenderTests(t, []renderTest{
		{"struct", defaultKey(Query{ID: 1, Lang: "en"}), "pkg.F:ID=1,Lang=en"},
		{"separators escaped", defaultKey(Query{ID: 1, Lang: "a,b=c%d"}), "pkg.F:ID=1,Lang=a%2Cb%3Dc%25d"},
		{"brackets escaped", defaultKey(Query{Lang: "[{<>}]"}), "pkg.F:ID=0,Lang=%5B%7B%3C%3E%7D%5D"},
		{"colon kept", defaultKey(Query{Lang: "a:b"}), "pkg.F:ID=0,Lang=a:b"},
		{"control characters escaped", defaultKey(Query{Lang: "a\nb\x7f"}), "pkg.F:ID=0,Lang=a%0Ab%7F"},
		{"invalid UTF-8 escaped", defaultKey(Query{Lang: "\xffü"}), "pkg.F:ID=0,Lang=%FFü"},
		{"empty string", defaultKey(Query{}), "pkg.F:ID=0,Lang="},
		{"pointer to struct", defaultKey(&Query{ID: 2, Lang: "de"}), "pkg.F:ID=2,Lang=de"},
		{"nil pointer to struct", defaultKey((*Query)(nil)), "pkg.F:<nil>"},
		{"empty struct", defaultKey(struct{}{}), "pkg.F:"},
		{"unexported fields skipped", defaultKey(struct {
			ID     int
			secret string
		}{1, "s"}), "pkg.F:ID=1"},
		{"int", defaultKey(5), "pkg.F:5"},
		{"string", defaultKey("a b"), "pkg.F:a b"},
		{"nil text is escaped", defaultKey("<nil>"), "pkg.F:%3Cnil%3E"},
		{"float", defaultKey(0.5), "pkg.F:0.5"},
		{"negative zero", defaultKey(math.Copysign(0, -1)), "pkg.F:-0"},
		{"bytes", defaultKey([]byte("a,\x00")), "pkg.F:a%2C%00"},
		{"byte array", defaultKey([2]byte{'h', 'i'}), "pkg.F:hi"},
		{"strings", defaultKey([]string{"a", "b"}), "pkg.F:[a][b]"},
		{"no strings", defaultKey([]string{}), "pkg.F:"},
		{"one empty string", defaultKey([]string{""}), "pkg.F:[]"},
		{"ints array", defaultKey([2]int{1, 2}), "pkg.F:[1][2]"},
		{"map", defaultKey(map[string]int{"b": 2, "a": 1}), "pkg.F:[a=1][b=2]"},
		{"map of slices", defaultKey(map[string][]int{"a": {1}, "b": nil}), "pkg.F:[a=[1]][b=]"},
		{"interface int", defaultKey(any(1)), "pkg.F:<int>1"},
		{"interface string", defaultKey(any("1")), "pkg.F:<string>1"},
		{"nil interface", defaultKey(any(nil)), "pkg.F:<nil>"},
		{"pointer", defaultKey(ptr(3)), "pkg.F:3"},
		{"nil pointer", defaultKey((*int)(nil)), "pkg.F:<nil>"},
		{"pointer to nil pointer", defaultKey(ptr((*int)(nil))), "pkg.F:&<nil>"},
		{"pointer to pointer", defaultKey(ptr(ptr(3))), "pkg.F:&3"},
		{"time", defaultKey(when), "pkg.F:2024-03-01T12:30:00Z"},
		{"Stringer escaped", defaultKey(Color(0)), "pkg.F:red"},
		{"registered type", defaultKey(Money{123}), "pkg.F:$1.23"},
		{"recursive type", defaultKey(listNode{1, &listNode{2, nil}}), "pkg.F:V=1,Next={V=2,Next=<nil>}"},
		{"nested", defaultKey(outer{
			Q:     Query{1, "en"},
			Tags:  []string{"x,y"},
			When:  when,
			Wait:  time.Second,
			Raw:   []byte("r"),
			Any:   Query{2, "fr"},
			Color: 1,
			Price: Money{5},
			Attrs: map[string]int{"k": 1},
		}), "pkg.F:Q={ID=1,Lang=en},P=<nil>,Tags=[x%2Cy],When=2024-03-01T12:30:00Z,Wait=1s,Raw=r," +
			"Any=<keytemplate.Query>{ID=2,Lang=fr},Color=green,Price=$0.05,Attrs=[k=1]"},
		{"nested pointer", defaultKey(outer{P: &Query{3, "it"}}), "pkg.F:Q={ID=0,Lang=},P={ID=3,Lang=it},Tags=," +
			"When=0001-01-01T00:00:00Z,Wait=0s,Raw=,Any=<nil>,Color=red,Price=$0.00,Attrs="},
	})
}

func TestDefaultName(t *testing.T) {
	tests := []struct {
		name, source, key string
	}{
		{"github.com/x/pkg.FetchUser", "github.com/x/pkg.FetchUser:{*}", "github.com/x/pkg.FetchUser:ID=1,Lang=en"},
		{"pkg.(*T).Get-fm", "pkg.(*T).Get-fm:{*}", "pkg.(*T).Get-fm:ID=1,Lang=en"},
		{"a:b%c", "a%3Ab%25c:{*}", "a%3Ab%25c:ID=1,Lang=en"},
		{"pkg.F[{x}]", "pkg.F[{{x}}]:{*}", "pkg.F[{x}]:ID=1,Lang=en"},
		{"", ":{*}", ":ID=1,Lang=en"},
	}
	for _, tt := range tests {
		d, err := Default[Query](tt.name)
		if err != nil {
			t.Fatalf("Default(%q) = %v", tt.name, err)
		}
		if got := d.String(); got != tt.source {
			t.Errorf("Default(%q).String() = %q; want %q", tt.name, got, tt.source)
		}
		//lint:ignore SA1012 Render documents that ctx may be nil when the template has no {@name}; this call holds it to that
		if got, err := d.Render(nil, Query{1, "en"}); err != nil || got != tt.key {
			t.Errorf("Default(%q).Render = %q, %v; want %q", tt.name, got, err, tt.key)
		}
	}
}

// TestDefaultKeyDistinct lists pairs of different arguments whose keys a naive encoding would
// confuse.
func TestDefaultKeyDistinct(t *testing.T) {
	type two struct{ A, B string }
	type strs struct{ A, B []string }
	type ptrs struct{ P **int }
	type anys struct{ A, B any }
	type maps struct{ M map[string]string }
	pairs := []struct {
		name string
		x, y func(context.Context) (string, error)
	}{
		{"separator in first field", defaultKey(two{"a,B=b", ""}), defaultKey(two{"a", "b"})},
		{"escape character", defaultKey(two{"%2C", ""}), defaultKey(two{",", ""})},
		{"empty slice and empty element", defaultKey(strs{A: []string{}}), defaultKey(strs{A: []string{""}})},
		{"element boundaries", defaultKey(strs{A: []string{"a,b"}}), defaultKey(strs{A: []string{"a", "b"}})},
		{"bracket in element", defaultKey(strs{A: []string{"a][b"}}), defaultKey(strs{A: []string{"a", "b"}})},
		{"nil and pointer to nil", defaultKey(ptrs{}), defaultKey(ptrs{P: new(*int)})},
		{"dynamic types", defaultKey(anys{A: 1}), defaultKey(anys{A: "1"})},
		{"nil interface and nil text", defaultKey(anys{A: nil}), defaultKey(anys{A: "<nil>"})},
		{"map entry boundaries", defaultKey(maps{map[string]string{"a": "1][b=2"}}), defaultKey(maps{map[string]string{"a": "1", "b": "2"}})},
		{"map key with equals", defaultKey(maps{map[string]string{"a=b": "c"}}), defaultKey(maps{map[string]string{"a": "b=c"}})},
		{"bytes", defaultKey([]byte{0xff}), defaultKey([]byte("%FF"))},
	}
	for _, p := range pairs {
		x, errx := p.x(context.Background())
		y, erry := p.y(context.Background())
		if errx != nil || erry != nil {
			t.Fatalf("%s: Render = %v, %v", p.name, errx, erry)
		}
		if x == y {
			t.Errorf("%s: both keys are %q", p.name, x)
		}
	}
}

func TestDefaultKeyNilAndEmpty(t *testing.T) {
	// A nil slice or map is the same key as an empty one.
	type arg struct {
		S []int
		M map[string]int
	}
	x, _ := defaultKey(arg{})(nil)
	y, _ := defaultKey(arg{S: []int{}, M: map[string]int{}})(nil)
	if x != y {
		t.Errorf("nil collections: %q, empty ones: %q; want the same key", x, y)
	}
}

func TestRenderAllocs(t *testing.T) {
	d, err := Default[Query]("pkg.F")
	if err != nil {
		t.Fatal(err)
	}
	two := MustCompile[Query]("user:{ID}:{Lang:lower}")
	hash := MustCompile[Query]("user:{Lang:hash(sha256)}")
	lit := MustCompile[Query]("all")
	for _, tt := range []struct {
		name string
		f    func()
		max  float64
	}{
		{"literal", func() { lit.Render(context.Background(), Query{}) }, 0},
		{"two fields", func() { two.Render(context.Background(), Query{1, "EN"}) }, 1},
		{"hash", func() { hash.Render(context.Background(), Query{1, "EN"}) }, 1},
		{"default key", func() { d.Render(context.Background(), Query{1, "en"}) }, 1},
	} {
		if got := testing.AllocsPerRun(100, tt.f); got > tt.max {
			t.Errorf("%s: %v allocations per Render; want at most %v", tt.name, got, tt.max)
		}
	}
	if d.prog.slow {
		t.Errorf("the default key of a struct of scalars needs reflection")
	}
}

type rich struct {
	Tags []string
	P    *string
	PP   **string
	M    map[string]string
	Any  any
	Sub  struct {
		X string
		Y []int
	}
	Raw []byte
}

// buildRich makes a rich value from fuzzed input, using every bit of flags.
func buildRich(flags uint8, a, b, c string) rich {
	var r rich
	if flags&1 == 0 {
		r.Tags = strings.Split(a, "\x01")
	}
	if flags&2 != 0 {
		r.P = &b
	}
	switch flags >> 2 & 3 {
	case 1:
		r.PP = new(*string)
	case 2:
		r.PP = ptr(&c)
	case 3:
		r.PP = ptr(&b)
	}
	if flags&16 != 0 {
		r.M = map[string]string{a: b, c: a}
	}
	switch flags >> 5 & 3 {
	case 1:
		r.Any = len(a)
	case 2:
		r.Any = c
	case 3:
		r.Any = strings.Repeat("1", len(a)%3)
	}
	r.Sub.X = c
	if flags&128 != 0 {
		r.Sub.Y = []int{len(a), len(b)}
	}
	r.Raw = []byte(b)
	return r
}

func FuzzDefaultKeyInjective(f *testing.F) {
	type arg struct {
		A, B string
		N    int
	}
	d, err := Default[arg]("pkg.F")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("a", "b", 1, "a", "b", 1)
	f.Add("a,B=b", "", 0, "a", "b", 0)
	f.Add("a", "", 1, "a,B=,N=1", "", 1)
	f.Add("%2C", "", 0, ",", "", 0)
	f.Add("x=", "y", -1, "x", "=y", -1)
	f.Add("[", "]", 0, "{", "}", 0)
	f.Add("\xff", "", 0, "%FF", "", 0)
	f.Fuzz(func(t *testing.T, a1, b1 string, n1 int, a2, b2 string, n2 int) {
		x, y := arg{a1, b1, n1}, arg{a2, b2, n2}
		kx, err := d.Render(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		ky, err := d.Render(context.Background(), y)
		if err != nil {
			t.Fatal(err)
		}
		if (kx == ky) != (x == y) {
			t.Errorf("Render(%#v) = %q\nRender(%#v) = %q", x, kx, y, ky)
		}
	})
}

func FuzzDefaultKeyInjectiveNested(f *testing.F) {
	d, err := Default[rich]("pkg.F")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), "a", "b", "c", uint8(0), "a", "b", "c")
	f.Add(uint8(1), "", "", "", uint8(0), "", "", "")
	f.Add(uint8(4), "a", "b", "c", uint8(0), "a", "b", "c")
	f.Add(uint8(0x20), "a", "", "1", uint8(0x40), "a", "", "1")
	f.Add(uint8(0x60), "a", "", "", uint8(0x20), "a", "", "")
	f.Add(uint8(16), "a", "1][b=2", "b", uint8(16), "a", "1", "b")
	f.Add(uint8(0), "a\x01b", "", "", uint8(0), "a,b", "", "")
	f.Fuzz(func(t *testing.T, f1 uint8, a1, b1, c1 string, f2 uint8, a2, b2, c2 string) {
		x, y := buildRich(f1, a1, b1, c1), buildRich(f2, a2, b2, c2)
		kx, err := d.Render(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		ky, err := d.Render(context.Background(), y)
		if err != nil {
			t.Fatal(err)
		}
		if (kx == ky) != reflect.DeepEqual(x, y) {
			t.Errorf("Render(%+v) = %q\nRender(%+v) = %q", x, kx, y, ky)
		}
	})
}

func TestEscapeRoundTrip(t *testing.T) {
	// Escaping is percent-encoding, so unescaping gives the string back: it is injective.
	for _, s := range []string{"", "plain", "a,b=c", "%", "%25", "[]{}<>", "\x00\n\x7f", "\xff\xfe", "héllo ü", "a:b/c?d"} {
		esc := string(appendEscaped(nil, s))
		if strings.ContainsAny(esc, ",=[]{}<>") {
			t.Errorf("appendEscaped(%q) = %q, with a delimiter", s, esc)
		}
		if back, err := url.PathUnescape(esc); err != nil || back != s {
			t.Errorf("PathUnescape(appendEscaped(%q)) = %q, %v", s, back, err)
		}
	}
}
