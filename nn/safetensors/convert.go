package safetensors

import "math"

// The 16-bit encodings. Decoding is exact (every BF16 and F16 value is a
// float32); encoding rounds to nearest, ties to even, as PyTorch does. NaNs
// stay NaN with their sign and the top bits of their payload, so decoding and
// re-encoding a 16-bit NaN gives back the same bits.

// bf16FromF32 encodes f as bfloat16 (the top half of a float32).
func bf16FromF32(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: truncate, keep it a NaN
		h := uint16(b >> 16)
		if h&0x7f == 0 {
			h |= 0x40
		}
		return h
	}
	// Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry
	// into the exponent is the right result, up to Inf.
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// f32FromBF16 decodes a bfloat16.
func f32FromBF16(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// f16FromF32 encodes f as IEEE 754 binary16: finite values beyond the largest
// half (65504) that do not round down to it become Inf, values below the
// smallest normal become subnormals or (signed) zero.
func f16FromF32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00 // Inf
		}
		h := uint16(mant >> 13)
		if h == 0 {
			h = 0x200
		}
		return sign | 0x7c00 | h
	}
	e := exp - 127 + 15 // the binary16 biased exponent
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e >= 1:
		h := uint16(e)<<10 | uint16(mant>>13)
		if roundUp(mant, 13, uint32(h)) {
			h++ // a carry out of the mantissa bumps the exponent, up to Inf
		}
		return sign | h
	case e >= -10:
		// Subnormal: the value is m * 2^-24 with m the 24-bit significand
		// shifted right by 14-e.
		m := mant | 0x800000
		shift := uint(14 - e)
		h := uint16(m >> shift)
		if roundUp(m, shift, uint32(h)) {
			h++ // may become the smallest normal, 0x0400, which is right
		}
		return sign | h
	default:
		// Below 2^-25, half of the smallest subnormal: rounds to zero.
		// (Exactly 2^-25 is a tie and rounds to the even zero above.)
		return sign
	}
}

// roundUp reports whether x, shifted right by shift to give the kept value q,
// rounds up under round-to-nearest-even.
func roundUp(x uint32, shift uint, q uint32) bool {
	half := uint32(1) << (shift - 1)
	rem := x & (1<<shift - 1)
	return rem > half || rem == half && q&1 == 1
}

// f32FromF16 decodes an IEEE 754 binary16.
func f32FromF16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal mant * 2^-24: normalise into a float32.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}
