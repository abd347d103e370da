package keytemplate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

type Query struct {
	ID   int
	Lang string
}

type Profile struct {
	Name  string
	Email string
}

type Lang string

type Color int

func (c Color) String() string { return [...]string{"red", "green", "blue"}[c] }

type Celsius float64

func (c *Celsius) String() string { return fmt.Sprintf("%.1fC", float64(*c)) }

// Money renders through RegisterType, in init below.
type Money struct{ Cents int64 }

type Base struct{ Region string }

type basePtr struct{ Zone string }

type User struct {
	Base
	*basePtr
	ID      int64
	Profile *Profile
	Tags    []string
	Attrs   map[string]int
	Params  map[string]string
	ByLang  map[Lang]string
	Nested  map[string]Profile
	Counts  [3]int
	Score   *int
	Color   Color
	Temp    *Celsius
	Price   Money
	Prices  []Money
	Any     any
	Fn      func()
	//lint:ignore U1000 an unexported field, seen only through reflection: templates must refuse it
	secret string
}

func init() {
	RegisterType(func(m Money) string { return fmt.Sprintf("$%d.%02d", m.Cents/100, m.Cents%100) })
	RegisterFormatter("reverse", func(value, _ string) (string, error) {
		r := []rune(value)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	})
	RegisterFormatter("prefix", func(value, arg string) (string, error) { return arg + value, nil })
	RegisterFormatter("fail", func(value, arg string) (string, error) { return "", errors.New("failed on purpose") })
	RegisterFormatter("explode", func(value, arg string) (string, error) { panic("boom") })
	RegisterJWT(verifyHS256)
}

// jwtKey signs the test tokens; verifyHS256 accepts only tokens signed with it.
var jwtKey = []byte("test key")

// verifyHS256 is the JWT verifier of the tests: HMAC-SHA256 over header.payload with jwtKey, and
// nothing else accepted (in particular not "alg":"none").
func verifyHS256(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed: %d parts, want 3", len(parts))
	}
	var header struct{ Alg string }
	if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(h, &header) != nil || header.Alg != "HS256" {
		return nil, errors.New("want alg HS256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	mac := hmac.New(sha256.New, jwtKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errors.New("bad signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("payload is not base64url")
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, errors.New("payload is not a JSON object")
	}
	return claims, nil
}

// signJWT returns an HS256 token over payload signed with key.
func signJWT(payload string, key []byte) string {
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// renders returns a function that compiles src for arguments of type A and renders arg.
func renders[A any](src string, arg A) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		t, err := Compile[A](src)
		if err != nil {
			return "", err
		}
		return t.Render(ctx, arg)
	}
}

type renderTest struct {
	name   string
	render func(context.Context) (string, error)
	want   string
}

