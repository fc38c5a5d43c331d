package cuda

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/kernels"
)

// The kernels' entry points. Each checks its sizes (a mismatch panics with
// the kernel's name and the sizes, as in package kernels), picks the launch
// shape and queues the kernel. Sizes of 0 queue nothing. The kernels'
// semantics are those of the CPU references named in src/*.cu.

const (
	blockElem = 256 // threads a block for the elementwise kernels
	blockRow  = 256 // at most, for the one-block-a-row kernels
)

// rowBlock is the block size for a row of n elements: a multiple of 32,
// no more threads than elements (rounded up), at most blockRow.
func rowBlock(n int) int { return min(blockRow, max(32, ceilDiv(n, 32)*32)) }

func elemLaunch(n int) ([3]int, [3]int) {
	return grid3(clampGrid(ceilDiv(n, blockElem)), 1, 1), grid3(blockElem, 1, 1)
}

func rowLaunch(rows, n int) ([3]int, [3]int) {
	return grid3(clampGrid(rows), 1, 1), grid3(rowBlock(n), 1, 1)
}

func need(name, what string, b Buffer, n int) {
	if b.n < n {
		panic(fmt.Sprintf("%s: %s has %d elements, need %d", name, what, b.n, n))
	}
}

func needSame(name string, n int, bufs ...Buffer) {
	for i, b := range bufs {
		if b.n != n {
			panic(fmt.Sprintf("%s: operand %d has %d elements, want %d", name, i+1, b.n, n))
		}
	}
}

func needRows(name string, rows, n int) {
	if rows < 0 || n < 0 {
		panic(fmt.Sprintf("%s: negative size rows=%d n=%d", name, rows, n))
	}
}

// ---- GEMM (gemm.cu) ----

// Sgemm is kernels.Sgemm on device buffers: C = alpha*op(A)*op(B) + beta*C,
// row-major with leading dimensions.
func (d *Device) Sgemm(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, b Buffer, ldb int, beta float32, c Buffer, ldc int) error {
	return d.SgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)
}

// SgemmStridedBatched is kernels.SgemmStridedBatched on device buffers.
func (d *Device) SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda, strideA int, b Buffer, ldb, strideB int, beta float32, c Buffer, ldc, strideC int, batch int) error {
	const name = "cuda.Sgemm"
	checkGemm(name, transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch)
	if batch == 0 || m == 0 || n == 0 {
		return nil
	}
	grid := grid3(ceilDiv(n, 128), ceilDiv(m, 128), min(batch, maxGrid))
	if grid[1] > maxGrid {
		panic(fmt.Sprintf("%s: m=%d exceeds the grid (%d rows of tiles)", name, m, maxGrid))
	}
	return d.launch("kiln_sgemm", grid, grid3(256, 1, 1), 0,
		argBool(transA), argBool(transB), argInt(m), argInt(n), argInt(k), argFloat(alpha),
		argBuf(a), argInt(lda), argLong(strideA), argBuf(b), argInt(ldb), argLong(strideB),
		argFloat(beta), argBuf(c), argInt(ldc), argLong(strideC), argInt(batch))
}

// checkGemm is kernels.CheckGemm on device buffers.
func checkGemm(name string, transA, transB bool, m, n, k int, a Buffer, lda, strideA int, b Buffer, ldb, strideB int, c Buffer, ldc, strideC int, batch int) {
	kernels.CheckGemm(name, transA, transB, m, n, k, a.n, lda, strideA, b.n, ldb, strideB, c.n, ldc, strideC, batch)
}

// ---- elementwise (binary.cu, unary.cu) ----

// BinaryOp selects Binary's operation; the values are binary.cu's.
type BinaryOp int

const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
)

func (op BinaryOp) check(name string) {
	if op < OpAdd || op > OpDiv {
		panic(fmt.Sprintf("%s: unknown op %d", name, op))
	}
}

// Binary: out = a op b elementwise, all of one length (kernels.AddRef, ...).
func (d *Device) Binary(op BinaryOp, out, a, b Buffer) error {
	op.check("cuda.Binary")
	needSame("cuda.Binary", out.n, a, b)
	if out.n == 0 {
		return nil
	}
	g, bl := elemLaunch(out.n)
	return d.launch("kiln_binary_flat", g, bl, 0, argInt(int(op)), argLong(out.n), argBuf(out), argBuf(a), argBuf(b))
}

// BinaryBroadcast: out = a op b where out is contiguous of the given shape
// (at most 4 dims) and a, b are read with element strides per dim (0 along
// a broadcast dim), NumPy broadcasting as tensor.Add.
func (d *Device) BinaryBroadcast(op BinaryOp, out, a, b Buffer, shape, aStrides, bStrides []int) error {
	const name = "cuda.BinaryBroadcast"
	op.check(name)
	if len(shape) > 4 || len(aStrides) != len(shape) || len(bStrides) != len(shape) {
		panic(fmt.Sprintf("%s: shape %v with strides %v and %v (at most 4 dims, one stride each)", name, shape, aStrides, bStrides))
	}
	var sh, as, bs [4]int
	total := 1
	for i := range 4 {
		sh[i] = 1
		if j := i - (4 - len(shape)); j >= 0 {
			sh[i], as[i], bs[i] = shape[j], aStrides[j], bStrides[j]
		}
		if sh[i] < 0 || as[i] < 0 || bs[i] < 0 {
			panic(fmt.Sprintf("%s: negative size or stride in shape %v strides %v %v", name, shape, aStrides, bStrides))
		}
		total *= sh[i]
	}
	need(name, "out", out, total)
	if total == 0 {
		return nil
	}
	span := func(st [4]int) int { // elements read: last index + 1
		s := 1
		for i := range 4 {
			s += (sh[i] - 1) * st[i]
		}
		return s
	}
	need(name, "a", a, span(as))
	need(name, "b", b, span(bs))
	g, bl := elemLaunch(total)
	return d.launch("kiln_binary_bcast", g, bl, 0, argInt(int(op)), argLong(total), argBuf(out), argBuf(a), argBuf(b),
		argInt(sh[1]), argInt(sh[2]), argInt(sh[3]),
		argLong(as[0]), argLong(as[1]), argLong(as[2]), argLong(as[3]),
		argLong(bs[0]), argLong(bs[1]), argLong(bs[2]), argLong(bs[3]))
}

