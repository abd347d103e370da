package keytemplate

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cashews-go/cashews/internal/quote"
)

// A SyntaxError reports a template that is not well formed. Pos is the byte offset in Template of
// the first character that is wrong, or of the "{" that opens a placeholder that is never closed.
type SyntaxError struct {
	Template string // the template source
	Pos      int    // byte offset of the error in Template
	Msg      string // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("keytemplate: %s at %d: %s", quote.String(e.Template), e.Pos, e.Msg)
}

// sourceKind says what a placeholder renders before its formatters run.
type sourceKind uint8

const (
	sourceField   sourceKind = iota // {User.Name} or {.User.Name}: a path from the argument
	sourceDot                       // {.}: the argument itself
	sourceStar                      // {*}: the whole argument in the default-key encoding
	sourceContext                   // {@name}: a value set with WithValue
)

// A node is one piece of a parsed template: literal text or a placeholder.
type node struct {
	pos    int        // byte offset in the source
	isText bool       // literal text, with "{{" and "}}" already unescaped
	text   string     // the text, or the name of a context value
	kind   sourceKind // placeholders only
	dot    bool       // the path was written with a leading dot, as in {.User.Name}
	path   []string   // sourceField: the segments of the path
	calls  []call     // formatters, in the order they apply
}

// A call is one formatter in a placeholder, as in "hash(sha256)".
type call struct {
	pos    int // byte offset of the name in the source
	name   string
	arg    string
	hasArg bool // the formatter was written with parentheses, possibly empty
}

// placeholder returns the source of a placeholder node without its braces, in canonical form.
func (n *node) placeholder() string {
	var b strings.Builder
	switch n.kind {
	case sourceField:
		if n.dot {
			b.WriteByte('.')
		}
		b.WriteString(strings.Join(n.path, "."))
	case sourceDot:
		b.WriteByte('.')
	case sourceStar:
		b.WriteByte('*')
	case sourceContext:
		b.WriteByte('@')
		b.WriteString(n.text)
	}
	for _, c := range n.calls {
		b.WriteByte(':')
		b.WriteString(c.name)
		if c.hasArg {
			b.WriteByte('(')
			b.WriteString(c.arg)
			b.WriteByte(')')
		}
	}
	return b.String()
}

// formatNodes writes the nodes back as template source. For a template that parsed, it returns the
// source unchanged.
func formatNodes(nodes []node) string {
	var b strings.Builder
	for i := range nodes {
		n := &nodes[i]
		if n.isText {
			b.WriteString(quoteLiteral(n.text))
			continue
		}
		b.WriteByte('{')
		b.WriteString(n.placeholder())
		b.WriteByte('}')
	}
	return b.String()
}

// quoteLiteral returns s as template text that renders as s.
func quoteLiteral(s string) string {
	if !strings.ContainsAny(s, "{}") {
		return s
	}
	s = strings.ReplaceAll(s, "{", "{{")
	return strings.ReplaceAll(s, "}", "}}")
}

// parse splits a template into literal text and placeholders.
func parse(src string) ([]node, error) {
	var (
		nodes   []node
		text    strings.Builder
		textPos int
	)
	flush := func() {
		if text.Len() > 0 {
			nodes = append(nodes, node{pos: textPos, isText: true, text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c != '{' && c != '}' {
			j := strings.IndexAny(src[i:], "{}")
			if j < 0 {
				j = len(src) - i
			}
			if text.Len() == 0 {
				textPos = i
			}
			text.WriteString(src[i : i+j])
			i += j
			continue
		}
		if i+1 < len(src) && src[i+1] == c { // "{{" or "}}"
			if text.Len() == 0 {
				textPos = i
			}
			text.WriteByte(c)
			i += 2
			continue
		}
		if c == '}' {
			return nil, &SyntaxError{src, i, `unexpected "}" (write "}}" for a literal brace)`}
		}
		end := strings.IndexByte(src[i+1:], '}')
		if end < 0 {
			return nil, &SyntaxError{src, i, `unclosed "{"`}
		}
		end += i + 1
		flush()
		n, err := parsePlaceholder(src, i, end)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		i = end + 1
	}
	flush()
	return nodes, nil
}

// parsePlaceholder parses src[open+1:close], the inside of the braces at open and close.
func parsePlaceholder(src string, open, close int) (node, error) {
	n := node{pos: open}
	p := placeholderParser{src: src, pos: open + 1, end: close}
	switch {
	case p.pos == close:
		return n, p.errorf(open, "empty placeholder")
	case src[p.pos] == '@':
		n.kind = sourceContext
		p.pos++
		start := p.pos
		n.text = p.name(isNameRune)
		if n.text == "" {
			return n, p.unexpected(start, "context value name")
		}
	case src[p.pos] == '*':
		n.kind = sourceStar
		p.pos++
	case src[p.pos] == '.' && (p.pos+1 == close || src[p.pos+1] == ':'):
		n.kind = sourceDot
		p.pos++
	default:
		n.kind = sourceField
		if src[p.pos] == '.' {
			n.dot = true
			p.pos++
		}
		for {
			start := p.pos
			seg := p.name(isNameRune)
			if seg == "" {
				return n, p.unexpected(start, "field name")
			}
			n.path = append(n.path, seg)
			if p.pos == close || src[p.pos] != '.' {
				break
			}
			p.pos++
		}
	}
	for p.pos < close {
		if src[p.pos] != ':' {
			return n, p.unexpected(p.pos, `":" or "}"`)
		}
		p.pos++
		c := call{pos: p.pos}
		c.name = p.name(isFormatterRune)
		if c.name == "" {
			return n, p.unexpected(c.pos, "formatter name")
		}
		if p.pos < close && src[p.pos] == '(' {
			lparen := p.pos
			rparen := strings.IndexByte(src[lparen:close], ')')
			if rparen < 0 {
				return n, p.errorf(lparen, `unclosed "("`)
			}
			rparen += lparen
			c.arg, c.hasArg = src[lparen+1:rparen], true
			if i := strings.IndexAny(c.arg, "({"); i >= 0 {
				return n, p.errorf(lparen+1+i, "unexpected %q in formatter argument", c.arg[i])
			}
			p.pos = rparen + 1
		}
		n.calls = append(n.calls, c)
	}
	return n, nil
}

type placeholderParser struct {
	src      string
	pos, end int // the next byte to read, and the closing brace
}

// name reads the longest run of runes accepted by ok.
func (p *placeholderParser) name(ok func(rune) bool) string {
	start := p.pos
	for p.pos < p.end {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:p.end])
		if r == utf8.RuneError && size <= 1 || !ok(r) {
			break
		}
		p.pos += size
	}
	return p.src[start:p.pos]
}

// unexpected reports what is at pos when want was expected there.
func (p *placeholderParser) unexpected(pos int, want string) error {
	if pos == p.end {
		return p.errorf(pos, "missing %s before \"}\"", want)
	}
	r, size := utf8.DecodeRuneInString(p.src[pos:p.end])
	if r == utf8.RuneError && size <= 1 {
		return p.errorf(pos, "invalid UTF-8 in placeholder")
	}
	return p.errorf(pos, "unexpected %q in placeholder, want %s", r, want)
}

func (p *placeholderParser) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Template: p.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// isNameRune reports whether r may appear in a field name, map key or context value name.
func isNameRune(r rune) bool {
	return r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isFormatterRune reports whether r may appear in a formatter name.
func isFormatterRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
