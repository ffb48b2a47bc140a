package config

import (
	"fmt"
	"io"
	"os"
)

// Limits on a config file, checked before any parser sees it: the YAML,
// TOML and JSON parsers and the code after them recurse once per nesting
// level, and TOML's time and memory grow with the square of the depth
// (8,000 nested inline tables in 32 KB took minutes and gigabytes;
// 10 MB of "[" overflowed the stack).
const (
	// MaxFileSize is the largest config file read: 50,000 feeds with
	// headers fit in well under this.
	MaxFileSize = 1 << 20
	// MaxDepth bounds nesting: brackets, braces, YAML indentation levels
	// and TOML dotted keys. A real config nests 5 or 6 levels deep.
	MaxDepth = 64
)

// readLimited reads at most MaxFileSize bytes of path; a longer file is a
// problem naming it, not a read of gigabytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return data, nil
}

// checkLimits reports a file too large or nested too deeply to parse.
func checkLimits(f format, data []byte) Problems {
	if len(data) > MaxFileSize {
		return Problems{{Msg: fmt.Sprintf("the file is larger than %d MB, the most a config may be", MaxFileSize>>20)}}
	}
	if line := tooDeep(f, data, MaxDepth); line > 0 {
		return Problems{{Line: line, Msg: fmt.Sprintf("nested more than %d levels deep (brackets, braces, indentation or dotted keys)", MaxDepth)}}
	}
	return nil
}

// tooDeep scans data without parsing it and returns the line where its
// nesting first exceeds limit, or 0. It knows just enough of each syntax
// (strings, comments, YAML block scalars, TOML keys) to count only the
// structure: a bracket inside a string does not nest. It errs on the side
// of passing: whatever it misreads, the parser still sees a document whose
// visible structure is within the limit.
func tooDeep(f format, data []byte, limit int) int {
	s := scanner{f: f, data: data, line: 1, limit: limit, lineStart: true}
	return s.run()
}

type frame struct {
	open byte
	dots int // TOML dotted-key levels of the key this bracket is the value of
}

type scanner struct {
	f         format
	data      []byte
	i, line   int
	limit     int
	stack     []frame
	nest      int // len(stack) plus the dots of every frame
	keyDots   int // TOML: dots of the key being read
	inKey     bool
	lineStart bool
	indents   []int // YAML block indentation levels
	block     int   // YAML: indentation of the key owning a block scalar, -1 none
}

func (s *scanner) deep(extra int) bool { return s.nest+extra+len(s.indents) > s.limit }

func (s *scanner) run() int {
	s.block = -1
	s.inKey = s.f == formatTOML
	for s.i < len(s.data) {
		if s.lineStart {
			s.lineStart = false
			if s.startLine() {
				return s.line
			}
			continue
		}
		c := s.data[s.i]
		switch {
		case c == '\n':
			s.line++
			s.lineStart = true
			if s.f == formatTOML && len(s.stack) == 0 {
				s.inKey, s.keyDots = true, 0
			}
			s.i++
		case c == '"':
			s.skipString('"', true)
		case c == '\'' && s.f != formatJSON && s.quoteStarts():
			s.skipString('\'', false)
		case c == '#' && s.f != formatJSON && s.commentStarts():
			s.skipLine()
		case c == '[' || c == '{':
			s.stack = append(s.stack, frame{open: c, dots: s.keyDots})
			s.nest += 1 + s.keyDots
			s.keyDots = 0
			s.inKey = s.f == formatTOML && c == '{'
			if s.deep(0) {
				return s.line
			}
			s.i++
		case c == ']' || c == '}':
			if n := len(s.stack); n > 0 {
				s.nest -= 1 + s.stack[n-1].dots
				s.stack = s.stack[:n-1]
			}
			s.keyDots, s.inKey = 0, false
			s.i++
		case c == ',':
			s.keyDots = 0
			s.inKey = s.f == formatTOML && len(s.stack) > 0 && s.stack[len(s.stack)-1].open == '{'
			s.i++
		case c == '=' && s.f == formatTOML:
			s.inKey = false
			s.i++
		case c == '.' && s.inKey:
			s.keyDots++
			if s.deep(s.keyDots) {
				return s.line
			}
			s.i++
		default:
			s.i++
		}
	}
	return 0
}

