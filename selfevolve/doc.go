// Package selfevolve is EvoLMM (Thawakar et al., arXiv 2511.16672;
// shared/papers/evolmm.md): a VLM improves without labels by playing two
// roles through two LoRA adapters on the same frozen weights.
//
// One outer step (Trainer.Step):
//
//  1. the next image of a fixed shuffled pool of unlabeled images;
//  2. the proposer (adapter "proposer") writes one question, temperature 1;
//     the question is the text in <question>...</question>, else the whole
//     output, else tasks.FallbackQuestion (tasks.ExtractQuestion);
//  3. the solver (adapter "solver") answers it N = 5 times, temperature 1;
//     answers are extracted and normalised by the tasks package's shared
//     rules (Answer);
//  4. rewards (Rewards): the continuous solver reward
//     p(a_i)^gamma * (1 - lambda_len * min(1, max(0, (w_i - tau)/tau))) and
//     the proposer's entropy band-pass exp(-(H - mu_H)^2 / (2 sigma_H^2)),
//     or the discrete ablation (majority vote; 1 < majority count < N);
//  5. REINFORCE with a moving baseline per role: one optimizer step per
//     solver sample, loss = (r_i - b_S) * mean token NLL + beta_S * mean
//     token KL(pi || pi_ref), the KL exact over the vocabulary with pi_ref
//     the same model with adapters disabled; b <- 0.9 b + 0.1 r after each
//     sample's advantage is taken; the proposer takes the same kind of step
//     on the current proposal every K = 5 outer steps (its baseline tracks
//     every proposal); beta adapts per role to a KL target after each step.
//
// Two defects of the authors' trainer are not copied (tests show it): the
// reference really has the adapters off (KL > 0 after updates), and the
// proposer really trains (its adapter moves on its step, the solver's does
// not, and the other way round). One AdamW holds both adapters; a step moves
// only the parameters that received gradients, i.e. the updated role's.
//
// Guards, on by default: every EvalEvery steps the solver is evaluated on
// the validation stream (greedy, sampled and majority-of-N accuracy, answer
// entropy, greedy answer histograms per family, logged to evals.jsonl); when
// greedy accuracy falls more than GuardMargin below the best, the training
// state of the best validation is restored (both adapters, AdamW's moments
// and step counts, beta and the moving baseline per role: what a resume
// from that checkpoint restores) and the run stops (or goes on,
// GuardRollback, at its current step with its random streams, so it sees
// new images and samples instead of replaying the fall).
//
// A sampled image placeholder in a completion (only an untrained model
// samples one) cannot be fed back through the model; the update trains on
// the tokens before it.
//
// Options lists every constant with the spec's default (Defaults) and the
// overrides our 64-wide model needs (Scaled, used by kiln evolve).
package selfevolve
