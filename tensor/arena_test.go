package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestSizeClass(t *testing.T) {
	prev := 0
	for n := 1; n < 1<<16; n++ {
		c := sizeClass(n)
		if c < n || c < prev {
			t.Fatalf("sizeClass(%d) = %d (previous %d): below n or not monotone", n, c, prev)
		}
		if n > 8 && float64(c) > 1.25*float64(n) {
			t.Fatalf("sizeClass(%d) = %d: more than 25%% slack", n, c)
		}
		if sizeClass(c) != c {
			t.Fatalf("sizeClass(%d) = %d is not a fixed point", n, c)
		}
		prev = c
	}
}

// poison fills every free buffer with NaN, so that an op that leaves part
// of an unzeroed buffer unwritten shows it in its result.
func (a *Arena) poison() {
	for _, l := range a.free {
		for _, b := range l {
			for i := range b {
				b[i] = float32(math.NaN())
			}
		}
	}
}

type arenaCase struct {
	name string
	ins  []*Tensor
	f    func(x []*Tensor) *Tensor
}

// run returns f's output and every input's gradient (the loss is the sum of
// the output times a fixed weight), copied out of whatever buffers made them.
func (c arenaCase) run(a *Arena) [][]float32 {
	var out [][]float32
	a.Do(func() {
		ins := make([]*Tensor, len(c.ins))
		for i, x := range c.ins {
			ins[i] = x.Detach().RequiresGrad()
		}
		y := c.f(ins)
		w := Randn(NewRNG(99), 1, y.Shape()...)
		y.Mul(w).Sum(nil, false).Backward()
		out = append(out, y.ToSlice())
		for _, x := range ins {
			out = append(out, x.Grad().ToSlice())
		}
	})
	return out
}

// Ops inside an arena give the same bits as outside it, also when every
// recycled buffer is full of NaN: the ops that take unzeroed buffers (GEMM,
// the elementwise maps, Contiguous) write every element, and Zeros zeroes.
func TestArenaSameBits(t *testing.T) {
	attn := func(causal bool) func(x []*Tensor) *Tensor {
		return func(x []*Tensor) *Tensor {
			return ScaledDotProductAttention(x[0], x[1], x[2], AttnOpts{Causal: causal})
		}
	}
	targets := make([]int, 6*37)
	for i := range targets {
		targets[i] = (i * 7) % 53
	}
	targets[5] = -1
	cases := []arenaCase{
		{"matmul", []*Tensor{in(1, 37, 41), in(2, 41, 43)}, two((*Tensor).MatMul)},
		{"matmul batched transposed", []*Tensor{in(3, 3, 29, 33), in(4, 3, 31, 33)}, two(func(a, b *Tensor) *Tensor { return a.MatMul(b.Transpose(1, 2)) })},
		{"matmul broadcast batch", []*Tensor{in(5, 2, 1, 19, 23), in(6, 3, 23, 37)}, two((*Tensor).MatMul)},
		{"matmul k=0", []*Tensor{in(7, 40, 0), in(8, 0, 30)}, two((*Tensor).MatMul)},
		{"linear rows", []*Tensor{in(9, 4, 17, 24), in(10, 24, 33)}, two((*Tensor).MatMul)},
		{"add broadcast", []*Tensor{in(11, 5, 31, 17), in(12, 31, 1)}, two((*Tensor).Add)},
		{"mul strided", []*Tensor{in(13, 37, 41), in(14, 41, 37)}, two(func(a, b *Tensor) *Tensor { return a.Mul(b.T()) })},
		{"div outer", []*Tensor{in(15, 47, 1), posIn(16, 1, 43)}, two((*Tensor).Div)},
		{"unary chain", []*Tensor{in(17, 33, 47)}, one(func(a *Tensor) *Tensor { return a.T().Exp().Tanh().Silu().GeluTanh().Sigmoid() })},
		{"contiguous permuted", []*Tensor{in(18, 7, 11, 19)}, one(func(a *Tensor) *Tensor { return a.Permute(2, 0, 1).Contiguous().Relu() })},
		{"concat", []*Tensor{in(19, 23, 29), in(20, 23, 31)}, two(func(a, b *Tensor) *Tensor { return Concat([]*Tensor{a, b}, 1) })},
		{"attention", []*Tensor{in(21, 2, 3, 40, 16), in(22, 2, 3, 40, 16), in(23, 2, 3, 40, 16)}, func(x []*Tensor) *Tensor { return attn(false)(x) }},
		{"attention causal", []*Tensor{in(24, 2, 3, 40, 16), in(25, 2, 3, 40, 16), in(26, 2, 3, 40, 16)}, func(x []*Tensor) *Tensor { return attn(true)(x) }},
		{"attention no keys", []*Tensor{in(38, 2, 3, 40, 16), in(39, 2, 3, 0, 16), in(40, 2, 3, 0, 16)}, func(x []*Tensor) *Tensor { return attn(false)(x) }},
		{"cross entropy", []*Tensor{in(27, 6, 37, 53)}, one(func(a *Tensor) *Tensor {
			return a.CrossEntropy(targets, -1, ReduceMean).Reshape(1)
		})},
		{"norms", []*Tensor{in(28, 61, 48), in(29, 48), in(30, 48)}, func(x []*Tensor) *Tensor {
			return x[0].LayerNorm(x[1], x[2], 1e-5).RMSNorm(x[1], 1e-5)
		}},
		{"softmax sum", []*Tensor{in(31, 29, 71)}, one(func(a *Tensor) *Tensor { return a.Softmax().Sum([]int{0}, true) })},
		// Deeper graphs, where Backward frees gradients while it runs: fan-out
		// (gradients summed), residuals, views of a gradient (Reshape,
		// Transpose, Expand), and a tensor used by several ops.
		{"residual blocks", []*Tensor{in(32, 3, 37, 48), in(33, 48, 96), in(34, 96, 48), in(35, 48)}, func(x []*Tensor) *Tensor {
			h := x[0]
			for range 3 {
				u := h.RMSNorm(x[3], 1e-5).MatMul(x[1]).Gelu().MatMul(x[2])
				h = h.Add(u).Add(u.Mul(h).Tanh())
			}
			return h.Reshape(3, 37, 6, 8).Transpose(1, 2).Softmax().Mul(h.Reshape(3, 6, 37, 8))
		}},
		{"expand and reuse", []*Tensor{in(36, 41, 1, 33), in(37, 1, 29, 33)}, two(func(a, b *Tensor) *Tensor {
			e := a.Expand(41, 29, 33)
			s := e.Mul(b).Sum([]int{1}, true)
			return s.Add(a).Mul(s.Exp()).Add(e.Sum([]int{1}, true))
		})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.run(nil)
			a := NewArena()
			c.run(a) // fills the free lists
			a.poison()
			a.poisonFreed = true // and every buffer freed from now on, Backward's included
			got := c.run(a)
			st := a.Stats()
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("result %d element %d: %v in the arena, %v outside", i, j, got[i][j], want[i][j])
					}
				}
			}
			if st.Reused == 0 && c.name != "matmul k=0" {
				t.Errorf("the second run reused no buffer (stats %+v)", st)
			}
		})
	}
}