// AddScalar: out = a + s (kernels.AddScalarRef).
func (d *Device) AddScalar(out, a Buffer, s float32) error {
	return d.scalar("cuda.AddScalar", out, a, 1, s)
}

// MulScalar: out = a * s (kernels.MulScalarRef).
func (d *Device) MulScalar(out, a Buffer, s float32) error {
	return d.scalar("cuda.MulScalar", out, a, s, 0)
}

func (d *Device) scalar(name string, out, a Buffer, mul, add float32) error {
	needSame(name, out.n, a)
	if out.n == 0 {
		return nil
	}
	g, bl := elemLaunch(out.n)
	return d.launch("kiln_scalar", g, bl, 0, argLong(out.n), argBuf(out), argBuf(a), argFloat(mul), argFloat(add))
}

// Axpy: y += alpha*x (kernels.AxpyRef).
func (d *Device) Axpy(alpha float32, x, y Buffer) error {
	needSame("cuda.Axpy", y.n, x)
	if y.n == 0 {
		return nil
	}
	g, bl := elemLaunch(y.n)
	return d.launch("kiln_axpy", g, bl, 0, argLong(y.n), argFloat(alpha), argBuf(x), argBuf(y))
}

// UnaryOp selects Unary's function; the values are unary.cu's.
type UnaryOp int

const (
	OpExp UnaryOp = iota
	OpGelu
	OpGeluTanh
	OpSilu
	OpRelu
	OpTanh
	OpSigmoid
	OpNeg
	OpLog
	OpSqrt
	OpRsqrt
)

var unaryNames = [...]string{"exp", "gelu", "gelu_tanh", "silu", "relu", "tanh", "sigmoid", "neg", "log", "sqrt", "rsqrt"}

func (op UnaryOp) String() string {
	if op < 0 || int(op) >= len(unaryNames) {
		return fmt.Sprintf("UnaryOp(%d)", int(op))
	}
	return unaryNames[op]
}

// Unary: y = f(x) (kernels.ExpRef, GeluRef, GeluTanhRef, SiluRef, ...;
// tensor.Log, Sqrt, Rsqrt for OpLog, OpSqrt, OpRsqrt).
func (d *Device) Unary(op UnaryOp, y, x Buffer) error {
	name := "cuda.Unary(" + op.String() + ")"
	if op < 0 || int(op) >= len(unaryNames) {
		panic(name + ": unknown op")
	}
	needSame(name, y.n, x)
	if y.n == 0 {
		return nil
	}
	g, bl := elemLaunch(y.n)
	return d.launch("kiln_unary", g, bl, 0, argInt(int(op)), argLong(y.n), argBuf(y), argBuf(x))
}

// UnaryBackward: dx = dy * f'(x) (kernels.GeluBackwardRef, ...).
func (d *Device) UnaryBackward(op UnaryOp, dx, x, dy Buffer) error {
	name := "cuda.UnaryBackward(" + op.String() + ")"
	if op < 0 || int(op) >= len(unaryNames) {
		panic(name + ": unknown op")
	}
	needSame(name, dx.n, x, dy)
	if dx.n == 0 {
		return nil
	}
	g, bl := elemLaunch(dx.n)
	return d.launch("kiln_unary_backward", g, bl, 0, argInt(int(op)), argLong(dx.n), argBuf(dx), argBuf(x), argBuf(dy))
}

// Unary2Op selects Unary2's function of x and two scalars a, b; the values
// are unary.cu's.
type Unary2Op int

const (
	OpPow     Unary2Op = iota // x^a (tensor.Pow; b unused)
	OpClamp                   // min(max(x, a), b) (tensor.Clamp)
	OpIsEqual                 // 1 where x == a, else 0 (the tie mask of tensor.Max's gradient; b unused); gradient 0
)

var unary2Names = [...]string{"pow", "clamp", "is_equal"}

func (op Unary2Op) String() string {
	if op < 0 || int(op) >= len(unary2Names) {
		return fmt.Sprintf("Unary2Op(%d)", int(op))
	}
	return unary2Names[op]
}

// Unary2: y = f(x; a, b) (tensor.Pow, tensor.Clamp; see Unary2Op).
func (d *Device) Unary2(op Unary2Op, y, x Buffer, a, b float32) error {
	name := "cuda.Unary2(" + op.String() + ")"
	if op < 0 || int(op) >= len(unary2Names) {
		panic(name + ": unknown op")
	}
	needSame(name, y.n, x)
	if y.n == 0 {
		return nil
	}
	g, bl := elemLaunch(y.n)
	return d.launch("kiln_unary2", g, bl, 0, argInt(int(op)), argLong(y.n), argFloat(a), argFloat(b), argBuf(y), argBuf(x))
}

// Unary2Backward: dx = dy * f'(x; a, b), as tensor's backwards of Pow and
// Clamp compute it (Clamp passes dy where a <= x <= b, else 0).
func (d *Device) Unary2Backward(op Unary2Op, dx, x, dy Buffer, a, b float32) error {
	name := "cuda.Unary2Backward(" + op.String() + ")"
	if op < 0 || int(op) >= len(unary2Names) {
		panic(name + ": unknown op")
	}
	needSame(name, dx.n, x, dy)
	if dx.n == 0 {
		return nil
	}
	g, bl := elemLaunch(dx.n)
	return d.launch("kiln_unary2_backward", g, bl, 0, argInt(int(op)), argLong(dx.n), argFloat(a), argFloat(b), argBuf(dx), argBuf(x), argBuf(dy))
}

