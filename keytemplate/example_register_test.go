package keytemplate_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/cashews-go/cashews/keytemplate"
)

type Point struct{ X, Y int }

func init() {
	// Registration belongs in init: templates compiled before it do not see it.
	keytemplate.RegisterType(func(p Point) string { return fmt.Sprintf("%d/%d", p.X, p.Y) })
	keytemplate.RegisterFormatter("mask", func(value, arg string) (string, error) {
		keep := len(arg) // mask(...) keeps as many characters as its argument has
		if keep > len(value) {
			keep = len(value)
		}
		return value[:keep] + strings.Repeat("*", len(value)-keep), nil
	})
}

func ExampleRegisterType() {
	type Tile struct {
		Zoom   int
		Corner Point
		Phone  string
	}
	t := keytemplate.MustCompile[Tile]("tile:{Zoom}:{Corner}:{Phone:mask(xxx)}")
	key, err := t.Render(context.Background(), Tile{Zoom: 3, Corner: Point{10, 20}, Phone: "5551234"})
	fmt.Println(key, err)

	d, _ := keytemplate.Default[Tile]("maps.Tile")
	key, err = d.Render(context.Background(), Tile{Zoom: 3, Corner: Point{10, 20}})
	fmt.Println(key, err)
	// Output:
	// tile:3:10/20:555**** <nil>
	// maps.Tile:Zoom=3,Corner=10/20,Phone= <nil>
}
