package ingest

import "syscall"

// limitMemory bounds the process's data segment (RLIMIT_DATA: on Linux
// every private writable mapping, which holds the Go heap), so that an
// allocation past n fails and ends the process.
func limitMemory(n int64) error {
	return syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: uint64(n), Max: uint64(n)})
}
