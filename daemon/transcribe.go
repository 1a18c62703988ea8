package daemon

import "errors"

func runTranscribe(e *env, args []string) error { return errors.New("transcribe: being wired") }
