package tasks

// rng is a splitmix64 generator. It is written out here, not taken from
// math/rand, so that a seed gives the same data in every Go release.
type rng struct{ s uint64 }

func newRNG(key uint64) *rng { return &rng{s: key} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return fmix(r.s)
}

// fmix is the splitmix64 finaliser, a bijection of uint64.
func fmix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// hashKey folds words into one 64-bit key.
func hashKey(words ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc908)
	for _, w := range words {
		h = fmix(h ^ fmix(w+0x9e3779b97f4a7c15))
	}
	return h
}

// intn returns a value in [0, n); the modulo bias is below 2^-40 for the
// small n used here.
func (r *rng) intn(n int) int {
	if n <= 0 {
		panic("tasks: intn of a non-positive bound")
	}
	return int((r.next() >> 11) % uint64(n))
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// perm returns a random permutation of 0..n-1.
func (r *rng) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// pick returns one element of xs.
func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// sample returns k distinct elements of xs in random order.
func sample[T any](r *rng, xs []T, k int) []T {
	p := r.perm(len(xs))
	out := make([]T, k)
	for i := range out {
		out[i] = xs[p[i]]
	}
	return out
}