// ---- reductions (reduce.cu) ----

// Sum reduces the middle axis of src viewed as [outer, n, inner] into dst
// [outer, inner] (kernels.SumRef on each line); Max likewise (-Inf for
// n == 0, NaN if any element is NaN).
func (d *Device) Sum(dst, src Buffer, outer, n, inner int) error {
	return d.reduce("cuda.Sum", false, dst, src, outer, n, inner)
}

func (d *Device) Max(dst, src Buffer, outer, n, inner int) error {
	return d.reduce("cuda.Max", true, dst, src, outer, n, inner)
}

func (d *Device) reduce(name string, isMax bool, dst, src Buffer, outer, n, inner int) error {
	if outer < 0 || n < 0 || inner < 0 {
		panic(fmt.Sprintf("%s: negative size %d x %d x %d", name, outer, n, inner))
	}
	needSame(name, outer*inner, dst)
	needSame(name, outer*n*inner, src)
	if outer*inner == 0 {
		return nil
	}
	if inner == 1 {
		g, bl := rowLaunch(outer, n)
		return d.launch("kiln_reduce_rows", g, bl, 0, argBool(isMax), argInt(outer), argInt(n), argBuf(dst), argBuf(src))
	}
	pairs := outer * inner
	if pairs >= 1<<15 || n <= 2*reduceChunk {
		g, bl := elemLaunch(pairs)
		return d.launch("kiln_reduce_axis", g, bl, 0, argBool(isMax), argInt(outer), argInt(n), argInt(inner), argBuf(dst), argBuf(src))
	}
	// Few (outer, inner) pairs and a long axis: two stages.
	chunks := ceilDiv(n, reduceChunk)
	partial, err := d.Alloc(chunks * pairs)
	if err != nil {
		return err
	}
	defer d.Free(partial)
	if err := d.launch("kiln_reduce_axis_partial", grid3(ceilDiv(pairs, blockElem), chunks, 1), grid3(blockElem, 1, 1), 0,
		argBool(isMax), argInt(outer), argInt(n), argInt(inner), argInt(reduceChunk), argBuf(partial), argBuf(src)); err != nil {
		return err
	}
	g, bl := elemLaunch(pairs)
	return d.launch("kiln_reduce_chunks", g, bl, 0, argBool(isMax), argInt(chunks), argLong(pairs), argBuf(dst), argBuf(partial))
}

// reduceChunk is the length of axis a thread reduces in the first of the
// two stages of an axis reduction.
const reduceChunk = 256

// ---- softmax (softmax.cu) ----

// Softmax writes softmax of each row of src [rows, n] (kernels.SoftmaxRowRef).
func (d *Device) Softmax(dst, src Buffer, rows, n int) error {
	return d.softmax("cuda.Softmax", false, dst, src, rows, n)
}

// LogSoftmax writes log_softmax of each row (kernels.LogSoftmaxRowRef).
func (d *Device) LogSoftmax(dst, src Buffer, rows, n int) error {
	return d.softmax("cuda.LogSoftmax", true, dst, src, rows, n)
}

func (d *Device) softmax(name string, isLog bool, dst, src Buffer, rows, n int) error {
	needRows(name, rows, n)
	needSame(name, rows*n, dst, src)
	if rows*n == 0 {
		return nil
	}
	g, bl := rowLaunch(rows, n)
	return d.launch("kiln_softmax", g, bl, 0, argBool(isLog), argInt(rows), argInt(n), argBuf(dst), argBuf(src))
}

// SoftmaxBackward: dx = y*(dy - sum(y*dy)) per row, y the softmax output
// (kernels.SoftmaxRowBackwardRef).
func (d *Device) SoftmaxBackward(dx, y, dy Buffer, rows, n int) error {
	return d.softmaxBackward("cuda.SoftmaxBackward", false, dx, y, dy, rows, n)
}

// LogSoftmaxBackward: dx = dy - exp(y)*sum(dy) per row, y the log_softmax
// output (kernels.LogSoftmaxRowBackwardRef).
func (d *Device) LogSoftmaxBackward(dx, y, dy Buffer, rows, n int) error {
	return d.softmaxBackward("cuda.LogSoftmaxBackward", true, dx, y, dy, rows, n)
}

func (d *Device) softmaxBackward(name string, isLog bool, dx, y, dy Buffer, rows, n int) error {
	needRows(name, rows, n)
	needSame(name, rows*n, dx, y, dy)
	if rows*n == 0 {
		return nil
	}
	g, bl := rowLaunch(rows, n)
	return d.launch("kiln_softmax_backward", g, bl, 0, argBool(isLog), argInt(rows), argInt(n), argBuf(dx), argBuf(y), argBuf(dy))
}

// ---- normalisation (norm.cu) ----

// LayerNorm normalises each row of x [rows, n]: y = (x-mean)*rstd*w + b
// (kernels.LayerNormRowRef), writing mean and rstd [rows] for the backward.
// w and b may be the zero Buffer (no affine).
func (d *Device) LayerNorm(y, mean, rstd, x, w, b Buffer, rows, n int, eps float32) error {
	const name = "cuda.LayerNorm"
	needRows(name, rows, n)
	needSame(name, rows*n, y, x)
	needSame(name, rows, mean, rstd)
	optional(name, n, w, b)
	if rows == 0 || n == 0 {
		return nil // the reference returns mean = rstd = 0 for n == 0 without writing
	}
	g, bl := rowLaunch(rows, n)
	return d.launch("kiln_layernorm", g, bl, 0, argInt(rows), argInt(n), argFloat(eps),
		argBuf(y), argBuf(mean), argBuf(rstd), argBuf(x), argBuf(w), argBuf(b))
}

