// Package tasks generates kiln's verifiable visual-reasoning data: small
// procedurally drawn images with questions whose answers are exact, the
// conversations the model is trained on (solver, proposer, self-evaluation),
// the one answer normaliser every evaluation shares, and the evaluation
// metrics.
//
// # Pipeline
//
//	scene (plain data)  ->  Render(scene, size)        the image
//	                    ->  Questions(scene)            valid queries from templates
//	                    ->  Answer(scene, query)        the exact answer
//	                    ->  Trace(scene, query)         a short reasoning trace
//
// A Scene is a plain description: shapes (kind, colour, position, size), a
// chart (kind, labels, values) or digit glyphs, in canonical units of a
// 32 x 32 canvas. Render draws it at any size; Answer and Trace read only
// the description, never the rendering, so an answer is right by
// construction. The tests re-derive every answer with a second solver that
// parses the question text.
//
// # Families
//
// count (shapes by colour and kind), chart (bar and line charts), digits
// (reading and combining drawn digits), spatial (left/right, above/below,
// extremes, nearest) and geometry (bigger, biggest, sides, shape name), each
// at levels 1 (easiest) to 3. See Templates for the question list.
//
// # Streams
//
// NewStream(cfg, split, seed) is an unlimited, random-access stream:
// Item(i) depends only on (cfg, split, seed, i). Splits are disjoint by
// construction: an item's Key is a 64-bit hash of its scene's visual
// content, and Key % 4 decides the split the scene belongs to (0:
// validation, 1: test, 2 and 3: train). Item i of a split is the first of the
// candidates drawn from hash(split, seed, i, attempt) whose key falls in
// the split's residue classes, so no scene, and hence no image, of one split
// can appear in another, whatever the seeds.
//
// # Conversations
//
// Item.Solver (image + question + AnswerInstruction -> trace), Item.Proposer
// (image + ProposerPrompt -> "<question>Q</question>") and Item.SelfEval
// (solver turn, a first answer, AdaPO's SelfEvalPrompt, then the exact
// trace) return []Message for the chat template of package vision.
// Item.FirstAnswer and WrongTrace supply first answers: with probability
// wrongFirst (DefaultWrongFirst = 0.3) a consistent trace of a misread
// scene, so both keep-right and fix-wrong examples exist.
//
// The solver's target is Item.Target: the trace, unless Config.AnswerOnly
// makes a share of it the bare "<answer>A</answer>" and opens the rest with
// one of Config.Openings phrasings (on Config.AnswerOnlyFamilies only, if
// set). The bare answer is then the single likeliest first token, so greedy
// decoding answers without reasoning while most samples reason: the gap
// between greedy and the majority vote that the shipped model has on
// geometry, and that label-free self-evolution feeds on.
//
// # Answers and evaluation
//
// ExtractAnswer, Normalize and Correct are the one answer pipeline every
// evaluation shares; Majority votes over normalised answers;
// FamilyAccuracy and SelfEval aggregate per family (acc@t1, acc@t2, delta,
// delta_i->c, delta_c->i).
//
// # Font
//
// Text is drawn with a built-in 3 x 5 pixel font (digits and the letters A
// to H), not basicfont's 7 x 13: at the default 32 px a 13 px glyph takes
// 40% of the height, so a chart with four labelled bars and their values
// would not fit. At 32 px the 3 x 5 glyphs are legible with one-pixel
// strokes on the black background; the digits family draws them at 2x
// (6 x 10). Larger image sizes scale everything, font included.
package tasks