func TestArenaZerosAndLifetimes(t *testing.T) {
	a := NewArena()
	var first []float32
	a.Do(func() {
		z := Zeros(50, 50)
		first = z.Data()
		for i := range first {
			first[i] = 7
		}
		if small := Zeros(10); small.Numel() != 10 {
			t.Fatal("bad small tensor")
		}
	})
	if st := a.Stats(); st.Fresh != 1 || st.Held != sizeClass(2500) {
		t.Fatalf("one large buffer expected (small ones bypass the arena), got %+v", st)
	}
	// Outside Do, nothing comes from the arena (the buffer is free now).
	if z := Zeros(50, 50); &z.Data()[0] == &first[0] {
		t.Fatal("Zeros outside Do used the arena")
	}
	a.Do(func() {
		z := Zeros(48, 50) // a smaller size of the same class
		if &z.Data()[0] != &first[0] {
			t.Fatal("the freed buffer was not reused")
		}
		for i, v := range z.Data() {
			if v != 0 {
				t.Fatalf("Zeros from a recycled buffer: element %d is %v", i, v)
			}
		}
		// A buffer in use is not handed out twice.
		if y := Zeros(50, 50); &y.Data()[0] == &first[0] {
			t.Fatal("a buffer in use was handed out again")
		}
	})
	if st := a.Stats(); st.Reused != 1 || st.Fresh != 2 {
		t.Fatalf("stats %+v, want 1 reused and 2 fresh", st)
	}
}

func TestArenaNestedPanics(t *testing.T) {
	a, b := NewArena(), NewArena()
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("a second active arena did not panic")
		}
		if activeArena.Load() != nil {
			t.Fatal("the arena stayed active after the panic")
		}
	}()
	a.Do(func() { b.Do(func() {}) })
}

