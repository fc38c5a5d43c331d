package tasks

import (
	"math"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"  Red ":             "red",
		"RED.":               "red",
		"\"left\"!":          "left",
		"1,000":              "1000",
		"03":                 "3",
		"3.0":                "3",
		"3.":                 "3",
		"2.50":               "2.5",
		"-3":                 "-3",
		"+4":                 "4",
		"-0":                 "0",
		".5":                 "0.5",
		"000":                "0",
		"$12":                "12",
		"(b)":                "b",
		"the   Blue\tshape ": "the blue shape",
		"1.2.3":              "1.2.3",
		"a, b":               "a b",
		"...":                "",
		"":                   "",
		"3 apples":           "3 apples",
		"Triangle?":          "triangle",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExtractAnswer(t *testing.T) {
	for in, want := range map[string]string{
		"A=4 B=7. 7-4=3. <answer>3</answer>":    "3",
		"<answer> red </answer> trailing":       "red",
		"<answer>1</answer> <answer>2</answer>": "2",
		"digits: 3 8. <answer>38":               "38",
		"<answer></answer>":                     Unknown,
		"I think\n\n  blue  \n\n":               "blue",
		"   \n ":                                Unknown,
		"":                                      Unknown,
	} {
		if got := ExtractAnswer(in); got != want {
			t.Errorf("ExtractAnswer(%q) = %q, want %q", in, got, want)
		}
	}
	if !Correct("blah <answer>03.</answer>", "3") || Correct("<answer>4</answer>", "3") {
		t.Error("Correct")
	}
}

func TestExtractQuestion(t *testing.T) {
	cases := []struct {
		in     string
		want   string
		tagged bool
	}{
		{"<question>How many shapes are there?</question>", "How many shapes are there?", true},
		{"<question> What is A? </question><rationale>x</rationale>", "What is A?", true},
		{"What is A?", "What is A?", false},
		{"<question></question>", "<question></question>", false},
		{"  ", FallbackQuestion, false},
	}
	for _, c := range cases {
		if q, tagged := ExtractQuestion(c.in); q != c.want || tagged != c.tagged {
			t.Errorf("ExtractQuestion(%q) = %q, %v", c.in, q, tagged)
		}
	}
}

// TestConversations checks the three roles' messages over items of every
// family, and the self-evaluation mix.
func TestConversations(t *testing.T) {
	st := mustStream(t, DefaultConfig(), Train, 3)
	const n = 3000
	wrong := 0
	for i := range uint64(n) {
		it := st.Item(i)
		sol := it.Solver()
		if len(sol) != 2 || !sol[0].Image || sol[0].Role != RoleUser || sol[1].Role != RoleAssistant || sol[1].Image ||
			sol[0].Content != it.Question+" "+AnswerInstruction || !Correct(sol[1].Content, it.Answer) {
			t.Fatalf("solver conversation %+v", sol)
		}
		prop := it.Proposer()
		q, tagged := ExtractQuestion(prop[1].Content)
		if !prop[0].Image || prop[0].Content != ProposerPrompt || !tagged || q != it.Question {
			t.Fatalf("proposer conversation %+v", prop)
		}
		if _, ok := MatchQuestion(it.Scene, q); !ok {
			t.Fatalf("proposed %q does not match the scene", q)
		}
		msgs, w := it.SelfEvalExample(DefaultWrongFirst)
		// Only a wrong first answer is context (untrained).
		if len(msgs) != 4 || msgs[2].Content != SelfEvalPrompt || msgs[2].Image || msgs[3].Content != it.Trace ||
			msgs[1].Context != w || msgs[3].Context {
			t.Fatalf("self-evaluation conversation %+v", msgs)
		}
		if Correct(msgs[1].Content, it.Answer) == w {
			t.Fatalf("first answer %q (answer %s) reported wrong=%v", msgs[1].Content, it.Answer, w)
		}
		if w {
			wrong++
			if !strings.Contains(msgs[1].Content, "<answer>") || len(msgs[1].Content) > 110 {
				t.Fatalf("wrong first answer %q is malformed", msgs[1].Content)
			}
		} else if msgs[1].Content != it.Trace {
			t.Fatalf("kept first answer %q is not the trace %q", msgs[1].Content, it.Trace)
		}
	}
	if share := float64(wrong) / n; math.Abs(share-DefaultWrongFirst) > 0.04 {
		t.Errorf("%.3f of first answers wrong, want about %.2f", share, DefaultWrongFirst)
	}
	if SelfEvalPrompt != "There might be an error in the solution, please evaluate the previous solution and provide a final answer." {
		t.Error("the self-evaluation prompt differs from the AdaPO spec")
	}
}

// TestWrongTrace: for nearly every question a reading error with another
// answer exists, in every family.
func TestWrongTrace(t *testing.T) {
	for _, f := range Families {
		fails := 0
		for i := range 300 {
			s, q, _ := Generate(f, 1+i%3, uint64(i))
			tr, ok := WrongTrace(s, q, uint64(i))
			if !ok {
				fails++
				continue
			}
			ans, _ := Answer(s, q)
			if Correct(tr, ans) {
				t.Fatalf("%s: wrong trace %q has the right answer", f, tr)
			}
		}
		if fails > 3 {
			t.Errorf("%s: no wrong trace for %d of 300 questions", f, fails)
		}
	}
}

func TestEval(t *testing.T) {
	rs := []Result{{Count, true}, {Count, false}, {Chart, true}, {"custom", true}}
	acc := FamilyAccuracy(rs)
	want := []Accuracy{{Count, 2, 1, 0.5}, {Chart, 1, 1, 1}, {"custom", 1, 1, 1}, {AllFamilies, 4, 3, 0.75}}
	if len(acc) != len(want) {
		t.Fatalf("FamilyAccuracy = %+v", acc)
	}
	for i := range want {
		if acc[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, acc[i], want[i])
		}
	}
	recs := []Record{
		{Count, true, true}, {Count, false, true}, {Count, true, false}, {Count, false, false},
		{Digits, false, true}, {Digits, false, true}, {Digits, true, true}, {Digits, true, true},
	}
	m := SelfEval(recs)
	if len(m) != 3 || m[0].Family != Count || m[1].Family != Digits || m[2].Family != AllFamilies {
		t.Fatalf("SelfEval rows %+v", m)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	c, d, all := m[0], m[1], m[2]
	if !near(c.AccT1, 0.5) || !near(c.AccT2, 0.5) || !near(c.Delta, 0) || !near(c.DeltaIC, 0.25) || !near(c.DeltaCI, 0.25) {
		t.Errorf("count metrics %+v", c)
	}
	if !near(d.AccT1, 0.5) || !near(d.AccT2, 1) || !near(d.Delta, 0.5) || !near(d.DeltaIC, 0.5) || d.DeltaCI != 0 {
		t.Errorf("digits metrics %+v", d)
	}
	if all.N != 8 || !near(all.Delta, all.DeltaIC-all.DeltaCI) || !near(all.AccT2, 0.75) {
		t.Errorf("overall metrics %+v", all)
	}
	if e := SelfEval(nil); len(e) != 1 || e[0].N != 0 {
		t.Errorf("SelfEval(nil) = %+v", e)
	}
}

func TestMajority(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
		n    int
	}{
		{[]string{"3", "03", "4", "4.0", "3."}, "3", 3},
		{[]string{"Red", "blue", "BLUE", "red"}, "red", 2}, // tie: first seen
		{[]string{"b", "a"}, "b", 1},
		{nil, "", 0},
	} {
		if got, n := Majority(c.in); got != c.want || n != c.n {
			t.Errorf("Majority(%q) = %q, %d; want %q, %d", c.in, got, n, c.want, c.n)
		}
	}
}

func TestMajorityScored(t *testing.T) {
	for _, c := range []struct {
		in     []string
		scores []float64
		want   string
		n      int
	}{
		{[]string{"3", "03", "4", "4.0", "3."}, []float64{-9, -9, -1, -1, -9}, "3", 3}, // count wins over likelihood
		{[]string{"red", "blue", "BLUE", "red"}, []float64{-5, -4, -7, -6}, "blue", 2}, // tie: likeliest sample
		{[]string{"red", "blue", "BLUE", "red"}, []float64{-3, -4, -7, -6}, "red", 2},
		{[]string{"1", "2", "3", "4", "5"}, []float64{-4, -3, -2, -8, -2.5}, "3", 1},
		{[]string{"", "", "7"}, []float64{0, 0, -9}, "7", 1}, // empty answers do not vote
		{[]string{"", ""}, []float64{0, 0}, "", 2},
		{nil, nil, "", 0},
	} {
		if got, n := MajorityScored(c.in, c.scores); got != c.want || n != c.n {
			t.Errorf("MajorityScored(%q, %v) = %q, %d; want %q, %d", c.in, c.scores, got, n, c.want, c.n)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("mismatched lengths did not panic")
		}
	}()
	MajorityScored([]string{"a"}, nil)
}
