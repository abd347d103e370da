package codec

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"math"
	"sync"
)

// Compression algorithms, as stored in the low bits of the flags byte.
const (
	compNone byte = 0
	compGzip byte = 1
	compZlib byte = 2
)

// maxPooledBuffer is the largest buffer capacity put back into bufPool: one large value must not pin
// its buffer for the life of the program.
const maxPooledBuffer = 1 << 20

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		bufPool.Put(b)
	}
}

// level is the compression level of both algorithms. At level 1 (BestSpeed) cached data such as
// JSON compresses almost as well as at the default level 6 (a 4 KiB JSON list: 489 bytes against
// 480) for about a third of the CPU time, and the level-1 compressor resets cheaply, whereas the
// default one clears several hundred KiB of hash tables on every Reset. Decompression costs the
// same at every level.
const level = gzip.BestSpeed

// Writers and readers are pooled: a flate compressor holds several hundred KiB of state and a
// decompressor tens of KiB, far more than most cached values.
var (
	gzipWriters = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, level); return w }}
	zlibWriters = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, level); return w }}
	gzipReaders = sync.Pool{New: func() any { return new(gzipReader) }}
	zlibReaders = sync.Pool{New: func() any { return new(zlibReader) }}
)

type gzipReader struct {
	src bytes.Reader
	zr  gzip.Reader
}

type zlibReader struct {
	src bytes.Reader
	zr  io.ReadCloser // nil until a first zlib.NewReader succeeds
}

// compress compresses payload with alg into a new slice that starts with hdr reserved bytes. It
// returns nil if the compressed form would not be smaller than payload: storing it would cost space
// and a decompression on every read for nothing.
func compress(alg byte, hdr int, payload []byte) ([]byte, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	var err error
	switch alg {
	case compGzip:
		w := gzipWriters.Get().(*gzip.Writer)
		w.Reset(buf)
		err = writeAndClose(w, payload)
		gzipWriters.Put(w)
	case compZlib:
		w := zlibWriters.Get().(*zlib.Writer)
		w.Reset(buf)
		err = writeAndClose(w, payload)
		zlibWriters.Put(w)
	}
	if err != nil {
		return nil, fmt.Errorf("cashews: compress: %w", err)
	}
	if buf.Len() >= len(payload) {
		return nil, nil
	}
	out := make([]byte, hdr+buf.Len())
	copy(out[hdr:], buf.Bytes())
	return out, nil
}

func writeAndClose(w io.WriteCloser, p []byte) error {
	if _, err := w.Write(p); err != nil {
		return err
	}
	return w.Close()
}

// decompress decompresses payload into a pooled buffer and returns it with the decompressed bytes.
// It reads at most maxSize bytes of output: more is an error wrapping ErrTooLarge, so a
// decompression bomb costs at most about twice maxSize bytes of memory. The caller puts the buffer
// back with putOutput once it no longer needs the bytes.
func decompress(alg byte, payload []byte, maxSize int64) (*[]byte, []byte, error) {
	limit := maxSize
	if limit < math.MaxInt64 {
		limit++ // one byte more than allowed tells "exactly maxSize" from "more"
	}
	buf := outputPool.Get().(*[]byte)
	out := (*buf)[:0]
	var err error
	switch alg {
	case compGzip:
		r := gzipReaders.Get().(*gzipReader)
		r.src.Reset(payload)
		if err = r.zr.Reset(&r.src); err == nil {
			out, err = readAll(&r.zr, out, limit)
		}
		r.src.Reset(nil)
		gzipReaders.Put(r)
	case compZlib:
		r := zlibReaders.Get().(*zlibReader)
		r.src.Reset(payload)
		if r.zr == nil {
			r.zr, err = zlib.NewReader(&r.src)
		} else {
			err = r.zr.(zlib.Resetter).Reset(&r.src, nil)
		}
		if err == nil {
			out, err = readAll(r.zr, out, limit)
			// The zlib reader stops at the end of its stream and ignores what follows; the
			// decompressor reads the source byte by byte (it is an io.ByteReader), so anything
			// left in it is trailing garbage.
			if err == nil && r.src.Len() != 0 && int64(len(out)) <= maxSize {
				err = fmt.Errorf("zlib: %d bytes of trailing data", r.src.Len())
			}
		}
		r.src.Reset(nil)
		zlibReaders.Put(r)
	default:
		err = fmt.Errorf("unknown compression algorithm %d", alg)
	}
	*buf = out
	if err != nil {
		putOutput(buf)
		return nil, nil, fmt.Errorf("%w: corrupt compressed data: %w", ErrFormat, err)
	}
	if int64(len(out)) > maxSize {
		putOutput(buf)
		return nil, nil, fmt.Errorf("%w: decompressed payload exceeds the maximum of %d bytes", ErrTooLarge, maxSize)
	}
	return buf, out, nil
}

// readAll appends what r yields to buf until io.EOF or until buf holds limit bytes. It grows buf
// by doubling, never beyond limit, so reading n bytes allocates less than 2n.
func readAll(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= limit {
				return buf, nil
			}
			n := int64(max(2*cap(buf), 4096))
			if n > limit/2 {
				n = limit // rather than stop just short of it and copy everything once more
			}
			grown := make([]byte, len(buf), n)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var outputPool = sync.Pool{New: func() any { return new([]byte) }}

func putOutput(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		outputPool.Put(b)
	}
}