// Ops split work across the kernels' worker pool, and goroutines may make
// tensors while an arena is active: every buffer still goes to one owner.
func TestArenaConcurrent(t *testing.T) {
	a := NewArena()
	for round := range 3 {
		var mu sync.Mutex
		seen := map[*float32]bool{}
		a.Do(func() {
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 20 {
						z := Zeros(1024 + 97*((g+i)%5))
						mu.Lock()
						if seen[&z.Data()[0]] {
							t.Errorf("round %d: a buffer was handed out twice", round)
						}
						seen[&z.Data()[0]] = true
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
		})
	}
	if st := a.Stats(); st.Fresh != 160 || st.Reused != 320 {
		t.Errorf("stats %+v, want 160 fresh and 320 reused", st)
	}
}

// Backward frees each intermediate gradient once no pending gradient refers
// to it, so a deep chain's backward pass holds a few gradient buffers, not
// one per op; the forward's buffers and the seed stay untouched.
func TestArenaBackwardFreesGradients(t *testing.T) {
	const depth = 24
	x := Randn(NewRNG(1), 1, 64, 64).RequiresGrad()
	run := func(a *Arena) (held int, grad []float32) {
		a.Do(func() {
			y := x
			for i := range depth {
				if i%2 == 0 {
					y = y.Tanh()
				} else {
					y = y.MulScalar(0.9)
				}
			}
			var fwd int
			if a != nil {
				fwd = a.Stats().Held
			}
			seed := Full(1, 64, 64) // 4096 elements: from the arena, made before Backward
			y.BackwardWith(seed)
			if seed.Data()[17] != 1 {
				t.Error("Backward freed the seed")
			}
			if a != nil {
				held = a.Stats().Held - fwd
			}
			grad = x.Grad().ToSlice()
			x.ZeroGrad()
		})
		return held, grad
	}
	a := NewArena()
	held, got := run(a)
	// The forward holds depth+1 buffers (the seed included); the backward
	// needs two at a time (the gradient coming in and the one going out).
	if buf := sizeClass(64 * 64); held > 3*buf {
		t.Errorf("backward kept %d elements (%d buffers of %d) across a chain of %d ops", held, held/buf, buf, depth)
	}
	_, want := run(nil)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("gradient element %d: %v in the arena, %v outside", i, got[i], want[i])
		}
	}
}

// Random graphs, in an arena whose freed buffers are poisoned, give the same
// bits as outside it: fan-out (a tensor used by several ops), views
// (Transpose, Narrow, Expand, Reshape) of values and so of gradients,
// residual sums, reductions, norms, attention, GEMMs. This is the check on
// Backward freeing gradients mid-pass and on the unzeroed outputs, beyond
// the hand-written cases above.
func TestArenaRandomGraphs(t *testing.T) {
	const B, M, N = 4, 16, 32 // 2048 elements: every value comes from the arena
	seeds := 60
	if testing.Short() {
		seeds = 20
	}
	type op func(r *rand.Rand, pick func() *Tensor, w []*Tensor) *Tensor
	ops := []op{
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { return pick().Add(pick()) },
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { return pick().Mul(pick()).MulScalar(0.5) },
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { return pick().Sub(pick().Tanh()) },
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { return pick().Gelu() },
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { return pick().Silu().Sigmoid() },
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor {
			return pick().Softmax().MulScalar(float32(N))
		},
		func(r *rand.Rand, pick func() *Tensor, w []*Tensor) *Tensor {
			return pick().LayerNorm(w[1], w[2], 1e-5)
		},
		func(r *rand.Rand, pick func() *Tensor, w []*Tensor) *Tensor { return pick().RMSNorm(w[1], 1e-5) },
		func(r *rand.Rand, pick func() *Tensor, w []*Tensor) *Tensor {
			return pick().MatMul(w[0]).MulScalar(0.2)
		},
		func(r *rand.Rand, pick func() *Tensor, w []*Tensor) *Tensor { return pick().MatMul(w[0].T()).Tanh() },
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { // a transposed view, made contiguous
			return pick().Transpose(1, 2).Contiguous().Reshape(B, M, N).Add(pick())
		},
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { // a strided view into a binary op
			return pick().Transpose(1, 2).Mul(pick().Transpose(1, 2)).Transpose(1, 2)
		},
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { // reduce, then broadcast back
			return pick().Sum([]int{1}, true).Expand(B, M, N).MulScalar(0.1).Add(pick())
		},
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { // halves swapped
			x := pick()
			return Concat([]*Tensor{x.Narrow(2, N/2, N/2), x.Narrow(2, 0, N/2)}, 2)
		},
		func(r *rand.Rand, pick func() *Tensor, _ []*Tensor) *Tensor { // attention over heads of 16
			h := func(x *Tensor) *Tensor { return x.Reshape(B, M, 2, N/2).Transpose(1, 2) }
			o := ScaledDotProductAttention(h(pick()), h(pick()), h(pick()), AttnOpts{Causal: r.IntN(2) == 0})
			return o.Transpose(1, 2).Reshape(B, M, N)
		},
	}
	for s := range seeds {
		build := func(a *Arena) [][]float32 {
			r := rand.New(rand.NewPCG(uint64(s), 7))
			leaves := []*Tensor{in(uint64(100+s), B, M, N), in(uint64(200+s), B, M, N)}
			w := []*Tensor{in(uint64(300+s), N, N), posIn(uint64(400+s), N), in(uint64(500+s), N)}
			var out [][]float32
			a.Do(func() {
				ls := make([]*Tensor, len(leaves))
				for i, x := range leaves {
					ls[i] = x.Detach().RequiresGrad()
				}
				ws := make([]*Tensor, len(w))
				for i, x := range w {
					ws[i] = x.Detach().RequiresGrad()
				}
				pool := slices.Clone(ls)
				pick := func() *Tensor { return pool[r.IntN(len(pool))] }
				for range 6 + r.IntN(20) {
					pool = append(pool, ops[r.IntN(len(ops))](r, pick, ws))
				}
				// The loss reads the last few values, so that several
				// gradients meet at shared inputs.
				loss := pool[len(pool)-1].Sum(nil, false)
				for _, x := range pool[max(len(ls), len(pool)-4) : len(pool)-1] {
					loss = loss.Add(x.Mul(x).Mean(nil, false))
				}
				loss.Backward()
				out = append(out, []float32{loss.Item()})
				for _, x := range append(ls, ws...) {
					if x.Grad() == nil {
						out = append(out, nil)
						continue
					}
					out = append(out, x.Grad().ToSlice())
				}
			})
			return out
		}
		want := build(nil)
		a := NewArena()
		build(a) // fills the free lists
		a.poison()
		a.poisonFreed = true
		got := build(a)
		for i := range want {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("seed %d: result %d has %d elements in the arena, %d outside", s, i, len(got[i]), len(want[i]))
			}
			for j := range want[i] {
				if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("seed %d: result %d element %d: %v in the arena, %v outside", s, i, j, got[i][j], want[i][j])
				}
			}
		}
	}
}

