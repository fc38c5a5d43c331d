package kernels

// Scratch buffers for packing. They are kept in small free lists (buffered
// channels) rather than a sync.Pool, which the garbage collector empties at
// every cycle: a training loop that allocates would otherwise re-allocate
// and zero its GEMM scratch after each collection. A list holds a few
// buffers; a buffer too small for a request is dropped and replaced.

var bufFree = make(chan []float32, 16)

// bufKeepMax is the largest buffer (in floats) a free list keeps.
const bufKeepMax = 4 << 20

func getBuf(n int) []float32 {
	select {
	case b := <-bufFree:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]float32, n)
}

func putBuf(b []float32) {
	if cap(b) > bufKeepMax {
		return
	}
	select {
	case bufFree <- b[:cap(b)]:
	default:
	}
}
