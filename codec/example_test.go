package codec_test

import (
	"errors"
	"fmt"

	"github.com/cashews-go/cashews/codec"
)

func Example() {
	type User struct {
		ID   int
		Name string
	}
	f, err := codec.New(codec.Options{
		Secret:   []byte("at least 32 random bytes, please!"),
		Compress: "gzip", // payloads of 1 KiB and more
	})
	if err != nil {
		panic(err)
	}

	data, err := f.Encode("user:1", User{ID: 1, Name: "Ann"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("version 0x%02x, flags 0x%02x, %d bytes of MAC, payload %s\n", data[0], data[1], 32, data[2+32:])

	var u User
	err = f.Decode("user:1", data, &u)
	fmt.Println(u, err)

	// The same bytes stored under another key are refused, and never decoded.
	err = f.Decode("user:2", data, &u)
	fmt.Println(errors.Is(err, codec.ErrTampered))

	// Counters written by the store's Incr are plain decimal text.
	var hits int
	err = f.Decode("hits", []byte("42"), &hits)
	fmt.Println(hits, err)

	// Output:
	// version 0x01, flags 0x80, 32 bytes of MAC, payload {"ID":1,"Name":"Ann"}
	// {1 Ann} <nil>
	// true
	// 42 <nil>
}