// startLine handles what only a line's start tells: TOML table headers,
// YAML indentation, block scalars and "- - -" chains. It reports whether
// the limit is exceeded.
func (s *scanner) startLine() bool {
	col := 0
	for s.i+col < len(s.data) && s.data[s.i+col] == ' ' {
		col++
	}
	rest := s.data[s.i+col:]
	blank := len(rest) == 0 || rest[0] == '\n' || rest[0] == '\r' || rest[0] == '#'
	switch s.f {
	case formatTOML:
		if len(s.stack) == 0 && len(rest) > 0 && rest[0] == '[' {
			// A table header: [a.b.c] or [[a.b]] nests by its dots.
			dots := 0
			for _, c := range rest {
				if c == '\n' || c == '#' {
					break
				}
				if c == '.' {
					dots++
				}
			}
			if s.deep(dots + 1) {
				return true
			}
			s.skipLine()
			return false
		}
	case formatYAML:
		if s.block >= 0 {
			if blank || col > s.block {
				s.skipLine() // block scalar content: text, not structure
				return false
			}
			s.block = -1
		}
		if blank || len(s.stack) > 0 {
			return false
		}
		for len(s.indents) > 0 && s.indents[len(s.indents)-1] >= col {
			s.indents = s.indents[:len(s.indents)-1]
		}
		s.indents = append(s.indents, col)
		// "- - - x" nests one sequence per dash.
		for p := s.i + col; p+1 < len(s.data) && s.data[p] == '-' && s.data[p+1] == ' '; {
			for p += 2; p < len(s.data) && s.data[p] == ' '; p++ {
			}
			s.indents = append(s.indents, p-s.i)
			if s.deep(0) {
				return true
			}
		}
		if s.deep(0) {
			return true
		}
		if blockScalar(rest) {
			s.block = col
		}
	}
	s.i += col
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// blockScalar reports a YAML line whose value starts a block scalar
// ("key: |", "- >-"): the lines under it are text.
func blockScalar(line []byte) bool {
	end := len(line)
	for i, c := range line {
		if c == '\n' {
			end = i
			break
		}
		if c == '#' && i > 0 && line[i-1] == ' ' {
			end = i
			break
		}
	}
	l := line[:end]
	for len(l) > 0 && (l[len(l)-1] == ' ' || l[len(l)-1] == '\r') {
		l = l[:len(l)-1]
	}
	for len(l) > 0 && (l[len(l)-1] == '-' || l[len(l)-1] == '+' || l[len(l)-1] >= '0' && l[len(l)-1] <= '9') {
		l = l[:len(l)-1]
	}
	if len(l) == 0 || (l[len(l)-1] != '|' && l[len(l)-1] != '>') {
		return false
	}
	return len(l) == 1 || l[len(l)-2] == ' '
}

// quoteStarts reports whether a ' at s.i opens a string: always in TOML;
// in YAML only where a scalar starts (don't in a plain scalar is text).
func (s *scanner) quoteStarts() bool {
	if s.f == formatTOML || s.i == 0 {
		return true
	}
	switch s.data[s.i-1] {
	case ' ', '\t', '\n', ':', '-', '[', '{', ',':
		return true
	}
	return false
}

// commentStarts reports whether a # at s.i starts a comment: always in
// TOML (outside strings); in YAML only after a space or at a line start.
func (s *scanner) commentStarts() bool {
	if s.f == formatTOML || s.i == 0 {
		return true
	}
	c := s.data[s.i-1]
	return c == ' ' || c == '\t' || c == '\n'
}

// skipString moves past a string opened at s.i, counting its lines.
func (s *scanner) skipString(q byte, escapes bool) {
	for s.i++; s.i < len(s.data); s.i++ {
		switch c := s.data[s.i]; {
		case c == '\\' && escapes:
			if s.i+1 < len(s.data) && s.data[s.i+1] == '\n' {
				s.line++
			}
			s.i++
		case c == '\n':
			s.line++
		case c == q:
			s.i++
			return
		}
	}
}

func (s *scanner) skipLine() {
	for s.i < len(s.data) && s.data[s.i] != '\n' {
		s.i++
	}
}
