package cuda

import "runtime"

// worker runs closures on one goroutine locked to its OS thread: the CUDA
// context is current on that thread only, so every driver call goes
// through it. A driver failure surfaces as a panic (the cu package's way);
// the worker turns those into errors with driverErr, and re-raises any
// other panic on the caller's goroutine, where it belongs.
type worker struct {
	work      chan func()
	driverErr func(op string, p any) (error, bool)
}

// startWorker starts the goroutine and runs setup on it; when setup fails
// (by error or driver panic) the goroutine, and its thread, end and the
// error is returned.
func startWorker(driverErr func(op string, p any) (error, bool), setup func() error) (*worker, error) {
	w := &worker{work: make(chan func()), driverErr: driverErr}
	type result struct {
		err     error
		repanic any
	}
	ready := make(chan result, 1)
	go func() {
		// Never unlocked: when the goroutine ends, so does its thread, and
		// the context never wanders to another one.
		runtime.LockOSThread()
		var r result
		r.err = w.call("open", setup, &r.repanic)
		ready <- r
		if r.err != nil || r.repanic != nil {
			return
		}
		for f := range w.work {
			f()
		}
	}()
	r := <-ready
	if r.repanic != nil {
		panic(r.repanic)
	}
	if r.err != nil {
		return nil, r.err
	}
	return w, nil
}

// call runs f here, recovering panics: driver panics become the returned
// error, others go to *repanic.
func (w *worker) call(op string, f func() error, repanic *any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := w.driverErr(op, p); ok {
				err = e
			} else {
				*repanic = p
			}
		}
	}()
	return f()
}

// run executes f on the worker's goroutine and waits for it.
func (w *worker) run(op string, f func() error) error {
	type result struct {
		err     error
		repanic any
	}
	done := make(chan result, 1)
	w.work <- func() {
		var r result
		r.err = w.call(op, f, &r.repanic)
		done <- r
	}
	r := <-done
	if r.repanic != nil {
		panic(r.repanic)
	}
	return r.err
}

// stop ends the goroutine once the queued closures have run.
func (w *worker) stop() { close(w.work) }
