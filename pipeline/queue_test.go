package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestQueuePolicies(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		push    []int
		want    []int
		dropped uint64
	}{
		{"drop oldest keeps newest", DropOldest, []int{1, 2, 3, 4, 5}, []int{3, 4, 5}, 2},
		{"drop newest keeps oldest", DropNewest, []int{1, 2, 3, 4, 5}, []int{1, 2, 3}, 2},
		{"under capacity drops nothing", DropOldest, []int{1, 2}, []int{1, 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue[int](3, tt.policy)
			var seen []int
			q.OnDrop = func(v int) { seen = append(seen, v) }
			for _, v := range tt.push {
				if err := q.Push(context.Background(), v); err != nil {
					t.Fatal(err)
				}
			}
			var got []int
			for {
				v, ok := q.TryPop()
				if !ok {
					break
				}
				got = append(got, v)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
			if q.Dropped() != tt.dropped || uint64(len(seen)) != tt.dropped {
				t.Fatalf("dropped %d (OnDrop saw %v), want %d", q.Dropped(), seen, tt.dropped)
			}
		})
	}
}

func TestQueueBlockWaitsForRoomAndHonoursContext(t *testing.T) {
	q := NewQueue[int](1, Block)
	ctx := context.Background()
	if err := q.Push(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Push(cctx, 2) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked push after cancel = %v, want context.Canceled", err)
	}

	go func() { done <- q.Push(ctx, 3) }()
	if v, err := q.Pop(ctx); err != nil || v != 1 {
		t.Fatalf("pop = %v, %v", v, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, err := q.Pop(ctx); err != nil || v != 3 {
		t.Fatalf("pop = %v, %v", v, err)
	}
}

func TestQueueCloseDrainsThenReportsClosed(t *testing.T) {
	q := NewQueue[string](4, Block)
	ctx := context.Background()
	_ = q.Push(ctx, "a")
	q.Close()
	if err := q.Push(ctx, "b"); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close = %v", err)
	}
	if v, err := q.Pop(ctx); err != nil || v != "a" {
		t.Fatalf("pop = %q, %v", v, err)
	}
	if _, err := q.Pop(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("pop on drained closed queue = %v", err)
	}
}

func TestQueueCloseWakesBlockedPop(t *testing.T) {
	q := NewQueue[int](1, Block)
	var wg sync.WaitGroup
	wg.Add(1)
	var err error
	go func() {
		defer wg.Done()
		_, err = q.Pop(context.Background())
	}()
	time.Sleep(10 * time.Millisecond) // let Pop block; correctness does not depend on it
	q.Close()
	wg.Wait()
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("pop = %v, want ErrClosed", err)
	}
}

func TestQueueConcurrentProducersConsumers(t *testing.T) {
	q := NewQueue[int](8, Block)
	ctx := context.Background()
	const producers, each = 4, 500
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := q.Push(ctx, p*each+i); err != nil {
					t.Error(err)
					return
				}
			}
		}(p)
	}
	seen := make([]bool, producers*each)
	var cwg sync.WaitGroup
	var mu sync.Mutex
	for c := 0; c < 3; c++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				v, err := q.Pop(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				seen[v] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	q.Close()
	cwg.Wait()
	for i, ok := range seen {
		if !ok {
			t.Fatalf("item %d lost", i)
		}
	}
}

// A Pop waiting on an empty queue must still get an item pushed just before
// Close: closing never loses queued items.
func TestQueueCloseAfterPushKeepsItemForWaitingPop(t *testing.T) {
	for i := 0; i < 200; i++ {
		q := NewQueue[int](4, Block)
		got := make(chan int, 2)
		go func() {
			for {
				v, err := q.Pop(context.Background())
				if err != nil {
					close(got)
					return
				}
				got <- v
			}
		}()
		time.Sleep(time.Millisecond) // usually lets Pop wait; the assertion holds either way
		_ = q.Push(context.Background(), 7)
		q.Close()
		if v, ok := <-got; !ok || v != 7 {
			t.Fatalf("round %d: item lost at close", i)
		}
	}
}
