package kernels

import (
	"fmt"
	"os"
	"strings"
)

// SIMD dispatch. At init the best variant the CPU supports is installed
// (avx512 > avx2 > generic); KILN_SIMD=generic|avx2|avx512 forces one.
//
// A KILN_SIMD value that is unknown or that this CPU (or a noasm build)
// cannot run is a configuration error, reported at start: init prints one
// line, "kiln: KILN_SIMD=...: ...", to stderr and exits the process with
// status 2, before any kernel runs and without a stack trace. Programs that
// want to check first can call CheckSIMDEnv.

// The variant names, best last.
const (
	VariantGeneric = "generic"
	VariantAVX2    = "avx2"
	VariantAVX512  = "avx512"
)

var (
	variant   = VariantGeneric
	supported = detectVariants() // worst first
)

// Variant reports the SIMD variant the kernels run.
func Variant() string { return variant }

// Variants lists the variants this CPU and build can run, worst first.
func Variants() []string { return append([]string(nil), supported...) }

// CheckSIMDEnv reports whether a KILN_SIMD value can be honoured: nil for ""
// (auto) and for supported variants, an error naming the choices otherwise.
func CheckSIMDEnv(v string) error {
	_, err := pickVariant(v)
	return err
}

func pickVariant(env string) (string, error) {
	env = strings.ToLower(strings.TrimSpace(env))
	if env == "" || env == "auto" {
		return supported[len(supported)-1], nil
	}
	for _, s := range supported {
		if s == env {
			return s, nil
		}
	}
	switch env {
	case VariantGeneric, VariantAVX2, VariantAVX512:
		return "", fmt.Errorf("KILN_SIMD=%s: not supported by this CPU or build (supported: %s)", env, strings.Join(supported, ", "))
	}
	return "", fmt.Errorf("KILN_SIMD=%s: unknown variant (want generic, avx2 or avx512; supported here: %s)", env, strings.Join(supported, ", "))
}

func init() {
	v, err := pickVariant(os.Getenv("KILN_SIMD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kiln:", err)
		os.Exit(2)
	}
	setVariant(v)
}

// setVariant installs the named variant's kernels in every hook. Tests use
// it to run the conformance suite against each variant in one process; it
// is not safe to call while kernels run.
func setVariant(v string) {
	setGeneric()
	if v != VariantGeneric {
		setArch(v)
	}
	variant = v
}

// setGeneric installs the pure-Go kernels.
func setGeneric() {
	sgemmImpl = sgemmGeneric
	sgemmBatchedImpl = sgemmBatchedGeneric
	axpyImpl = AxpyRef
	dotImpl = DotRef
	scaleImpl = ScaleRef
	addImpl = AddRef
	subImpl = SubRef
	mulImpl = MulRef
	divImpl = DivRef
	addScalarImpl = AddScalarRef
	mulScalarImpl = MulScalarRef
	sumImpl = SumRef
	maxImpl = MaxRef
	expImpl = ExpRef
	softmaxRowImpl = SoftmaxRowRef
	softmaxRowBackwardImpl = SoftmaxRowBackwardRef
	logSoftmaxRowImpl = LogSoftmaxRowRef
	logSoftmaxRowBackwardImpl = LogSoftmaxRowBackwardRef
	layerNormRowImpl = LayerNormRowRef
	layerNormRowBackwardImpl = LayerNormRowBackwardRef
	rmsNormRowImpl = RMSNormRowRef
	rmsNormRowBackwardImpl = RMSNormRowBackwardRef
	geluImpl = GeluRef
	geluBackwardImpl = GeluBackwardRef
	geluTanhImpl = GeluTanhRef
	geluTanhBackwardImpl = GeluTanhBackwardRef
	siluImpl = SiluRef
	siluBackwardImpl = SiluBackwardRef
	adamWImpl = AdamWRef
}
