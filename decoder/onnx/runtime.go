// Package onnx runs streaming ONNX speech models: it finds and loads the ONNX
// Runtime shared library, opens model bundles and checks them against their
// contract (docs/MODEL-BUNDLES.md), runs one encoder call for a batch of
// streams with per-stream states, batches the calls of many streams through
// one goroutine that owns the model (Scheduler), and streams feature frames
// through a model into greedy CTC search. It also detects the public model
// families (DetectFamily) and runs icefall streaming transducers (encoder,
// decoder and joiner sessions; TransducerModel). It is the only importer of
// onnxruntime_go.
package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvLibrary names the environment variable that overrides the library path.
const EnvLibrary = "SUBTITLED_ORT_LIB"

// LibraryName is the file name of the ONNX Runtime shared library.
const LibraryName = "libonnxruntime.so.1"

var (
	// ErrRuntimeMissing means the ONNX Runtime shared library was not found.
	ErrRuntimeMissing = errors.New("ONNX Runtime library not found")
	// ErrRuntimeLoad means the library was found but could not be loaded.
	ErrRuntimeLoad = errors.New("ONNX Runtime library failed to load")
)

// systemLibraryPaths are tried after the one beside the executable.
var systemLibraryPaths = []string{
	"/usr/lib/subtitled/" + LibraryName,
	"/usr/local/lib/subtitled/" + LibraryName,
}

// FindLibrary returns the path of the ONNX Runtime library: $SUBTITLED_ORT_LIB
// when set (it must exist), else the first that exists of
// <dir of the executable>/../lib/libonnxruntime.so.1,
// /usr/lib/subtitled/libonnxruntime.so.1 and
// /usr/local/lib/subtitled/libonnxruntime.so.1. Errors wrap ErrRuntimeMissing
// and fit on one line.
func FindLibrary() (string, error) {
	exeDir := ""
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		exeDir = filepath.Dir(exe)
	}
	return findLibrary(os.Getenv(EnvLibrary), exeDir, systemLibraryPaths)
}

func findLibrary(env, exeDir string, system []string) (string, error) {
	if env != "" {
		if err := isFile(env); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v; run `make ort` or point %s at %s",
				ErrRuntimeMissing, EnvLibrary, env, err, EnvLibrary, LibraryName)
		}
		return env, nil
	}
	var tried []string
	if exeDir != "" {
		tried = append(tried, filepath.Join(exeDir, "..", "lib", LibraryName))
	}
	tried = append(tried, system...)
	for _, p := range tried {
		if isFile(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (tried %s); run `make ort` or set %s to the path of %s",
		ErrRuntimeMissing, strings.Join(tried, ", "), EnvLibrary, LibraryName)
}

func isFile(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file")
		}
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	return nil
}

var ortState struct {
	mu   sync.Mutex
	path string // set once initialised
}

// Init loads the ONNX Runtime library at path and creates the process-wide
// environment. It is safe to call from several goroutines and more than once;
// calls after the first success return nil when they name the same library
// and an error otherwise. A failed call can be retried.
func Init(path string) error {
	ortState.mu.Lock()
	defer ortState.mu.Unlock()
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if ortState.path != "" {
		if ortState.path == abs {
			return nil
		}
		return fmt.Errorf("ONNX Runtime already initialised from %s, cannot switch to %s", ortState.path, abs)
	}
	if err := isFile(abs); err != nil {
		return fmt.Errorf("%w: %s: %v; run `make ort` or set %s", ErrRuntimeMissing, abs, err, EnvLibrary)
	}
	ort.SetSharedLibraryPath(abs)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRuntimeLoad, abs, oneLine(err))
	}
	ortState.path = abs
	return nil
}

// Setup initialises the runtime from FindLibrary unless Init already ran.
func Setup() error {
	if Initialized() {
		return nil
	}
	p, err := FindLibrary()
	if err != nil {
		return err
	}
	return Init(p)
}

// Initialized reports whether Init succeeded.
func Initialized() bool {
	ortState.mu.Lock()
	defer ortState.mu.Unlock()
	return ortState.path != ""
}

// Version returns the version of the loaded ONNX Runtime, or "" before Init.
func Version() string {
	if !Initialized() {
		return ""
	}
	return ort.GetVersion()
}

// oneLine flattens a multi-line error message.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
