package tasks

import "fmt"

// Result is one scored answer.
type Result struct {
	Family  Family
	Correct bool
}

// Accuracy is the accuracy of one family (or of all, Family "all").
type Accuracy struct {
	Family  Family
	N       int
	Correct int
	Acc     float64 // Correct / N, 0 when N == 0
}

// AllFamilies names the overall row of the tables.
const AllFamilies Family = "all"

// FamilyAccuracy returns one row per family present, in the order of
// Families (other families after, in first-seen order), then the overall
// row.
func FamilyAccuracy(rs []Result) []Accuracy {
	var rows []Accuracy
	order := append([]Family(nil), Families...)
	for _, r := range rs {
		if !contains(order, r.Family) {
			order = append(order, r.Family)
		}
	}
	counts := map[Family][2]int{}
	for _, r := range rs {
		c := counts[r.Family]
		c[0]++
		if r.Correct {
			c[1]++
		}
		counts[r.Family] = c
	}
	all := Accuracy{Family: AllFamilies}
	for _, f := range order {
		c, ok := counts[f]
		if !ok {
			continue
		}
		rows = append(rows, accuracy(f, c[0], c[1]))
		all.N += c[0]
		all.Correct += c[1]
	}
	return append(rows, accuracy(AllFamilies, all.N, all.Correct))
}

func accuracy(f Family, n, correct int) Accuracy {
	a := Accuracy{Family: f, N: n, Correct: correct}
	if n > 0 {
		a.Acc = float64(correct) / float64(n)
	}
	return a
}

func contains(fs []Family, f Family) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// Record is one two-turn self-evaluation outcome: whether the first and
// the second answer were right.
type Record struct {
	Family   Family
	Correct1 bool
	Correct2 bool
}

// SelfEvalMetrics are AdaPO's metrics over a set of records (shares of N).
type SelfEvalMetrics struct {
	Family  Family
	N       int
	AccT1   float64 // right at turn 1
	AccT2   float64 // right at turn 2
	Delta   float64 // AccT2 - AccT1
	DeltaIC float64 // wrong at turn 1, right at turn 2 (fixed)
	DeltaCI float64 // right at turn 1, wrong at turn 2 (broken)
}

// SelfEval returns the metrics per family, in the order of FamilyAccuracy,
// then the overall row (Family "all"). Delta = DeltaIC - DeltaCI.
func SelfEval(rs []Record) []SelfEvalMetrics {
	var order []Family
	for _, f := range Families {
		for _, r := range rs {
			if r.Family == f {
				order = append(order, f)
				break
			}
		}
	}
	for _, r := range rs {
		if !contains(order, r.Family) {
			order = append(order, r.Family)
		}
	}
	var out []SelfEvalMetrics
	for _, f := range order {
		var sub []Record
		for _, r := range rs {
			if r.Family == f {
				sub = append(sub, r)
			}
		}
		out = append(out, selfEval(f, sub))
	}
	return append(out, selfEval(AllFamilies, rs))
}

func selfEval(f Family, rs []Record) SelfEvalMetrics {
	m := SelfEvalMetrics{Family: f, N: len(rs)}
	if len(rs) == 0 {
		return m
	}
	var c1, c2, ic, ci int
	for _, r := range rs {
		if r.Correct1 {
			c1++
		}
		if r.Correct2 {
			c2++
		}
		if !r.Correct1 && r.Correct2 {
			ic++
		}
		if r.Correct1 && !r.Correct2 {
			ci++
		}
	}
	n := float64(len(rs))
	m.AccT1, m.AccT2 = float64(c1)/n, float64(c2)/n
	m.Delta = m.AccT2 - m.AccT1
	m.DeltaIC, m.DeltaCI = float64(ic)/n, float64(ci)/n
	return m
}

// Majority returns the most frequent answer after normalisation and its
// count; ties go to the answer seen first. Answers are taken as given: pass
// ExtractAnswer's results for raw outputs. An empty slice gives ("", 0).
func Majority(answers []string) (string, int) {
	counts := map[string]int{}
	var order []string
	for _, a := range answers {
		n := Normalize(a)
		if counts[n] == 0 {
			order = append(order, n)
		}
		counts[n]++
	}
	best, bestN := "", 0
	for _, a := range order {
		if counts[a] > bestN {
			best, bestN = a, counts[a]
		}
	}
	return best, bestN
}

// MajorityScored is Majority with ties broken by the model: among the most
// frequent answers it returns the one whose likeliest sample scores highest
// (scores[i] is sample i's sequence log-probability). A vote among 5 samples
// ties often when the model is unsure (on a fifth of our validation items,
// half of the digit ones), and "first seen" then reduces the vote to one
// random sample, below greedy decoding; the likelihood is the model's own
// tie-breaker. Empty answers (nothing extracted) do not vote unless all are
// empty. scores must match answers in length.
func MajorityScored(answers []string, scores []float64) (string, int) {
	if len(scores) != len(answers) {
		panic(fmt.Sprintf("tasks.MajorityScored: %d answers, %d scores", len(answers), len(scores)))
	}
	counts := map[string]int{}
	best := map[string]float64{}
	var order []string
	for i, a := range answers {
		n := Normalize(a)
		if n == "" {
			continue
		}
		if counts[n] == 0 {
			order = append(order, n)
			best[n] = scores[i]
		}
		counts[n]++
		best[n] = max(best[n], scores[i])
	}
	if len(order) == 0 {
		return Majority(answers)
	}
	win := order[0]
	for _, a := range order[1:] {
		if counts[a] > counts[win] || counts[a] == counts[win] && best[a] > best[win] {
			win = a
		}
	}
	return win, counts[win]
}
