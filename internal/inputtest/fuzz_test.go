package inputtest

import (
	"path/filepath"
	"strings"
	"testing"
)

// marker is planted in every secret the fuzz target writes; no two of its bytes in a row may show.
const marker = "Z9QK7W"

// notMarker drops the marker's characters from the parts of a URL that are not secret, so that
// whatever shows of them cannot be mistaken for a piece of the secret.
func notMarker(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(marker, r) {
			return -1
		}
		return r
	}, s)
}

// secretNames are the ways the fuzz target spells a secret parameter: plain, in upper case, with an
// escaped letter, and with an escaped "=" that makes the value part of the name.
var secretNames = []string{"secret=", "password=", "tls_key=", "SECRET=", "secr%65t=", "Password=", "secret%3D", "tls_key%3d"}

// FuzzSetupHidesSecrets builds setup URLs with a secret planted as the password, as the value of a
// secret parameter, or both, amid arbitrary text, on every scheme, and checks that neither the error
// of Setup nor the backend's name shows any two bytes of it in a row.
func FuzzSetupHidesSecrets(f *testing.F) {
	f.Add(uint8(0), uint8(0), "u", "hun@", "%zz", "", "")
	f.Add(uint8(1), uint8(1), "", "", "%ok", "copy=true", "")
	f.Add(uint8(2), uint8(2), "user", "a/", "?b", "timeout=1s", "&x=1")
	f.Add(uint8(3), uint8(3), "u", "", "", "tls_cert=c.pem", "")
	f.Add(uint8(0), uint8(4), "u", "#", ";", "size=1", "#frag")
	f.Add(uint8(1), uint8(6), "", "", "", "", "")
	f.Add(uint8(2), uint8(9), "", "99/", "", "", "")
	f.Add(uint8(3), uint8(13), "", "", "", "", "")
	root := f.TempDir() // shared, so that a disk URL opens the same directory again
	// The directory the disk URLs name, made with one shard, so that opening it again is quick.
	if _, name := setupError(f, "disk://"+filepath.ToSlash(root)+"/d?shards=1", root); name == "" {
		f.Fatal("cannot set up the disk directory of the fuzz target")
	}
	f.Fuzz(func(t *testing.T, scheme, shape uint8, user, before, after, query, tail string) {
		secret := before + marker + after
		user, query, tail = notMarker(user), notMarker(query), notMarker(tail)
		schemes := []string{"mem", "disk", "redis", "rediss"}
		sch := schemes[int(scheme)%len(schemes)]
		host := map[string]string{"mem": "", "disk": filepath.ToSlash(root) + "/d", "redis": closedAddr + "/0", "rediss": closedAddr + "/0"}[sch]
		name := secretNames[int(shape/4)%len(secretNames)]
		var b strings.Builder
		b.WriteString(sch)
		if shape%8 == 7 {
			b.WriteString(":") // an opaque URL
		} else {
			b.WriteString("://")
		}
		switch shape % 4 {
		case 0: // the password
			b.WriteString(user + ":" + secret + "@" + host + "?" + query)
		case 1: // a parameter after the others
			b.WriteString(host + "?" + query + "&" + name + strings.ReplaceAll(secret, "&", "%26"))
		case 2: // a parameter before the others
			b.WriteString(host + "?" + name + strings.ReplaceAll(secret, "&", "%26") + "&" + query)
		case 3: // both
			b.WriteString(user + ":" + secret + "@" + host + "?" + query + "&" + name + strings.ReplaceAll(secret, "&", "%26"))
		}
		b.WriteString(tail)
		raw := b.String()
		errText, backendName := setupError(t, raw, root)
		for i := 0; i+2 <= len(marker); i++ {
			piece := marker[i : i+2]
			if strings.Contains(errText, piece) || strings.Contains(backendName, piece) {
				t.Fatalf("Setup(%q):\nerror %q\nbackend name %q\nshow %q, a piece of the secret %q", raw, errText, backendName, piece, secret)
			}
		}
	})
}
