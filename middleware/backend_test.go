package middleware

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/cashews-go/cashews"
	_ "github.com/cashews-go/cashews/backends/redis"
	"github.com/cashews-go/cashews/internal/redistest"
)

// A failing cache backend never fails a request: a value that does not decode, a frozen Redis and a
// dead one all send the request to the handler, and unsafe methods still succeed.
func TestFailingBackendServesFromOrigin(t *testing.T) {
	rs := redistest.Start(t)
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.Setup(rs.URL()); err != nil {
		t.Fatal(err)
	}
	o := headersHandler("Cache-Control", "max-age=60")
	srv := serve(t, c, o)
	u, _ := url.Parse(srv.URL)

	get(t, srv.URL+"/a").want(t, 200, "v01")
	get(t, srv.URL+"/a").want(t, 200, "v01")

	// A value no codec of ours wrote: the read fails, the handler answers, the value is replaced.
	rs.MustDo("SET", "http:/a "+u.Host+"?", "not an entry")
	get(t, srv.URL+"/a").want(t, 200, "v02")
	get(t, srv.URL+"/a").want(t, 200, "v02")

	rs.Freeze() // every command runs into its deadline
	get(t, srv.URL+"/b").want(t, 200, "v03")
	get(t, srv.URL+"/b").want(t, 200, "v04")
	do(t, http.MethodPost, srv.URL+"/b").want(t, 200, "v05")
	rs.Thaw()

	rs.Kill() // connections refused
	get(t, srv.URL+"/a").want(t, 200, "v06")
	get(t, srv.URL+"/a").want(t, 200, "v07")
	do(t, http.MethodHead, srv.URL+"/a").want(t, 200, "")
	do(t, http.MethodDelete, srv.URL+"/a").want(t, 200, "v09")
	wantCalls(t, o, 9)
}
