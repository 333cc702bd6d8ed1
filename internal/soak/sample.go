package soak

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
)

// Sample is what the soak measured at one moment.
type Sample struct {
	Day        float64          `json:"day"`    // simulated days since the start
	WallSec    float64          `json:"wall_s"` // real seconds since the start
	RSS        uint64           `json:"rss"`    // resident set, bytes (0 where unknown)
	LiveHeap   uint64           `json:"live_heap"`
	Goroutines int              `json:"goroutines"`
	FDs        int              `json:"fds"` // open file descriptors (-1 where unknown)
	Pending    int              `json:"pending"`
	Disk       map[string]int64 `json:"disk"` // bytes per data directory
	Rows       map[string]int64 `json:"rows"` // rows per table
}

// Process is what ReadProcess reads of the running process.
type Process struct {
	RSS, LiveHeap uint64
	Goroutines    int
	FDs           int
}

// ReadProcess reads the process's resident set (Linux: /proc/self/status;
// 0 elsewhere), its live heap as of the last garbage collection, its
// goroutines and its open file descriptors (Linux: /proc/self/fd; -1
// elsewhere). The live heap is the figure a leak moves: the heap in use
// between collections saws with the collector's pace.
func ReadProcess() Process {
	p := Process{Goroutines: runtime.NumGoroutine(), FDs: -1}
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindUint64 {
		p.LiveHeap = m[0].Value.Uint64()
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		p.RSS = parseRSS(b)
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		p.FDs = len(ents) - 1 // the directory read itself holds one
	}
	return p
}

// parseRSS returns the VmRSS line of a /proc/PID/status in bytes, 0 if
// there is none.
func parseRSS(status []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "VmRSS:" {
			kb, err := strconv.ParseUint(string(f[1]), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// DirSize returns the bytes of the regular files under dir; files that
// vanish while it walks (a store compacting) are skipped.
func DirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		total += fi.Size()
		return nil
	})
	return total, err
}