// LayerNormBackward writes dx and ACCUMULATES dw += sum dy*xhat and
// db += sum dy over the rows (kernels.LayerNormRowBackwardRef on each row);
// dw, db and w may be the zero Buffer.
func (d *Device) LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd Buffer, rows, n int) error {
	const name = "cuda.LayerNormBackward"
	needRows(name, rows, n)
	needSame(name, rows*n, dx, dy, x)
	needSame(name, rows, mean, rstd)
	optional(name, n, w, dw, db)
	if rows == 0 || n == 0 {
		return nil
	}
	g, bl := rowLaunch(rows, n)
	if err := d.launch("kiln_layernorm_backward_dx", g, bl, 0, argInt(rows), argInt(n),
		argBuf(dx), argBuf(dy), argBuf(x), argBuf(w), argBuf(mean), argBuf(rstd)); err != nil {
		return err
	}
	if dw.IsNil() && db.IsNil() {
		return nil
	}
	chunks := ceilDiv(rows, normChunk)
	scratch, err := d.Alloc(2 * chunks * n)
	if err != nil {
		return err
	}
	defer d.Free(scratch)
	pdw, pdb := scratch.Slice(0, chunks*n), scratch.Slice(chunks*n, 2*chunks*n)
	if dw.IsNil() {
		pdw = Buffer{}
	}
	if db.IsNil() {
		pdb = Buffer{}
	}
	if err := d.launch("kiln_layernorm_dwdb_partial", grid3(ceilDiv(n, blockElem), chunks, 1), grid3(blockElem, 1, 1), 0,
		argInt(rows), argInt(n), argInt(normChunk), argBuf(pdw), argBuf(pdb), argBuf(dy), argBuf(x), argBuf(mean), argBuf(rstd)); err != nil {
		return err
	}
	for _, acc := range [][2]Buffer{{dw, pdw}, {db, pdb}} {
		if acc[0].IsNil() {
			continue
		}
		if err := d.colsumAcc(acc[0], acc[1], chunks, n); err != nil {
			return err
		}
	}
	return nil
}

// normChunk is the rows a block sums in the first stage of the norms'
// weight gradients.
const normChunk = 256

// colsumAcc: dst[j] += sum of partial[c*n + j] over c < chunks, in c order.
func (d *Device) colsumAcc(dst, partial Buffer, chunks, n int) error {
	g, bl := elemLaunch(n)
	return d.launch("kiln_colsum_acc", g, bl, 0, argInt(chunks), argInt(n), argBuf(dst), argBuf(partial))
}

// RMSNorm: y = x*rstd*w per row with rstd = 1/sqrt(mean(x^2)+eps)
// (kernels.RMSNormRowRef), writing rstd [rows]; w may be the zero Buffer.
func (d *Device) RMSNorm(y, rstd, x, w Buffer, rows, n int, eps float32) error {
	const name = "cuda.RMSNorm"
	needRows(name, rows, n)
	needSame(name, rows*n, y, x)
	needSame(name, rows, rstd)
	optional(name, n, w)
	if rows == 0 || n == 0 {
		return nil
	}
	g, bl := rowLaunch(rows, n)
	return d.launch("kiln_rmsnorm", g, bl, 0, argInt(rows), argInt(n), argFloat(eps), argBuf(y), argBuf(rstd), argBuf(x), argBuf(w))
}

// RMSNormBackward writes dx and ACCUMULATES dw += sum dy*x*rstd
// (kernels.RMSNormRowBackwardRef on each row); dw and w may be the zero
// Buffer.
func (d *Device) RMSNormBackward(dx, dw, dy, x, w, rstd Buffer, rows, n int) error {
	const name = "cuda.RMSNormBackward"
	needRows(name, rows, n)
	needSame(name, rows*n, dx, dy, x)
	needSame(name, rows, rstd)
	optional(name, n, w, dw)
	if rows == 0 || n == 0 {
		return nil
	}
	g, bl := rowLaunch(rows, n)
	if err := d.launch("kiln_rmsnorm_backward_dx", g, bl, 0, argInt(rows), argInt(n),
		argBuf(dx), argBuf(dy), argBuf(x), argBuf(w), argBuf(rstd)); err != nil {
		return err
	}
	if dw.IsNil() {
		return nil
	}
	chunks := ceilDiv(rows, normChunk)
	pdw, err := d.Alloc(chunks * n)
	if err != nil {
		return err
	}
	defer d.Free(pdw)
	if err := d.launch("kiln_rmsnorm_dw_partial", grid3(ceilDiv(n, blockElem), chunks, 1), grid3(blockElem, 1, 1), 0,
		argInt(rows), argInt(n), argInt(normChunk), argBuf(pdw), argBuf(dy), argBuf(x), argBuf(rstd)); err != nil {
		return err
	}
	return d.colsumAcc(dw, pdw, chunks, n)
}

// optional checks buffers that may be absent (the zero Buffer) or of n elements.
func optional(name string, n int, bufs ...Buffer) {
	for _, b := range bufs {
		if !b.IsNil() && b.n != n {
			panic(fmt.Sprintf("%s: affine operand has %d elements, want %d", name, b.n, n))
		}
	}
}

// ---- index uploads ----

// withInts uploads vals (each checked by valid) to a temporary device
// buffer, runs f with it and frees it. The free is safe before f's kernel
// has run: the memory is reused only by work queued later on the stream.
func (d *Device) withInts(name string, vals []int, valid func(int) bool, f func(Buffer) error) error {
	tmp := make([]int32, len(vals))
	for i, v := range vals {
		if !valid(v) {
			panic(fmt.Sprintf("%s: index %d at position %d out of range", name, v, i))
		}
		tmp[i] = int32(v)
	}
	buf, err := d.Alloc(len(tmp))
	if err != nil {
		return err
	}
	defer d.Free(buf)
	if err := d.UploadInt32(buf, tmp); err != nil {
		return err
	}
	return f(buf)
}

