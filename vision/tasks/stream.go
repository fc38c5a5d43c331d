package tasks

import (
	"fmt"
	"image"
	"slices"
)

// Split is one of the three disjoint streams.
type Split int

// The splits.
const (
	Train Split = iota
	Validation
	Test
)

func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Validation:
		return "validation"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// SplitOf returns the split a scene key belongs to: the key's two low bits
// (key % 4) are 0 for validation, 1 for test and 2 or 3 for train. Train
// thus owns half of all possible scenes, and a stream of any split finds
// its next item within a few draws (4 on average for validation and test).
func SplitOf(key uint64) Split {
	switch key % 4 {
	case 0:
		return Validation
	case 1:
		return Test
	}
	return Train
}

// Config chooses what a stream draws.
type Config struct {
	Size     int      // image side in pixels (default 32)
	Families []Family // families drawn uniformly; repeat one to weight it (default all)
	Levels   []int    // levels drawn uniformly, each 1-3; repeats weight (default 1, 2, 3)
	// CountRoutes makes half the counting traces (by a bit of the scene's
	// key) go by columns instead of rows: two routes to one answer, so
	// sampled traces can disagree where greedy follows one route. Off by
	// default (the shipped model's traces); see countRouteTrace.
	CountRoutes bool
	// AnswerOnly is the share (0-1) of solver examples whose target is the
	// bare "<answer>A</answer>"; the others open their trace with one of
	// the first Openings of AnswerOnlyOpenings (by hash of the scene's key). It builds a
	// model whose greedy decoding and whose samples take different routes:
	// the bare answer is the single likeliest first token whenever
	// AnswerOnly > (1-AnswerOnly)/Openings, yet most samples reason. Off by
	// default; see Item.Target and bench/results/answer-only-2026-11-27.md.
	AnswerOnly float64
	// AnswerOnlyFamilies confines AnswerOnly to these families; the others
	// keep the plain trace, with no opening. Empty means every family.
	AnswerOnlyFamilies []Family
	// Openings is how many of AnswerOnlyOpenings the traces share under
	// AnswerOnly (1-8; 0 means 4). More openings let a smaller bare share
	// stay the likeliest first token, so fewer samples answer bare.
	Openings int
}

// AnswerOnlyOpenings are the trace openings under Config.AnswerOnly, each
// with its own first letter so that no two share a first token.
var AnswerOnlyOpenings = [8]string{"First, ", "Let me see: ", "Now, ", "Okay, ", "So, ", "Well, ", "Right, ", "Hmm, "}

// DefaultSize is the default image side: 32 px, 8 x 8 patches of 4 px.
const DefaultSize = 32

// DefaultConfig draws every family at every level at 32 px.
func DefaultConfig() Config {
	return Config{Size: DefaultSize, Families: slices.Clone(Families), Levels: []int{1, 2, 3}}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Size == 0 {
		c.Size = d.Size
	}
	if len(c.Families) == 0 {
		c.Families = d.Families
	}
	if len(c.Levels) == 0 {
		c.Levels = d.Levels
	}
	if c.Openings == 0 {
		c.Openings = 4
	}
	return c
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Size < 8 {
		return fmt.Errorf("tasks: image size %d is below 8", c.Size)
	}
	for _, f := range c.Families {
		if gens[f] == nil {
			return fmt.Errorf("tasks: unknown family %q", f)
		}
	}
	for _, l := range c.Levels {
		if l < 1 || l > 3 {
			return fmt.Errorf("tasks: level %d is outside 1-3", l)
		}
	}
	if !(c.AnswerOnly >= 0 && c.AnswerOnly <= 1) {
		return fmt.Errorf("tasks: answer-only share %v is outside 0-1", c.AnswerOnly)
	}
	if c.Openings < 1 || c.Openings > len(AnswerOnlyOpenings) {
		return fmt.Errorf("tasks: %d answer-only openings is outside 1-%d", c.Openings, len(AnswerOnlyOpenings))
	}
	for _, f := range c.AnswerOnlyFamilies {
		if gens[f] == nil {
			return fmt.Errorf("tasks: unknown answer-only family %q", f)
		}
	}
	return nil
}

// family generators and reading-error perturbations.
var (
	gens = map[Family]func(*rng, int) (*Scene, Query){
		Count: genCount, Chart: genChart, Digits: genDigits, Spatial: genSpatial, Geometry: genGeometry,
	}
	perturbs = map[Family]func(*rng, *Scene, Query){
		Count: perturbCount, Chart: perturbChart, Digits: perturbDigits, Spatial: perturbSpatial, Geometry: perturbGeometry,
	}
)

