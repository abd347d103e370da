package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/internal/redistest"
)

// get sends a request and returns the response with its body.
func send(t *testing.T, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// exercise runs the README's walk through the API on a service caching in cacheURL: a miss, a hit
// from cache, an update that invalidates, a miss again, a user that does not exist (twice), and
// then checks /metrics.
func exercise(t *testing.T, cacheURL, backend string) {
	svc, err := newService(cacheURL, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(svc)
	defer srv.Close()

	steps := []struct {
		method, path, body string
		status             int
		wantBody           string
		fromCache          string
	}{
		{"GET", "/users/1", "", 200, `{"id":1,"name":"Ann"}`, ""},
		{"GET", "/users/1", "", 200, `{"id":1,"name":"Ann"}`, "user:1"},
		{"POST", "/users/1", `{"name":"Anna"}`, 200, `{"id":1,"name":"Anna"}`, ""},
		{"GET", "/users/1", "", 200, `{"id":1,"name":"Anna"}`, ""},
		{"GET", "/users/1", "", 200, `{"id":1,"name":"Anna"}`, "user:1"},
		{"GET", "/users/9", "", 404, "no such user: cashews: not found", ""},
		{"GET", "/users/9", "", 404, "no such user: cashews: not found", "user:9"},
	}
	for i, s := range steps {
		resp, body := send(t, s.method, srv.URL+s.path, s.body)
		if resp.StatusCode != s.status || strings.TrimSpace(body) != s.wantBody || resp.Header.Get("X-From-Cache") != s.fromCache {
			t.Fatalf("step %d, %s %s: %d %q, X-From-Cache %q; want %d %q, %q", i+1, s.method, s.path,
				resp.StatusCode, body, resp.Header.Get("X-From-Cache"), s.status, s.wantBody, s.fromCache)
		}
	}

	_, metrics := send(t, "GET", srv.URL+"/metrics", "")
	for _, want := range []string{
		`cashews_function_calls_total{function="getUser"} 6`,
		`cashews_function_hits_total{function="getUser"} 3`,
		`cashews_function_misses_total{function="getUser"} 3`,
		`cashews_function_loads_total{function="getUser"} 3`,
		`cashews_function_load_duration_seconds_count{function="getUser"} 3`,
		`cashews_backend_hits_total{backend="` + backend + `",prefix=""} 3`,
		`cashews_backend_misses_total{backend="` + backend + `",prefix=""} 3`,
		`cashews_backend_sets_total{backend="` + backend + `",prefix=""} 3`,
		`cashews_backend_deletes_total{backend="` + backend + `",prefix=""} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", want, grepCashews(metrics))
		}
	}
}

func grepCashews(metrics string) string {
	var out []string
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "cashews_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestServiceOnMemory(t *testing.T) {
	exercise(t, "mem://?size=10000", "mem://?size=10000")
}

func TestServiceOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	exercise(t, srv.URL(), srv.URL())
}