// ---- cross-entropy (crossentropy.cu) ----

// CrossEntropy writes, for logits [rows, n] and one target a row,
// loss[r] = logsumexp(row) - row[target] (0 where target == ignore) and
// lse[r] = logsumexp(row) for the backward (tensor.CrossEntropy's
// per-row losses; the caller reduces them). Targets must be ignore or in
// [0, n).
func (d *Device) CrossEntropy(loss, lse, logits Buffer, targets []int, rows, n, ignore int) error {
	const name = "cuda.CrossEntropy"
	needRows(name, rows, n)
	needSame(name, rows*n, logits)
	needSame(name, rows, loss, lse)
	if len(targets) != rows {
		panic(fmt.Sprintf("%s: %d targets for %d rows", name, len(targets), rows))
	}
	if rows == 0 {
		return nil
	}
	if n == 0 {
		panic(fmt.Sprintf("%s: %d rows of 0 classes", name, rows))
	}
	valid := func(t int) bool { return t == ignore || (t >= 0 && t < n) }
	return d.withInts(name, targets, valid, func(tb Buffer) error {
		g, bl := rowLaunch(rows, n)
		return d.launch("kiln_cross_entropy", g, bl, 0, argInt(rows), argInt(n), argInt(ignore),
			argBuf(loss), argBuf(lse), argBuf(logits), argBuf(tb))
	})
}

// CrossEntropyBackward writes dlogits = w_r*(softmax(row) - onehot(target))
// (0 for ignored rows), with w_r = wrow[r], or w when wrow is the zero
// Buffer (mean reduction: w = upstream/counted; sum: w = upstream).
func (d *Device) CrossEntropyBackward(dlogits, logits, lse Buffer, targets []int, rows, n, ignore int, w float32, wrow Buffer) error {
	const name = "cuda.CrossEntropyBackward"
	needRows(name, rows, n)
	needSame(name, rows*n, dlogits, logits)
	needSame(name, rows, lse)
	optional(name, rows, wrow)
	if len(targets) != rows {
		panic(fmt.Sprintf("%s: %d targets for %d rows", name, len(targets), rows))
	}
	if rows*n == 0 {
		return nil
	}
	valid := func(t int) bool { return t == ignore || (t >= 0 && t < n) }
	return d.withInts(name, targets, valid, func(tb Buffer) error {
		g, bl := rowLaunch(rows, n)
		return d.launch("kiln_cross_entropy_backward", g, bl, 0, argInt(rows), argInt(n), argInt(ignore),
			argBuf(dlogits), argBuf(logits), argBuf(lse), argBuf(tb), argFloat(w), argBuf(wrow))
	})
}

// ---- embedding (embedding.cu) ----

// Embedding writes out[i, :] = table[ids[i], :] (table [vocab, dim],
// out [len(ids), dim]).
func (d *Device) Embedding(out, table Buffer, ids []int, vocab, dim int) error {
	const name = "cuda.Embedding"
	needRows(name, vocab, dim)
	needSame(name, vocab*dim, table)
	needSame(name, len(ids)*dim, out)
	if len(ids)*dim == 0 {
		return nil
	}
	return d.withInts(name, ids, func(i int) bool { return i >= 0 && i < vocab }, func(ib Buffer) error {
		g, bl := elemLaunch(len(ids) * dim)
		return d.launch("kiln_embedding", g, bl, 0, argInt(len(ids)), argInt(dim), argBuf(out), argBuf(table), argBuf(ib))
	})
}

// EmbeddingBackward ACCUMULATES dtable[ids[i], :] += dy[i, :], summing the
// positions of each id in increasing order (tensor.IndexSelect's
// backward), deterministically: the positions are grouped by id here.
func (d *Device) EmbeddingBackward(dtable, dy Buffer, ids []int, vocab, dim int) error {
	const name = "cuda.EmbeddingBackward"
	needRows(name, vocab, dim)
	needSame(name, vocab*dim, dtable)
	needSame(name, len(ids)*dim, dy)
	if len(ids)*dim == 0 {
		return nil
	}
	uniq, start, pos := groupIDs(name, ids, vocab)
	all := make([]int, 0, len(uniq)+len(start)+len(pos))
	all = append(append(append(all, uniq...), start...), pos...)
	return d.withInts(name, all, func(int) bool { return true }, func(b Buffer) error {
		u, s, p := b.Slice(0, len(uniq)), b.Slice(len(uniq), len(uniq)+len(start)), b.Slice(len(uniq)+len(start), b.n)
		g, bl := rowLaunch(len(uniq), dim)
		return d.launch("kiln_embedding_backward", g, bl, 0, argInt(len(uniq)), argInt(dim),
			argBuf(dtable), argBuf(dy), argBuf(u), argBuf(s), argBuf(p))
	})
}

// groupIDs lists the distinct ids in order of first appearance (uniq), and
// for uniq[u] its positions pos[start[u]:start[u+1]] in increasing order.
func groupIDs(name string, ids []int, vocab int) (uniq, start, pos []int) {
	count := map[int]int{}
	for i, id := range ids {
		if id < 0 || id >= vocab {
			panic(fmt.Sprintf("%s: id %d at position %d out of range for %d rows", name, id, i, vocab))
		}
		if count[id] == 0 {
			uniq = append(uniq, id)
		}
		count[id]++
	}
	start = make([]int, len(uniq)+1)
	slot := make(map[int]int, len(uniq))
	for u, id := range uniq {
		start[u+1] = start[u] + count[id]
		slot[id] = start[u]
	}
	pos = make([]int, len(ids))
	for i, id := range ids {
		pos[slot[id]] = i
		slot[id]++
	}
	return uniq, start, pos
}

// ---- rotary embedding (rope.cu) ----