// Generate draws one scene and question of family f at level (1-3) from
// seed, without regard to splits.
func Generate(f Family, level int, seed uint64) (*Scene, Query, error) {
	g := gens[f]
	if g == nil {
		return nil, Query{}, fmt.Errorf("tasks: unknown family %q", f)
	}
	if level < 1 || level > 3 {
		return nil, Query{}, fmt.Errorf("tasks: level %d is outside 1-3", level)
	}
	s, q := g(newRNG(seed), level)
	return s, q, nil
}

// Stream is an unlimited, random-access stream of items of one split.
// It is safe for concurrent use.
type Stream struct {
	cfg   Config
	split Split
	seed  uint64
}

// NewStream returns the stream of split with the given seed. Streams of
// different splits never share a scene, whatever their seeds.
func NewStream(cfg Config, split Split, seed uint64) (*Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if split < Train || split > Test {
		return nil, fmt.Errorf("tasks: unknown split %d", int(split))
	}
	cfg = cfg.withDefaults()
	cfg.Families, cfg.Levels = slices.Clone(cfg.Families), slices.Clone(cfg.Levels)
	cfg.AnswerOnlyFamilies = slices.Clone(cfg.AnswerOnlyFamilies)
	return &Stream{cfg: cfg, split: split, seed: seed}, nil
}

// Config returns the stream's configuration, defaults filled in.
func (st *Stream) Config() Config { return st.cfg }

// Split returns the stream's split.
func (st *Stream) Split() Split { return st.split }

// Item is one task: a scene, its image, a question and the exact answer.
type Item struct {
	Key      uint64 // hash of the scene's drawn content; SplitOf(Key) is its split
	Split    Split
	Index    uint64 // position in its stream
	Family   Family
	Level    int
	Scene    *Scene
	Image    *image.RGBA
	Query    Query
	Question string // Query.Text()
	Answer   string // the exact short answer
	Trace    string // the exact trace: reasoning, then <answer>Answer</answer>
	// Target is the supervised solver output (Solver): Trace, or under
	// Config.AnswerOnly the bare answer or Trace after an opening. The
	// self-evaluation examples' second answer stays Trace.
	Target string
}

// scene draws the scene and query of item i without rendering.
func (st *Stream) scene(i uint64) (*Scene, Query, uint64) {
	for attempt := uint64(0); ; attempt++ {
		r := newRNG(hashKey(st.seed, uint64(st.split), i, attempt))
		f := pick(r, st.cfg.Families)
		level := pick(r, st.cfg.Levels)
		s, q := gens[f](r, level)
		if key := s.Key(); SplitOf(key) == st.split {
			return s, q, key
		}
	}
}

// Item returns item i of the stream; the same stream and i give the same
// item, image bytes included.
func (st *Stream) Item(i uint64) *Item {
	s, q, key := st.scene(i)
	t := templates[q.Template]
	if !t.valid(s, q) {
		panic(fmt.Sprintf("tasks: generated an invalid question %q", t.text(q)))
	}
	it := &Item{
		Key: key, Split: st.split, Index: i, Family: s.Family, Level: s.Level,
		Scene: s, Image: Render(s, st.cfg.Size), Query: q, Question: t.text(q),
		Answer: t.answer(s, q), Trace: st.trace(t, s, q, key),
	}
	it.Target = st.target(it)
	return it
}

// target is the solver target of it under Config.AnswerOnly: a generator
// seeded by the scene's key (so the choice looks random to the model and is
// the same in every conversation about the scene) picks the bare answer
// with probability AnswerOnly, else one of the openings before the trace.
func (st *Stream) target(it *Item) string {
	if st.cfg.AnswerOnly == 0 || (len(st.cfg.AnswerOnlyFamilies) > 0 && !slices.Contains(st.cfg.AnswerOnlyFamilies, it.Family)) {
		return it.Trace
	}
	r := newRNG(hashKey(it.Key, 0xa05e))
	if r.float() < st.cfg.AnswerOnly {
		return tagAnswer(it.Answer)
	}
	return pick(r, AnswerOnlyOpenings[:st.cfg.Openings]) + it.Trace
}

// trace is the exact trace of the item with scene s (key key) under the
// stream's options (CountRoutes).
func (st *Stream) trace(t *template, s *Scene, q Query, key uint64) string {
	if st.cfg.CountRoutes && s.Family == Count && countByColumns(key) {
		return withAnswer(countRouteReason(s, q, true), t.answer(s, q))
	}
	return traceOf(t, s, q)
}

// Items returns items start, start+1, ..., start+n-1.
func (st *Stream) Items(start uint64, n int) []*Item {
	out := make([]*Item, n)
	for k := range out {
		out[k] = st.Item(start + uint64(k))
	}
	return out
}