// Scoped frees a block's intermediates at once in inference (the result
// survives, poisoned neighbours show any use after free), and frees nothing
// when gradients are on.
func TestArenaScoped(t *testing.T) {
	x := in(41, 64, 64)
	w := in(42, 64, 64)
	block := func(x *Tensor) *Tensor { return x.MatMul(w).Gelu().MatMul(w).Add(x).Tanh() }
	var want []float32
	NoGrad(func() { want = block(block(x)).ToSlice() })
	a := NewArena()
	a.poisonFreed = true
	var got []float32
	var held, heldPlain int
	a.Do(func() {
		NoGrad(func() {
			y := x
			for range 2 {
				y = Scoped(func() *Tensor { return block(y) })
			}
			got = y.ToSlice()
		})
		held = a.Stats().Held
	})
	b := NewArena()
	b.Do(func() {
		NoGrad(func() { block(block(x)) })
		heldPlain = b.Stats().Held
	})
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("element %d: %v scoped, %v plain", i, got[i], want[i])
		}
	}
	// Two blocks of 5 buffers each: unscoped, all 10 stay handed out until
	// Do ends; scoped, a block's 4 temporaries go back and the next block
	// reuses them, so the arena makes at most 6.
	if buf := sizeClass(64 * 64); heldPlain != 10*buf || held > 6*buf {
		t.Errorf("arena holds %d buffers scoped and %d unscoped, want at most 6 and 10", held/buf, heldPlain/buf)
	}
	// With gradients on, Scoped frees nothing: the graph needs it all.
	xg := x.Detach().RequiresGrad()
	var g1, g2 []float32
	c := NewArena()
	c.poisonFreed = true
	c.Do(func() {
		Scoped(func() *Tensor { return block(xg) }).Sum(nil, false).Backward()
		g1 = xg.Grad().ToSlice()
	})
	xg.ZeroGrad()
	block(xg).Sum(nil, false).Backward()
	g2 = xg.Grad().ToSlice()
	for i := range g1 {
		if math.Float32bits(g1[i]) != math.Float32bits(g2[i]) {
			t.Fatalf("gradient element %d: %v scoped in an arena, %v plain", i, g1[i], g2[i])
		}
	}
}
