package fetch

import (
	"bufio"
	"io"
)

type peekReader struct{ *bufio.Reader }

func newPeekReader(r io.Reader) peekReader { return peekReader{bufio.NewReaderSize(r, 512)} }

// isZlib reports whether the stream starts with a zlib header (CMF/FLG with
// deflate method and a valid check value).
func (p peekReader) isZlib() bool {
	b, err := p.Peek(2)
	if err != nil {
		return false
	}
	return b[0]&0x0F == 8 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}