// RoPE rotates x [..., T, D] (shape, D even; at least 2 dims) into out as
// tensor.RoPE(pos, base) does: pos has T entries, or shape[0]*T (one row of
// positions per item of the first dim, with at least 3 dims). backward
// applies the inverse rotation (the gradient).
func (d *Device) RoPE(out, x Buffer, shape []int, pos []int, base float64, backward bool) error {
	const name = "cuda.RoPE"
	nd := len(shape)
	if nd < 2 || shape[nd-1]%2 != 0 {
		panic(fmt.Sprintf("%s: need [..., T, D] with even D, have shape %v", name, shape))
	}
	T, D := shape[nd-2], shape[nd-1]
	total := 1
	for _, s := range shape {
		total *= s
	}
	needSame(name, total, out, x)
	perFirst := false
	switch {
	case len(pos) == T:
	case nd >= 3 && len(pos) == shape[0]*T:
		perFirst = true
	default:
		panic(fmt.Sprintf("%s: %d positions for shape %v", name, len(pos), shape))
	}
	if total == 0 {
		return nil
	}
	half := D / 2
	rows := total / D
	perItem := rows / shape[0]
	// cos/sin once per distinct position, in float64 as tensor.RoPE.
	invFreq := make([]float64, half)
	for i := range invFreq {
		invFreq[i] = math.Pow(base, -float64(2*i)/float64(D))
	}
	slotOf := map[int]int{}
	var uniq []int
	slot := make([]int, len(pos))
	for i, p := range pos {
		s, ok := slotOf[p]
		if !ok {
			s = len(uniq)
			slotOf[p] = s
			uniq = append(uniq, p)
		}
		slot[i] = s
	}
	table := make([]float32, 2*len(uniq)*half) // cos rows, then sin rows
	for u, p := range uniq {
		for i := 0; i < half; i++ {
			a := float64(p) * invFreq[i]
			table[u*half+i] = float32(math.Cos(a))
			table[(len(uniq)+u)*half+i] = float32(math.Sin(a))
		}
	}
	tb, err := d.Alloc(len(table))
	if err != nil {
		return err
	}
	defer d.Free(tb)
	if err := d.Upload(tb, table); err != nil {
		return err
	}
	sign := float32(1)
	if backward {
		sign = -1
	}
	return d.withInts(name, slot, func(int) bool { return true }, func(sb Buffer) error {
		cosT, sinT := tb.Slice(0, len(uniq)*half), tb.Slice(len(uniq)*half, tb.n)
		g, bl := elemLaunch(rows * half)
		return d.launch("kiln_rope", g, bl, 0, argInt(rows), argInt(D), argInt(T), argInt(perItem), argBool(perFirst),
			argFloat(sign), argBuf(out), argBuf(x), argBuf(cosT), argBuf(sinT), argBuf(sb))
	})
}

// ---- optimizer (adamw.cu) ----

// AdamW is kernels.AdamW on device buffers: one decoupled-weight-decay Adam
// step in place, step counting from 1.
func (d *Device) AdamW(p, g, m, v Buffer, lr, beta1, beta2, eps, wd float32, step int) error {
	const name = "cuda.AdamW"
	needSame(name, p.n, g, m, v)
	if step < 1 {
		panic(fmt.Sprintf("%s: step %d < 1", name, step))
	}
	if p.n == 0 {
		return nil
	}
	// The scalars exactly as kernels.AdamWRef computes them.
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	stepSize := float32(float64(lr) / bc1)
	bc2s := float32(math.Sqrt(bc2))
	decay := 1 - lr*wd
	gr, bl := elemLaunch(p.n)
	return d.launch("kiln_adamw", gr, bl, 0, argLong(p.n), argBuf(p), argBuf(g), argBuf(m), argBuf(v),
		argFloat(beta1), argFloat(1-beta1), argFloat(beta2), argFloat(1-beta2), argFloat(eps),
		argFloat(stepSize), argFloat(bc2s), argFloat(decay))
}

// ---- sampling (sample.cu) ----

// SampleOpts are the sampling settings of vision.SampleOpts.
type SampleOpts struct {
	Temperature float32 // <= 0: greedy (argmax)
	TopK        int     // > 0: keep the k most probable tokens
	TopP        float32 // in (0, 1): keep the shortest prefix of that mass
}

// Sample draws one token from each row of logits [rows, V] as vision's
// sampler does, given one uniform draw in [0, 1) a row (u, drawn on the
// host), and writes the token into tok (int32, rows) and its log-probability
// at temperature 1 into logp (rows).
func (d *Device) Sample(tok, logp, logits Buffer, rows, V int, u []float32, o SampleOpts) error {
	const name = "cuda.Sample"
	needRows(name, rows, V)
	needSame(name, rows*V, logits)
	needSame(name, rows, tok, logp)
	if len(u) != rows {
		panic(fmt.Sprintf("%s: %d draws for %d rows", name, len(u), rows))
	}
	if rows == 0 {
		return nil
	}
	if V == 0 {
		panic(fmt.Sprintf("%s: %d rows of 0 tokens", name, rows))
	}
	for i, v := range u {
		if !(v >= 0 && v < 1) {
			panic(fmt.Sprintf("%s: draw %v at row %d outside [0, 1)", name, v, i))
		}
	}
	scratch, err := d.Alloc(rows*V + rows) // probabilities, then the draws
	if err != nil {
		return err
	}
	defer d.Free(scratch)
	probs, ub := scratch.Slice(0, rows*V), scratch.Slice(rows*V, rows*V+rows)
	if err := d.Upload(ub, u); err != nil {
		return err
	}
	block := min(1024, max(32, ceilDiv(V, 32)*32))
	return d.launch("kiln_sample", grid3(clampGrid(rows), 1, 1), grid3(block, 1, 1), 0,
		argInt(rows), argInt(V), argFloat(o.Temperature), argInt(o.TopK), argFloat(o.TopP),
		argBuf(logits), argBuf(probs), argBuf(ub), argBuf(tok), argBuf(logp))
}

