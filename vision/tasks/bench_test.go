package tasks

import "testing"

func benchSplit(b *testing.B, split Split) {
	st := mustStream(b, DefaultConfig(), split, 1)
	for i := 0; b.Loop(); i++ {
		st.Item(uint64(i))
	}
}

func BenchmarkItemTrain(b *testing.B) { benchSplit(b, Train) }
func BenchmarkItemTest(b *testing.B)  { benchSplit(b, Test) }

func BenchmarkRender(b *testing.B) {
	s, _, _ := Generate(Geometry, 3, 1)
	for b.Loop() {
		Render(s, DefaultSize)
	}
}
