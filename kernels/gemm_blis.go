package kernels

import "sync/atomic"

// The BLIS loop nest around an MR x NR register-tile micro-kernel; the
// micro-kernels themselves are per architecture (gemm_amd64.s).
//
//	for jc in N step NC:            B~ = op(B)[pc:pc+kc, jc:jc+nc], packed in NR-wide
//	  for pc in K step KC:          panels (kc x NR, row-major), shared by all threads
//	    for ic in M step MC:        A~ = op(A)[ic:ic+mc, pc:pc+kc], packed in MR-high
//	      for jr in nc step NR:     panels (kc x MR), one per thread (L2)
//	        for ir in mc step MR:   micro-kernel: C[ir:+MR, jr:+NR] += A~panel * B~panel
//
// A B~ micro-panel (KC x NR) stays in L1 while the A micro-panels stream from
// L2. A is read in place by the micro-kernels when its row stride allows
// (see sgemm); otherwise, and for a partial last tile, it is packed.
// Threads take chunks of MR-tiles of M (or NR-panels of N when M is too
// small to split) as they come free. Every element of C is computed by the
// same instruction sequence whatever the thread count or the chunk-to-thread
// assignment (tile and KC boundaries are global), so results are bitwise
// reproducible, and even independent of the thread count.

// gemmKernel computes C[0:MR, 0:NR] = alpha*(A x b~) + beta*C for a packed
// k x NR panel b~ and an MR x k block of A whose k steps are ka floats apart
// (packed: ka = MR), with c[i*ldc+j] addressing. The R kernels read A in
// place from row-major storage instead (rows ka = lda floats apart). beta ==
// 0 must not read C.
type gemmKernel func(k int, a, b, c *float32, ldc, ka int, alpha, beta float32)

type gemmArch struct {
	name       string
	mr, nr     int
	mc, kc, nc int
	kernel     gemmKernel
	kernelR    gemmKernel
}

// aBlock is the A operand of a macro-kernel: packed tiles, or op(A) read in
// place (full tiles only; a partial last tile is packed into edge).
type aBlock struct {
	packed []float32 // tile t of the block at t*mr*kc, or nil
	a      []float32
	lda    int
	transA bool
	pc     int
	edge   []float32 // the packed partial tile, if any
}

// blockSizes derives MC, KC, NC from the cache sizes (bytes; <= 0 unknown).
func blockSizes(mr, nr, l1, l2, l3 int) (mc, kc, nc int) {
	if l1 <= 0 {
		l1 = 32 << 10
	}
	if l2 <= 0 {
		l2 = 512 << 10
	}
	if l3 <= 0 {
		l3 = 8 << 20
	}
	// A KC x NR micro-panel of B~ takes about 2/3 of L1d.
	kc = (l1 * 2 / 3) / (nr * 4)
	kc = max(64, min(512, kc&^7))
	// The A~ block takes about half of L2.
	mc = (l2 / 2) / (kc * 4)
	mc = max(mr, min(1024, mc/mr*mr))
	// B~ takes about a quarter of L3 (shared between cores).
	nc = (l3 / 4) / (kc * 4)
	nc = max(nr, min(4096, nc/nr*nr))
	return
}

// packA packs op(A)[i0:i0+mc, p0:p0+kc] into MR-high panels: panel t holds,
// for each p, the MR values of rows i0+t*MR.., zero-padded past mc.
func packA(dst, a []float32, lda int, transA bool, i0, mc, p0, kc, mr int) {
	for t := 0; t*mr < mc; t++ {
		d := dst[t*mr*kc : (t+1)*mr*kc]
		i := i0 + t*mr
		rows := min(mr, i0+mc-i)
		if transA {
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i:]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src[:rows])
				clear(dp[rows:])
			}
			continue
		}
		r0 := 0
		if kc4 := kc &^ 3; kc4 > 0 && hasPackA4 {
			for ; r0+4 <= rows; r0 += 4 {
				_ = a[(i+r0+3)*lda+p0+kc-1] // bounds, before the assembly reads
				packA4(&d[r0], mr, &a[(i+r0)*lda+p0], lda, kc4)
				for r := r0; r < r0+4; r++ {
					for p := kc4; p < kc; p++ {
						d[p*mr+r] = a[(i+r)*lda+p0+p]
					}
				}
			}
		}
		for r := r0; r < rows; r++ {
			src := a[(i+r)*lda+p0:]
			src = src[:kc]
			for p, v := range src {
				d[p*mr+r] = v
			}
		}
		for r := rows; r < mr; r++ {
			for p := 0; p < kc; p++ {
				d[p*mr+r] = 0
			}
		}
	}
}

