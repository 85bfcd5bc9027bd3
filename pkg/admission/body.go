package admission

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// errBodyTooLarge is a body over maxBody.
var errBodyTooLarge = errors.New("request body larger than maxBody")

// readBody reads the request body into b, sized once from Content-Length
// when the client sends it (the API server does).
func readBody(r *http.Request, b []byte) ([]byte, error) {
	if n := r.ContentLength; n > maxBody {
		return nil, errBodyTooLarge
	} else if n >= 0 && int64(cap(b)) <= n {
		b = make([]byte, 0, n+1) // +1: the read that finds the end needs room
	}
	lr := io.LimitedReader{R: r.Body, N: maxBody + 1}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case len(b) > maxBody:
			return nil, errBodyTooLarge
		case errors.Is(err, io.EOF):
			return b, nil
		case err != nil:
			return nil, err
		}
	}
}

// buffers recycles the buffers that hold a request body and then the
// answer: nothing decoded from a body points into it.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooled bounds what goes back to the pool, so that one large object
// does not stay in memory for good.
const maxPooled = 64 << 10

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooled {
		*b = (*b)[:0]
		buffers.Put(b)
	}
}
