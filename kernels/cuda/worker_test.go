package cuda

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// fakeResult stands in for cu.Result, the driver's panic value.
type fakeResult int

func fakeDriverErr(op string, p any) (error, bool) {
	if r, ok := p.(fakeResult); ok {
		return &Error{Op: op, Result: fmt.Sprintf("RESULT_%d", int(r))}, true
	}
	return nil, false
}

func TestWorker(t *testing.T) {
	var setupTID int
	w, err := startWorker(fakeDriverErr, func() error { setupTID = syscall.Gettid(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	// Every call runs on the setup's OS thread, in order.
	var order []int
	for i := 0; i < 20; i++ {
		if err := w.run("op", func() error {
			if tid := syscall.Gettid(); tid != setupTID {
				return fmt.Errorf("ran on thread %d, setup on %d", tid, setupTID)
			}
			order = append(order, i)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(order) != 20 || order[19] != 19 {
		t.Fatalf("order %v", order)
	}
	// A driver panic comes back as *Error naming the operation.
	err = w.run("launch kiln_x", func() error { panic(fakeResult(700)) })
	var e *Error
	if !errors.As(err, &e) || e.Op != "launch kiln_x" || e.Result != "RESULT_700" {
		t.Fatalf("driver panic: %v", err)
	}
	// Any other panic is re-raised on the caller, and the worker goes on.
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "a bug") {
				t.Fatalf("recovered %v, want the original panic", r)
			}
		}()
		w.run("op", func() error { panic("a bug") })
	}()
	if err := w.run("op", func() error { return errors.New("plain") }); err == nil || err.Error() != "plain" {
		t.Fatalf("plain error: %v", err)
	}
	w.stop()
}

func TestWorkerSetupFails(t *testing.T) {
	if _, err := startWorker(fakeDriverErr, func() error { panic(fakeResult(100)) }); err == nil || !strings.Contains(err.Error(), "RESULT_100") {
		t.Fatalf("setup panic: %v", err)
	}
	if _, err := startWorker(fakeDriverErr, func() error { return errors.New("no GPU 3") }); err == nil || err.Error() != "no GPU 3" {
		t.Fatalf("setup error: %v", err)
	}
}