// packB packs op(B)[p0:p0+kc, j0:j0+nc] into NR-wide panels, panels
// [t0,t1) only: panel t holds, for each p, the NR values of columns j0+t*NR..,
// zero-padded past nc.
func packB(dst, b []float32, ldb int, transB bool, p0, kc, j0, nc, nr, t0, t1 int) {
	for t := t0; t < t1; t++ {
		d := dst[t*nr*kc : (t+1)*nr*kc]
		j := j0 + t*nr
		cols := min(nr, j0+nc-j)
		if !transB {
			for p := 0; p < kc; p++ {
				dp := d[p*nr : p*nr+nr]
				copy(dp, b[(p0+p)*ldb+j:][:cols])
				clear(dp[cols:])
			}
			continue
		}
		for cc := 0; cc < cols; cc++ {
			src := b[(j+cc)*ldb+p0:]
			src = src[:kc]
			for p, v := range src {
				d[p*nr+cc] = v
			}
		}
		for cc := cols; cc < nr; cc++ {
			for p := 0; p < kc; p++ {
				d[p*nr+cc] = 0
			}
		}
	}
}

// scaleC does C = beta*C (beta == 0 writes zeros without reading).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// edgeFree holds the scratch tiles of edge tiles.
var edgeFree = make(chan *[16 * 64]float32, 16)

// macroKernel runs the micro-kernel over MR-tiles [ti0,ti1) of an A block
// (rows i0.. of C) and NR-panels [tj0,tj1) of B~ (columns j0.. of C).
func (g *gemmArch) macroKernel(ab *aBlock, bp []float32, kc, ti0, ti1, tj0, tj1, m, n, i0, j0 int, alpha, beta float32, c []float32, ldc int) {
	mr, nr := g.mr, g.nr
	var edge []float32
	for tj := tj0; tj < tj1; tj++ {
		j := j0 + tj*nr
		cols := min(nr, n-j)
		bpan := &bp[tj*nr*kc]
		for ti := ti0; ti < ti1; ti++ {
			i := i0 + ti*mr
			rows := min(mr, m-i)
			kern, ka := g.kernel, mr
			var apan *float32
			switch {
			case ab.packed != nil:
				apan = &ab.packed[(ti-ti0)*mr*kc]
			case rows < mr:
				apan = &ab.edge[0]
			case ab.transA:
				apan, ka = &ab.a[ab.pc*ab.lda+i], ab.lda
			default:
				apan, kern, ka = &ab.a[i*ab.lda+ab.pc], g.kernelR, ab.lda
			}
			if rows == mr && cols == nr {
				kern(kc, apan, bpan, &c[i*ldc+j], ldc, ka, alpha, beta)
				continue
			}
			// Edge tile: compute the full tile into a scratch tile and
			// merge only the valid part, so C is never touched outside.
			if edge == nil {
				var p *[16 * 64]float32
				select {
				case p = <-edgeFree:
				default:
					p = new([16 * 64]float32)
				}
				defer func() {
					select {
					case edgeFree <- p:
					default:
					}
				}()
				edge = p[:mr*nr]
			}
			kern(kc, apan, bpan, &edge[0], nr, ka, 1, 0)
			mergeEdge(edge, nr, rows, cols, alpha, beta, c[i*ldc+j:], ldc)
		}
	}
}