// ---- tensor-core GEMM (gemm_tc.cu) ----

// GemmTF32 is Sgemm on the tensor cores: the inputs are rounded to TF32
// (10 mantissa bits), the products summed in FP32.
func (d *Device) GemmTF32(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, b Buffer, ldb int, beta float32, c Buffer, ldc int) error {
	return d.GemmTF32StridedBatched(transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)
}

// GemmTF32StridedBatched is SgemmStridedBatched on the tensor cores (TF32).
func (d *Device) GemmTF32StridedBatched(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda, strideA int, b Buffer, ldb, strideB int, beta float32, c Buffer, ldc, strideC int, batch int) error {
	return d.gemmTC("cuda.GemmTF32", "kiln_gemm_tf32", transA, transB, m, n, k, alpha, a, a, lda, strideA, b, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

// GemmBF16 is Sgemm with BF16 operands (from ToBF16: two values to a 4-byte
// element, leading dimensions in values) and FP32 accumulation and C.
func (d *Device) GemmBF16(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, b Buffer, ldb int, beta float32, c Buffer, ldc int) error {
	return d.GemmBF16StridedBatched(transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)
}

// GemmBF16StridedBatched is GemmBF16 over batch items (strides in values).
func (d *Device) GemmBF16StridedBatched(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda, strideA int, b Buffer, ldb, strideB int, beta float32, c Buffer, ldc, strideC int, batch int) error {
	// The checks count BF16 values: two to an element.
	a2, b2 := Buffer{ptr: a.ptr, n: 2 * a.n}, Buffer{ptr: b.ptr, n: 2 * b.n}
	return d.gemmTC("cuda.GemmBF16", "kiln_gemm_bf16", transA, transB, m, n, k, alpha, a, a2, lda, strideA, b, b2, ldb, strideB, beta, c, ldc, strideC, batch)
}

// bf16Stages is BF16_STAGES of gemm_tc.cu: the BF16 GEMM's pipeline depth,
// which sizes its dynamic shared memory.
const bf16Stages = 2

// tf32Stages and tf32BK are TF32_STAGES and TF32_BK of gemm_tc.cu.
const tf32Stages, tf32BK = 2, 32

// bf16BK is BF16_BK of gemm_tc.cu: the BF16 GEMM's k-slab.
const bf16BK = 64

// bf16BN is BF16_BN of gemm_tc.cu: the BF16 GEMM's block tile is 128 x
// bf16BN.
const bf16BN = 128

func (d *Device) gemmTC(name, kernel string, transA, transB bool, m, n, k int, alpha float32, a, aCheck Buffer, lda, strideA int, b, bCheck Buffer, ldb, strideB int, beta float32, c Buffer, ldc, strideC int, batch int) error {
	checkGemm(name, transA, transB, m, n, k, aCheck, lda, strideA, bCheck, ldb, strideB, c, ldc, strideC, batch)
	if batch == 0 || m == 0 || n == 0 {
		return nil
	}
	bn := 128
	if kernel == "kiln_gemm_bf16" {
		bn = bf16BN
	}
	grid := grid3(ceilDiv(n, bn), ceilDiv(m, 128), min(batch, maxGrid))
	if grid[1] > maxGrid {
		panic(fmt.Sprintf("%s: m=%d exceeds the grid (%d rows of tiles)", name, m, maxGrid))
	}
	shmem := 0
	if kernel == "kiln_gemm_bf16" {
		// gemm_tc.cu: a stage holds A (128 x bf16BK) and B (bf16BK x
		// bf16BN), each padded by 16 bytes a row, laid out along whichever
		// side takes more room.
		side := func(r, c int) int { return max(r*(c+8), c*(r+8)) * 2 }
		shmem = bf16Stages * (side(128, bf16BK) + side(bf16BN, bf16BK))
	} else {
		// The same for TF32: 4-byte values, padded by 4 a row.
		side := func(r, c int) int { return max(r*(c+4), c*(r+4)) * 4 }
		shmem = tf32Stages * 2 * side(128, tf32BK)
	}
	return d.launch(kernel, grid, grid3(256, 1, 1), shmem,
		argBool(transA), argBool(transB), argInt(m), argInt(n), argInt(k), argFloat(alpha),
		argBuf(a), argInt(lda), argLong(strideA), argBuf(b), argInt(ldb), argLong(strideB),
		argFloat(beta), argBuf(c), argInt(ldc), argLong(strideC), argInt(batch))
}

// ToBF16 converts n = src.Len() floats to BF16 (round to nearest even) into
// dst, which holds two values an element (dst.Len() == (n+1)/2).
func (d *Device) ToBF16(dst, src Buffer) error {
	if dst.n != (src.n+1)/2 {
		panic(fmt.Sprintf("cuda.ToBF16: %d floats into %d elements (want %d)", src.n, dst.n, (src.n+1)/2))
	}
	if src.n == 0 {
		return nil
	}
	g, bl := elemLaunch(src.n)
	return d.launch("kiln_f32_to_bf16", g, bl, 0, argLong(src.n), argBuf(dst), argBuf(src))
}

// ---- fused attention (attention.cu) ----

// AttnOpts are tensor.AttnOpts: a causal mask aligned right (query i sees
// key j <= i + S - T), key padding (Batch*S entries, true = padded), and the
// score scale (0: 1/sqrt(D)).
type AttnOpts struct {
	Causal     bool
	KeyPadding []bool
	Batch      int // items of the first dim, which KeyPadding is laid out by
	Scale      float32
}

// AttnShape is the layout of tensor's attention GEMMs: G groups (batch x kv
// heads), each with Rep*T query rows (the query heads sharing a kv head),
// S keys, head dims D (q, k) and Dv (v, out), at most 128.
type AttnShape struct {
	G, Rep, T, S, D, Dv int
}

func (s AttnShape) check(name string) (tq, dm int) {
	if s.G < 0 || s.Rep < 1 || s.T < 0 || s.S < 0 || s.D < 1 || s.Dv < 1 {
		panic(fmt.Sprintf("%s: bad shape %+v", name, s))
	}
	switch m := max(s.D, s.Dv); {
	case m <= 32:
		dm = 32
	case m <= 64:
		dm = 64
	case m <= 128:
		dm = 128
	default:
		panic(fmt.Sprintf("%s: head dims %d, %d: at most 128 supported", name, s.D, s.Dv))
	}
	return s.Rep * s.T, dm
}

// attnPad uploads the key padding (or returns the zero Buffer) and the
// groups per batch item.
func (d *Device) attnPad(name string, s AttnShape, o AttnOpts, f func(pad Buffer, perItem int) error) error {
	if o.KeyPadding == nil {
		return f(Buffer{}, 1)
	}
	if o.Batch < 1 || s.G%o.Batch != 0 || len(o.KeyPadding) != o.Batch*s.S {
		panic(fmt.Sprintf("%s: KeyPadding of %d entries for batch %d, S=%d, G=%d", name, len(o.KeyPadding), o.Batch, s.S, s.G))
	}
	pad := make([]int, len(o.KeyPadding))
	for i, p := range o.KeyPadding {
		if p {
			pad[i] = 1
		}
	}
	return d.withInts(name, pad, func(int) bool { return true }, func(b Buffer) error { return f(b, s.G/o.Batch) })
}

func attnScale(o AttnOpts, D int) float32 {
	if o.Scale != 0 {
		return o.Scale
	}
	return float32(1 / math.Sqrt(float64(D)))
}

// attnBlock is the forward's and dq's block: 64 threads (32 for dm 128).
func attnBlock(dm int) int {
	if dm == 128 {
		return 32
	}
	return 64
}

// Attention writes out = softmax(q k^T * scale + mask) v for q [G, Rep*T, D],
// k [G, S, D], v [G, S, Dv] into out [G, Rep*T, Dv], and lse [G*Rep*T], the
// rows' log-sum-exp, for the backward (tensor.ScaledDotProductAttention).
func (d *Device) Attention(out, lse, q, k, v Buffer, s AttnShape, o AttnOpts) error {
	const name = "cuda.Attention"
	tq, dm := s.check(name)
	needSame(name, s.G*tq*s.D, q)
	needSame(name, s.G*s.S*s.D, k)
	needSame(name, s.G*s.S*s.Dv, v)
	needSame(name, s.G*tq*s.Dv, out)
	needSame(name, s.G*tq, lse)
	if s.G*tq == 0 {
		return nil
	}
	if s.G > maxGrid {
		panic(fmt.Sprintf("%s: %d groups exceed the grid", name, s.G))
	}
	return d.attnPad(name, s, o, func(pad Buffer, perItem int) error {
		bl := attnBlock(dm)
		return d.launch(fmt.Sprintf("kiln_attn_fwd_%d", dm), grid3(ceilDiv(tq, bl), s.G, 1), grid3(bl, 1, 1), 0,
			argInt(s.G), argInt(tq), argInt(s.T), argInt(s.S), argInt(s.D), argInt(s.Dv), argFloat(attnScale(o, s.D)),
			argBool(o.Causal), argInt(perItem), argBuf(pad), argBuf(q), argBuf(k), argBuf(v), argBuf(out), argBuf(lse))
	})
}

// AttentionBackward writes dq, dk and dv (not accumulated) from the
// forward's inputs, out and lse, and the output gradient dout.
func (d *Device) AttentionBackward(dq, dk, dv, q, k, v, out, lse, dout Buffer, s AttnShape, o AttnOpts) error {
	const name = "cuda.AttentionBackward"
	tq, dm := s.check(name)
	needSame(name, s.G*tq*s.D, q, dq)
	needSame(name, s.G*s.S*s.D, k, dk)
	needSame(name, s.G*s.S*s.Dv, v, dv)
	needSame(name, s.G*tq*s.Dv, out, dout)
	needSame(name, s.G*tq, lse)
	if s.G == 0 {
		return nil
	}
	if s.G > maxGrid {
		panic(fmt.Sprintf("%s: %d groups exceed the grid", name, s.G))
	}
	if tq == 0 || s.S == 0 {
		// No scores: the gradients are zero.
		for _, b := range []Buffer{dq, dk, dv} {
			if err := d.Fill(b, 0); err != nil {
				return err
			}
		}
		return nil
	}
	delta, err := d.Alloc(s.G * tq)
	if err != nil {
		return err
	}
	defer d.Free(delta)
	scale := attnScale(o, s.D)
	return d.attnPad(name, s, o, func(pad Buffer, perItem int) error {
		bl := attnBlock(dm)
		common := []arg{argInt(s.G), argInt(tq), argInt(s.T), argInt(s.S), argInt(s.D), argInt(s.Dv), argFloat(scale),
			argBool(o.Causal), argInt(perItem), argBuf(pad), argBuf(q), argBuf(k), argBuf(v)}
		err := d.launch(fmt.Sprintf("kiln_attn_bwd_dq_%d", dm), grid3(ceilDiv(tq, bl), s.G, 1), grid3(bl, 1, 1), 0,
			append(append([]arg(nil), common...), argBuf(out), argBuf(lse), argBuf(dout), argBuf(delta), argBuf(dq))...)
		if err != nil {
			return err
		}
		return d.launch(fmt.Sprintf("kiln_attn_bwd_dkv_%d", dm), grid3(ceilDiv(s.S, bl), s.G, 1), grid3(bl, 1, 1), 0,
			append(append([]arg(nil), common...), argBuf(lse), argBuf(delta), argBuf(dout), argBuf(dk), argBuf(dv))...)
	})
}
