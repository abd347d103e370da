package inputtest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/keytemplate"
)

var jwtKey = []byte("server key")

func init() {
	keytemplate.RegisterJWT(verifyHS256)
}

// verifyHS256 accepts HS256 tokens signed with jwtKey, and nothing else.
func verifyHS256(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed token")
	}
	var header struct{ Alg string }
	if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(h, &header) != nil || header.Alg != "HS256" {
		return nil, errors.New("want alg HS256")
	}
	mac := hmac.New(sha256.New, jwtKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if sig, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errors.New("bad signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(payload, &claims)
}

func token(alg string, payload string, key []byte) string {
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"`+alg+`"}`)) + "." + enc.EncodeToString([]byte(payload))
	if key == nil {
		return unsigned + "."
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// TestForgedJWTReadsNothing caches alice's private data under a key rendered from her token's sub
// claim, then calls with forged tokens that claim sub=alice: each call fails, and none is served
// alice's entry.
func TestForgedJWTReadsNothing(t *testing.T) {
	ctx := context.Background()
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	private := cashews.MustWrap(c, func(ctx context.Context, authorization string) (string, error) {
		runs.Add(1)
		claims, err := verifyHS256(strings.TrimPrefix(authorization, "Bearer "))
		if err != nil {
			return "", err
		}
		return "private data of " + claims["sub"].(string), nil
	}, cashews.TTL(time.Hour), cashews.Key("private:{.:jwt(sub)}"))

	alice := token("HS256", `{"sub":"alice"}`, jwtKey)
	if v, err := private(ctx, "Bearer "+alice); err != nil || v != "private data of alice" {
		t.Fatalf("alice's call = %q, %v", v, err)
	}
	for name, forged := range map[string]string{
		"alg none":         token("none", `{"sub":"alice"}`, nil),
		"another key":      token("HS256", `{"sub":"alice"}`, []byte("forger")),
		"payload swapped":  strings.Split(token("HS256", `{"sub":"mallory"}`, jwtKey), ".")[0] + "." + strings.Split(alice, ".")[1] + "." + strings.Split(token("HS256", `{"sub":"mallory"}`, jwtKey), ".")[2],
		"no signature":     strings.Join(strings.Split(alice, ".")[:2], ".") + ".",
		"not a token":      "alice",
		"sub in the clear": `{"sub":"alice"}`,
	} {
		v, err := private(ctx, "Bearer "+forged)
		if err == nil || strings.Contains(v, "alice") {
			t.Errorf("%s: call with a forged token = %q, %v; want an error and nothing of alice's", name, v, err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the wrapped function ran %d times; want 1 (alice's call; forged tokens fail before the cache)", n)
	}
}
