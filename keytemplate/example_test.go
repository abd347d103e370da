package keytemplate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cashews-go/cashews/keytemplate"
)

type Query struct {
	ID   int
	Lang string
}

func Example() {
	t, err := keytemplate.Compile[Query]("user:{ID}:{Lang:lower}")
	if err != nil {
		panic(err)
	}
	key, err := t.Render(context.Background(), Query{ID: 42, Lang: "EN"})
	fmt.Println(key, err)
	// Output: user:42:en <nil>
}

func Example_formatters() {
	type Request struct {
		Email  string
		Tags   []string
		Params map[string]string
	}
	r := Request{
		Email:  "Gopher@Example.com",
		Tags:   []string{"a", "b", "c"},
		Params: map[string]string{"lang": "DE"},
	}
	for _, src := range []string{
		"{Email:lower}",
		"{Email:lower:hash(md5)}",
		"{Tags}:{Tags:len}",
		"{Params:get(lang):lower}",
		"{Params.lang}",
	} {
		key, err := keytemplate.MustCompile[Request](src).Render(context.Background(), r)
		fmt.Println(key, err)
	}
	// Output:
	// gopher@example.com <nil>
	// 163bd06e886dd88d6800b75606cbe5cb <nil>
	// a,b,c:3 <nil>
	// de <nil>
	// DE <nil>
}

func Example_scalar() {
	// A scalar argument is spelled {.}, as in text/template.
	id := keytemplate.MustCompile[int]("user:{.}")
	day := keytemplate.MustCompile[time.Time]("report:{.}")

	k1, _ := id.Render(context.Background(), 42)
	k2, _ := day.Render(context.Background(), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(k1)
	fmt.Println(k2)
	// Output:
	// user:42
	// report:2024-03-01T00:00:00Z
}

func ExampleDefault() {
	d, err := keytemplate.Default[Query]("github.com/x/pkg.FetchUser")
	if err != nil {
		panic(err)
	}
	fmt.Println(d)
	for _, q := range []Query{{1, "en"}, {2, "a,b=c"}} {
		key, _ := d.Render(context.Background(), q)
		fmt.Println(key)
	}
	// Output:
	// github.com/x/pkg.FetchUser:{*}
	// github.com/x/pkg.FetchUser:ID=1,Lang=en
	// github.com/x/pkg.FetchUser:ID=2,Lang=a%2Cb%3Dc
}

func ExampleWithValue() {
	t := keytemplate.MustCompile[Query]("{@tenant}:user:{ID}")

	ctx := keytemplate.WithValue(context.Background(), "tenant", "acme")
	key, err := t.Render(ctx, Query{ID: 1})
	fmt.Println(key, err)

	_, err = t.Render(context.Background(), Query{ID: 1})
	fmt.Println(err)
	// Output:
	// acme:user:1 <nil>
	// keytemplate: "{@tenant}:user:{ID}": {@tenant}: no context value "tenant" (set it with keytemplate.WithValue)
}

func ExampleTemplate_Fields() {
	t := keytemplate.MustCompile[Query]("{@tenant}:{ID}:{Lang:lower}:{ID}")
	fmt.Println(t.Fields())
	// Output: [ID Lang]
}

func ExampleCompile_errors() {
	for _, src := range []string{
		"user:{ID",
		"user:{Nmae}",
		"user:{ID:len}",
		"user:{Lang:hash(md4)}",
	} {
		_, err := keytemplate.Compile[Query](src)
		fmt.Println(err)

		var se *keytemplate.SyntaxError
		if errors.As(err, &se) {
			fmt.Printf("  %s\n  %*s^\n", se.Template, se.Pos, "")
		}
	}
	// Output:
	// keytemplate: "user:{ID" at 5: unclosed "{"
	//   user:{ID
	//        ^
	// keytemplate: "user:{Nmae}": type keytemplate_test.Query has no field or key "Nmae"
	// keytemplate: "user:{ID:len}": formatter len cannot apply to int
	// keytemplate: "user:{Lang:hash(md4)}": unknown hash algorithm "md4", want md5, sha1 or sha256
}