// sgemm is the BLIS driver for one GEMM on up to t threads.
func (g *gemmArch) sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, t int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if useDirect(transB, m, n, k) {
		g.direct(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, t)
		return
	}
	if g.small(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	mr, nr := g.mr, g.nr
	tilesM := (m + mr - 1) / mr
	// Enough work per thread to pay for the hand-offs (about 8 MFLOP: a
	// second thread starts paying off near 200^3 on the machines measured).
	t = max(1, min(t, m*n*k/(1<<22)))
	splitM := tilesM >= 2*t
	if !splitM {
		t = max(1, min(t, (min(n, g.nc)+nr-1)/nr/2))
	}
	// K blocks of equal size (at most KC): no short last pass over C.
	kcMax := (k + (k+g.kc-1)/g.kc - 1) / ((k + g.kc - 1) / g.kc)
	if t > 1 && k > kcMax && m <= panelwiseMaxM && n <= g.nc {
		g.panelwise(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, t, kcMax)
		return
	}
	ncMax := min(g.nc, n)
	bp := getBuf(kcMax * ((ncMax + nr - 1) / nr) * nr)
	defer putBuf(bp)
	var ashared []float32
	for jc := 0; jc < n; jc += g.nc {
		nc := min(g.nc, n-jc)
		panels := (nc + nr - 1) / nr
		for pc := 0; pc < k; pc += kcMax {
			kc := min(kcMax, k-pc)
			bt := beta
			if pc > 0 {
				bt = 1
			}
			runDynamic(t, panels, (panels+4*t-1)/(4*t), func(lo, hi int) {
				packB(bp, b, ldb, transB, pc, kc, jc, nc, nr, lo, hi)
			})
			if splitM {
				// Chunks of M tiles (at most MC rows, about 4 per thread)
				// go to the threads as they come free. A is read in place
				// (only a partial last tile is packed) unless its rows are
				// a multiple of 4 KiB apart: then they would share few cache
				// sets, and each chunk packs its rows.
				chunk := max(1, min(g.mc/mr, (tilesM+4*t-1)/(4*t)))
				packed := (lda*4)%4096 == 0
				var edgeA []float32
				if !packed && m%mr != 0 {
					edgeA = getBuf(mr * kc)
					packA(edgeA, a, lda, transA, (tilesM-1)*mr, m-(tilesM-1)*mr, pc, kc, mr)
				}
				runDynamic(t, tilesM, chunk, func(b0, b1 int) {
					ab := aBlock{a: a, lda: lda, transA: transA, pc: pc, edge: edgeA}
					if packed {
						ab.packed = getBuf((b1 - b0) * mr * kc)
						i0 := b0 * mr
						packA(ab.packed, a, lda, transA, i0, min(b1*mr, m)-i0, pc, kc, mr)
					}
					g.macroKernel(&ab, bp, kc, b0, b1, 0, panels, m, jc+nc, 0, jc, alpha, bt, c, ldc)
					if packed {
						putBuf(ab.packed)
					}
				})
				if edgeA != nil {
					putBuf(edgeA)
				}
				continue
			}
			// M fits in one block (fewer than 2 tiles per thread): pack A~
			// once, split the panels of N.
			if ashared == nil {
				ashared = getBuf(tilesM * mr * kcMax)
				defer putBuf(ashared)
			}
			packA(ashared, a, lda, transA, 0, m, pc, kc, mr)
			ab := aBlock{packed: ashared}
			runDynamic(t, panels, (panels+4*t-1)/(4*t), func(lo, hi int) {
				g.macroKernel(&ab, bp, kc, 0, tilesM, lo, hi, m, jc+nc, 0, jc, alpha, bt, c, ldc)
			})
		}
	}
}

// panelwiseMaxM bounds the rows of a product that panelwise takes: its
// units re-read their A block from memory once per NR-panel, which only
// pays when A is small.
const panelwiseMaxM = 512

// panelwise runs a product with few rows and several K blocks (a weight
// gradient: m, n ~ 100, k ~ 2000) as independent units of one NR-panel of B
// times a block of MR-tiles of A, each unit carrying all its K blocks: one
// hand-off per product, where the blocked path hands off twice per K block
// and, at these sizes, spends more on the hand-offs than a second thread
// gains. Each unit packs its own B panel (and its A block when A must be
// packed). Every element of C sees the same kernel calls on the same K
// blocks in the same order as in the blocked path, so the two paths agree
// bitwise and the result does not depend on the thread count.
func (g *gemmArch) panelwise(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, t, kcMax int) {
	mr, nr := g.mr, g.nr
	tilesM, panels := (m+mr-1)/mr, (n+nr-1)/nr
	// Blocks of MR-tiles: halved until there are about 4 units a thread.
	blk := tilesM
	for blk > 1 && panels*((tilesM+blk-1)/blk) < 2*t {
		blk = (blk + 1) / 2
	}
	blocks := (tilesM + blk - 1) / blk
	packed := (lda*4)%4096 == 0
	runDynamic(t, panels*blocks, 1, func(lo, hi int) {
		bp := getBuf(kcMax * nr)
		var abuf []float32
		if packed || m%mr != 0 {
			abuf = getBuf(blk * mr * kcMax)
		}
		for u := lo; u < hi; u++ {
			tj, ti0 := u/blocks, (u%blocks)*blk
			ti1 := min(ti0+blk, tilesM)
			j := tj * nr
			for pc := 0; pc < k; pc += kcMax {
				kc := min(kcMax, k-pc)
				bt := beta
				if pc > 0 {
					bt = 1
				}
				packB(bp, b, ldb, transB, pc, kc, j, n-j, nr, 0, 1)
				ab := aBlock{a: a, lda: lda, transA: transA, pc: pc}
				switch {
				case packed:
					i0 := ti0 * mr
					packA(abuf, a, lda, transA, i0, min(ti1*mr, m)-i0, pc, kc, mr)
					ab.packed = abuf
				case ti1 == tilesM && m%mr != 0:
					i0 := (tilesM - 1) * mr
					packA(abuf, a, lda, transA, i0, m-i0, pc, kc, mr)
					ab.edge = abuf
				}
				g.macroKernel(&ab, bp, kc, ti0, ti1, 0, 1, m, n, 0, j, alpha, bt, c, ldc)
			}
		}
		putBuf(bp)
		if abuf != nil {
			putBuf(abuf)
		}
	})
}

