package daemon

import (
	"errors"
	"fmt"
	"time"

	"github.com/subtitled/subtitled/config"
	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/endpoint"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/decoder/recognizer"
	"github.com/subtitled/subtitled/decoder/transducer"
)

// errFamily means a model's family is recognised but this build cannot run
// it yet.
var errFamily = errors.New("model family not supported yet")

// engineOptions say how to run a model: config.Model without its path.
type engineOptions struct {
	Threads   int
	Device    string
	MaxBatch  int
	BatchWait time.Duration
	Decoding  string // greedy (default) or beam, for transducers
	Beam      int
	Endpoint  *endpoint.Options
	// CommitAfter: see recognizer.Options.CommitAfter.
	CommitAfter time.Duration
	// OnBatch observes the batch scheduler's calls: batch size and the
	// duration of the (encoder) model call (nil: no scheduler, each stream
	// calls the model alone, as `transcribe` does).
	OnBatch func(n int, d time.Duration)
}

// engineOptionsFor maps a model's config.
func engineOptionsFor(mc config.Model) engineOptions {
	return engineOptions{
		Threads: mc.Threads, Device: mc.Device, MaxBatch: mc.MaxBatch, BatchWait: mc.BatchWait,
		Decoding: mc.Decoding, Beam: mc.Beam, CommitAfter: mc.CommitAfter,
		Endpoint: &endpoint.Options{
			Rule1: endpoint.Rule{MinTrailingSilence: mc.Endpoint.Rule1MinTrailingSilence},
			Rule2: endpoint.Rule{MustContainNonSilence: true, MinTrailingSilence: mc.Endpoint.Rule2MinTrailingSilence},
			Rule3: endpoint.Rule{MinUtteranceLength: mc.Endpoint.Rule3MinUtteranceLength},
		},
	}
}

// engine is one loaded model of any supported family. It makes a recogniser
// per stream; all streams of a model share one batch scheduler (CTC or
// transducer).
type engine struct {
	dir      string
	family   string
	language string
	demo     bool
	device   string // what it runs on after any fallback
	lag      int64  // media ticks a recogniser may hold back: one chunk
	endpoint *endpoint.Options
	commit   time.Duration

	ctc    *onnx.Model
	sched  *onnx.Scheduler // nil without OnBatch
	td     *onnx.TransducerModel
	tsched *onnx.TransducerScheduler // nil without OnBatch
	// notes are settings that could not be honoured, for the log.
	notes []string
}

// openEngine detects the family of the bundle in dir and starts it. When the
// configured device cannot be used, fallback is called with the reason and
// the model runs on the CPU.
func openEngine(dir string, o engineOptions, fallback func(error)) (*engine, error) {
	if err := onnx.Setup(); err != nil {
		return nil, err
	}
	det, err := onnx.DetectFamily(dir)
	if err != nil {
		return nil, err
	}
	e := &engine{dir: dir, family: det.Family, endpoint: o.Endpoint, commit: o.CommitAfter, device: o.Device}
	if e.device == "" {
		e.device = "cpu"
	}
	retry := func(err error) bool {
		if err != nil && errors.Is(err, onnx.ErrDevice) && e.device != "cpu" {
			if fallback != nil {
				fallback(err)
			}
			e.device = "cpu"
			return true
		}
		return false
	}
	switch {
	case !det.Transducer && det.Supported: // subtitled_ctc, zipformer2 CTC, NeMo CTC
		b, err := onnx.OpenBundle(dir)
		if err != nil {
			return nil, err
		}
		e.language, e.demo = b.Config.Language, b.Config.Demo
		if o.Decoding == "beam" {
			e.notes = append(e.notes, "decoding: beam applies to transducers; CTC models use the bundle's search (greedy, or lexicon beam when the bundle has one)")
		}
		m, err := onnx.NewModel(b, onnx.Options{Threads: o.Threads, Device: e.device})
		if retry(err) {
			m, err = onnx.NewModel(b, onnx.Options{Threads: o.Threads, Device: e.device})
		}
		if err != nil {
			return nil, err
		}
		e.ctc = m
		e.lag = int64(b.Contract.ChunkFrames) * 900
		if o.OnBatch != nil {
			e.sched = onnx.NewScheduler(m, onnx.SchedulerOptions{MaxBatch: o.MaxBatch, Wait: o.BatchWait, OnBatch: o.OnBatch})
		}
	case det.Transducer && det.Supported:
		b, err := onnx.OpenTransducer(dir)
		if err != nil {
			return nil, err
		}
		e.language, e.demo = b.Config.Language, b.Config.Demo
		method := transducer.Greedy
		switch {
		case o.Decoding == "beam" && det.Family == onnx.FamilyNeMoTransducer:
			e.notes = append(e.notes, "decoding: beam is not available for NeMo transducers; using greedy search")
		case o.Decoding == "beam":
			method = transducer.ModifiedBeam
		}
		topts := onnx.TransducerOptions{
			Options: onnx.Options{Threads: o.Threads, Device: e.device},
			Search:  transducer.Options{Method: method, Beam: o.Beam},
		}
		m, err := onnx.NewTransducerModel(b, topts)
		if retry(err) {
			topts.Device = e.device
			m, err = onnx.NewTransducerModel(b, topts)
		}
		if err != nil {
			return nil, err
		}
		e.td = m
		e.lag = int64(m.Params().ChunkFrames) * 900
		if o.OnBatch != nil {
			e.tsched = onnx.NewTransducerScheduler(m, onnx.SchedulerOptions{MaxBatch: o.MaxBatch, Wait: o.BatchWait, OnBatch: o.OnBatch})
		}
	default:
		return nil, fmt.Errorf("%s: %w: %s (%s)", dir, errFamily, det.Family, det.Describe())
	}
	return e, nil
}

// recognizer starts one stream's recogniser.
func (e *engine) recognizer(track string, partials bool, emit func(decoder.Result)) (*recognizer.Recognizer, error) {
	opts := recognizer.Options{Track: track, Partials: partials, Endpoint: e.endpoint, CommitAfter: e.commit}
	if e.td != nil {
		opts.TransducerScheduler = e.tsched
		return recognizer.NewTransducer(e.td, opts, emit)
	}
	opts.Scheduler = e.sched
	return recognizer.New(e.ctc, opts, emit)
}

// close stops the scheduler and the sessions.
func (e *engine) close() {
	if e.sched != nil {
		e.sched.Close()
	}
	if e.tsched != nil {
		e.tsched.Close()
	}
	if e.ctc != nil {
		e.ctc.Close()
	}
	if e.td != nil {
		e.td.Close()
	}
}
