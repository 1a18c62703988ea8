package onnx

import (
	"testing"
	"time"
)

// newBatchQueue fills in the defaults and caps the batch at the model's
// limit; the request queue holds two batches.
func TestBatchQueueOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      SchedulerOptions
		modelMax  int
		max, cap_ int
		wait      time.Duration
	}{
		{"defaults", SchedulerOptions{}, 0, DefaultMaxBatch, 2 * DefaultMaxBatch, DefaultBatchWait},
		{"negative batch, no wait", SchedulerOptions{MaxBatch: -3, Wait: -1}, 0, DefaultMaxBatch, 2 * DefaultMaxBatch, -1},
		{"set", SchedulerOptions{MaxBatch: 5, Wait: time.Second}, 0, 5, 10, time.Second},
		{"under the model's limit", SchedulerOptions{MaxBatch: 5}, 16, 5, 10, DefaultBatchWait},
		{"capped by the model", SchedulerOptions{MaxBatch: 8}, 1, 1, 2, DefaultBatchWait},
		{"default capped by the model", SchedulerOptions{}, 1, 1, 2, DefaultBatchWait},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newBatchQueue[*Streamer](tc.opts, tc.modelMax)
			if q.maxBatch != tc.max || cap(q.reqs) != tc.cap_ || q.wait != tc.wait {
				t.Errorf("max %d, queue %d, wait %v; want %d, %d, %v", q.maxBatch, cap(q.reqs), q.wait, tc.max, tc.cap_, tc.wait)
			}
		})
	}
}