func runRenderTests(t *testing.T, tests []renderTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.render(context.Background())
			if err != nil {
				t.Fatalf("Render = %v; want %q", err, tt.want)
			}
			if got != tt.want {
				t.Errorf("Render = %q; want %q", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestRenderTypes(t *testing.T) {
	when := time.Date(2024, 3, 1, 12, 30, 0, 500, time.FixedZone("", 3600))
	runRenderTests(t, []renderTest{
		{"string", renders("{.}", "a:b c"), "a:b c"},
		{"named string", renders("{.}", Lang("en")), "en"},
		{"int", renders("{.}", -42), "-42"},
		{"int8", renders("{.}", int8(-8)), "-8"},
		{"int16", renders("{.}", int16(16)), "16"},
		{"int32", renders("{.}", int32(32)), "32"},
		{"int64", renders("{.}", int64(math.MinInt64)), "-9223372036854775808"},
		{"uint", renders("{.}", uint(7)), "7"},
		{"uint8", renders("{.}", uint8(255)), "255"},
		{"uint16", renders("{.}", uint16(65535)), "65535"},
		{"uint32", renders("{.}", uint32(32)), "32"},
		{"uint64", renders("{.}", uint64(math.MaxUint64)), "18446744073709551615"},
		{"uintptr", renders("{.}", uintptr(9)), "9"},
		{"float64", renders("{.}", 1.5), "1.5"},
		{"float64 exponent", renders("{.}", 1e21), "1e+21"},
		{"float32", renders("{.}", float32(0.1)), "0.1"},
		{"complex128", renders("{.}", complex(1, -2)), "(1-2i)"},
		{"complex64", renders("{.}", complex64(complex(0.5, 1))), "(0.5+1i)"},
		{"bool", renders("{.}", true), "true"},
		{"bytes printable", renders("{.}", []byte("héllo world")), "héllo world"},
		{"bytes binary", renders("{.}", []byte{0xde, 0xad, 0x00}), "dead00"},
		{"bytes control", renders("{.}", []byte("a\nb")), "610a62"},
		{"bytes invalid UTF-8", renders("{.}", []byte("a\xffb")), "61ff62"},
		{"byte array", renders("{.}", [2]byte{1, 2}), "0102"},
		{"empty bytes", renders("x{.}x", []byte{}), "xx"},
		{"strings", renders("{.}", []string{"a", "b", "c"}), "a,b,c"},
		{"ints", renders("{.}", []int{3, 1, 2}), "3,1,2"},
		{"empty slice", renders("[{.}]", []string(nil)), "[]"},
		{"array", renders("{.}", [3]uint16{1, 2, 3}), "1,2,3"},
		{"nested slices", renders("{.}", [][]int{{1, 2}, {3}}), "1,2,3"},
		{"map sorted by key", renders("{.}", map[string]int{"b": 2, "a": 1, "c": 3}), "a=1,b=2,c=3"},
		{"map with int keys", renders("{.}", map[int]string{10: "x", 9: "y", -1: "z"}), "-1=z,9=y,10=x"},
		{"time", renders("{.}", when), "2024-03-01T12:30:00.0000005+01:00"},
		{"time UTC", renders("{.}", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)), "2024-03-01T00:00:00Z"},
		{"duration", renders("{.}", 90*time.Second), "1m30s"},
		{"Stringer", renders("{.}", Color(2)), "blue"},
		{"pointer Stringer", renders("{.}", ptr(Celsius(21.5))), "21.5C"},
		{"Stringers", renders("{.}", []Color{0, 1}), "red,green"},
		{"registered type", renders("{.}", Money{1999}), "$19.99"},
		{"registered types", renders("{.}", []Money{{100}, {5}}), "$1.00,$0.05"},
		{"registered in map", renders("{.}", map[string]Money{"a": {1}}), "a=$0.01"},
		{"pointer", renders("{.}", ptr(5)), "5"},
		{"pointer to pointer", renders("{.}", ptr(ptr("x"))), "x"},
		{"nil in slice", renders("{.}", []*int{ptr(1), nil}), "1,<nil>"},
		{"interface", renders("{.}", any(5)), "5"},
		{"interfaces", renders("{.}", []any{1, "a", nil, []int{2}}), "1,a,<nil>,2"},
		{"error interface", renders("{.}", []fmt.Stringer{Color(1)}), "green"},
	})
}

func TestRenderFields(t *testing.T) {
	u := User{
		Base:    Base{Region: "eu"},
		basePtr: &basePtr{Zone: "z1"},
		ID:      7,
		Profile: &Profile{Name: "Gopher", Email: "Go@Example.COM"},
		Tags:    []string{"a", "b"},
		Attrs:   map[string]int{"x": 1, "y": 2},
		Params:  map[string]string{"lang": "EN", "client-id": "c9"},
		ByLang:  map[Lang]string{"en": "hello"},
		Nested:  map[string]Profile{"boss": {Name: "Rob"}},
		Counts:  [3]int{1, 2, 3},
		Score:   ptr(99),
		Color:   1,
		Temp:    ptr(Celsius(-3)),
		Price:   Money{250},
		Prices:  []Money{{1}, {2}},
		Any:     "anything",
	}
	runRenderTests(t, []renderTest{
		{"field", renders("user:{ID}", u), "user:7"},
		{"leading dot", renders("user:{.ID}", u), "user:7"},
		{"nested through pointer", renders("{Profile.Name}", u), "Gopher"},
		{"embedded struct", renders("{Region}", u), "eu"},
		{"embedded struct by name", renders("{Base.Region}", u), "eu"},
		{"embedded pointer", renders("{Zone}", u), "z1"},
		{"map key", renders("{Params.lang}", u), "EN"},
		{"map key with hyphen", renders("{Params.client-id}", u), "c9"},
		{"missing map key", renders("[{Params.nope}]", u), "[]"},
		{"map of ints", renders("{Attrs.y}", u), "2"},
		{"map with named key type", renders("{ByLang.en}", u), "hello"},
		{"map of structs", renders("{Nested.boss.Name}", u), "Rob"},
		{"missing key of struct map", renders("[{Nested.nobody.Name}]", u), "[]"},
		{"whole map", renders("{Attrs}", u), "x=1,y=2"},
		{"slice", renders("{Tags}", u), "a,b"},
		{"array", renders("{Counts}", u), "1,2,3"},
		{"pointer field", renders("{Score}", u), "99"},
		{"Stringer field", renders("{Color}", u), "green"},
		{"pointer Stringer field", renders("{Temp}", u), "-3.0C"},
		{"registered field", renders("{Price}", u), "$2.50"},
		{"registered slice", renders("{Prices}", u), "$0.01,$0.02"},
		{"interface field", renders("{Any}", u), "anything"},
		{"argument is a map", renders("{lang}/{client-id}", map[string]string{"lang": "de", "client-id": "x"}), "de/x"},
		{"argument is a map of ints", renders("{n}", map[string]int{"n": 3}), "3"},
		{"argument is a pointer", renders("{ID}:{Lang}", &Query{ID: 1, Lang: "en"}), "1:en"},
		{"escaped braces", renders("{{{ID}}}", u), "{7}"},
		{"adjacent", renders("{ID}{ID}", u), "77"},
	})
}

func TestRenderFormatters(t *testing.T) {
	u := User{
		Profile: &Profile{Name: "Ünïcode Gopher", Email: "Go@Example.COM"},
		Tags:    []string{"a", "b", "c"},
		Attrs:   map[string]int{"x": 1, "y": 2},
		Params:  map[string]string{"lang": "EN"},
		Nested:  map[string]Profile{"boss": {Name: "Rob"}},
		Counts:  [3]int{1, 2, 3},
		ByLang:  map[Lang]string{"en": "Hello"},
	}
	token := jwt(`{"sub":"user-42","n":7,"admin":true,"roles":["a", "b"],"name":"J\u00f6"}`)
	tok := struct{ Token, Header string }{token, "Bearer " + token}
	runRenderTests(t, []renderTest{
		{"lower", renders("{Profile.Email:lower}", u), "go@example.com"},
		{"upper", renders("{Profile.Email:upper}", u), "GO@EXAMPLE.COM"},
		{"lower unicode", renders("{Profile.Name:lower}", u), strings.ToLower("Ünïcode Gopher")},
		{"upper unicode", renders("{.:upper}", "straße ǆ"), strings.ToUpper("straße ǆ")},
		{"lower invalid UTF-8", renders("{.:lower}", "A\xffÉ"), strings.ToLower("A\xffÉ")},
		{"lower number", renders("{.:lower}", 12), "12"},
		{"len of slice", renders("{Tags:len}", u), "3"},
		{"len of map", renders("{Attrs:len}", u), "2"},
		{"len of array", renders("{Counts:len}", u), "3"},
		{"len of string", renders("{Profile.Email:len}", u), "14"},
		{"len of nil slice", renders("{.:len}", []int(nil)), "0"},
		{"len of pointer to slice", renders("{.:len}", &[]int{1}), "1"},
		{"len after lower", renders("{Profile.Name:lower:len}", u), "16"},
		{"len of rendered int", renders("{.:lower:len}", 12345), "5"},
		{"md5", renders("{.:hash(md5)}", "hello"), "5d41402abc4b2a76b9719d911017c592"},
		{"sha1", renders("{.:hash(sha1)}", "hello"), "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"},
		{"sha256", renders("{.:hash(sha256)}", "hello"), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"},
		{"hash of int", renders("{.:hash(md5)}", 1), "c4ca4238a0b923820dcc509a6f75849b"},
		{"chain", renders("{.:lower:hash(md5)}", "HELLO"), "5d41402abc4b2a76b9719d911017c592"},
		{"hash then upper", renders("{.:hash(md5):upper}", "hello"), "5D41402ABC4B2A76B9719D911017C592"},
		{"jwt string claim", renders("{Token:jwt(sub)}", tok), "user-42"},
		{"jwt number claim", renders("{Token:jwt(n)}", tok), "7"},
		{"jwt bool claim", renders("{Token:jwt(admin)}", tok), "true"},
		{"jwt array claim", renders("{Token:jwt(roles)}", tok), `["a","b"]`},
		{"jwt unicode claim", renders("{Token:jwt(name)}", tok), "Jö"},
		{"jwt bearer", renders("{Header:jwt(sub)}", tok), "user-42"},
		{"jwt nested claim", renders("{.:jwt(org)}", jwt(`{"org":{"b":1,"a":"<x>"}}`)), `{"a":"<x>","b":1}`},
		{"jwt then hash", renders("{Token:jwt(sub):hash(md5)}", tok), md5hex("user-42")},
		{"get", renders("{Params:get(lang)}", u), "EN"},
		{"get then lower", renders("{Params:get(lang):lower}", u), "en"},
		{"get missing", renders("[{Params:get(nope)}]", u), "[]"},
		{"get empty key", renders("[{.:get()}]", map[string]string{"": "empty"}), "[empty]"},
		{"get named key type", renders("{ByLang:get(en):upper}", u), "HELLO"},
		{"get twice", renders("{.:get(a):get(b)}", map[string]map[string]int{"a": {"b": 5}}), "5"},
		{"get then len", renders("{.:get(a):len}", map[string][]int{"a": {1, 2}}), "2"},
		{"get on pointer to map", renders("{.:get(a)}", &map[string]string{"a": "x"}), "x"},
		{"get with dot in key", renders("{.:get(a.b)}", map[string]string{"a.b": "dotted"}), "dotted"},
		{"custom", renders("{Profile.Email:reverse}", u), "MOC.elpmaxE@oG"},
		{"custom with argument", renders("{ID:prefix(id-)}", u), "id-0"},
		{"custom on raw value", renders("{Tags:reverse}", u), "c,b,a"},
		{"custom then builtin", renders("{Tags:reverse:upper}", u), "C,B,A"},
		{"star with hash", renders("{*:hash(md5)}", Query{ID: 1, Lang: "en"}), md5hex("ID=1,Lang=en")},
		{"star with formatter after text", renders("q:{*:upper}:x", Query{ID: 1, Lang: "en"}), "q:ID=1,LANG=EN:x"},
	})
}

func jwt(payload string) string { return signJWT(payload, jwtKey) }

// unsignedJWT returns a token with "alg":"none" and no signature, as a forger would make it.
func unsignedJWT(payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString([]byte(payload)) + "."
}

func md5hex(s string) string {
	got, err := renders("{.:hash(md5)}", s)(context.Background())
	if err != nil {
		panic(err)
	}
	return got
}

func TestRenderContext(t *testing.T) {
	tmpl := MustCompile[Query]("{@tenant}:user:{ID}:{@region:upper}")
	ctx := WithValue(context.Background(), "tenant", "acme")
	ctx = WithValues(ctx, map[string]string{"region": "eu", "other": "x"})

	got, err := tmpl.Render(ctx, Query{ID: 1})
	if want := "acme:user:1:EU"; err != nil || got != want {
		t.Errorf("Render = %q, %v; want %q", got, err, want)
	}

	// A later value takes precedence, and the parent context keeps its own.
	child := WithValue(ctx, "tenant", "other")
	if got, _ := tmpl.Render(child, Query{ID: 1}); got != "other:user:1:EU" {
		t.Errorf("Render(child) = %q; want the overriding value", got)
	}
	if got, _ := tmpl.Render(ctx, Query{ID: 1}); got != "acme:user:1:EU" {
		t.Errorf("Render(parent) = %q; want the parent's value", got)
	}
	if v, ok := Value(child, "region"); !ok || v != "eu" {
		t.Errorf("Value(child, region) = %q, %v; want eu, true", v, ok)
	}
	if v, ok := Value(context.Background(), "region"); ok {
		t.Errorf("Value(Background, region) = %q, true; want false", v)
	}
	if got := WithValues(ctx, nil); got != ctx {
		t.Errorf("WithValues(ctx, nil) returned a new context")
	}

	// An empty value is a value.
	empty := WithValues(context.Background(), map[string]string{"tenant": "", "region": ""})
	if got, err := tmpl.Render(empty, Query{ID: 2}); err != nil || got != ":user:2:" {
		t.Errorf("Render(empty values) = %q, %v; want %q", got, err, ":user:2:")
	}

	// A missing value is an error, also without a context at all.
	for name, ctx := range map[string]context.Context{
		"missing": WithValue(context.Background(), "tenant", "acme"),
		"nil":     nil,
	} {
		_, err := tmpl.Render(ctx, Query{ID: 1})
		var ee *ExecError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), `no context value "`) {
			t.Errorf("%s: Render = %v; want an *ExecError for the missing value", name, err)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name   string
		render func(context.Context) (string, error)
		want   string // the error message
		unwrap error  // an error that the *ExecError wraps, if any
	}{
		{"nil pointer on the path", renders("{Profile.Name}", User{}),
			`keytemplate: "{Profile.Name}": {Profile.Name}: Profile is a nil pointer`, nil},
		{"nil pointer field", renders("{Score}", User{}),
			`keytemplate: "{Score}": {Score}: Score is a nil pointer`, nil},
		{"nil pointer Stringer", renders("{Temp}", User{}),
			`keytemplate: "{Temp}": {Temp}: Temp is a nil pointer`, nil},
		{"nil embedded pointer", renders("{Zone}", User{}),
			`keytemplate: "{Zone}": {Zone}: Zone is a nil pointer`, nil},
		{"nil argument", renders("{ID}", (*Query)(nil)),
			`keytemplate: "{ID}": {ID}: the argument is a nil pointer`, nil},
		{"nil argument dot", renders("{.}", (*int)(nil)),
			`keytemplate: "{.}": {.}: the argument is a nil pointer`, nil},
		{"nil interface", renders("{Any}", User{}),
			`keytemplate: "{Any}": {Any}: Any is a nil interface`, nil},
		{"struct in interface", renders("{Any}", User{Any: Query{}}),
			`keytemplate: "{Any}": {Any}: cannot render Any of type keytemplate.Query`, nil},
		{"func in interface", renders("{.}", any(func() {})),
			`keytemplate: "{.}": {.}: cannot render the argument of type func()`, nil},
		{"malformed jwt", renders("{.:jwt(sub)}", "not-a-token"),
			`keytemplate: "{.:jwt(sub)}": {.:jwt(sub)}: JSON Web Token rejected: malformed: 1 parts, want 3`, nil},
		// Forged tokens: a key is never rendered from claims nobody verified.
		{"jwt unsigned (alg none)", renders("{.:jwt(sub)}", unsignedJWT(`{"sub":"alice"}`)),
			`keytemplate: "{.:jwt(sub)}": {.:jwt(sub)}: JSON Web Token rejected: want alg HS256`, nil},
		{"jwt signed with another key", renders("{.:jwt(sub)}", signJWT(`{"sub":"alice"}`, []byte("forger"))),
			`keytemplate: "{.:jwt(sub)}": {.:jwt(sub)}: JSON Web Token rejected: bad signature`, nil},
		{"jwt payload swapped", renders("{.:jwt(sub)}", func() string {
			good, forged := strings.Split(jwt(`{"sub":"bob"}`), "."), strings.Split(jwt(`{"sub":"alice"}`), ".")
			return good[0] + "." + forged[1] + "." + good[2]
		}()),
			`keytemplate: "{.:jwt(sub)}": {.:jwt(sub)}: JSON Web Token rejected: bad signature`, nil},
		{"jwt missing claim", renders("{.:jwt(sub)}", jwt(`{"iss":"x"}`)),
			`keytemplate: "{.:jwt(sub)}": {.:jwt(sub)}: JSON Web Token has no claim "sub"`, nil},
		{"jwt null claim", renders("{.:jwt(sub)}", jwt(`{"sub":null}`)),
			`keytemplate: "{.:jwt(sub)}": {.:jwt(sub)}: JSON Web Token has no claim "sub"`, nil},
		{"custom formatter error", renders("{.:fail}", "x"),
			`keytemplate: "{.:fail}": {.:fail}: failed on purpose`, nil},
		{"custom formatter panic", renders("{.:explode}", "x"),
			`keytemplate: "{.:explode}": {.:explode}: formatter panicked: boom`, nil},
		{"String panic", renders("{.}", Color(7)),
			`keytemplate: "{.}": {.}: String method panicked: runtime error: index out of range [7] with length 3`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.render(context.Background())
			var ee *ExecError
			if !errors.As(err, &ee) {
				t.Fatalf("Render = %q, %v; want an *ExecError", got, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Render error = %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestRenderCycle(t *testing.T) {
	type node struct {
		Next any
	}
	n := &node{}
	n.Next = n
	d, err := Default[*node]("f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Render(context.Background(), n); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("Render(cycle) = %v; want an error about the nesting", err)
	}
}

func TestFields(t *testing.T) {
	type arg struct {
		ID      int
		Profile Profile
		Params  map[string]string
	}
	tmpl := MustCompile[arg]("{@tenant}:{ID}:{Profile.Name:lower}:{Params:get(lang)}:{ID}:{.ID}:{*:hash(md5)}")
	got := fmt.Sprint(tmpl.Fields())
	if want := "[ID Profile.Name Params *]"; got != want {
		t.Errorf("Fields() = %s; want %s", got, want)
	}
	if got := fmt.Sprint(MustCompile[int]("{.}").Fields()); got != "[.]" {
		t.Errorf("Fields() = %s; want [.]", got)
	}
	tmpl.Fields()[0] = "changed"
	if tmpl.Fields()[0] != "ID" {
		t.Errorf("Fields() returned the template's own slice")
	}
}

func TestAppendRender(t *testing.T) {
	tmpl := MustCompile[Query]("user:{ID}:{Lang:lower}")
	buf := []byte("prefix/")
	buf, err := tmpl.AppendRender(context.Background(), buf, Query{ID: 3, Lang: "FR"})
	if got := string(buf); err != nil || got != "prefix/user:3:fr" {
		t.Errorf("AppendRender = %q, %v; want %q", got, err, "prefix/user:3:fr")
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Errorf("MustCompile of a bad template did not panic")
		}
	}()
	MustCompile[Query]("{Nope}")
}

func TestRenderConcurrent(t *testing.T) {
	tmpls := []*Template[User]{
		MustCompile[User]("{ID}:{Profile.Name:lower}"),
		MustCompile[User]("{Attrs}:{Nested.boss.Name}:{Price}"),
		MustCompile[User]("{Params:get(x)}:{Tags:len}"),
	}
	u := User{ID: 1, Profile: &Profile{Name: "A"}, Attrs: map[string]int{"a": 1}, Nested: map[string]Profile{"boss": {Name: "B"}}}
	want := make([]string, len(tmpls))
	for i, tmpl := range tmpls {
		want[i], _ = tmpl.Render(context.Background(), u)
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				k := (g + i) % len(tmpls)
				if got, err := tmpls[k].Render(context.Background(), u); err != nil || got != want[k] {
					t.Errorf("concurrent Render = %q, %v; want %q", got, err, want[k])
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
