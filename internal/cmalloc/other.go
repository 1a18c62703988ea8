//go:build !cgo || !linux

package cmalloc

func applied() (Settings, error) { return Settings{}, ErrUnsupported }

func readStats() (Stats, error) { return Stats{}, ErrUnsupported }

func touch() {}