// runDynamic runs fn over [0,n) in chunks of size chunk, handed out in
// order to up to t goroutines as they come free. Which goroutine gets a
// chunk varies from run to run, so fn must compute each index the same way
// whoever runs it (the GEMM tiles do); a core taken by other load then
// slows the product down instead of stalling it at a barrier.
func runDynamic(t, n, chunk int, fn func(lo, hi int)) {
	chunk = max(1, chunk)
	t = min(t, (n+chunk-1)/chunk)
	if t <= 1 {
		fn(0, n)
		return
	}
	var next atomic.Int64
	parallelChunks(t, func(int) (int, int) { return 0, 0 }, func(int, int) {
		for {
			hi := int(next.Add(int64(chunk)))
			lo := hi - chunk
			if lo >= n {
				return
			}
			fn(lo, min(hi, n))
		}
	})
}

// runChunks splits [0,n) into t contiguous chunks (t <= n) and runs them on
// the pool.
func runChunks(t, n int, fn func(lo, hi int)) {
	t = min(t, n)
	if t <= 1 {
		fn(0, n)
		return
	}
	parallelChunks(t, func(i int) (int, int) { return i * n / t, (i + 1) * n / t }, fn)
}

// sgemmBatched runs batch GEMMs: small ones one per thread (over the batch),
// large ones one after another, each on all threads. The partition depends
// only on the sizes and the thread count.
func (g *gemmArch) sgemmBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	t := Threads()
	if batch > 1 && t > 1 && m*n*k < 1<<21 {
		Parallel(batch, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				g.sgemm(transA, transB, m, n, k, alpha, tail(a, i*strideA), lda, tail(b, i*strideB), ldb, beta, tail(c, i*strideC), ldc, 1)
			}
		})
		return
	}
	for i := 0; i < batch; i++ {
		g.sgemm(transA, transB, m, n, k, alpha, tail(a, i*strideA), lda, tail(b, i*strideB), ldb, beta, tail(c, i*strideC), ldc, t)
	}
}

// tail returns x[off:], or an empty slice when an empty operand's offset runs
// past its end (k == 0 with a nonzero stride).
func tail(x []float32, off int) []float32 { return x[min(off, len(x)):] }

// useDirect picks the unpacked path: tiny products, where packing and the
// scratch tiles cost more than the arithmetic, and skinny ones (a few rows,
// or a few columns of a transposed B), which are matrix-vector products
// bound by memory.
func useDirect(transB bool, m, n, k int) bool {
	return m*n*k <= 64 || m <= 4 || (n <= 4 && transB)
}

