package update

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
)

// HandlerOptions tunes NewHandler. The zero value works.
type HandlerOptions struct {
	MaxMetadataSize int64 // zero: 4 MiB
	MaxTargetSize   int64 // zero: 1 GiB
}

// NewHandler serves the repository in dir read-only:
//
//	GET /tuf/metadata/{file}   root, timestamp, snapshot and targets metadata
//	GET /tuf/targets/{file}    hash-prefixed target files
//
// File names are restricted to a safe character set and opened beneath
// the repository directory only; files above the size limits are refused.
// The cloud serves this to Command Centers, which mirror it to printers.
func NewHandler(dir string, opts HandlerOptions) http.Handler {
	if opts.MaxMetadataSize <= 0 {
		opts.MaxMetadataSize = 4 << 20
	}
	if opts.MaxTargetSize <= 0 {
		opts.MaxTargetSize = 1 << 30
	}
	mux := http.NewServeMux()
	mux.Handle("GET /tuf/metadata/{file}", serveDir(filepath.Join(dir, MetadataDir), opts.MaxMetadataSize, "application/json", "no-store"))
	mux.Handle("GET /tuf/targets/{file}", serveDir(filepath.Join(dir, TargetsDir), opts.MaxTargetSize, "application/octet-stream", "public, max-age=31536000, immutable"))
	return mux
}

func serveDir(dir string, limit int64, contentType, cacheControl string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "" || len(name) > 255 || name != SafeName(name) {
			http.Error(w, "bad file name", http.StatusBadRequest)
			return
		}
		f, err := os.OpenInRoot(dir, name)
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, "cannot open file", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if st.Size() > limit {
			http.Error(w, "file exceeds the size limit", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", cacheControl)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", st.ModTime(), f)
	})
}
