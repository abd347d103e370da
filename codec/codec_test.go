package codec_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cashews-go/cashews/codec"
)

type token string
type blob []byte

func TestRawCodec(t *testing.T) {
	s, b := "hello", []byte("bytes")
	marshal := []struct {
		name string
		v    any
		want string
	}{
		{"string", "hello", "hello"},
		{"bytes", []byte("bytes"), "bytes"},
		{"empty string", "", ""},
		{"nil bytes", []byte(nil), ""},
		{"*string", &s, "hello"},
		{"*[]byte", &b, "bytes"},
		{"named string", token("tok"), "tok"},
		{"named bytes", blob("blob"), "blob"},
		{"json.RawMessage", json.RawMessage(`{"a":1}`), `{"a":1}`},
	}
	for _, tc := range marshal {
		t.Run("Marshal/"+tc.name, func(t *testing.T) {
			got, err := codec.Raw.Marshal(tc.v)
			if err != nil {
				t.Fatalf("Marshal(%#v): %v", tc.v, err)
			}
			if string(got) != tc.want {
				t.Errorf("Marshal(%#v) = %q, want %q", tc.v, got, tc.want)
			}
		})
	}
	for _, v := range []any{42, struct{}{}, nil, (*string)(nil), map[string]string{}, []int{1}} {
		if _, err := codec.Raw.Marshal(v); err == nil || !strings.Contains(err.Error(), "raw codec") {
			t.Errorf("Marshal(%#v) error = %v, want an error about the raw codec", v, err)
		}
	}

	data := []byte("payload")
	var gotS string
	var gotB []byte
	var gotA any
	var gotT token
	var gotBlob blob
	for _, target := range []any{&gotS, &gotB, &gotA, &gotT, &gotBlob} {
		if err := codec.Raw.Unmarshal(data, target); err != nil {
			t.Fatalf("Unmarshal into %T: %v", target, err)
		}
	}
	data[0] = 'X' // the results must not alias data
	if gotS != "payload" || string(gotB) != "payload" || string(gotA.([]byte)) != "payload" || gotT != "payload" || string(gotBlob) != "payload" {
		t.Errorf("Unmarshal results = %q %q %q %q %q, want \"payload\" each", gotS, gotB, gotA, gotT, gotBlob)
	}
	var n int
	for _, target := range []any{&n, nil, (*string)(nil), gotS} {
		if err := codec.Raw.Unmarshal(data, target); err == nil || !strings.Contains(err.Error(), "raw codec") {
			t.Errorf("Unmarshal into %T error = %v, want an error about the raw codec", target, err)
		}
	}
}

func TestGobRejectsTrailingData(t *testing.T) {
	data, err := codec.Gob.Marshal(7)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := codec.Gob.Unmarshal(append(data, 0), &n); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("Unmarshal with a trailing byte: error = %v, want a trailing data error", err)
	}
}

func TestRegistry(t *testing.T) {
	for _, name := range []string{"json", "gob", "raw"} {
		if _, err := codec.Lookup(name); err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
		}
	}
	c, _ := codec.Lookup("json")
	if c != codec.JSON {
		t.Errorf("Lookup(json) = %#v, want codec.JSON", c)
	}

	_, err := codec.Lookup("msgpack")
	if err == nil {
		t.Fatal("Lookup(msgpack) succeeded, want an error")
	}
	for _, want := range []string{`"msgpack"`, "json", "gob", "raw", "codec.Register"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(msgpack) error %q does not mention %s", err, want)
		}
	}

	codec.Register("test-registry", codec.JSON)
	if got, err := codec.Lookup("test-registry"); err != nil || got != codec.JSON {
		t.Errorf("Lookup(test-registry) = %v, %v; want codec.JSON, nil", got, err)
	}
	names := codec.Codecs()
	if !slices.IsSorted(names) {
		t.Errorf("Codecs() = %v, want a sorted list", names)
	}
	for _, want := range []string{"gob", "json", "raw", "test-registry"} {
		if !slices.Contains(names, want) {
			t.Errorf("Codecs() = %v, want %q among them", names, want)
		}
	}

	for _, tc := range []struct {
		name  string
		codec codec.Codec
		want  string
	}{
		{"json", codec.Gob, "twice"},
		{"test-registry", codec.Gob, "twice"},
		{"", codec.Gob, "empty name"},
		{"test-nil", nil, "nil codec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tc.want) {
					t.Errorf("Register(%q) panicked with %v, want a panic mentioning %q", tc.name, r, tc.want)
				}
			}()
			codec.Register(tc.name, tc.codec)
		})
	}
}