// direct computes C without packing, split over threads by rows of C (or by
// columns when m is small); each element is computed the same way whatever
// the split.
func (g *gemmArch) direct(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, t int) {
	t = max(1, min(t, m*n*k/(1<<20)))
	switch {
	case t <= 1:
		g.directBlock(transA, transB, 0, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	case m >= t:
		runChunks(t, m, func(lo, hi int) {
			g.directBlock(transA, transB, lo, hi, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		})
	default:
		runChunks(t, n, func(lo, hi int) {
			g.directBlock(transA, transB, 0, m, lo, hi, k, alpha, a, lda, b, ldb, beta, c, ldc)
		})
	}
}

// directBlock computes C[i0:i1, j0:j1]: rows of C as axpys over rows of B
// (B not transposed, rows of at least 8), elements as dots of contiguous
// rows (B transposed, k >= 8), and plain loops otherwise.
func (g *gemmArch) directBlock(transA, transB bool, i0, i1, j0, j1, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	nn := j1 - j0
	switch {
	case !transB && nn >= 8:
		for i := i0; i < i1; i++ {
			crow := c[i*ldc+j0 : i*ldc+j1]
			scaleC(1, len(crow), beta, crow, len(crow))
			for p := 0; p < k; p++ {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				axpyN(alpha*av, b[p*ldb+j0:p*ldb+j1], crow)
			}
		}
	case transB && k >= 8:
		var st [256]float32
		var acol []float32
		if transA {
			if k <= len(st) {
				acol = st[:k]
			} else {
				acol = make([]float32, k)
			}
		}
		for i := i0; i < i1; i++ {
			arow := acol
			if transA {
				for p := range acol {
					acol[p] = a[p*lda+i]
				}
			} else {
				arow = a[i*lda : i*lda+k]
			}
			crow := c[i*ldc+j0 : i*ldc+j1]
			j := 0
			for ; j+4 <= len(crow); j += 4 {
				var d4 [4]float32
				dot4N(arow, b[(j0+j)*ldb:(j0+j+3)*ldb+k], ldb, &d4)
				for r, d := range d4 {
					d *= alpha
					if beta == 0 {
						crow[j+r] = d
					} else {
						crow[j+r] = d + beta*crow[j+r]
					}
				}
			}
			for ; j < len(crow); j++ {
				d := alpha * dotN(arow, b[(j0+j)*ldb:(j0+j)*ldb+k])
				if beta == 0 {
					crow[j] = d
				} else {
					crow[j] = d + beta*crow[j]
				}
			}
		}
	default:
		for i := i0; i < i1; i++ {
			crow := c[i*ldc+j0 : i*ldc+j1]
			for j := range crow {
				jj := j0 + j
				var s float32
				switch {
				case !transA && !transB:
					ar := a[i*lda : i*lda+k]
					for p, av := range ar {
						s += av * b[p*ldb+jj]
					}
				case !transA && transB:
					ar, br := a[i*lda:i*lda+k], b[jj*ldb:jj*ldb+k]
					for p, av := range ar {
						s += av * br[p]
					}
				case transA && !transB:
					for p := 0; p < k; p++ {
						s += a[p*lda+i] * b[p*ldb+jj]
					}
				default:
					br := b[jj*ldb : jj*ldb+k]
					for p, bv := range br {
						s += a[p*lda+i] * bv
					}
				}
				if beta == 0 {
					crow[j] = alpha * s
				} else {
					crow[j] = alpha*s + beta*crow[j]
				}
			}
		}
	}
}

// smallScratch holds the packed operands of a small GEMM: one pooled object
// instead of several buffers, so small products pay one pool round trip.
type smallScratch struct {
	a, b [smallPack]float32
	edge [16 * 64]float32
}

const smallPack = 4096

// smallFree is the free list of small-product scratch (not a sync.Pool,
// which the garbage collector empties; see buf.go).
var smallFree = make(chan *smallScratch, 16)

func getSmall() *smallScratch {
	select {
	case s := <-smallFree:
		return s
	default:
		return new(smallScratch)
	}
}

func putSmall(s *smallScratch) {
	select {
	case smallFree <- s:
	default:
	}
}

// small runs a product whose packed A and B each fit in smallPack floats
// (and k in one KC block) serially through the micro-kernel, without
// closures or per-call allocation. It reports false when the product is
// too large for it.
func (g *gemmArch) small(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	mr, nr := g.mr, g.nr
	tilesM, panels := (m+mr-1)/mr, (n+nr-1)/nr
	if k > g.kc || tilesM*mr*k > smallPack || panels*nr*k > smallPack {
		return false
	}
	s := getSmall()
	packA(s.a[:], a, lda, transA, 0, m, 0, k, mr)
	packB(s.b[:], b, ldb, transB, 0, k, 0, n, nr, 0, panels)
	edge := s.edge[:mr*nr]
	for tj := 0; tj < panels; tj++ {
		j := tj * nr
		cols := min(nr, n-j)
		for ti := 0; ti < tilesM; ti++ {
			i := ti * mr
			rows := min(mr, m-i)
			if rows == mr && cols == nr {
				g.kernel(k, &s.a[ti*mr*k], &s.b[tj*nr*k], &c[i*ldc+j], ldc, mr, alpha, beta)
				continue
			}
			g.kernel(k, &s.a[ti*mr*k], &s.b[tj*nr*k], &edge[0], nr, mr, 1, 0)
			mergeEdge(edge, nr, rows, cols, alpha, beta, c[i*ldc+j:], ldc)
		}
	}
	putSmall(s)
	return true
}

// mergeEdge writes C[0:rows, 0:cols] = alpha*edge + beta*C.
func mergeEdge(edge []float32, nr, rows, cols int, alpha, beta float32, c []float32, ldc int) {
	for r := 0; r < rows; r++ {
		crow := c[r*ldc:][:cols]
		erow := edge[r*nr:][:cols]
		if beta == 0 {
			for q, v := range erow {
				crow[q] = alpha * v
			}
		} else {
			for q, v := range erow {
				crow[q] = alpha*v + beta*crow[q]
			}
		}
	}
}
