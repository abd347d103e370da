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
	fmt.Printf("version 0x%02x, flags 0x%02x, %d bytes of MAC, metadata 0x%02x and 8 bytes of type, payload %s\n",
		data[0], data[1], 32, data[2+32], data[2+32+9:])

	var u User
	err = f.Decode("user:1", data, &u)
	fmt.Println(u, err)

	// The same bytes stored under another key are refused, and never decoded.
	err = f.Decode("user:2", data, &u)
	fmt.Println(errors.Is(err, codec.ErrTampered))

	// A value of another Go type is not decoded into a User.
	type Admin User
	var a Admin
	err = f.Decode("user:1", data, &a)
	fmt.Println(errors.Is(err, codec.ErrWrongType))

	// Under a secret, counters are signed too: the plain decimal text that another client (or a
	// store's INCR) writes is refused.
	var hits int
	err = f.Decode("hits", []byte("42"), &hits)
	fmt.Println(hits, errors.Is(err, codec.ErrTampered))
	data, _ = f.Encode("hits", 42)
	err = f.Decode("hits", data, &hits)
	fmt.Println(hits, err)

	// Output:
	// version 0x01, flags 0xc0, 32 bytes of MAC, metadata 0x00 and 8 bytes of type, payload {"ID":1,"Name":"Ann"}
	// {1 Ann} <nil>
	// true
	// true
	// 0 true
	// 42 <nil>
}
