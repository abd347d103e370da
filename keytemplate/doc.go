/*
Package keytemplate builds cache keys from templates over the argument of a function, such as
"user:{ID}:{Lang:lower}" over a struct with the fields ID and Lang.

A template is compiled once for its argument type with [Compile], which resolves every field to an
offset and every formatter to a function, so errors show up when a function is wrapped and not on
its first call. [Template.Render] then renders a key for each call without looking anything up by
name:

	t, err := keytemplate.Compile[Query]("user:{ID}:{Lang:lower}")
	...
	key, err := t.Render(ctx, Query{ID: 42, Lang: "EN"}) // "user:42:en"

[Default] gives the key used when no template is given: the function's name and every exported
field of the argument, in an encoding that never gives two different arguments the same key.

# Templates

A template is literal text with placeholders in braces. "{{" and "}}" stand for literal braces. A
placeholder names a value, then optionally formatters, each after a colon:

	{ID}                     the field ID of the argument
	{User.Profile.Name}      a field of a field; pointers on the way are followed
	{.User.Name}             the same as {User.Name}, spelled as in text/template
	{Params.lang}            the key "lang" of a map with string keys, such as map[string]string
	{.}                      the argument itself, for scalar arguments such as an int or a time.Time
	{*}                      the whole argument in the default-key encoding (see Default keys)
	{@client_id}             the value set with WithValue(ctx, "client_id", ...)
	{Email:lower:hash(md5)}  formatters, applied from left to right

Field names, map keys and context value names are made of letters, digits, "_" and "-". A field must
be exported; fields of embedded structs can be named directly, as in Go. When the argument is a map
with string keys, {lang} looks up the key "lang". As in Go, a missing map key yields the zero value
of the element type: "" for a map[string]string.

# Rendering values

Values render as follows, in this order of precedence:

  - A type registered with [RegisterType] renders through its function.
  - A time.Time renders in RFC 3339 with nanoseconds (time.RFC3339Nano), and a time.Duration
    through its String method.
  - A type that implements fmt.Stringer renders through String.
  - A pointer renders as the value it points to.
  - Strings render as they are; integers, floats and complex numbers as by strconv, in the shortest
    form that reads back exactly; bools as true or false.
  - A []byte, or an array of bytes, renders as text when it is valid UTF-8 made of printable
    characters, and otherwise in lower-case hexadecimal without a prefix.
  - Other slices and arrays render their elements joined with ",".
  - Maps render as key=value entries joined with ",", sorted by key: numbers and strings by value,
    other keys by their text.
  - An interface renders its dynamic value.

Structs, functions and channels without a renderer cannot be rendered in templates: name their
fields, or register a renderer. Compile reports them, and a struct met at render time behind an
interface fails the Render call.

A nil pointer or nil interface that a placeholder names, or that lies on the path to the field it
names, fails the Render call with an error that names the field: an absent value is not silently
rendered into a key that other calls would share. Inside a slice or map, a nil pointer renders as
"<nil>".

# Formatters

	lower, upper   change the case of the text, as strings.ToLower and strings.ToUpper do
	len            the number of elements of a slice, array or map, or of bytes in a string or text
	hash(alg)      the hexadecimal digest of the text, with alg one of md5, sha1 and sha256
	jwt(claim)     a claim of the JSON Web Token in the text, from the claims that the verifier given to
	               [RegisterJWT] returns; a leading "Bearer " is ignored; a string claim renders as the
	               string, another claim as its JSON text; a token the verifier rejects or a missing
	               claim fails the Render call; without RegisterJWT, jwt is a compile error
	get(key)       the value of key in a map with string keys, for keys that a path cannot spell

The formatters get and len apply to the value itself; the others to its text, so a value is
rendered as above before them. After a text formatter, len counts bytes and get does not apply.
[RegisterFormatter] adds formatters of one's own.

Why jwt needs a verifier: a wrapped function's key is rendered, and its entry read, before the
function runs. On a hit the function, where a program checks the token, never runs, so a key built
from an unverified token would serve alice's cached data to anyone who sends a forged token with
sub=alice. So tokens are never decoded unverified: the program registers its verifier (the same
check its handlers use), and a rejected token fails the call.

# Formatters that normalise

Formatters that map different values to one text make different arguments share one cache entry:
lower and upper ("Bob" and "BOB"), len (every value of the same length), hash(md5) and hash(sha1)
(whose collisions can be made on purpose; use sha256 for text that callers choose), and any
registered formatter that does so. The first caller's result is then served to the others, which
is only right when the wrapped function's result does not depend on the difference. If it does,
normalise the argument before the call, so that the function computes with the very value the key
names:

	getUser := cashews.MustWrap(c, fetchUser, cashews.TTL(time.Hour), cashews.Key("user:{Email}"))
	u, err := getUser(ctx, Query{Email: strings.ToLower(email)}) // not Key("user:{Email:lower}")

The same holds without formatters for values that render alike (a []byte of non-printable bytes
renders as hex, which a string of hex digits also renders as; elements joined with ","); the
default key (see Default keys) is the one rendering that never merges two arguments.

A formatter that does not exist or does not apply, such as len on an int, and a bad argument, such
as hash(md4), are reported by Compile.

# Context values

{@name} renders a string carried by the context given to Render, set with [WithValue] or
[WithValues], typically by middleware from a request header. A missing value fails the Render call,
because a key without it would be shared by every caller that lacks it; set it to "" for an empty
value. Render calls ctx.Value at most once, whatever the number of context values in the template.

# Default keys

[Default] returns the template name + ":{*}", where {*} writes the argument in an encoding that is
injective: two arguments that differ in what is rendered always give different keys. It reads like
this for a struct with the fields ID and Lang:

	github.com/x/pkg.FetchUser:ID=1,Lang=en

The encoding:

  - A struct writes its exported fields as Name=value, joined with ",", in braces, except for the
    argument itself (also behind pointers). Unexported fields are not part of the key.
  - Strings, the text of renderers and String methods, and []byte escape the characters
    "%,=[]{}<>", control characters and bytes of invalid UTF-8 as "%" and two hexadecimal digits,
    as in URLs, so that they never contain the delimiters of the encoding. Numbers, bools, times and
    durations render as above, and never contain them either.
  - Slices, arrays and maps write each element in brackets: [a][b] and [k=v][k2=v2], so that no
    elements and one empty element differ. A nil slice or map is the same key as an empty one.
  - A nil pointer or interface writes "<nil>". A pointer that points to a pointer or an interface
    writes "&" first, so that a pointer to a nil pointer differs from a nil pointer.
  - An interface writes its dynamic type in angle brackets before the value, as in <int>1, so that
    1 and "1" differ.

The encoding is injective as long as registered renderers and String methods are: values that
render to the same text are the same key. Floats compare by their text, so every NaN is the same
key, and times by instant and offset, not by location. Default fails for a struct that has fields
but no exported ones, whose key would not depend on the argument, and for types that hold functions
or channels.

# Errors

Compile returns a [*SyntaxError] for a template that is not well formed, with the byte position of
the problem; a [*FieldError] for a field that does not exist, is not exported or cannot be rendered,
naming the field and the type; and a [*FormatterError] for a formatter that does not exist or does
not apply. Render returns an [*ExecError] naming the placeholder: for a nil pointer on the way, a
missing context value, a malformed token, or an error returned by a registered formatter, which it
wraps. A registered formatter, renderer or String method that panics fails the call with an error,
as in text/template.

# Performance

Render follows precomputed field offsets from the argument, which stays on the caller's stack.
Rendering strings, numbers, bools, byte slices, slices of these and times, found in fields of
nested structs, behind pointers or in a map[string]string, with the formatters lower, upper, len and
hash, costs one allocation: the key. [Template.AppendRender] appends to the caller's buffer instead,
and then does not allocate at all. Other values (registered types, Stringers, other maps,
interfaces) render through reflection on a copy of the argument, and allocate more.
*/
package keytemplate
